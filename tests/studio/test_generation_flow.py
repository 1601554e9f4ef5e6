"""Generations end to end against the simulator, over real HTTP."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from kiestudio.studio.models import Asset, Generation, GenerationEvent, Prompt, Status
from tests.studio.helpers import create, drain, workspace_of

pytestmark = pytest.mark.django_db


def test_image_generation_is_stored_in_our_storage(kie_sim, alice):
    [generation] = create(alice, prompt="A lighthouse at dusk")
    drain()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.kie_task_id
    [asset] = generation.assets.all()
    assert asset.kind == "image" and asset.mime_type in {"image/png", "image/jpeg", "image/webp"}
    assert asset.width and asset.height and asset.size > 0
    assert asset.source_url.startswith(kie_sim.base_url)
    assert default_storage.exists(asset.file.name)
    with default_storage.open(asset.thumbnail.name) as fh, Image.open(fh) as thumb:
        assert thumb.format == "WEBP"
    assert [e.to_status for e in GenerationEvent.objects.filter(generation=generation)] == [
        "queued",
        "submitting",
        "submitted",
        "storing",
        "succeeded",
    ]
    assert len(kie_sim.log.of_kind("create")) == 1


def test_each_variation_is_one_task(kie_sim, alice):
    generations = create(alice, variations=3, prompt="Three foxes")
    drain()
    assert [g.variation for g in generations] == [1, 2, 3]
    assert Generation.objects.filter(status=Status.SUCCEEDED).count() == 3
    assert len(kie_sim.log.of_kind("create")) == 3


def test_same_form_token_makes_one_generation(kie_sim, alice):
    token = uuid.uuid4()
    first = create(alice, token=token, prompt="Once only")
    again = create(alice, token=token, prompt="Once only")
    assert [g.pk for g in first] == [g.pk for g in again]
    drain()
    assert Generation.objects.count() == 1
    assert len(kie_sim.log.of_kind("create")) == 1


def test_prompts_are_recorded_once_per_workspace(kie_sim, alice):
    create(alice, prompt="A  quiet   harbour")
    create(alice, prompt="A quiet harbour")
    prompt = Prompt.objects.get(workspace=workspace_of(alice))
    assert prompt.use_count == 2
    assert prompt.generations.count() == 2


@pytest.mark.parametrize(
    ("model", "inputs", "kind"),
    [
        ("veo/veo3_fast", {"prompt": "A drone shot over hills"}, "video"),
        ("suno/V5", {"prompt": "A calm piano piece", "customMode": False, "instrumental": True}, "audio"),
        ("flux-kontext/pro", {"prompt": "A neon city street"}, "image"),
        ("gpt4o-image", {"prompt": "A paper boat", "size": "1:1"}, "image"),
        ("runway/gen", {"prompt": "Waves at night", "duration": 5, "quality": "720p", "aspectRatio": "16:9"}, "video"),
        ("elevenlabs/text-to-speech-turbo-2-5", {"text": "Welcome to the studio."}, "audio"),
    ],
)
def test_every_family_completes_end_to_end(kie_sim, alice, model, inputs, kind):
    [generation] = create(alice, model, **inputs)
    drain()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, (generation.failure_class, generation.failure_message)
    assets = list(generation.assets.all())
    assert assets and {a.kind for a in assets} == {kind}
    if kind in {"video", "audio"}:
        assert assets[0].duration and assets[0].duration > 0
    if kind == "video":
        assert assets[0].thumbnail


def test_cancel_stops_following(kie_sim, alice):
    kie_sim.sim.config.time_scale = 100.0
    [generation] = create(alice)
    from kiestudio.studio import services

    services.dispatch_due()
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED
    assert services.generation_cancel(generation=generation)
    generation.refresh_from_db()
    assert generation.status == Status.CANCELED and generation.next_check_at is None
    assert not Asset.objects.exists()


def test_retry_makes_a_new_explicit_task(kie_sim, alice):
    [failed] = create(alice, prompt="Break [sim:fail]")
    drain()
    failed.refresh_from_db()
    assert failed.status == Status.FAILED
    from kiestudio.studio import services

    retry = services.generation_retry(generation=failed, user=alice)
    assert retry.pk != failed.pk and retry.retry_of == failed
    drain()
    assert len(kie_sim.log.of_kind("create")) == 2
