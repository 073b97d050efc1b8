"""Per-key limits: requests per minute (a token bucket), requests in flight, and tokens per
UTC day. A request over a limit gets 429 with `Retry-After`; nothing else waits.

Request rates and requests in flight are counted in Redis when ARBITER_REDIS_URL is set,
so replicas enforce one limit together (`shared_limits`); otherwise in this process, each
replica then enforcing its own. If Redis fails, this process counts on its own for
`SHARED_RETRY_S`, then tries Redis again: a Redis outage loosens limits, never refuses
requests; failures are counted (`shared_stats`, on /metrics). The day's tokens are also written to the store every few
seconds (`sync`) and read back with every other process's, so a budget survives a restart
and replicas on one database share it, a few seconds behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from service.access.principals import KeyLimits, Principal
from service.access.shared_limits import RedisCounts, SharedCountsUnavailable
from service.errors import ErrorCode, TooManyRequests
from service.ids import new_id
from service.store import Store, spend

log = structlog.get_logger(__name__)

SHARED_RETRY_S = 2.0  # after a Redis failure, count in this process this long


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


class Limiter:
    def __init__(
        self,
        defaults: KeyLimits = KeyLimits(),
        store: Store | None = None,
        shared: RedisCounts | None = None,
    ) -> None:
        self.defaults = defaults  # for keys and people without limits of their own
        self.store = store
        self.shared = shared
        self.shared_failures = 0  # Redis calls that failed (each one fell back to local)
        self._shared_down_until = 0.0
        self._shared_answered = True  # whether the last call to Redis succeeded
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._in_flight: dict[str, int] = {}
        # (key, UTC day) -> tokens: every process's as of the last sync, and this one's since
        self._synced: dict[tuple[str, str], int] = {}
        self._unsynced: dict[tuple[str, str], int] = {}

    def _spent(self, key: str, day: str) -> int:
        return self._synced.get((key, day), 0) + self._unsynced.get((key, day), 0)

    def _limits(self, p: Principal) -> KeyLimits:
        own = p.limits
        return KeyLimits(
            own.rate_per_min or self.defaults.rate_per_min,
            own.max_concurrency or self.defaults.max_concurrency,
            own.daily_tokens or self.defaults.daily_tokens,
        )

    @staticmethod
    def _key(p: Principal) -> str:
        return p.key_id or p.name

    def admit(self, p: Principal) -> Callable[[], None]:
        """Count the request in, or raise `TooManyRequests`; call the result when it ends."""
        limits, key = self._limits(p), self._key(p)
        now = time.monotonic()
        with self._lock:
            if limits.daily_tokens is not None:
                day = datetime.now(UTC)
                if self._spent(key, day.date().isoformat()) >= limits.daily_tokens:
                    midnight = (day + timedelta(days=1)).replace(
                        hour=0, minute=0, second=0, microsecond=0
                    )
                    raise TooManyRequests(
                        f"{p.name} has used its {limits.daily_tokens:,} tokens for today",
                        code=ErrorCode.TOKEN_BUDGET_EXHAUSTED,
                        retry_after_s=(midnight - day).total_seconds(),
                        hint="The budget starts again at 00:00 UTC; an admin can raise it.",
                    )
        if limits.rate_per_min is None and limits.max_concurrency is None:
            return _nothing_to_release
        shared = self._shared_admit(p, key, limits)
        if shared is not None:
            return shared
        with self._lock:
            in_flight = self._in_flight.get(key, 0)
            if limits.max_concurrency is not None and in_flight >= limits.max_concurrency:
                raise _too_many_in_flight(p, limits.max_concurrency, 1)
            if limits.rate_per_min is not None:
                capacity = float(limits.rate_per_min)
                per_s = capacity / 60
                tokens, last = self._buckets.get(key, (capacity, now))
                tokens = min(capacity, tokens + (now - last) * per_s)
                if tokens < 1:
                    raise _over_rate(p, limits.rate_per_min, (1 - tokens) / per_s)
                self._buckets[key] = (tokens - 1, now)
            self._in_flight[key] = in_flight + 1

        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            with self._lock:
                self._in_flight[key] -= 1

        return release

    def _shared_admit(self, p: Principal, key: str, limits: KeyLimits) -> Callable[[], None] | None:
        """Admit through Redis: the release to call when the request ends, or None when
        there is no Redis or it just failed (then this process counts)."""
        if self.shared is None or time.monotonic() < self._shared_down_until:
            return None
        shared = self.shared
        request_id = new_id()
        try:
            refusal = shared.admit(
                key,
                request_id,
                rate_per_min=limits.rate_per_min,
                max_concurrency=limits.max_concurrency,
            )
        except SharedCountsUnavailable as exc:
            self._shared_failed(exc)
            return None
        self._shared_answered = True
        if refusal is not None:
            if refusal.reason == "in_flight":
                raise _too_many_in_flight(p, limits.max_concurrency or 0, refusal.retry_after_s)
            raise _over_rate(p, limits.rate_per_min or 0, refusal.retry_after_s)
        if limits.max_concurrency is None:
            return _nothing_to_release
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            try:
                shared.release(key, request_id)
            except SharedCountsUnavailable as exc:  # the slot frees itself after its lease
                self._shared_failed(exc)

        return release

    def _shared_failed(self, exc: Exception) -> None:
        with self._lock:
            self.shared_failures += 1
            self._shared_answered = False
            was_up = time.monotonic() >= self._shared_down_until
            self._shared_down_until = time.monotonic() + SHARED_RETRY_S
        if was_up:
            log.warning("limits.redis_failed", error=str(exc), fallback="per-process counts")

    def shared_stats(self) -> tuple[int, bool | None]:
        """(Redis calls failed so far, whether Redis counts right now: None without Redis).
        Redis counts again only once a call to it succeeded, not merely when the pause after
        a failure ends: during an outage with few requests the gauge stays 0."""
        if self.shared is None:
            return self.shared_failures, None
        return self.shared_failures, self._shared_answered

    def spend(self, p: Principal, tokens: int) -> None:
        """Count tokens a request used toward the day's budget."""
        if tokens <= 0:
            return
        k = (self._key(p), _today())
        with self._lock:
            self._unsynced[k] = self._unsynced.get(k, 0) + tokens

    def spent_today(self, p: Principal) -> int:
        with self._lock:
            return self._spent(self._key(p), _today())

    def sync(self) -> None:
        """Write the tokens counted here since the last sync to the store, then read back
        today's totals of every process. If the write fails, the counts stay here for the
        next sync: none are lost."""
        if self.store is None:
            return
        with self._lock:
            deltas, self._unsynced = self._unsynced, {}
        try:
            spend.add(self.store, deltas)
        except Exception:
            with self._lock:
                for k, n in deltas.items():
                    self._unsynced[k] = self._unsynced.get(k, 0) + n
            raise
        with self._lock:  # counted until the totals below, which include them, arrive
            for k, n in deltas.items():
                self._synced[k] = self._synced.get(k, 0) + n
        day = _today()
        totals = spend.on_day(self.store, day)
        with self._lock:
            self._synced = {(key, day): n for key, n in totals.items()}


def _nothing_to_release() -> None:
    return None


def _too_many_in_flight(p: Principal, limit: int, retry_after_s: float) -> TooManyRequests:
    return TooManyRequests(
        f"{p.name} already has {limit} requests in flight",
        code=ErrorCode.TOO_MANY_IN_FLIGHT,
        retry_after_s=retry_after_s,
    )


def _over_rate(p: Principal, rate_per_min: int, retry_after_s: float) -> TooManyRequests:
    return TooManyRequests(
        f"{p.name} is over its {rate_per_min} requests per minute", retry_after_s=retry_after_s
    )
