"""`make lint` as a test, so CI fails on lint or type errors too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
