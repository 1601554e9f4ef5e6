"""Every Kie error class reaches the card in plain words, and nothing is lost or bought twice."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from kiestudio.studio import services
from kiestudio.studio.models import Generation, Status
from tests.studio.helpers import create, drain

pytestmark = pytest.mark.django_db


def card(generation: Generation) -> str:
    generation.refresh_from_db()
    return render_to_string("studio/_card.html", {"generation": generation})


def test_insufficient_credits(kie_sim, alice):
    kie_sim.sim.set_balance(1)
    [generation] = create(alice)
    drain()
    html = card(generation)
    assert generation.status == Status.FAILED and generation.failure_class == "insufficient_credits"
    assert "Not enough Kie credits" in html and "Top up" in html


def test_content_rejected(kie_sim, alice):
    [generation] = create(alice, prompt="Something [sim:reject]")
    drain()
    html = card(generation)
    assert generation.failure_class == "content_rejected"
    assert "Content rejected" in html


def test_invalid_input_names_the_field(kie_sim, alice):
    [generation] = create(alice)
    # Kie's schema is the judge: an input our form would never send still gets a clear, field-named error.
    Generation.objects.filter(pk=generation.pk).update(inputs={"prompt": "x", "aspect_ratio": "7:3"})
    drain()
    html = card(generation)
    assert generation.status == Status.FAILED and generation.failure_class == "invalid_input"
    assert generation.failure_field == "aspect_ratio"
    assert "Invalid input: aspect_ratio" in html


def test_upstream_failure(kie_sim, alice):
    [generation] = create(alice, prompt="Oops [sim:fail 500 Internal server error]")
    drain()
    html = card(generation)
    assert generation.status == Status.FAILED
    assert generation.failure_class in {"upstream_error", "generation_failed"}
    assert "Retry" in html


def test_bad_key(kie_sim, alice, settings):
    settings.KIE_API_KEY = "bad-key"
    [generation] = create(alice)
    drain()
    html = card(generation)
    assert generation.failure_class == "auth_failed"
    assert "Kie rejected the API key" in html


def test_timed_out_after_the_deadline(kie_sim, alice):
    kie_sim.sim.config.time_scale = 1000.0
    [generation] = create(alice)
    services.dispatch_due()
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED
    Generation.objects.filter(pk=generation.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
    drain()
    html = card(generation)
    assert generation.failure_class == "timeout"
    assert "Timed out" in html and "a retry buys a new task" in html


def test_create_timeout_after_send_is_unknown_and_never_resent(kie_sim, alice, settings):
    settings.KIE_TIMEOUT = 0.3
    [generation] = create(alice, prompt="Slow [sim:hang 1]")
    drain()
    html = card(generation)
    assert generation.status == Status.UNKNOWN and generation.failure_class == "unknown_outcome"
    assert "Outcome unknown" in html and "Kie logs" in html
    # The simulator logs the hung request when it finally answers.
    deadline = time.monotonic() + 5
    while not kie_sim.log.of_kind("create") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert len(kie_sim.log.of_kind("create")) == 1


def test_rate_limited_job_waits_in_line_then_finishes(kie_sim, alice, settings):
    settings.STUDIO_POLL_SCALE = 0.01
    kie_sim.sim.config.rate_limit = 1
    kie_sim.sim.config.rate_window = 0.5
    first, second = create(alice, variations=2)
    services.dispatch_due()
    second.refresh_from_db()
    if second.status == Status.QUEUED:
        assert second.failure_class == "rate_limited"
        assert "waiting in line" in card(second)
    drain()
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 2


def test_429_storm_every_job_finishes_within_the_window_limit(kie_sim, alice, settings):
    settings.KIE_CREATE_LIMIT = 20
    settings.KIE_CREATE_WINDOW = 1.0
    kie_sim.sim.config.rate_window = 1.0
    for _ in range(10):
        create(alice, variations=4)
    drain(timeout=30)
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 40
    assert kie_sim.log.creates_in_window(1.0) <= 20
    assert len(kie_sim.log.of_kind("create")) == 40


def test_sweeper_requeues_a_stalled_submit_that_never_sent(kie_sim, alice):
    [generation] = create(alice)
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.SUBMITTING, lease_until=timezone.now() - timedelta(seconds=1), create_sent_at=None
    )
    assert services.sweep()["requeued"] == 1
    drain()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert len(kie_sim.log.of_kind("create")) == 1


def test_sweeper_marks_a_stalled_sent_submit_unknown(kie_sim, alice):
    [generation] = create(alice)
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.SUBMITTING, lease_until=timezone.now() - timedelta(seconds=1), create_sent_at=timezone.now()
    )
    assert services.sweep()["unknown"] == 1
    generation.refresh_from_db()
    assert generation.status == Status.UNKNOWN
    assert len(kie_sim.log.of_kind("create")) == 0


def test_transitions_are_guarded(alice, kie_sim):
    [generation] = create(alice)
    assert not services.transition(generation, Status.SUCCEEDED)
    assert services.transition(generation, Status.CANCELED)
    assert not services.transition(generation, Status.SUBMITTING)
