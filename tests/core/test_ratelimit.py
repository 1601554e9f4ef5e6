"""The shared rate limiter: every process takes slots from the same window (database, or Redis)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from kiestudio.core.models import RateSlot
from kiestudio.core.ratelimit import DatabaseRateLimiter, shared_limiter
from kiestudio.kie import KieClient
from kiestudio.kie.catalog import get_model
from kiestudio.kie.limiter import RedisRateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.django_db
def test_database_limiter_holds_the_window():
    clock = FakeClock()
    limiter = DatabaseRateLimiter(clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(7):
        limiter.acquire("create:acct", limit=3, window=10.0)
        starts.append(clock.now)
    assert starts[:3] == [1000.0] * 3
    assert all(b - a >= 10.0 - 1e-9 for a, b in zip(starts, starts[3:], strict=False))
    assert RateSlot.objects.filter(bucket="create:acct").count() <= 3


@pytest.mark.django_db
def test_buckets_are_separate():
    limiter = DatabaseRateLimiter()
    assert limiter.try_acquire("create:a", limit=1, window=60) == 0
    assert limiter.try_acquire("create:b", limit=1, window=60) == 0
    assert limiter.try_acquire("create:a", limit=1, window=60) > 0


def test_shared_limiter_is_redis_when_configured(settings):
    settings.REDIS_URL = None
    assert isinstance(shared_limiter(), DatabaseRateLimiter)
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    assert isinstance(shared_limiter(), RedisRateLimiter)


@pytest.mark.django_db(transaction=True)
def test_100_concurrent_creates_through_the_shared_limiter_never_exceed_the_window(kie_sim, settings):
    """100 creates at once from 20 threads, each with its own client (as separate workers would be), through the
    studio's shared limiter. The simulator enforces the same compressed window (20 per 1 s)."""
    kie_sim.sim.config.rate_window = 1.0
    spec = get_model("google/nano-banana")
    limiter = shared_limiter()
    errors: list[Exception] = []
    lock = threading.Lock()
    jobs = list(range(100))

    def worker() -> None:
        try:
            with KieClient(
                "test-key",
                base_url=kie_sim.base_url,
                upload_base_url=kie_sim.base_url,
                limiter=limiter,
                create_limit=20,
                create_window=1.0,
            ) as client:
                while True:
                    with lock:
                        if not jobs:
                            return
                        jobs.pop()
                    client.create_task(spec, {"prompt": "storm"}, callback_url=None)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    creates = kie_sim.log.of_kind("create")
    assert len(creates) == 100
    assert all(entry.status == 200 for entry in creates)
    assert kie_sim.log.creates_in_window(1.0) <= 20
