"""The architecture, as a test: which package may import which, public surfaces behind each
`service` subpackage's `__all__`, no import cycles, and no project import hidden in a
function body. README "Where things are" draws the same arrows."""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("service", "ui", "rag", "evals", "monitoring")
KERNEL = "kernel"  # service/config.py, errors.py, ids.py, schemas.py: shared by every feature

# Which `service` subpackage may import which (the kernel is allowed everywhere). A feature
# lower in the list never imports one higher up; `app` wires them all, `api` and `cli`
# serve them.
SERVICE_ARROWS: dict[str, set[str]] = {
    KERNEL: set(),
    "models": set(),
    "store": {"models"},
    "access": {"store"},
    "documents": {"models"},
    "serving": {"models", "store", "documents"},
    "labels": {"models", "store", "serving"},
    "evaluation": {"models", "store", "documents", "serving", "labels"},
    "tuning": {"models", "store", "serving", "labels", "evaluation"},
    "app": {"models", "store", "access", "documents", "serving", "labels", "evaluation", "tuning"},
    "api": {
        "models",
        "store",
        "access",
        "documents",
        "serving",
        "labels",
        "evaluation",
        "tuning",
        "app",
    },
    "web": {"api", "app"},
    "__main__": {"cli"},  # `python -m service`
    "cli": {
        "models",
        "store",
        "access",
        "documents",
        "serving",
        "labels",
        "evaluation",
        "tuning",
        "app",
        "web",
    },
}
# Top-level packages: `ui` sits on `service`; the libraries below know nothing above them.
PACKAGE_ARROWS: dict[str, set[str]] = {
    "rag": set(),
    "evals": set(),
    "monitoring": set(),
    "service": {"rag", "evals", "monitoring"},
    "ui": {"service", "rag", "evals", "monitoring"},
}
# `service/web.py` is the composition root of the web process: the one place `service`
# imports `ui`, inside the function that mounts it, because `ui` pulls in Gradio (seconds to
# import), which every CLI command but `serve` would otherwise pay for.
LAZY_PROJECT_IMPORTS = {("service/web.py", "ui")}
# What `ui` may not touch: the HTTP layer and the entry points.
UI_FORBIDDEN = {"api", "cli", "web"}


def _python_files(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(
    tree: ast.AST, also: tuple[str, ...] = ()
) -> Iterator[tuple[ast.stmt, str, list[str]]]:
    """(node, module, names) for each absolute import of a project module."""
    packages = (*PROJECT, *also)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in packages:
                    yield node, a.name, []
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.split(".")[0] in packages
        ):
            yield node, node.module, [a.name for a in node.names]


def _service_part(module: str) -> str | None:
    """`kernel`, a subpackage name, `web`, or None for a module outside `service`."""
    parts = module.split(".")
    if parts[0] != "service":
        return None
    if len(parts) == 1:
        return KERNEL
    if parts[1] in SERVICE_ARROWS:
        return parts[1]
    if (ROOT / "service" / parts[1]).is_dir():
        raise AssertionError(f"service/{parts[1]}/ is not in SERVICE_ARROWS: add its arrows")
    return KERNEL


def _parsed() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8")) for p in _python_files(*PROJECT, "bench")}


def test_packages_import_only_downwards() -> None:
    offenders = []
    for path, tree in _parsed().items():
        package = path.relative_to(ROOT).parts[0]
        if package == "bench":
            continue
        for node, module, _ in _imports(tree):
            target = module.split(".")[0]
            lazy = (str(path.relative_to(ROOT)), target) in LAZY_PROJECT_IMPORTS
            if target != package and target not in PACKAGE_ARROWS[package] and not lazy:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
            if package == "ui" and _service_part(module) in UI_FORBIDDEN:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
    assert offenders == []


def test_service_features_import_only_the_features_below_them() -> None:
    offenders = []
    seen: set[tuple[str, str]] = set()
    for path, tree in _parsed().items():
        mine = _service_part(_module_name(path))
        if mine is None:
            continue
        for node, module, _ in _imports(tree):
            theirs = _service_part(module)
            if theirs is None or theirs in (mine, KERNEL):
                continue
            seen.add((mine, theirs))
            if theirs not in SERVICE_ARROWS[mine]:
                offenders.append(
                    f"{path.relative_to(ROOT)}:{node.lineno} ({mine}) imports {module}"
                )
    assert offenders == []
    assert ("serving", "store") in seen and ("app", "evaluation") in seen  # the graph is read
    kernel_imports = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path, tree in _parsed().items()
        if _service_part(_module_name(path)) == KERNEL and path.parent == ROOT / "service"
        for _, module, _ in _imports(tree)
        if _service_part(module) not in (None, KERNEL)
    ]
    assert kernel_imports == []


def test_no_project_import_inside_a_function_body() -> None:
    """In the tests too: an import hidden in a test breaks late, when that test runs."""
    offenders = []
    trees = _parsed() | {
        p: ast.parse(p.read_text(encoding="utf-8")) for p in _python_files("tests")
    }
    for path, tree in trees.items():
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node, module, _ in _imports(func, also=("tests",)):
                if (str(path.relative_to(ROOT)), module.split(".")[0]) in LAZY_PROJECT_IMPORTS:
                    continue
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
    assert offenders == []


def test_no_import_cycle_between_modules() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    known = {_module_name(p) for p in _python_files(*PROJECT)}
    for path, tree in _parsed().items():
        me = _module_name(path)
        for func_or_mod in [tree]:
            for node in func_or_mod.body:
                for _, module, names in _imports(node):
                    for candidate in [f"{module}.{n}" for n in names] + [module]:
                        if candidate in known and candidate != me:
                            graph[me].add(candidate)
                            break
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        assert module not in path, "import cycle: " + " -> ".join([*path, module])
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, [*path, module])
        done.add(module)

    assert len(graph) > 50  # the graph is read
    for module in sorted(graph):
        visit(module, [])


def _subpackages() -> list[str]:
    return sorted(
        p.name
        for p in (ROOT / "service").iterdir()
        if p.is_dir() and (p / "__init__.py").exists() and p.name in SERVICE_ARROWS
    )


def test_other_packages_use_a_subpackage_only_through_its_public_names() -> None:
    """From outside `service/<sub>/` (the rest of `service`, and `ui`) only
    `from service.<sub> import name` is used, and `service.<sub>.__all__` is exactly the set
    of names used that way: the modules behind it are private. (Benchmarks and tests may
    reach behind it: they measure and check the parts.)"""
    used: dict[str, set[str]] = defaultdict(set)
    offenders = []
    for path, tree in _parsed().items():
        if path.relative_to(ROOT).parts[0] == "bench":
            continue
        mine = _service_part(_module_name(path))
        for node, module, names in _imports(tree):
            theirs = _service_part(module)
            if theirs in (None, KERNEL, "web", mine) or module.split(".")[0] != "service":
                continue
            if module != f"service.{theirs}" or not names:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
            used[theirs].update(names)
    assert offenders == []
    for sub in _subpackages():
        public = set(importlib.import_module(f"service.{sub}").__all__)
        assert public == used[sub], (
            f"service.{sub}.__all__ differs from what other packages use: "
            f"unused {sorted(public - used[sub])}, missing {sorted(used[sub] - public)}"
        )
