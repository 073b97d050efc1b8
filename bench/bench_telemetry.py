"""Telemetry: (1) what it adds to a model call, measured through the compare engine with
every sink on (Prometheus, CloudWatch and OTLP, the last two pointed at endpoints that are
down, so exports fail and are counted) vs every sink off, in the same run; goal < 200 µs
added per model call at p50. (2) Memory held by the queue under a 10k-record burst with
the sink stuck: bounded by the configured size."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import boto3
from botocore.config import Config

from bench._report import header, line, verdict
from monitoring.cloudwatch import CloudWatchSink
from monitoring.pipeline import Telemetry
from monitoring.prometheus import PrometheusSink
from monitoring.records import ModelCall, Record
from service.app import build_runtime, configure_logging
from service.app.telemetry import otlp_sink
from service.config import Settings
from service.schemas import CompareRequest
from tests.fakes.script import Script
from tests.fakes.scripted import ScriptedFactory

ROUNDS = int(os.environ.get("BENCH_TELEMETRY_ROUNDS", "400"))
VARIANTS = '[[variants]]\nname = "a"\n[variants.model]\nprovider = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "a"\n[[variants]]\nname = "b"\n[variants.model]\nprovider = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "b"\n'


def _all_sinks() -> Telemetry:
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9"
    os.environ["OTEL_EXPORTER_OTLP_TIMEOUT"] = "1"
    dead = boto3.client(
        "cloudwatch",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    return Telemetry(
        [PrometheusSink(), CloudWatchSink(dead, "Bench", flush_every_s=1.0), otlp_sink()]
    )


def _compare_times(runtime, telemetry: Telemetry) -> list[float]:  # type: ignore[no-untyped-def]
    runtime.engine.emit = telemetry.emit if telemetry.sinks else None

    async def rounds() -> list[float]:
        times = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            async for _event in runtime.engine.run(CompareRequest(prompt="q", variants=["a", "b"])):
                pass
            times.append(time.perf_counter() - started)
        return times

    return asyncio.run(rounds())


class _Stuck:
    def __init__(self) -> None:
        self.gate = threading.Event()

    def export(self, records: Sequence[Record]) -> None:
        self.gate.wait(30)

    def force_flush(self, timeout_s: float = 5.0) -> bool:
        return True

    def shutdown(self) -> None:
        self.gate.set()


def main() -> None:
    header("Telemetry: cost per model call, and memory under a burst")
    configure_logging("error")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "v.toml").write_text(VARIANTS)
        settings = Settings(
            home=Path(tmp),
            variants_file=Path(tmp, "v.toml"),
            rag_sample_corpus=False,
            online_metrics="",
            prometheus=False,
        )
        runtime = build_runtime(
            settings,
            model_factory=ScriptedFactory(
                {"a": Script(tokens=["x"] * 4), "b": Script(tokens=["y"] * 4)}
            ),
        )
        try:
            off = Telemetry()
            on = _all_sinks()
            _compare_times(runtime, off)  # warm up
            # Interleave the two settings in blocks so drift on a shared machine hits both.
            times_off, times_on = [], []
            for _ in range(3):
                times_off += _compare_times(runtime, off)
                times_on += _compare_times(runtime, on)
            on.flush(5)
            errors = dict(on.export_errors)
            on.shutdown()
        finally:
            runtime.close()
    p50_off, p50_on = statistics.median(times_off), statistics.median(times_on)
    per_call_us = (p50_on - p50_off) / 2 * 1e6  # two model calls per comparison
    line("comparisons per setting", f"{len(times_on):,} (2 model calls each)")
    line("p50 per comparison, sinks off", f"{p50_off * 1e3:.3f} ms")
    line("p50 per comparison, all sinks on", f"{p50_on * 1e3:.3f} ms")
    line("on ÷ off", f"{p50_on / p50_off:.3f}")
    line("added per model call at p50", f"{per_call_us:.0f} µs")
    line("failed exports counted (sinks down)", str(errors))
    verdict(per_call_us < 200, "< 200 µs added per model call at p50")

    record = ModelCall("a", "openai", "m", "ok", None, 0.5, 0.1, 5, 9, 0.001)
    stuck = _Stuck()
    telemetry = Telemetry([stuck], max_queue=10_000)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(100_000):
        telemetry.emit(ModelCall(**{**record.__dict__}))
    after = tracemalloc.take_snapshot()
    held = sum(s.size_diff for s in after.compare_to(before, "filename"))
    tracemalloc.stop()
    queued = telemetry._queue.qsize()
    line("burst", "100,000 records, queue size 10,000, sink stuck")
    line("queued / dropped", f"{queued:,} / {telemetry.dropped:,}")
    line(
        "memory held after the burst",
        f"{held / 1e6:.2f} MB ({held / max(queued, 1):.0f} B per queued record)",
    )
    stuck.gate.set()
    telemetry.shutdown()
    verdict(
        queued <= 10_000 and telemetry.dropped >= 100_000 - 10_000 - 512 and held < 20e6,
        "memory bounded by the queue size under a burst",
    )


if __name__ == "__main__":
    main()
