"""The telemetry pipeline: records go into a bounded queue that never blocks the request
path (a full queue drops the record and counts it) and a background thread fans them out
to every sink. A sink has three methods, as OpenTelemetry exporters do."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Protocol

import structlog

from monitoring.records import Record

log = structlog.get_logger(__name__)


class TelemetrySink(Protocol):
    def export(self, records: Sequence[Record]) -> None: ...

    def force_flush(self, timeout_s: float = 5.0) -> bool: ...

    def shutdown(self) -> None: ...


class Telemetry:
    """`emit` is cheap and never raises nor waits. With no sinks it does nothing."""

    def __init__(
        self,
        sinks: Sequence[TelemetrySink] = (),
        *,
        max_queue: int = 10_000,
        batch_size: int = 512,
        interval_s: float = 0.2,
    ) -> None:
        self.sinks = list(sinks)
        self.dropped = 0
        self.export_errors: dict[str, int] = {}
        # A deque under one lock, not a queue.Queue: nothing waits on it (the thread polls),
        # and a batch of records goes in, or out, with one acquisition instead of one each.
        self._queue: deque[Record] = deque()
        self._lock = threading.Lock()
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        if self.sinks:
            self._thread = threading.Thread(target=self._run, name="telemetry", daemon=True)
            self._thread.start()

    def emit(self, record: Record) -> None:
        self.emit_many((record,))

    def emit_many(self, records: Iterable[Record]) -> None:
        """`emit` each record, in order."""
        if not self.sinks:
            return
        with self._lock:
            for record in records:
                if len(self._queue) < self._max_queue:
                    self._queue.append(record)
                else:
                    self.dropped += 1  # read by the sinks as a metric of its own
        self._idle.clear()

    def _drain(self) -> list[Record]:
        with self._lock:
            return [self._queue.popleft() for _ in range(min(len(self._queue), self._batch_size))]

    def _export(self, batch: list[Record]) -> None:
        for sink in self.sinks:
            try:
                sink.export(batch)
            except Exception as exc:  # one sink's outage never affects the others
                name = type(sink).__name__
                self.export_errors[name] = self.export_errors.get(name, 0) + 1
                log.warning("telemetry.export_failed", sink=name, error=str(exc))

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._drain()
            if batch:
                self._export(batch)
                continue
            self._idle.set()
            self._stop.wait(self._interval_s)

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every record emitted so far has reached the sinks."""
        if not self.sinks:
            return True
        done = self._idle.wait(timeout_s) and not self._queue
        for sink in self.sinks:
            done = self._safely(sink, "force_flush", timeout_s) and done
        return done

    def _safely(self, sink: TelemetrySink, method: str, *args: float) -> bool:
        """A sink's flush or shutdown failing (its backend is down) is counted, not raised:
        it must not stop the service from shutting down."""
        try:
            return bool(getattr(sink, method)(*args)) or method == "shutdown"
        except Exception as exc:
            name = type(sink).__name__
            self.export_errors[name] = self.export_errors.get(name, 0) + 1
            log.warning(f"telemetry.{method}_failed", sink=name, error=str(exc))
            return False

    def shutdown(self) -> None:
        """Deliver what is queued, then stop the thread and the sinks."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=10)
        while batch := self._drain():
            self._export(batch)
        for sink in self.sinks:
            self._safely(sink, "shutdown")
        self._thread = None
