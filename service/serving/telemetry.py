"""Telemetry records of model calls (one per answer, from comparisons, the gateway and
batch runs), and the hold that keeps a blind turn's records back until it is voted on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from monitoring.records import ModelCall, Record
from service.models import Variant
from service.schemas import AnswerOut


def model_call(
    variant: Variant, answer: AnswerOut, *, source: str = "compare", turn_id: str | None = None
) -> ModelCall:
    return ModelCall(
        variant=variant.name,
        provider=variant.provider,
        model=variant.model_label,
        status=answer.status,
        error=answer.error_code,
        latency_s=(answer.latency_ms or 0.0) / 1000,
        ttft_s=None if answer.ttft_ms is None else answer.ttft_ms / 1000,
        tokens_in=answer.tokens_in,
        tokens_out=answer.tokens_out,
        cost_usd=answer.cost_usd,
        source=source,
        turn_id=turn_id,
    )


class BlindHold:
    """A blind (arena) turn's telemetry waits for its first vote. Per-variant counters on
    /metrics, OTLP or CloudWatch that move while a rater looks at an anonymous battle (calls,
    errors, tokens, scores) would tell them which model is which. Held records keep their
    own timestamps; they go out when the turn is voted on, or after `max_hold_s` (its rater
    has long gone). Held in this process: a vote taken by another replica releases nothing
    here, so those records wait for `max_hold_s`."""

    def __init__(
        self,
        emit: Callable[[Record], None] | None,
        *,
        emit_many: Callable[[list[Record]], None] | None = None,
        max_hold_s: float = 3600.0,
        max_turns: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`emit_many`, if given, takes the records that go out together (a vote batch's)
        at once instead of `emit` taking them one by one."""
        self._emit, self._max_hold_s, self._max_turns, self._clock = (
            emit,
            max_hold_s,
            max_turns,
            clock,
        )
        self._emit_many = emit_many
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[float, list[Record]]] = {}  # insertion = start order

    def start(self, turn_id: str) -> None:
        """Hold this turn's records from now on."""
        with self._lock:
            self._pending.setdefault(turn_id, (self._clock(), []))

    def emit(self, turn_id: str | None, record: Record) -> None:
        """Send `record` now, or hold it if it belongs to a blind turn not yet voted on."""
        self.emit_many(turn_id, (record,))

    def emit_many(self, turn_id: str | None, records: Iterable[Record]) -> None:
        """`emit` each of these records of one turn (or of none), in order."""
        if self._emit is None:
            return
        with self._lock:
            out = self._expired()
            held = self._pending.get(turn_id) if turn_id is not None else None
            (out if held is None else held[1]).extend(records)
        self._send(out)

    def release(self, turn_ids: Iterable[str]) -> None:
        """The turns were voted on: their records go out."""
        with self._lock:
            out = self._expired()
            for turn_id in turn_ids:
                held = self._pending.pop(turn_id, None)
                if held is not None:
                    out += held[1]
        self._send(out)

    def held(self) -> int:
        with self._lock:
            return sum(len(records) for _, records in self._pending.values())

    def _expired(self) -> list[Record]:
        """Records of turns held too long (or beyond `max_turns`), oldest first; under the lock."""
        out: list[Record] = []
        deadline = self._clock() - self._max_hold_s
        while self._pending:
            turn_id, (started, records) = next(iter(self._pending.items()))
            if started > deadline and len(self._pending) <= self._max_turns:
                break
            del self._pending[turn_id]
            out += records
        return out

    def _send(self, records: list[Record]) -> None:
        if self._emit is None or not records:
            return
        if self._emit_many is not None:
            self._emit_many(records)
            return
        for record in records:
            self._emit(record)
