"""Per-key request rates and requests in flight counted in Redis, so that every replica
behind the proxy enforces one limit together (enabled by ARBITER_REDIS_URL).

Hand-written on redis-py rather than the `limits` library: `limits` has rate windows but
no requests-in-flight limit, and checking the two in separate calls would spend a rate
token on a request then refused for concurrency. One Lua script checks and counts both
atomically in one round trip, on Redis's clock (replicas' clocks may differ):

- the rate is the same token bucket as the in-process limiter (capacity: the per-minute
  rate, refilled continuously), kept in a hash;
- requests in flight are members of a sorted set scored by when they stop counting
  (`lease_s` after admission): a replica killed mid-request cannot hold a slot for ever.

Any Redis error raises `SharedCountsUnavailable`; the limiter then counts in its own
process for a few seconds and tries Redis again (see `service.access.limits`)."""

from __future__ import annotations

from dataclasses import dataclass

import redis

ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local conc = tonumber(ARGV[2])
local lease = tonumber(ARGV[4])
if conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= conc then
    return {1, 1000}
  end
end
if rate > 0 then
  local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
  local tokens = tonumber(b[1]) or rate
  local ts = tonumber(b[2]) or now
  tokens = math.min(rate, tokens + math.max(0, now - ts) * rate / 60000)
  if tokens < 1 then
    return {2, math.ceil((1 - tokens) * 60000 / rate)}
  end
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], 61000)
end
if conc > 0 then
  redis.call('ZADD', KEYS[2], now + lease, ARGV[3])
  redis.call('PEXPIRE', KEYS[2], lease + 1000)
end
return {0, 0}
"""


class SharedCountsUnavailable(Exception):
    """Redis did not answer (down, unreachable, timed out, refused the command)."""


@dataclass(frozen=True)
class Refusal:
    reason: str  # "in_flight" | "rate"
    retry_after_s: float


class RedisCounts:
    def __init__(
        self,
        url: str,
        *,
        lease_s: float,
        timeout_s: float = 0.25,
        prefix: str = "arbiter:limits:",
    ) -> None:
        self.lease_ms = int(lease_s * 1000)
        self.prefix = prefix
        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._admit = self._redis.register_script(ADMIT)

    def admit(
        self, key: str, request_id: str, *, rate_per_min: int | None, max_concurrency: int | None
    ) -> Refusal | None:
        """Count the request in (None), or why not: over the rate or the requests in flight."""
        try:
            code, retry_ms = self._admit(
                keys=[self._key(key, "rate"), self._key(key, "flight")],
                args=[rate_per_min or 0, max_concurrency or 0, request_id, self.lease_ms],
            )
        except redis.RedisError as exc:
            raise SharedCountsUnavailable(str(exc)) from exc
        if int(code) == 0:
            return None
        return Refusal("in_flight" if int(code) == 1 else "rate", int(retry_ms) / 1000)

    def release(self, key: str, request_id: str) -> None:
        try:
            self._redis.zrem(self._key(key, "flight"), request_id)
        except redis.RedisError as exc:
            raise SharedCountsUnavailable(str(exc)) from exc

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._redis.close()

    def _key(self, key: str, what: str) -> str:
        return f"{self.prefix}{key}:{what}"
