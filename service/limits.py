"""Per-key limits: requests per minute (a token bucket), requests in flight, and tokens per
UTC day. A request over a limit gets 429 with `Retry-After`; nothing else waits.

Counts live in this process: with several replicas each enforces its own share, and the
day's token count starts again after a restart (the store keeps every answer's tokens if
an exact bill is needed)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from service.auth import KeyLimits, Principal
from service.errors import TooManyRequests


class Limiter:
    def __init__(self, defaults: KeyLimits = KeyLimits()) -> None:
        self.defaults = defaults  # for keys and people without limits of their own
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._in_flight: dict[str, int] = {}
        self._spent: dict[tuple[str, str], int] = {}  # (key, UTC day) -> tokens

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
                if self._spent.get((key, day.date().isoformat()), 0) >= limits.daily_tokens:
                    midnight = (day + timedelta(days=1)).replace(
                        hour=0, minute=0, second=0, microsecond=0
                    )
                    raise TooManyRequests(
                        f"{p.name} has used its {limits.daily_tokens:,} tokens for today",
                        code="token_budget_exhausted",
                        retry_after_s=(midnight - day).total_seconds(),
                        hint="The budget starts again at 00:00 UTC; an admin can raise it.",
                    )
            in_flight = self._in_flight.get(key, 0)
            if limits.max_concurrency is not None and in_flight >= limits.max_concurrency:
                raise TooManyRequests(
                    f"{p.name} already has {limits.max_concurrency} requests in flight",
                    code="too_many_in_flight",
                    retry_after_s=1,
                )
            if limits.rate_per_min is not None:
                capacity = float(limits.rate_per_min)
                per_s = capacity / 60
                tokens, last = self._buckets.get(key, (capacity, now))
                tokens = min(capacity, tokens + (now - last) * per_s)
                if tokens < 1:
                    raise TooManyRequests(
                        f"{p.name} is over its {limits.rate_per_min} requests per minute",
                        retry_after_s=(1 - tokens) / per_s,
                    )
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

    def spend(self, p: Principal, tokens: int) -> None:
        """Count tokens a request used toward the day's budget."""
        if tokens <= 0:
            return
        day = datetime.now(UTC).date().isoformat()
        with self._lock:
            k = (self._key(p), day)
            self._spent[k] = self._spent.get(k, 0) + tokens

    def spent_today(self, p: Principal) -> int:
        with self._lock:
            return self._spent.get((self._key(p), datetime.now(UTC).date().isoformat()), 0)
