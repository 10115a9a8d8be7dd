"""Every Python example of the user guide (quickstart, concepts, tutorial, explanations, web) runs.

Each page runs in a fresh directory with its own ``AIFLOW_HOME``; its
```python blocks are processed in order. An HTML comment on the line(s) just
before a block says what to do with it:

* ``<!-- file: NAME -->``: write the block to ``NAME`` (a workflow file, a
  helper module); ``<!-- file: NAME append -->`` appends to it. A file block
  must be used (named) by a later block that runs.
* ``<!-- no-run -->``: neither written nor run (kept rare).
* nothing: the block is a script; it runs as ``python block.py`` in the page's
  directory and must exit with status 0.

``<!-- expect: TEXT -->`` lines after a script block (before the next block)
name text its standard output must contain.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ["quickstart.md", "concepts.md", "tutorial.md", "explain.md", "web.md"]
EXAMPLES = DOCS / "examples"

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.M | re.S)
_MARKER = re.compile(r"<!--\s*(file|no-run|expect)\s*:?\s*(.*?)\s*-->")
#: Upper bound for one script; reaching it means the example hangs.
SCRIPT_TIMEOUT = 300


@attrs.frozen(kw_only=True)
class Block:
    """One ```python block of a page and what the page says to do with it."""

    line: int
    code: str
    file: str | None = None
    append: bool = False
    no_run: bool = False
    expect: tuple[str, ...] = ()

    @property
    def runs(self) -> bool:
        """True for script blocks."""
        return self.file is None and not self.no_run


def parse(page: Path) -> list[Block]:
    """The Python blocks of ``page`` with their markers."""
    text = page.read_text(encoding="utf-8")
    fences = list(_FENCE.finditer(text))
    blocks: list[Block] = []
    for index, fence in enumerate(fences):
        if fence.group(1) != "python":
            continue
        previous_end = fences[index - 1].end() if index else 0
        before = text[previous_end:fence.start()]
        # Only markers directly above the fence (no prose in between) apply to it.
        lines = before.rstrip("\n").splitlines()
        head: list[str] = []
        while lines and _MARKER.fullmatch(lines[-1].strip()):
            head.insert(0, lines.pop().strip())
        next_start = fences[index + 1].start() if index + 1 < len(fences) else len(text)
        after = text[fence.end():next_start]
        expect = tuple(m.group(2) for m in _MARKER.finditer(after) if m.group(1) == "expect")
        file, append, no_run = None, False, False
        for marker in head:
            match = _MARKER.fullmatch(marker)
            assert match is not None
            if match.group(1) == "file":
                name, _, mode = match.group(2).partition(" ")
                file, append = name, mode.strip() == "append"
            elif match.group(1) == "no-run":
                no_run = True
        blocks.append(Block(
            line=text.count("\n", 0, fence.start()) + 1, code=fence.group(2), file=file, append=append,
            no_run=no_run, expect=expect,
        ))
    return blocks


def _run(page: str, block: Block, workdir: Path, env: dict[str, str]) -> None:
    script = workdir / f"_block_line_{block.line}.py"
    script.write_text(block.code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, script.name], cwd=workdir, env=env, capture_output=True, text=True,
        timeout=SCRIPT_TIMEOUT,
    )
    where = f"{page} line {block.line}"
    assert result.returncode == 0, f"{where} failed:\n{result.stdout}\n{result.stderr}"
    for text in block.expect:
        assert text in result.stdout, f"{where}: output lacks {text!r}:\n{result.stdout}"


@pytest.mark.parametrize("page", PAGES)
def test_every_python_block_is_accounted_for(page: str) -> None:
    blocks = parse(DOCS / page)
    assert blocks, f"{page} has no python blocks"
    scripts = [b for b in blocks if b.runs]
    assert scripts, f"{page} runs nothing"
    assert len([b for b in blocks if b.no_run]) <= 1, f"{page}: keep no-run blocks rare"
    for block in blocks:
        if block.file is None:
            continue
        later = "".join(b.code for b in blocks if b.line > block.line and not b.no_run)
        stem = Path(block.file).stem
        assert block.file in later or re.search(rf"\b{re.escape(stem)}\b", later), (
            f"{page} line {block.line}: file {block.file} is never used by a later block"
        )


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page: str, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = dict(os.environ)
    env["AIFLOW_HOME"] = str(tmp_path / "aiflow_home")
    for var in ("AIFLOW_DB_URL", "AIFLOW_TASK_EXECUTOR", "AIFLOW_BLOB_URL", "AIFLOW_PARALLELISM"):
        env.pop(var, None)
    for block in parse(DOCS / page):
        if block.no_run:
            continue
        if block.file is not None:
            target = workdir / block.file
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "a" if block.append else "w", encoding="utf-8") as out:
                out.write(("\n\n" if block.append and target.stat().st_size else "") + block.code)
            continue
        _run(page, block, workdir, env)


def test_tutorial_blocks_assemble_the_published_example(tmp_path: Path) -> None:
    """The tutorial's workflow file, built from its blocks, is the one in docs/examples."""
    files: dict[str, str] = {}
    for block in parse(DOCS / "tutorial.md"):
        if block.file is not None:
            previous = files.get(block.file, "") if block.append else ""
            files[block.file] = previous + ("\n\n" if previous else "") + block.code
    published = EXAMPLES / "online_ml_workflow"
    for name, content in files.items():
        path = published / Path(name).name
        assert path.is_file(), f"{path} is missing"
        assert path.read_text(encoding="utf-8") == content, f"{path} differs from the tutorial's blocks"
