"""Loading workflow files: run the file, collect its top-level workflows."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import os
import stat
import sys
import threading
import traceback
import types
from collections.abc import Sequence
from pathlib import Path

from aiflow_core.errors import AIFlowError, WorkflowLoadError
from aiflow_core.interrupt import raise_in_thread
from aiflow_core.model.current import WorkflowContextManager
from aiflow_core.model.workflow import Workflow

_OWN_NAMES = ("aiflow_core", "aiflow_storage")
#: Directories of aiflow's own packages, whose frames a load error leaves out.
_OWN_PACKAGES = tuple(str(Path(__file__).resolve().parents[1] / package) + os.sep for package in _OWN_NAMES)


#: The largest workflow file loaded, in bytes; data belongs in artifacts, not in the file.
MAX_WORKFLOW_FILE_SIZE = 1 << 20
#: Seconds a workflow file may take to load unless told otherwise (config key ``workflow_load_timeout``).
DEFAULT_LOAD_TIMEOUT = 60.0
#: How long a load that ran out of time gets to stop after it was interrupted.
_STOP_GRACE = 1.0


class _LoadTimedOut(BaseException):
    """Raised in the thread of a workflow file that did not finish loading in time."""


class _Job:
    """One run of a workflow file: its code, its module and how it ended."""

    def __init__(self, code: types.CodeType, module: types.ModuleType) -> None:
        self.code = code
        self.module = module
        self.error: BaseException | None = None
        self.finished = False


class _Runner:
    """A thread that runs workflow files one at a time, kept for the next file once one has finished.

    Starting a thread for every run cost more than running a small file (a
    re-run per execution of an every-minute schedule); a runner waits for its
    next file instead. A runner whose file overran its time is given up on:
    it is interrupted and ends when its file does, and never runs another.
    """

    #: Runners kept waiting between loads (more run at once when loads overlap).
    IDLE_MAX = 4
    _idle: list[_Runner] = []
    _idle_lock = threading.Lock()

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.job: _Job | None = None
        self.abandoned = False
        self._go = threading.Lock()
        self._go.acquire()
        self._done = threading.Lock()
        self._done.acquire()
        self.thread = threading.Thread(target=self._serve, name="aiflow-load", daemon=True)
        self.thread.start()

    @classmethod
    def take(cls) -> _Runner:
        """An idle runner, or a new one."""
        with cls._idle_lock:
            if cls._idle:
                return cls._idle.pop()
        return cls()

    def _serve(self) -> None:
        try:
            while True:
                self._go.acquire()
                job = self.job
                if job is None:  # released from the idle list
                    return
                WorkflowContextManager.pop_context_managed_workflow()  # a file left in a `with` block before
                try:
                    exec(job.code, job.module.__dict__)
                except BaseException as exc:  # the file's SystemExit too: it must not end the uploading program
                    job.error = exc
                with self.lock:
                    job.finished = True
                    if self.abandoned:
                        return
                self._done.release()
        except _LoadTimedOut:  # arrived just as the file finished: the caller reports the timeout
            pass

    def run(self, job: _Job, timeout: float) -> bool:
        """Run ``job``; False if it did not finish within ``timeout`` seconds (it is then interrupted)."""
        self.job = job
        self._go.release()
        finished = self._done.acquire(timeout=timeout)
        if not finished:
            with self.lock:
                finished = job.finished
                if not finished:
                    self.abandoned = True
                    raise_in_thread(self.thread.ident or 0, _LoadTimedOut)
            if not finished:
                self.thread.join(_STOP_GRACE)
                return False
            self._done.acquire()  # released just after ``finished`` was set
        self.job = None
        with self._idle_lock:
            if len(self._idle) < self.IDLE_MAX:
                self._idle.append(self)
                return True
        self._go.release()  # enough runners wait already: this one ends
        return True


def _forget_runners() -> None:
    """In a forked child: the runners' threads were not copied, so none of them waits any more."""
    _Runner._idle = []
    _Runner._idle_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_runners)


#: Compiled workflow files by the SHA-256 of their source (at most this many kept).
_COMPILED: dict[str, types.CodeType] = {}
_COMPILED_MAX = 256
_COMPILED_LOCK = threading.Lock()


def _with_filename(code: types.CodeType, filename: str) -> types.CodeType:
    """``code`` and the code of its functions and classes, compiled as if from ``filename``."""
    consts = tuple(_with_filename(c, filename) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def _compile(source: bytes, filename: str) -> types.CodeType:
    """Compile ``source``; the same source read from another path (an execution's copy) is compiled once."""
    key = hashlib.sha256(source).hexdigest()
    with _COMPILED_LOCK:
        cached = _COMPILED.get(key)
    if cached is not None:
        return cached if cached.co_filename == filename else _with_filename(cached, filename)
    code = compile(source, filename, "exec")
    with _COMPILED_LOCK:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[key] = code
    return code


def load_workflows(path: str | Path, timeout: float = DEFAULT_LOAD_TIMEOUT) -> list[Workflow]:
    """Run the Python file at ``path`` and return the workflows defined at its top level.

    The file runs as a module that is not left in ``sys.modules``, so its
    functions and classes are pickled by value when the workflows are stored.
    Its directory is on ``sys.path`` while it runs. Definition errors (an
    :class:`~aiflow_core.errors.AIFlowError` such as a duplicate task name)
    propagate as they are; anything else the file raises becomes
    :class:`~aiflow_core.errors.WorkflowLoadError` naming the exception and
    holding its traceback through the user's files (for a syntax error, the
    offending line and a caret), and so does ``sys.exit()`` at import, a file
    larger than :data:`MAX_WORKFLOW_FILE_SIZE` and a file still loading after
    ``timeout`` seconds.

    A source compiled before (the same file, or another execution's copy of
    it) is not compiled again. The file runs on another thread than the
    caller's (kept waiting for the next file afterwards, since starting a
    thread cost more than running a small file), so that a file that never
    finishes does not hang the caller: when
    ``timeout`` runs out the load is interrupted (an exception is raised in
    its thread) and given up on. A file blocked in C code (a ``time.sleep``,
    a socket read) keeps its thread until that call returns; ``os._exit``
    ends the process like anywhere else.
    """
    filename = os.path.realpath(os.path.expanduser(path))
    file = Path(filename)
    try:
        status = os.stat(filename)
    except OSError:
        status = None
    if status is None or not stat.S_ISREG(status.st_mode):
        raise WorkflowLoadError(f"workflow file {str(path)!r} does not exist or is not a file")
    if status.st_size > MAX_WORKFLOW_FILE_SIZE:
        raise WorkflowLoadError(
            f"workflow file {filename!r} has {status.st_size} bytes, more than the {MAX_WORKFLOW_FILE_SIZE} a "
            "workflow file may have; keep data out of it: ship data files as artifacts and read them at run time"
        )
    source = _read(filename)
    digest = hashlib.sha256(filename.encode() + source).hexdigest()[:16]
    name = f"aiflow_workflow_{file.stem}_{digest}"
    module = types.ModuleType(name)
    module.__file__ = filename
    try:
        code = _compile(source, filename)
    except (SyntaxError, ValueError) as exc:
        raise _load_error(file, exc) from exc
    sys.modules[name] = module
    directory = os.path.dirname(filename)
    sys.path.insert(0, directory)
    try:
        runner = _Runner.take()
        load = _Job(code, module)
        finished = runner.run(load, timeout)
    finally:
        sys.modules.pop(name, None)
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)
    if not finished:
        still = " and it still runs in a background thread" if runner.thread.is_alive() else ""
        raise WorkflowLoadError(
            f"workflow file {str(file)!r} did not finish loading within {timeout:g} s{still}; "
            "a workflow file should only declare workflows (start work in tasks), "
            "or raise the config key workflow_load_timeout"
        )
    if isinstance(load.error, AIFlowError):
        raise load.error
    if isinstance(load.error, SystemExit):
        raise WorkflowLoadError(
            f"workflow file {str(file)!r} called sys.exit({load.error.code!r}) while loading; "
            "a workflow file must not exit: guard script code with `if __name__ == '__main__':`"
        ) from None
    if load.error is not None:
        raise _load_error(file, load.error) from load.error
    workflows: list[Workflow] = []
    for value in module.__dict__.values():
        if isinstance(value, Workflow) and value not in workflows:
            value.source_file = file.name
            workflows.append(value)
    if not workflows:
        raise WorkflowLoadError(
            f"workflow file {str(file)!r} defines no Workflow at its top level; "
            "declare one with `with Workflow(name=...) as w:`"
        )
    for workflow in workflows:
        workflow.validate()
    names = [w.name for w in workflows]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise WorkflowLoadError(
            f"workflow file {str(file)!r} defines workflow names more than once: {duplicates}"
        )
    return workflows


def _read(filename: str) -> bytes:
    """The bytes of the file ``filename`` (read without a Python file object: fewer system calls)."""
    descriptor = os.open(filename, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(descriptor, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def _load_error(file: Path, exc: BaseException) -> WorkflowLoadError:
    return WorkflowLoadError(
        f"workflow file {str(file)!r} raised {type(exc).__name__} while loading: {_first_line(exc)}\n"
        + user_traceback(exc)
    )


def _first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message, or its type's name if it has none."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` and its causes without aiflow's own frames.

    What remains points into the user's files: ``File "flow.py", line 3``
    with the line, and for a :class:`SyntaxError` the offending line and a
    caret under it.
    """
    report = traceback.TracebackException.from_exception(exc)
    seen: set[int] = set()
    node: traceback.TracebackException | None = report
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        kept = [frame for frame in node.stack if not str(frame.filename).startswith(_OWN_PACKAGES)]
        node.stack = traceback.StackSummary.from_list(kept)
        node = node.__cause__ or node.__context__
    return "".join(report.format())


def local_modules(path: str | Path, artifacts: Sequence[str | Path] = ()) -> list[Path]:
    """The modules and packages beside a workflow file that it imports, directly or through them.

    A top-level import ``import helper`` or ``from helper import f`` names a
    local module when ``helper.py`` or a package directory ``helper/`` lies
    in the workflow file's directory (which is first on ``sys.path`` while it
    loads). Those modules are followed in turn; a package is returned as its
    directory. Imports of installed packages and of aiflow itself are not
    returned, nor modules whose base name one of ``artifacts`` already has.
    """
    file = Path(path).expanduser().resolve()
    root = file.parent
    found: dict[str, Path] = {}
    pending = [file]
    parsed: set[Path] = set()
    while pending:
        source = pending.pop()
        if source in parsed:
            continue
        parsed.add(source)
        for name in _imported_names(source):
            target = _local_target(root, name)
            if name in found or name in _OWN_NAMES or target is None or target == file:
                continue
            found[name] = target
            pending.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    named = {Path(a).expanduser().resolve().name for a in artifacts}
    return sorted(target for target in found.values() if target.name not in named)


def imported_from(paths: Sequence[Path]) -> list[types.ModuleType]:
    """The imported modules (in ``sys.modules``) whose files are ``paths``: module files or package directories."""
    modules: list[types.ModuleType] = []
    for path in paths:
        module = sys.modules.get(path.stem if path.is_file() else path.name)
        origin = getattr(module, "__file__", None)
        if module is not None and origin and Path(origin).resolve() in (path, path / "__init__.py"):
            modules.append(module)
    return modules


def _imported_names(source: Path) -> set[str]:
    """The first component of every absolute import in ``source`` (nothing if it cannot be parsed)."""
    try:
        tree = ast.parse(source.read_bytes(), str(source))
    except (SyntaxError, ValueError, OSError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _local_target(root: Path, name: str) -> Path | None:
    """``root/name.py``, or the package directory ``root/name``, if one exists."""
    module = root / f"{name}.py"
    if module.is_file():
        return module
    package = root / name
    if package.is_dir() and any(package.glob("*.py")):
        return package
    return None
