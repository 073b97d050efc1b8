"""`evals` imports: its modules import each other only at the top, never in a function
body, and never in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

EVALS = Path(__file__).resolve().parents[2] / "evals"
PROJECT = {"service", "rag", "evals", "monitoring", "ui"}


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    return []


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8")) for p in EVALS.glob("*.py")}


def test_no_project_import_inside_a_function() -> None:
    offenders = []
    for module, tree in _modules().items():
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(func):
                    offenders += [
                        f"evals/{module}.py:{node.lineno} imports {name} in {func.name}()"
                        for name in _imported(node)
                        if name.split(".")[0] in PROJECT
                    ]
    assert offenders == []


def test_evals_modules_import_each_other_without_a_cycle() -> None:
    graph = {
        module: {
            name.split(".")[1]
            for node in ast.walk(tree)
            for name in _imported(node)
            if name.startswith("evals.")
        }
        for module, tree in _modules().items()
    }
    assert graph["registry"] >= {"metrics", "rag_metrics", "rag_judges"}  # the graph is read
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        assert module not in path, "import cycle: " + " -> ".join([*path, module])
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
