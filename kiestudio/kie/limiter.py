"""Sliding-window rate limiters shared by every Kie call of one account.

``acquire`` blocks until a slot in the window is *reserved*, so a caller that returns from it may send at
once. Kie drops (does not queue) requests over its limit, so the client waits here instead of being refused.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = ["InMemoryRateLimiter", "RateLimiter", "RedisRateLimiter"]


@runtime_checkable
class RateLimiter(Protocol):
    def acquire(self, bucket: str, *, limit: int, window: float) -> None:
        """Block until fewer than ``limit`` slots were reserved in the last ``window`` seconds, then reserve one."""
        ...


class InMemoryRateLimiter:
    """A thread-safe sliding log per bucket. Shared by the threads of one process only."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._logs: dict[str, deque[float]] = {}

    def try_acquire(self, bucket: str, *, limit: int, window: float) -> float:
        """Reserve a slot and return 0, or return the seconds until one frees up (nothing reserved)."""
        with self._lock:
            now = self._clock()
            log = self._logs.setdefault(bucket, deque())
            while log and log[0] <= now - window:
                log.popleft()
            if len(log) < limit:
                log.append(now)
                return 0.0
            return max(log[0] + window - now, 0.001)

    def acquire(self, bucket: str, *, limit: int, window: float) -> None:
        if limit <= 0:
            raise ValueError("limit must be positive")
        while True:
            with self._lock:
                now = self._clock()
                log = self._logs.setdefault(bucket, deque())
                while log and log[0] <= now - window:
                    log.popleft()
                if len(log) < limit:
                    log.append(now)
                    return
                wait = log[0] + window - now
            self._sleep(max(wait, 0.001))

    def reserved(self, bucket: str, *, window: float) -> int:
        """How many slots the bucket holds in the current window (for tests and diagnostics)."""
        with self._lock:
            now = self._clock()
            return sum(1 for t in self._logs.get(bucket, ()) if t > now - window)


# KEYS[1] sorted set of reservations (score = server time in µs). ARGV: window µs, limit, member.
# Returns 0 when a slot was reserved, otherwise the µs to wait until the oldest reservation leaves the window.
# The server's clock is used so that every process agrees on "now".
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 1 then wait = 1 end
return wait
"""


# KEYS[1] as above. ARGV: window µs. Returns how many reservations the current window holds (read-only).
_COUNT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
return redis.call('ZCOUNT', KEYS[1], '(' .. (now - tonumber(ARGV[1])), '+inf')
"""


class RedisRateLimiter:
    """The same sliding window kept in Redis, atomically (one Lua script), shared by every process."""

    def __init__(
        self,
        redis_client: Any,
        *,
        prefix: str = "kiestudio:kie:rl:",
        sleep: Callable[[float], None] = time.sleep,
        max_sleep: float = 1.0,
    ) -> None:
        self._redis = redis_client
        self._prefix = prefix
        self._sleep = sleep
        self._max_sleep = max_sleep
        self._script = redis_client.register_script(_ACQUIRE_LUA)
        self._count = redis_client.register_script(_COUNT_LUA)

    def available(self, bucket: str, *, limit: int, window: float) -> int:
        """How many slots are free right now, without reserving any."""
        used = int(self._count(keys=[self.key(bucket)], args=[max(1, int(window * 1_000_000))]))
        return max(0, limit - used)

    def key(self, bucket: str) -> str:
        return f"{self._prefix}{bucket}"

    def try_acquire(self, bucket: str, *, limit: int, window: float) -> float:
        """Reserve a slot and return 0, or return the seconds until one frees up (nothing reserved)."""
        window_us = max(1, int(window * 1_000_000))
        wait_us = int(self._script(keys=[self.key(bucket)], args=[window_us, limit, uuid.uuid4().hex]))
        return wait_us / 1_000_000

    def acquire(self, bucket: str, *, limit: int, window: float) -> None:
        if limit <= 0:
            raise ValueError("limit must be positive")
        window_us = max(1, int(window * 1_000_000))
        while True:
            member = uuid.uuid4().hex
            wait_us = int(self._script(keys=[self.key(bucket)], args=[window_us, limit, member]))
            if wait_us == 0:
                return
            # Capped so a waiter re-checks regularly even if a reservation is removed by hand.
            self._sleep(min(wait_us / 1_000_000, self._max_sleep))
