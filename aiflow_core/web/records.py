"""What the API answers about stored things: JSON records, with the secrets of URLs masked as in the CLI."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from aiflow_core.cli.commands.executions import execution_record
from aiflow_core.cli.output import mask_text, to_data

__all__ = ["MaskedJSONResponse", "execution_record", "masked", "record", "records"]


def masked(text: str) -> str:
    """``text`` with the password of every URL replaced by ``***``."""
    return mask_text(text)


def record(value: Any) -> Any:
    """A meta object, event or plain value as JSON data; executions get ``started_by``."""
    if hasattr(value, "cause") and hasattr(value, "status"):
        return execution_record(value)
    return to_data(value)


def records(values: Any) -> list[Any]:
    """:func:`record` of each value."""
    return [record(v) for v in values]


class MaskedJSONResponse(JSONResponse):
    """JSON whose text has every URL password masked (the API's default response class)."""

    def render(self, content: Any) -> bytes:
        """Serialize ``content`` and mask it."""
        # plain values go as they are; others (records, times, enums) through to_data, once
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=to_data)
        return masked(text).encode("utf-8")
