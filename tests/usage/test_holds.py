"""Budgets read only the usage ledger: a generation's estimate is held from the moment it is created, turns into
its charge when Kie is sent the job, and is let go when the job ends without a charge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kiestudio.studio import services
from kiestudio.studio.models import Status
from kiestudio.usage.models import Hold, UsageEntry
from kiestudio.usage.services import spent_this_month
from tests.studio.helpers import create, drain, workspace_of
from tests.studio.test_followups import step

pytestmark = pytest.mark.django_db


def test_a_new_generation_holds_its_estimate_until_kie_charges_it(kie_sim, alice):
    workspace = workspace_of(alice)
    first, second = create(alice, "google/nano-banana", variations=2, prompt="A lighthouse at dusk")
    assert first.credits_estimated > 0
    holds = {hold.source: hold for hold in Hold.objects.all()}
    assert set(holds) == {first.usage_source, second.usage_source}
    assert holds[first.usage_source].credits == first.credits_estimated
    assert holds[first.usage_source].user == alice and holds[first.usage_source].workspace == workspace
    assert not UsageEntry.objects.exists()
    assert spent_this_month(workspace=workspace) == first.credits_estimated + second.credits_estimated
    assert spent_this_month(workspace=workspace, user=alice) == first.credits_estimated * 2

    first = step(first)  # sent to Kie: the hold becomes the charge
    assert first.status == Status.SUBMITTED
    assert not Hold.objects.filter(source=first.usage_source).exists()
    assert UsageEntry.objects.get(source=first.usage_source).credits == first.credits_estimated
    assert spent_this_month(workspace=workspace) == first.credits_estimated + second.credits_estimated

    drain()
    assert not Hold.objects.exists()
    assert spent_this_month(workspace=workspace) == sum(UsageEntry.objects.values_list("credits", flat=True))


def test_a_job_canceled_before_it_is_sent_lets_its_hold_go(kie_sim, alice):
    [generation] = create(alice, "google/nano-banana", prompt="A quiet harbour")
    assert Hold.objects.filter(source=generation.usage_source).exists()
    assert services.generation_cancel(generation=generation)
    assert not Hold.objects.exists() and not UsageEntry.objects.exists()
    assert spent_this_month(workspace=workspace_of(alice)) == Decimal(0)


def test_a_job_kie_refuses_is_neither_held_nor_charged(kie_sim, alice):
    [generation] = create(alice, "google/nano-banana", prompt="A lighthouse [sim:refuse 422 The prompt is too odd]")
    drain()
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert not Hold.objects.exists() and not UsageEntry.objects.exists()
    assert spent_this_month(workspace=workspace_of(alice)) == Decimal(0)


def test_a_retry_after_a_limit_wait_keeps_holding(kie_sim, alice):
    """Back to QUEUED (Kie provably made nothing): still bought, not yet charged, so still held."""
    kie_sim.sim.config.fault_5xx_rate = 1.0
    kie_sim.sim.config.fault_kinds = ["create"]
    [generation] = create(alice, "google/nano-banana", prompt="A harbour at dawn")
    generation = step(generation)
    assert generation.status == Status.QUEUED
    assert Hold.objects.get(source=generation.usage_source).credits == generation.credits_estimated
