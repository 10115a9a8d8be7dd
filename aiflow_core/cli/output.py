"""Formatting records as tables sized to the terminal, JSON, YAML or plain tab-separated text.

JSON and YAML round-trip: times are ISO 8601 strings, enums their values.
Secrets in URLs (``scheme://user:password@host``) are masked in every output.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

_URL_WITH_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/@:'\"]*:[^\s/'\"]*@[^\s'\"]*")
_ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")
_ELLIPSIS = "..."
_PLAIN = (str, int, float, bool)
_MIN_WIDTH = 6
#: Short table headers for long field names.
HEADERS = {
    "sequence_number": "seq",
    "try_number": "try",
    "execution_type": "type",
    "workflow_execution_id": "execution",
    "snapshot_id": "snapshot",
    "is_enabled": "enabled",
    "is_paused": "paused",
    "misfire_policy": "misfire",
}


def mask_text(text: str) -> str:
    """Replace the password of every URL in ``text`` by ``***``."""
    if "://" not in text or "@" not in text:
        return text
    from aiflow_storage.sql import mask_url

    return _URL_WITH_PASSWORD.sub(lambda m: mask_url(m.group(0)), text)


def to_data(value: Any) -> Any:
    """Convert meta records, events, enums and times to JSON-compatible values."""
    kind = type(value)
    if value is None or kind in _PLAIN:  # exact types first: the common case, and no enum is one of them
        return value
    if kind is dict:
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, Enum):
        return to_data(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_data(v) for v in value]
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return to_data(as_dict())
    fields = getattr(type(value), "__attrs_attrs__", None)
    if fields is not None:
        return {f.name: to_data(getattr(value, f.name)) for f in fields}
    condition = getattr(value, "condition", None)
    if condition is not None and hasattr(condition, "describe"):
        return str(condition.describe())
    return str(value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    if _ISO_TIME.match(text):
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            offset = moment.utcoffset()
            zone = "" if offset is None else ("Z" if not offset else moment.strftime("%z"))
            text = f"{moment:%Y-%m-%d %H:%M:%S}{zone}"
    return text.replace("\r", "").replace("\t", " ").split("\n", 1)[0]


def _fit(widths: list[int], total: int) -> list[int]:
    widths = list(widths)
    gaps = 2 * (len(widths) - 1)
    while sum(widths) + gaps > total:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        if widths[widest] <= _MIN_WIDTH:
            break
        widths[widest] -= 1
    return widths


def _clip(text: str, width: int) -> str:
    if len(text) <= width:
        return text.ljust(width)
    return text[: max(width - len(_ELLIPSIS), 1)] + _ELLIPSIS


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Align ``rows`` under ``header``, shrinking the widest columns to fit the terminal."""
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    widths = _fit(widths, shutil.get_terminal_size((120, 24)).columns)
    lines = [header, ["-" * w for w in widths], *rows]
    return "\n".join("  ".join(_clip(c, w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def render_list(records: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str) -> str:
    """Render converted records; ``columns`` choose what table and plain show."""
    if fmt == "json":
        return json.dumps(list(records), indent=2, ensure_ascii=False)
    if fmt == "yaml":
        import yaml

        return str(yaml.safe_dump(list(records), sort_keys=False, allow_unicode=True)) if records else "[]"
    rows = [[_cell(r.get(c)) for c in columns] for r in records]
    if fmt == "plain":
        return "\n".join("\t".join(row) for row in rows)
    return table(rows, [HEADERS.get(c, c) for c in columns])


def render_one(record: dict[str, Any], fmt: str) -> str:
    """Render one converted record: key/value lines for table and plain."""
    if fmt == "json":
        return json.dumps(record, indent=2, ensure_ascii=False)
    if fmt == "yaml":
        import yaml

        return str(yaml.safe_dump(record, sort_keys=False, allow_unicode=True))
    if fmt == "plain":
        return "\n".join(f"{k}\t{_plain(v)}" for k, v in record.items())
    width = max((len(k) for k in record), default=0)
    lines: list[str] = []
    for key, value in record.items():
        text = _plain(value)
        if "\n" in text:
            lines.append(f"{key.ljust(width)}  |")
            lines.extend("    " + line for line in text.splitlines())
        else:
            lines.append(f"{key.ljust(width)}  {text}")
    return "\n".join(lines)


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)
