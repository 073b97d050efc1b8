"""Telemetry: the bounded, non-blocking pipeline, and Prometheus metrics that match the
calls, scores and votes made (parsed with prometheus_client's own parser)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from monitoring.pipeline import Telemetry
from monitoring.prometheus import PrometheusSink
from monitoring.records import ModelCall, Record, ScoreRecord, VoteRecord
from service.app.runtime import Runtime
from tests.conftest import LiveServer
from tests.fakes.script import Script


class Recording:
    def __init__(self, gate: threading.Event | None = None, fail: bool = False) -> None:
        self.records: list[Record] = []
        self.gate, self.fail, self.closed = gate, fail, False

    def export(self, records: Sequence[Record]) -> None:
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail:
            raise ConnectionError("the collector is down")
        self.records += records

    def force_flush(self, timeout_s: float = 5.0) -> bool:
        return True

    def shutdown(self) -> None:
        self.closed = True


def call(variant: str = "v", status: str = "ok") -> ModelCall:
    return ModelCall(
        variant,
        "openai",
        "m",
        status,
        None if status == "ok" else "throttled",
        0.5,
        0.1,
        10,
        20,
        0.002,
    )


def test_records_reach_every_sink_and_a_failing_sink_harms_no_other() -> None:
    good, bad = Recording(), Recording(fail=True)
    telemetry = Telemetry([bad, good], interval_s=0.01)
    for _ in range(100):
        telemetry.emit(call())
    assert telemetry.flush(5)
    assert len(good.records) == 100
    assert telemetry.export_errors["Recording"] >= 1 and telemetry.dropped == 0
    telemetry.shutdown()
    assert good.closed and bad.closed


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    gate = threading.Event()
    slow = Recording(gate=gate)
    telemetry = Telemetry([slow], max_queue=100, batch_size=10, interval_s=0.01)
    started = time.perf_counter()
    for _ in range(1000):
        telemetry.emit(call())
    elapsed = time.perf_counter() - started
    assert telemetry.dropped >= 800  # the sink is stuck: at most the queue and one batch got in
    assert elapsed < 1.0  # emit never waited for the sink
    gate.set()
    telemetry.shutdown()  # what was queued is still delivered
    assert len(slow.records) == 1000 - telemetry.dropped
    assert Telemetry().emit(call()) is None  # no sinks: a no-op


def metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(
    m: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return m.get((name, tuple(sorted(labels.items()))), 0.0)


def test_prometheus_sink_maps_every_record_kind() -> None:
    sink = PrometheusSink()
    dropped = {"n": 3}
    sink.watch_pipeline(lambda: (dropped["n"], {"CloudWatchSink": 2}))
    sink.export(
        [
            call("a"),
            call("a"),
            call("a", status="error"),
            ScoreRecord("rouge_l", "a", 0.4),
            ScoreRecord("rouge_l", "a", None),
            VoteRecord("a", "win", "arena"),
            VoteRecord("b", "loss", "arena"),
        ]
    )
    m = metrics(sink.render().decode())
    assert value(m, "arbiter_model_calls_total", variant="a", provider="openai", status="ok") == 2
    assert (
        value(m, "arbiter_model_errors_total", variant="a", provider="openai", error="throttled")
        == 1
    )
    assert value(m, "arbiter_model_latency_seconds_count", variant="a", provider="openai") == 2
    assert (
        value(m, "arbiter_model_tokens_sum", variant="a", provider="openai", direction="output")
        == 40
    )
    assert value(m, "arbiter_model_cost_usd_total", variant="a", provider="openai") == 0.004
    assert value(m, "arbiter_score_count", metric="rouge_l", variant="a") == 1
    assert value(m, "arbiter_score_errors_total", metric="rouge_l", variant="a") == 1
    assert value(m, "arbiter_votes_total", variant="b", outcome="loss", mode="arena") == 1
    assert value(m, "arbiter_telemetry_dropped_total") == 3
    assert value(m, "arbiter_telemetry_export_errors_total", sink="CloudWatchSink") == 2


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
    vote = {"outcome": "ranking", "ranking": [1, 0, 2], "rater": "ann", "idempotency_key": "v1"}
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
    from service.evaluation.dashboard import series

    url = live.url
    turn = httpx.post(
        f"{url}/api/compare", json={"prompt": "q", "variants": ["alpha", "beta"]}, timeout=30
    ).json()
    alpha, beta = turn["answers"]
    for answer, thumb in ((alpha, "up"), (alpha, "down"), (beta, "up")):
        r = httpx.post(
            f"{url}/api/answers/{answer['id']}/feedback", json={"value": thumb, "rater": "ann"}
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

    from monitoring.cloudwatch import CloudWatchSink
    from service.app.telemetry import otlp_sink

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
