"""The dispatcher counts a create slot that frees within ``SLOT_LOOKAHEAD`` as free (issue 18): it looks a few
times a second and a worker takes a moment to pick a job up, so handing out only slots free that instant left each
one empty for a few hundred milliseconds. The worker then waits out the rest, well within ``MAX_SLOT_WAIT``."""

from __future__ import annotations

import pytest
from django.conf import settings

from kiestudio.core.ratelimit import DatabaseRateLimiter
from kiestudio.studio.services import scheduler

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_slot_freeing_within_the_lookahead_counts_as_free(monkeypatch):
    clock = Clock()
    limiter = DatabaseRateLimiter(clock=clock)
    monkeypatch.setattr(scheduler, "shared_limiter", lambda: limiter)
    api_key = settings.KIE_API_KEY
    bucket, limit, window = scheduler._create_bucket(api_key)
    for _ in range(limit):
        assert limiter.try_acquire(bucket, limit=limit, window=window) == 0
    assert scheduler._free_create_slots(api_key) == 0  # all taken just now

    clock.now += window - scheduler.SLOT_LOOKAHEAD - 0.1  # they free in 0.1 s more than the lookahead
    assert scheduler._free_create_slots(api_key) == 0
    clock.now += 0.2  # now they free within the lookahead: handed out, and the worker waits the rest
    assert scheduler._free_create_slots(api_key) == limit
    assert scheduler.SLOT_LOOKAHEAD < scheduler.MAX_SLOT_WAIT
    assert limiter.try_acquire(bucket, limit=limit, window=window) > 0  # the slot itself is not free yet
