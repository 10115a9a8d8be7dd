"""The layering rules of DESIGN.md, checked on the source and on a fresh interpreter."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [ROOT / "aiflow_core", ROOT / "aiflow_storage"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules() -> list[tuple[str, Path]]:
    return [
        (str(path.relative_to(ROOT).with_suffix("")).replace("/", "."), path)
        for package in PACKAGES
        for path in sorted(package.rglob("*.py"))
    ]


def test_only_the_owning_packages_import_io_libraries() -> None:
    owners = {
        "sqlalchemy": "aiflow_storage.sql",
        "alembic": "aiflow_storage.sql",
        "fsspec": "aiflow_storage.blob",
        "s3fs": "aiflow_storage.blob",
        "adlfs": "aiflow_storage.blob",
        "gcsfs": "aiflow_storage.blob",
        "cloudpickle": "aiflow_core.serialization",
    }
    offenders = [
        f"{module} imports {library}"
        for module, path in _modules()
        for library in _imports(path) & owners.keys()
        if not module.startswith(owners[library])
    ]
    assert offenders == []


def test_the_model_loads_no_io_library() -> None:
    model_modules = [m for m, _ in _modules() if m.startswith("aiflow_core.model")]
    code = (
        "import importlib, sys\n"
        f"for name in {model_modules!r}: importlib.import_module(name)\n"
        "print(' '.join(m for m in ('sqlalchemy', 'fsspec', 'cloudpickle') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == ""


def test_importing_the_packages_loads_no_alembic() -> None:
    code = "import sys, aiflow_core, aiflow_storage.sql\nprint('alembic' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


def test_the_model_imports_only_stdlib_attrs_and_croniter() -> None:
    allowed = set(sys.stdlib_module_names) | {"attrs", "croniter", "aiflow_core"}
    offenders = [
        f"{module} imports {name}"
        for module, path in _modules()
        if module.startswith("aiflow_core.model")
        for name in _imports(path) - allowed
    ]
    assert offenders == []


def test_scheduling_code_reads_time_only_from_a_clock() -> None:
    forbidden = {"now", "utcnow", "time", "monotonic"}
    offenders = []
    for module, path in _modules():
        if not module.startswith(("aiflow_core.scheduler", "aiflow_core.model", "aiflow_core.api")):
            continue
        if module == "aiflow_core.model.clock":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in forbidden
                and isinstance(node.func.value, (ast.Name, ast.Attribute))
                and ast.unparse(node.func.value) in ("datetime", "dt.datetime", "time", "datetime.datetime")
            ):
                offenders.append(f"{module}:{node.lineno} {ast.unparse(node)}")
    assert offenders == []


def test_modules_stay_small() -> None:
    sizes = {module: len(path.read_text().splitlines()) for module, path in _modules()}
    large = [f"{module} ({lines} lines)" for module, lines in sizes.items() if lines > 600]
    assert large == []


def _package_imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``module`` imports, deferred and ``TYPE_CHECKING`` imports included."""

    def owner(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    found.add(full if full in known else owner(child.module) or "")
            elif isinstance(child, ast.Import):
                found.update(owner(alias.name) or "" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found - {"", module}


def test_no_import_cycles_even_through_deferred_or_type_checking_imports() -> None:
    modules = {name.removesuffix(".__init__"): path for name, path in _modules()}
    graph = {name: _package_imports(name, path, set(modules)) for name, path in modules.items()}
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        raise AssertionError(f"import cycle: {' -> '.join(error.args[1])}") from None
