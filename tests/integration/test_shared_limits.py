"""Per-key limits shared by replicas through a real `redis-server` (started on a free port
by the test): two limiters — two replicas — admit one key's rate and requests in flight
together; with Redis down each falls back to its own counts, never refusing for it, and
the failures show on /metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from monitoring.prometheus import PrometheusSink
from service.access import KeyLimits, Limiter, Principal, RedisCounts
from service.errors import TooManyRequests
from tests.support.processes import RedisServer, redis_server


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


def _replicas(url: str, limits: KeyLimits, n: int = 2) -> list[Limiter]:
    return [Limiter(limits, None, RedisCounts(url, lease_s=60)) for _ in range(n)]


def _who(name: str = "team-a") -> Principal:
    return Principal(name, frozenset(), key_id=f"key-{name}")


def _try(limiter: Limiter, who: Principal) -> bool:
    try:
        limiter.admit(who)
    except TooManyRequests:
        return False
    return True


def test_two_replicas_share_one_rate(redis: RedisServer) -> None:
    a, b = _replicas(redis.url, KeyLimits(rate_per_min=20))
    admitted = sum(_try(limiter, _who()) for _ in range(30) for limiter in (a, b))
    # The bucket holds 20 for the key, whichever replica asks (alone, each would admit 20).
    assert 20 <= admitted <= 21  # one more may have refilled while the loop ran
    with pytest.raises(TooManyRequests) as refused:
        a.admit(_who())
    assert "20 requests per minute" in refused.value.message
    assert refused.value.retry_after_s is not None and 0 < refused.value.retry_after_s <= 3.1
    assert _try(b, _who("team-b"))  # another key has its own bucket


def test_two_replicas_share_the_requests_in_flight(redis: RedisServer) -> None:
    a, b = _replicas(redis.url, KeyLimits(max_concurrency=2))
    first, second = a.admit(_who()), b.admit(_who())
    assert not _try(a, _who()) and not _try(b, _who())
    first()
    first()  # releasing twice frees one slot, not two
    third = b.admit(_who())
    assert not _try(a, _who())
    second()
    third()
    assert _try(a, _who()) and _try(b, _who())


def test_a_killed_replicas_slots_free_themselves_after_the_lease(redis: RedisServer) -> None:
    dying = Limiter(KeyLimits(max_concurrency=1), None, RedisCounts(redis.url, lease_s=0.2))
    dying.admit(_who())  # never released: its process was killed mid-request
    (alive,) = _replicas(redis.url, KeyLimits(max_concurrency=1), n=1)
    assert not _try(alive, _who())
    time.sleep(0.3)
    assert _try(alive, _who())


def test_redis_down_falls_back_to_per_process_counts_and_is_counted(redis: RedisServer) -> None:
    limiter = Limiter(KeyLimits(rate_per_min=5), None, RedisCounts(redis.url, lease_s=60))
    sink = PrometheusSink()
    sink.watch_limits(limiter.shared_stats)
    assert _try(limiter, _who())
    assert "arbiter_limits_shared 1.0" in sink.render().decode()
    redis.proc.terminate()
    redis.proc.wait(timeout=10)
    # Redis is gone: requests are still admitted, now by this process's own bucket, which
    # still holds the key to its rate.
    results = [_try(limiter, _who()) for _ in range(8)]
    assert results[:5] == [True] * 5 and not any(results[5:])
    metrics = sink.render().decode()
    assert "arbiter_limits_redis_failures_total 1.0" in metrics  # one failure, then local
    assert "arbiter_limits_shared 0.0" in metrics
    failures, shared = limiter.shared_stats()
    assert failures == 1 and shared is False


def test_without_redis_nothing_changes() -> None:
    limiter = Limiter(KeyLimits(rate_per_min=3))
    assert [_try(limiter, _who()) for _ in range(4)] == [True, True, True, False]
    assert limiter.shared_stats() == (0, None)
