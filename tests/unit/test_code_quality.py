"""The project names no package-registry host (installs come from the configured index)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
