"""`make lint` as a test, so CI fails on lint or type errors too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["service", "rag", "evals", "monitoring", "ui", "tests", "bench"]


def test_ruff_lint_and_format() -> None:
    for args in (["check", *PACKAGES], ["format", "--check", *PACKAGES]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_on_service_rag_evals_and_monitoring() -> None:
    result = subprocess.run(  # the packages are listed in pyproject.toml
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_package_registry_host_is_named() -> None:
    forbidden = [
        "pypi" + ".org",
        "files.python" + "hosted.org",
        "registry.npm" + "js.org",
        "deb.debian" + ".org",
    ]
    for path in ROOT.rglob("*"):
        if not path.is_file() or any(
            part in {".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
            for part in path.parts
        ):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for host in forbidden:
            assert host not in text, f"{path} names {host}"


def test_rag_evals_monitoring_import_nothing_from_the_other_packages() -> None:
    """Dependency direction: ui -> service -> {rag, evals, monitoring}."""
    import ast

    root = Path(__file__).resolve().parent.parent
    others = {"service", "ui", "rag", "evals", "monitoring"}
    offenders = []
    for package in ("rag", "evals", "monitoring"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top in others - {package}:
                        offenders.append(f"{path.relative_to(root)} imports {name}")
    assert offenders == []
