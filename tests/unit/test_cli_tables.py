"""Every CLI table folds long cells instead of cutting them to "…" (a narrow terminal must
still show `smollm2-concise-no-docs` whole): the commands use `service.cli.common.Table`,
never rich's own."""

from __future__ import annotations

from pathlib import Path

CLI = Path(__file__).resolve().parents[2] / "service" / "cli"


def test_cli_modules_build_tables_with_the_folding_table() -> None:
    offenders = [
        p.name
        for p in sorted(CLI.glob("*.py"))
        if p.name != "common.py" and "from rich.table import" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []
