from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis

from kiestudio.kie import InMemoryRateLimiter, RateLimiter, RedisRateLimiter


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_in_memory_sliding_window_with_fake_clock():
    clock = FakeClock()
    limiter = InMemoryRateLimiter(clock=clock, sleep=clock.sleep)
    assert isinstance(limiter, RateLimiter)
    for _ in range(3):
        limiter.acquire("b", limit=3, window=10.0)
    assert clock.sleeps == []
    clock.now += 4
    limiter.acquire("b", limit=3, window=10.0)  # waits until the first slot (t=1000) leaves the window
    assert clock.now == pytest.approx(1010.0)
    assert limiter.reserved("b", window=10.0) == 1  # the three at t=1000 have left the window
    limiter.acquire("other", limit=1, window=10.0)  # buckets are independent
    assert clock.now == pytest.approx(1010.0)


def test_in_memory_rejects_bad_limit():
    with pytest.raises(ValueError):
        InMemoryRateLimiter().acquire("b", limit=0, window=1)


def max_in_window(times, window):
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def hammer(limiter, bucket, *, threads, limit, window, stamp=time.monotonic):
    stamps: list[float] = []
    lock = threading.Lock()

    def work():
        limiter.acquire(bucket, limit=limit, window=window)
        granted = stamp()
        with lock:
            stamps.append(granted)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    return stamps


def test_in_memory_threads_never_exceed_the_window():
    # Stamps taken after acquire() returns drift under load (a thread can be descheduled for 100 ms on these
    # 2 cores), so read the grant time itself: the last clock reading each thread made inside the limiter.
    seen = threading.local()

    def clock():
        seen.now = time.monotonic()
        return seen.now

    stamps = hammer(InMemoryRateLimiter(clock=clock), "t", threads=25, limit=10, window=0.2, stamp=lambda: seen.now)
    assert len(stamps) == 25
    assert max_in_window(stamps, 0.2) <= 10
    assert max(stamps) - min(stamps) >= 0.35  # 25 slots at 10 per 0.2 s need at least two waits


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    client.ping()
    prefix = f"kiestudio-test:{uuid.uuid4().hex}:"
    yield client, prefix
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


def test_redis_limiter_window(redis_client):
    client, prefix = redis_client
    limiter = RedisRateLimiter(client, prefix=prefix)
    assert isinstance(limiter, RateLimiter)
    start = time.monotonic()
    for _ in range(5):
        limiter.acquire("b", limit=5, window=0.3)
    assert time.monotonic() - start < 0.2
    limiter.acquire("b", limit=5, window=0.3)
    assert time.monotonic() - start >= 0.25
    assert client.zcard(limiter.key("b")) <= 5
    assert 0 < client.pttl(limiter.key("b")) <= 1300


def test_redis_limiter_shared_by_two_instances_and_threads(redis_client):
    client, prefix = redis_client
    a = RedisRateLimiter(client, prefix=prefix)
    b = RedisRateLimiter(redis.Redis.from_url("redis://127.0.0.1:6379/15"), prefix=prefix)
    stamps: list[float] = []
    lock = threading.Lock()

    def work(limiter):
        limiter.acquire("shared", limit=8, window=0.25)
        with lock:
            stamps.append(time.monotonic())

    workers = [threading.Thread(target=work, args=(a if i % 2 else b,)) for i in range(20)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    assert len(stamps) == 20
    # Stamps are taken after acquire() returns, so thread scheduling blurs them by a few ms.
    assert max_in_window(stamps, 0.2) <= 8
    assert max(stamps) - min(stamps) >= 0.45


def test_redis_limiter_rejects_bad_limit(redis_client):
    client, prefix = redis_client
    with pytest.raises(ValueError):
        RedisRateLimiter(client, prefix=prefix).acquire("b", limit=0, window=1)
