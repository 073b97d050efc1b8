"""Telemetry: the bounded, non-blocking pipeline, and Prometheus metrics that match the
calls, scores and votes made (parsed with prometheus_client's own parser)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from monitoring.cloudwatch import CloudWatchSink
from monitoring.pipeline import Telemetry
from service.app.runtime import Runtime
from service.app.telemetry import otlp_sink
from service.evaluation.dashboard import series
from service.serving import BlindHold
from tests.fakes.script import Script
from tests.support.fixtures import LiveServer
from tests.support.telemetry import metrics, value


def test_metrics_endpoint_counts_the_calls_and_votes_made(
    runtime: Runtime,
    scripts: dict[str, Script],
    live: LiveServer,
    wait_for: Callable[[Callable[[], bool], float], None],
) -> None:
    url = live.url
    scripts["gamma"].failure = "server_error"
    prompt = "What is the secret recipe of user 42?"
    turn = httpx.post(
        f"{url}/api/compare",
        json={"prompt": prompt, "variants": ["alpha", "beta", "gamma"]},
        timeout=30,
    ).json()
    vote = {
        "outcome": "ranking",
        "ranking": [1, 0, 2],
        "on_behalf_of": "ann",
        "idempotency_key": "v1",
    }
    for _ in range(2):  # the second is a replay: counted once
        assert httpx.post(f"{url}/api/turns/{turn['id']}/votes", json=vote).status_code == 201

    def scraped() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        runtime.telemetry.flush(5)
        return metrics(httpx.get(f"{url}/metrics").text)

    wait_for(
        lambda: (
            value(scraped(), "arbiter_votes_total", variant="beta", outcome="win", mode="named")
            == 1
        ),
        10,
    )
    m = scraped()
    for variant in ("alpha", "beta"):
        assert (
            value(m, "arbiter_model_calls_total", variant=variant, provider="openai", status="ok")
            == 1
        )
    assert (
        value(m, "arbiter_model_calls_total", variant="gamma", provider="openai", status="error")
        == 1
    )
    assert (
        value(
            m,
            "arbiter_model_errors_total",
            variant="gamma",
            provider="openai",
            error="provider_error",
        )
        == 1
    )
    assert value(m, "arbiter_votes_total", variant="alpha", outcome="tie", mode="named") == 1
    assert value(m, "arbiter_votes_total", variant="gamma", outcome="loss", mode="named") == 1
    assert sum(v for (name, _), v in m.items() if name == "arbiter_votes_total") == 3
    text = httpx.get(f"{url}/metrics").text
    assert prompt not in text and "ann" not in text  # no prompt text or user ids in labels


def test_thumbs_feedback_is_stored_and_counted(
    runtime: Runtime, live: LiveServer, wait_for: Callable[[Callable[[], bool], float], None]
) -> None:

    url = live.url
    turn = httpx.post(
        f"{url}/api/compare", json={"prompt": "q", "variants": ["alpha", "beta"]}, timeout=30
    ).json()
    alpha, beta = turn["answers"]
    for answer, thumb in ((alpha, "up"), (alpha, "down"), (beta, "up")):
        r = httpx.post(
            f"{url}/api/answers/{answer['id']}/feedback",
            json={"value": thumb, "on_behalf_of": "ann"},
        )
        assert r.status_code == 201, r.text
    assert httpx.post(f"{url}/api/answers/nope/feedback", json={"value": "up"}).status_code == 404
    assert (
        httpx.post(f"{url}/api/answers/{beta['id']}/feedback", json={"value": "meh"}).status_code
        == 422
    )
    runtime.telemetry.flush(5)
    m = metrics(httpx.get(f"{url}/metrics").text)
    assert value(m, "arbiter_feedback_total", variant="alpha", value="up") == 1
    assert value(m, "arbiter_feedback_total", variant="alpha", value="down") == 1
    # The dashboard counts each rater's latest thumbs: ann's "down" replaced her "up".
    satisfaction = {
        p.variant: p.value
        for p in series(runtime.store, "last hour")
        if p.series == "satisfaction (thumbs up)"
    }
    assert satisfaction == {"alpha": 0.0, "beta": 1.0}


def test_sinks_down_the_compare_path_still_answers(
    runtime: Runtime, live: LiveServer, monkeypatch: Any
) -> None:
    import boto3
    from botocore.config import Config

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # nobody listens
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    dead = boto3.client(
        "cloudwatch",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    telemetry = Telemetry(
        [CloudWatchSink(dead, "Down", flush_every_s=0), otlp_sink()], interval_s=0.01
    )
    runtime.engine.emit = telemetry.emit
    runtime.engine.blind_hold = BlindHold(telemetry.emit)
    for _ in range(3):
        r = httpx.post(
            f"{live.url}/api/compare",
            json={"prompt": "q", "variants": ["alpha", "beta"]},
            timeout=30,
        )
        assert r.status_code == 200 and {a["status"] for a in r.json()["answers"]} == {"ok"}
    telemetry.flush(5)
    assert telemetry.export_errors["CloudWatchSink"] >= 1  # counted, and nothing else broke
    telemetry.shutdown()
