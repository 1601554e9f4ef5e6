"""The studio against the shapes the real Kie sends, spoken by the simulator's documented variants (issue 15):
Aleph failures told only by errorCode, camelCase 4K callbacks, code-500 refusals that are not outages, the Veo
callback arriving on time, callbacks that could never arrive, and callback shapes nobody documented."""

from __future__ import annotations

import json
import logging
import time

import pytest
from django.urls import reverse

from kiestudio.studio import services
from kiestudio.studio.models import Generation, Status
from kiestudio.usage.models import UsageEntry
from tests.studio.helpers import create, drain, made
from tests.studio.test_followups import creates_to, follow, step

pytestmark = pytest.mark.django_db


def test_a_failed_aleph_job_is_shown_failed_within_one_poll(kie_sim, alice):
    """Aleph's details page says successFlag 0 is "failed or in progress"; the failure is only in errorCode and
    errorMessage. Read as "generating", the job hung until its 15-minute deadline."""
    [generation] = create(
        alice,
        "runway/aleph",
        prompt="Make it snow [sim:fail 500 The input video could not be decoded]",
        videoUrl="https://example.com/clip.mp4",
    )
    step(generation)  # submit
    generation = step(generation)  # one status read
    assert generation.status == Status.FAILED, generation.status
    assert generation.poll_count == 1
    record = kie_sim.sim.tasks[generation.kie_task_id]
    assert record.family == "aleph"
    assert generation.failure_message == (
        "Kie could not generate this: “The input video could not be decoded” Try again, perhaps with other settings."
    )


@pytest.mark.parametrize(
    ("marker", "kie_says", "error_class"),
    [
        (
            "[sim:refuse 500 This voice is not within the range of allowed options]",
            "not within the range",
            "invalid_input",
        ),
        ("[sim:paused]", "This interface is temporarily paused", "model_paused"),
    ],
)
def test_a_code_500_refusal_makes_one_create_and_shows_kies_message(kie_sim, alice, marker, kie_says, error_class):
    """Field reports: Kie answers body code 500 for validation errors and paused models. Treated as an outage, the
    studio resent the same create twenty times in ninety seconds and never showed what Kie said."""
    [generation] = create(alice, "google/nano-banana", prompt=f"A lighthouse {marker}")
    drain()
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.failure_class == error_class
    assert kie_says in generation.failure_message
    assert len(creates_to(kie_sim, "/api/v1/jobs/createTask")) == 1
    assert not UsageEntry.objects.filter(source=f"generation:{generation.pk}").exists()  # nothing charged


def test_a_real_outage_is_still_retried(kie_sim, alice):
    kie_sim.sim.config.fault_5xx_rate = 1.0
    kie_sim.sim.config.fault_kinds = ["create"]
    [generation] = create(alice, "google/nano-banana", prompt="A harbour at dawn")
    step(generation)
    generation.refresh_from_db()
    assert generation.status == Status.QUEUED and generation.failure_class == "upstream_error"
    kie_sim.sim.config.fault_5xx_rate = 0.0
    drain()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED


def test_the_simulator_answers_refusals_with_code_500_as_kie_does(kie_sim, alice, settings):
    """The seeded share of validation refusals the simulator answers with code 500 reach the creator as Kie's
    message, once, with the field named."""
    kie_sim.sim.config.validation_500_rate = 1.0
    kie_sim.sim.config.paused_models = ["z-image"]
    [paused] = create(alice, "z-image", prompt="A red kite")
    drain()
    paused.refresh_from_db()
    assert (paused.status, paused.failure_class) == (Status.FAILED, "model_paused")
    assert len(creates_to(kie_sim, "/api/v1/jobs/createTask")) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shape", ["info", "flat"])
def test_a_camel_case_4k_callback_delivers_the_4k_file(kie_sim, alice, asgi_live_server, settings, shape):
    """Kie's newer pages send the 4K answer camelCase (under data.info, or at the top of data); the studio knew
    only snake_case, so the 4K file never arrived."""
    parent = made(alice, "veo/veo3_fast", prompt=f"A drone flight over hills [sim:variant 4k={shape}]")
    settings.PUBLIC_BASE_URL = asgi_live_server
    settings.KIE_CALLBACKS = True
    kie_sim.sim.config.callbacks = True
    kie_sim.sim.config.state_seconds = {"generating": 0.4}
    child = step(follow(alice, parent, "veo_4k", "veo/4k"))
    assert child.status == Status.SUBMITTED
    deadline = time.monotonic() + 15
    while child.status in (Status.SUBMITTED, Status.STORING) and time.monotonic() < deadline:
        time.sleep(0.05)
        child.refresh_from_db()
    assert child.status == Status.SUCCEEDED, (child.status, child.failure_message)
    # The simulator logs a delivery once our answer is back, which is after the video was stored.
    while not (sent := [c for c in kie_sim.sim.callback_log if c["url"].startswith(asgi_live_server)]):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    delivered = sent[-1]
    data = delivered["body"]["data"]
    assert "task_id" not in data and data["taskId"] == parent.kie_task_id
    urls = data["info"]["resultUrls"] if shape == "info" else data["resultUrls"]
    [asset] = child.assets.all()
    assert asset.source_url == urls[0] and asset.metadata["resolution"] == "4k" and asset.kind == "video"


def test_a_camel_case_4k_failure_fails_the_4k_job_only(kie_sim, alice, settings, client):
    parent = made(alice, "veo/veo3_fast", prompt="A drone flight over hills")
    settings.KIE_CALLBACKS = True
    child = step(follow(alice, parent, "veo_4k", "veo/4k"))
    body = {"code": 500, "msg": "error description", "data": {"taskId": parent.kie_task_id}}
    url = reverse("kie-callback", args=[settings.KIE_CALLBACK_TOKEN])
    assert client.post(url, data=json.dumps(body), content_type="application/json").status_code == 200
    child.refresh_from_db()
    parent.refresh_from_db()
    assert child.status == Status.FAILED and "error description" in child.failure_message
    assert parent.status == Status.SUCCEEDED


def test_asking_again_for_a_4k_kie_has_made_takes_the_file_from_its_answer(kie_sim, alice, settings):
    """The English 4K page: asked again, Kie answers with the URLs themselves (and calls no one back)."""
    parent = made(alice, "veo/veo3_fast", prompt="A drone flight over hills [sim:variant 4k=flat]")
    settings.KIE_CALLBACKS = True
    first = step(follow(alice, parent, "veo_4k", "veo/4k"))
    assert first.status == Status.SUBMITTED
    second = step(follow(alice, parent, "veo_4k", "veo/4k"))
    drain()
    second.refresh_from_db()
    assert second.status == Status.SUCCEEDED, second.failure_message
    assert second.assets.get().metadata["resolution"] == "4k"
    # Kie made one 4K (the repeat request is not a second charge in the simulator either).
    assert len(kie_sim.sim.veo_4k) == 1


@pytest.mark.django_db(transaction=True)
def test_the_veo_callback_arrives_and_the_job_finishes_at_the_typical_pace(
    kie_sim, alice, asgi_live_server, settings, studio_worker
):
    """The simulator's Veo callback crashed (its body was built from a "still generating" reading), so every Veo
    job waited for its first status read at 1.5x the typical time. Now the callback brings it."""
    settings.PUBLIC_BASE_URL = asgi_live_server
    settings.KIE_CALLBACKS = True
    settings.STUDIO_POLL_SCALE = 1.0
    kie_sim.sim.config.callbacks = True
    kie_sim.sim.config.time_scale = 2.0 / 120  # Veo 3.1 Fast's typical two minutes, as two seconds
    kie_sim.sim.config.state_seconds = None
    [generation] = create(alice, "veo/veo3_fast", prompt="A lighthouse at dusk")
    deadline = time.monotonic() + 20
    while generation.status != Status.SUCCEEDED and time.monotonic() < deadline:
        time.sleep(0.05)
        generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, (generation.status, generation.failure_message)
    task = kie_sim.sim.tasks[generation.kie_task_id]

    def answered() -> list:
        return [c for c in kie_sim.sim.callback_log if c["task_id"] == task.task_id and c["status"] == 200]

    # The simulator logs a callback once our answer reaches it, which can be after the worker has already read
    # and stored the task the callback made due.
    while not answered() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert answered()
    # Kie's answer was read as soon as the task was done: without the callback, the first read would come at
    # 1.5x Veo's typical two minutes (three minutes), long after this test's deadline.
    read = generation.events.get(to_status=Status.STORING).at
    assert (read - generation.submitted_at).total_seconds() < task.total_seconds + 1.5
    assert generation.poll_count == 1  # the one read the callback asked for


def test_callbacks_only_when_kie_can_reach_them(settings):
    from kiestudio.core.kie import callbacks_reachable

    settings.KIE_CALLBACKS = True
    settings.KIE_BASE_URL = "https://api.kie.ai"
    for unreachable in (
        "http://127.0.0.1:8000",
        "http://localhost:8000",
        "http://10.0.0.5",
        "http://studio.local",
        "http://[::1]:8000",
        "http://192.168.1.20:8000",
        "",
    ):
        settings.PUBLIC_BASE_URL = unreachable
        reachable, reason = callbacks_reachable()
        assert not reachable and "polls Kie on its normal schedule" in reason, unreachable
    settings.PUBLIC_BASE_URL = "https://studio.example.com"
    assert callbacks_reachable()[0]
    # The embedded simulator lives on the same machine: a loopback callback reaches it.
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    settings.KIE_BASE_URL = "http://127.0.0.1:8765"
    assert callbacks_reachable()[0]
    settings.KIE_CALLBACKS = False
    assert not callbacks_reachable()[0]


def test_with_callbacks_unreachable_jobs_poll_on_the_normal_schedule(kie_sim, alice, settings):
    """A deployment that forgets PUBLIC_BASE_URL used to send a callBackUrl Kie can't reach, then wait 1.5x the
    typical time for its first status read."""
    settings.KIE_CALLBACKS = True
    settings.STUDIO_POLL_SCALE = 1.0
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    settings.KIE_BASE_URL = "https://api.kie.ai"
    from kiestudio.kie.catalog import get_model

    spec = get_model("veo/veo3_fast")
    assert services.callback_url_for(spec) == (None, False)
    assert services.first_poll_delay(spec, callbacks=False) == max(2.0, spec.typical_seconds * 0.5)
    # Suno requires a callBackUrl: it is still sent, but nobody waits for it.
    url, expected = services.callback_url_for(get_model("suno/V5"))
    assert url and not expected


def test_the_start_up_line_names_the_problem(settings, caplog):
    from kiestudio.studio.apps import _say_when_callbacks_cannot_arrive

    settings.KIE_CALLBACKS = True
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    settings.KIE_BASE_URL = "https://api.kie.ai"
    with caplog.at_level(logging.WARNING, logger="kiestudio.studio"):
        _say_when_callbacks_cannot_arrive()
    [line] = [r.getMessage() for r in caplog.records if r.name == "kiestudio.studio"]
    assert "PUBLIC_BASE_URL (http://127.0.0.1:8000)" in line and "\n" not in line


def test_an_unknown_callback_shape_is_logged_once_by_its_keys_and_reads_the_status(
    kie_sim, alice, client, settings, caplog
):
    [generation] = create(alice, "google/nano-banana", prompt="A quiet harbour")
    generation = step(generation)
    assert generation.status == Status.SUBMITTED
    Generation.objects.filter(pk=generation.pk).update(next_check_at=None)
    body = {
        "code": 200,
        "payload": {"task": generation.kie_task_id, "files": ["https://secret.example/x.png"]},
        "taskId": generation.kie_task_id,
    }
    url = reverse("kie-callback", args=[settings.KIE_CALLBACK_TOKEN])
    services._SHAPES_SEEN.clear()
    with caplog.at_level(logging.WARNING, logger="kiestudio.studio"):
        for _ in range(2):
            assert client.post(url, data=json.dumps(body), content_type="application/json").status_code == 200
    lines = [r.getMessage() for r in caplog.records if "shape" in r.getMessage()]
    assert len(lines) == 1
    assert "payload.files" in lines[0] and "taskId" in lines[0] and "secret.example" not in lines[0]
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED  # the status read it asked for (tests run tasks inline)


def test_a_callback_nested_too_deep_for_python_is_a_clean_400(client, settings):
    url = reverse("kie-callback", args=[settings.KIE_CALLBACK_TOKEN])
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(url, data=body, content_type="application/json")
    assert response.status_code == 400
