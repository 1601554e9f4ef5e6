"""The rate limiter every process shares: Redis when ``REDIS_URL`` is set, otherwise the database.

Both implement ``kiestudio.kie.limiter.RateLimiter``: ``acquire`` blocks until a slot in the sliding window is
reserved. Kie drops requests over its limit, so waiting here is what keeps a burst from being refused.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from kiestudio.core.models import RateBucket, RateSlot
from kiestudio.kie.limiter import RedisRateLimiter


class DatabaseRateLimiter:
    """A sliding log in the database. On SQLite the IMMEDIATE transaction serialises writers; on PostgreSQL
    the bucket row is locked with SELECT … FOR UPDATE, so concurrent processes never both take the last slot."""

    def __init__(self, *, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._known: set[str] = set()

    def _ensure_bucket(self, bucket: str) -> None:
        if bucket in self._known:
            return
        with contextlib.suppress(IntegrityError):
            RateBucket.objects.get_or_create(name=bucket)
        self._known.add(bucket)

    def try_acquire(self, bucket: str, *, limit: int, window: float) -> float:
        """Reserve a slot and return 0, or return the seconds to wait before one frees up."""
        self._ensure_bucket(bucket)
        with transaction.atomic():
            if connection.vendor != "sqlite":
                RateBucket.objects.select_for_update().filter(name=bucket).first()
            now = self._clock()
            RateSlot.objects.filter(bucket=bucket, at__lte=now - window).delete()
            oldest = list(RateSlot.objects.filter(bucket=bucket).order_by("at").values_list("at", flat=True)[:limit])
            if len(oldest) < limit:
                RateSlot.objects.create(bucket=bucket, at=now)
                return 0.0
            return max(oldest[0] + window - now, 0.001)

    def available(self, bucket: str, *, limit: int, window: float) -> int:
        """How many slots are free right now, without reserving any."""
        used = RateSlot.objects.filter(bucket=bucket, at__gt=self._clock() - window).count()
        return max(0, limit - used)

    def acquire(self, bucket: str, *, limit: int, window: float) -> None:
        if limit <= 0:
            raise ValueError("limit must be positive")
        while True:
            wait = self.try_acquire(bucket, limit=limit, window=window)
            if wait == 0:
                return
            self._sleep(min(wait, 0.5))


@cache
def _redis_limiter(url: str) -> RedisRateLimiter:
    import redis

    return RedisRateLimiter(redis.Redis.from_url(url), prefix="kiestudio:rl:")


def shared_limiter() -> RedisRateLimiter | DatabaseRateLimiter:
    """Either kind, with ``try_acquire`` and ``available`` beside the ``acquire`` every ``RateLimiter`` has."""
    if settings.REDIS_URL:
        return _redis_limiter(settings.REDIS_URL)
    return DatabaseRateLimiter()
