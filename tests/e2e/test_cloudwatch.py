"""CloudWatch through moto's server with the real boto3 client: metric data put and read
back, the service limits, a dashboard and alarms, and an outage that harms nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.cloudwatch import client


def test_cloudwatch_dashboard_command(moto_server: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_DEFAULT_REGION": "us-east-1",
        "ARBITER_HOME": str(tmp_path / "home"),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "service",
            "cloudwatch",
            "dashboard",
            "--name",
            "cli-dash",
            "--max-p90-latency",
            "5",
            "--min-score",
            "faithfulness_overlap=0.5",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "dashboard cli-dash (8 widgets) and 9 alarms" in result.stdout  # 3 variants x 3
    cw = client(moto_server)
    assert "cli-dash" in {d["DashboardName"] for d in cw.list_dashboards()["DashboardEntries"]}
    bad = subprocess.run(
        [sys.executable, "-m", "service", "cloudwatch", "dashboard", "--min-score", "oops"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "METRIC=AMOUNT" in bad.stderr
