"""Telemetry: the bounded, non-blocking pipeline, and Prometheus metrics that match the
calls, scores and votes made (parsed with prometheus_client's own parser)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from monitoring.pipeline import Telemetry
from monitoring.prometheus import PrometheusSink
from monitoring.records import ModelCall, Record, ScoreRecord, VoteRecord
from service.serving import BlindHold
from tests.support.telemetry import metrics, value


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


def test_records_emitted_together_go_in_in_order_up_to_the_limit() -> None:
    gate = threading.Event()
    slow = Recording(gate=gate)
    telemetry = Telemetry([slow], max_queue=100, interval_s=0.01)
    telemetry.emit(call("first"))
    deadline = time.monotonic() + 10
    while telemetry._queue and time.monotonic() < deadline:  # the sink took it, and waits
        time.sleep(0.01)
    telemetry.emit_many([call(f"v{i}") for i in range(150)])
    assert telemetry.dropped == 50
    gate.set()
    telemetry.shutdown()
    assert [r.variant for r in slow.records] == ["first"] + [f"v{i}" for i in range(100)]


def test_the_blind_hold_passes_records_on_together() -> None:
    batches: list[list[Record]] = []
    hold = BlindHold(lambda r: batches.append([r]), emit_many=batches.append)
    held, now = [call("a"), call("b")], [call("c"), call("d")]
    hold.start("blind")
    hold.emit_many("blind", held)
    hold.emit_many(None, now)
    assert batches == [now]
    hold.release({"blind"})
    assert batches == [now, held]
    hold.emit("named", call("e"))  # one by one, as ever
    assert [r.variant for r in batches[-1]] == ["e"]


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
