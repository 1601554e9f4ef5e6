from __future__ import annotations

import io
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from kiestudio.kie.webhooks import sign
from kiestudio.studio.models import Asset, Generation, Status
from kiestudio.uploads.models import Reference
from kiestudio.workspaces.models import Membership, Role
from kiestudio.workspaces.services import workspace_create
from tests.studio.helpers import create, drain, workspace_of

pytestmark = pytest.mark.django_db


def png_bytes(size=(64, 48), fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(out, fmt)
    return out.getvalue()


def submit(client, token=None, **fields):
    data = {
        "model": "google/nano-banana",
        "prompt": "A tiny robot",
        "aspect_ratio": "1:1",
        "variations": "1",
        "form_token": str(token or uuid.uuid4()),
        **fields,
    }
    return client.post("/generate/submit/", data, headers={"HX-Request": "true"})


def test_generate_page_shows_models_prices_and_form(client, alice):
    client.force_login(alice)
    html = client.get("/generate/?model=veo/veo3_fast").content.decode()
    assert "Veo 3.1" in html and "Nano Banana" in html
    assert 'name="prompt"' in html and "credits" in html
    assert 'data-kind-filter="text_to_video"' in html


def test_unknown_model_falls_back_with_a_notice(client, alice):
    client.force_login(alice)
    response = client.get("/generate/?model=not/a-model", follow=True)
    assert response.status_code == 200
    assert "There is no model called" in response.content.decode()


def test_submit_creates_generation_and_returns_form_and_recent(client, alice, kie_sim):
    client.force_login(alice)
    response = submit(client)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="model-form"' in html and 'hx-swap-oob="outerHTML"' in html and "A tiny robot" in html
    assert Generation.objects.count() == 1
    assert "kie:generated" in response["HX-Trigger-After-Settle"]


def test_double_submit_makes_one_generation(client, alice, kie_sim):
    client.force_login(alice)
    token = uuid.uuid4()
    submit(client, token)
    submit(client, token)
    assert Generation.objects.count() == 1


def test_invalid_values_are_shown_beside_the_field_and_nothing_is_created(client, alice):
    client.force_login(alice)
    response = submit(client, prompt="", aspect_ratio="7:3")
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="id_prompt_error"' in html and 'id="id_aspect_ratio_error"' in html
    assert not Generation.objects.exists()


def test_fields_that_do_not_apply_are_marked_and_their_leftover_values_not_sent(client, alice, kie_sim):
    client.force_login(alice)
    page = client.get("/generate/", {"model": "suno/V4"}).content.decode()
    assert page.count('data-shown-when="{&quot;customMode&quot;: true}"') == 3  # style, title, voice
    # Simple mode, with a style and a voice left over from custom mode (a browser without JavaScript sends them).
    data = {"model": "suno/V4", "aspect_ratio": "", "style": "dreamy synth-pop", "vocalGender": "f"}
    response = submit(client, prompt="A calm piano piece", **data)
    assert response.status_code == 200, response.content.decode()[:500]
    generation = Generation.objects.get()
    assert generation.inputs["prompt"] == "A calm piano piece" and generation.inputs["customMode"] is False
    assert "style" not in generation.inputs and "vocalGender" not in generation.inputs
    # In custom mode the same fields apply, and are required by Suno's rules.
    response = submit(client, model="suno/V4", prompt="La la la", customMode="on", vocalGender="f")
    assert response.status_code == 422 and "Custom mode needs a style and a title." in response.content.decode()
    response = submit(
        client, model="suno/V4", prompt="La la la", customMode="on", style="soul", title="Hum", vocalGender="f"
    )
    assert response.status_code == 200
    inputs = Generation.objects.latest("pk").inputs
    assert (inputs["style"], inputs["title"], inputs["vocalGender"]) == ("soul", "Hum", "f")


def test_polls_that_find_the_work_done_tell_the_page(client, alice, kie_sim):
    client.force_login(alice)
    [generation] = create(alice, prompt="A lighthouse")
    assert generation.is_pending
    for url in ("/generate/recent/", f"/generations/{generation.pk}/card/?live=1"):
        assert "HX-Trigger" not in client.get(url, headers={"HX-Request": "true"}), url
    drain()
    for url in ("/generate/recent/", f"/generations/{generation.pk}/card/?live=1"):
        assert "kie:settled" in client.get(url, headers={"HX-Request": "true"})["HX-Trigger"], url
    assert "HX-Trigger" not in client.get(f"/generations/{generation.pk}/card/")  # not a poll


def test_variations_out_of_range_are_refused(client, alice):
    client.force_login(alice)
    response = submit(client, variations="9")
    assert response.status_code == 422 and not Generation.objects.exists()


def test_viewer_cannot_generate(client, alice, charlie):
    team = workspace_create(name="Crew", owner=alice)
    Membership.objects.create(workspace=team, user=charlie, role=Role.VIEWER)
    client.force_login(charlie)
    client.post("/workspaces/switch/", {"workspace": team.pk})
    assert submit(client).status_code == 403
    assert not Generation.objects.exists()


def test_recent_strip_polls_only_while_pending(client, alice, kie_sim):
    client.force_login(alice)
    create(alice)
    assert 'hx-trigger="every 2s"' in client.get("/generate/recent/").content.decode()
    drain()
    html = client.get("/generate/recent/").content.decode()
    assert 'hx-trigger="every 2s"' not in html and "Done" in html


def test_stored_file_is_served_from_our_storage(client, alice, kie_sim):
    create(alice)
    drain()
    asset = Asset.objects.get()
    client.force_login(alice)
    response = client.get(f"/files/assets/{asset.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == asset.mime_type
    assert response["X-Content-Type-Options"] == "nosniff"
    body = b"".join(response.streaming_content)
    assert len(body) == asset.size
    download = client.get(f"/files/assets/{asset.pk}/?download=1")
    assert download["Content-Disposition"].startswith("attachment")


def test_another_workspaces_objects_are_404(client, alice, charlie, kie_sim):
    [generation] = create(alice)
    drain()
    asset = Asset.objects.get()
    reference = Reference.objects.create(
        workspace=workspace_of(alice), mime_type="image/png", size=1, width=1, height=1, file="x.png"
    )
    client.force_login(charlie)
    for url in [
        f"/generations/{generation.pk}/card/",
        f"/files/assets/{asset.pk}/",
        f"/files/assets/{asset.pk}/thumb/",
        f"/files/references/{reference.pk}/",
        f"/generate/?remix={generation.pk}",
        f"/prompts/{generation.prompt_id}/",
    ]:
        assert client.get(url).status_code == 404, url
    for url in [
        f"/generations/{generation.pk}/cancel/",
        f"/generations/{generation.pk}/retry/",
        f"/generations/{generation.pk}/delete/",
        f"/references/from-asset/{asset.pk}/",
        f"/prompts/{generation.prompt_id}/save/",
    ]:
        assert client.post(url).status_code == 404, url
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED


def test_remix_prefills_the_form(client, alice, kie_sim):
    [generation] = create(alice, prompt="Remix me please", aspect_ratio="16:9")
    client.force_login(alice)
    html = client.get(f"/generate/?remix={generation.pk}").content.decode()
    assert "Remix me please" in html
    assert '<option value="16:9" selected>' in html


def test_reference_upload_is_checked_by_content(client, alice):
    client.force_login(alice)
    good = client.post("/references/upload/", {"file": SimpleUploadedFile("a.png", png_bytes(), "image/png")})
    assert good.status_code == 200 and Reference.objects.get().width == 64
    fake = client.post("/references/upload/", {"file": SimpleUploadedFile("x.png", b"<svg></svg>", "image/png")})
    assert fake.status_code == 400 and "JPEG, PNG or WebP" in fake.json()["error"]
    gif = client.post("/references/upload/", {"file": SimpleUploadedFile("a.gif", png_bytes(fmt="GIF"), "image/gif")})
    assert gif.status_code == 400
    big = client.post("/references/upload/", {"file": SimpleUploadedFile("big.png", b"0" * (10 * 1024 * 1024 + 1))})
    assert big.status_code == 400 and "10 MB" in big.json()["error"]
    assert Reference.objects.count() == 1


def test_image_edit_sends_a_kie_upload_of_the_reference(client, alice, kie_sim):
    client.force_login(alice)
    ref = client.post("/references/upload/", {"file": SimpleUploadedFile("a.png", png_bytes(), "image/png")}).json()
    response = client.post(
        "/generate/submit/",
        {
            "model": "google/nano-banana-edit",
            "prompt": "Make it blue",
            "image_urls": [ref["id"]],
            "variations": "1",
            "form_token": str(uuid.uuid4()),
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    drain()
    generation = Generation.objects.get()
    assert generation.status == Status.SUCCEEDED and generation.references == {"image_urls": [ref["id"]]}
    assert len(kie_sim.log.of_kind("upload")) == 1
    assert Reference.objects.get().kie_url.startswith(kie_sim.base_url)


def test_callback_needs_the_url_secret(client, settings):
    assert client.post("/kie/callback/wrong/", {}, content_type="application/json").status_code == 404


def test_callback_triggers_a_status_read(client, settings, alice, kie_sim):
    kie_sim.sim.config.time_scale = 1000.0
    [generation] = create(alice)
    from kiestudio.studio import services

    services.dispatch_due()
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED
    kie_sim.sim.config.time_scale = 0.0
    url = f"/kie/callback/{settings.KIE_CALLBACK_TOKEN}/"
    body = {"code": 200, "data": {"taskId": generation.kie_task_id, "state": "success"}}
    reads_before = len(kie_sim.log.of_kind("read"))
    assert client.post(url, body, content_type="application/json").status_code == 200
    assert len(kie_sim.log.of_kind("read")) == reads_before + 1


def test_callback_with_bad_signature_is_refused(client, settings, alice, kie_sim):
    settings.KIE_WEBHOOK_HMAC_KEY = "hmac-secret"
    url = f"/kie/callback/{settings.KIE_CALLBACK_TOKEN}/"
    body = {"data": {"taskId": "abc"}}
    bad = client.post(
        url, body, content_type="application/json", headers={"X-Webhook-Timestamp": "1", "X-Webhook-Signature": "nope"}
    )
    assert bad.status_code == 403
    import time

    ts = str(int(time.time()))
    good = client.post(
        url,
        body,
        content_type="application/json",
        headers={"X-Webhook-Timestamp": ts, "X-Webhook-Signature": sign("hmac-secret", "abc", ts)},
    )
    assert good.status_code == 200


def test_malformed_callback_is_400(client, settings):
    url = f"/kie/callback/{settings.KIE_CALLBACK_TOKEN}/"
    assert client.post(url, "{not json", content_type="application/json").status_code == 400


def test_callback_that_beats_the_task_id_still_triggers_an_immediate_read(
    client, kie_sim, settings, alice, monkeypatch
):
    """Fast tasks can call back before the worker has recorded the task id. The callback is delivered exactly
    in that gap here; its receipt must make the read happen at once, not at the first scheduled poll."""
    from kiestudio.kie import KieClient
    from kiestudio.studio import services

    settings.STUDIO_POLL_SCALE = 1.0  # the scheduled first read would be 15 s x 1.5 away
    original = KieClient.create_task

    def create_then_call_back(self, *args, **kwargs):
        task_id = original(self, *args, **kwargs)
        url = f"/kie/callback/{settings.KIE_CALLBACK_TOKEN}/"
        assert client.post(url, {"data": {"taskId": task_id}}, content_type="application/json").status_code == 200
        return task_id

    monkeypatch.setattr(KieClient, "create_task", create_then_call_back)
    [generation] = create(alice)
    services.dispatch_due()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED
    assert generation.poll_count == 1


def test_callback_matches_only_the_generation_waiting_on_that_task(client, settings, alice, kie_sim):
    """An old, finished generation with the same task id (a simulator restarted with the same seed, say) must
    not swallow the callback for the one that is waiting."""
    kie_sim.sim.config.time_scale = 1000.0
    [old] = create(alice)
    [waiting] = create(alice)
    from kiestudio.studio import services

    services.dispatch_due()
    waiting.refresh_from_db()
    Generation.objects.filter(pk=old.pk).update(
        status=Status.SUCCEEDED, kie_task_id=waiting.kie_task_id, next_check_at=None
    )
    url = f"/kie/callback/{settings.KIE_CALLBACK_TOKEN}/"
    client.post(url, {"data": {"taskId": waiting.kie_task_id}}, content_type="application/json")
    waiting.refresh_from_db()
    assert waiting.poll_count == 1  # the callback made the waiting generation read its status at once


def test_an_old_receipt_does_not_count_for_a_new_create(kie_sim, alice, settings):
    from datetime import timedelta

    from django.utils import timezone

    from kiestudio.studio.models import CallbackReceipt

    settings.STUDIO_POLL_SCALE = 1.0
    kie_sim.sim.config.time_scale = 1000.0
    # Receipts for every id the simulator could hand out next would be silly; one stale receipt per create is
    # enough: patch in a receipt for whatever id comes back, dated an hour ago.
    from kiestudio.kie import KieClient

    original = KieClient.create_task

    def create_with_stale_receipt(self, *args, **kwargs):
        task_id = original(self, *args, **kwargs)
        CallbackReceipt.objects.create(task_id=task_id, received_at=timezone.now() - timedelta(hours=1))
        return task_id

    import pytest as _pytest

    with _pytest.MonkeyPatch.context() as mp:
        mp.setattr(KieClient, "create_task", create_with_stale_receipt)
        [generation] = create(alice)
        from kiestudio.studio import services

        services.dispatch_due()
    generation.refresh_from_db()
    assert generation.status == Status.SUBMITTED and generation.poll_count == 0
    assert generation.next_check_at > timezone.now() + timedelta(seconds=5)
