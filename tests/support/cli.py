"""Running `arbiter` (`python -m service`) in a subprocess, as a person would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ARBITER = [sys.executable, "-m", "service"]


def run(
    args: list[str], tmp_path: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "ARBITER_HOME": str(tmp_path / "home"),
        "COLUMNS": "160",
        **(env or {}),
    }
    return subprocess.run(
        [*ARBITER, *args],
        cwd=tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
