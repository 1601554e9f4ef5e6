"""Video clips and sounds as inputs, like reference images: uploads checked by their content and against the limits
Kie documents for the model's input, gallery picks, tenancy, and the job that reaches Kie with Kie's own upload."""

from __future__ import annotations

import dataclasses
import uuid
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from kiestudio.core.leases import lease_acquire
from kiestudio.studio import services
from kiestudio.studio.models import Generation, Status
from kiestudio.uploads import services as uploads
from kiestudio.uploads.models import Reference
from tests.studio.helpers import drain, made, workspace_of
from tests.studio.media_samples import encoded_audio, mp4_bytes, wav_bytes

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def upload(client, data: bytes, name: str = "clip.mp4", mime: str = "video/mp4", **params):
    return client.post("/references/upload/", {"file": SimpleUploadedFile(name, data, mime), **params})


def submit(client, model: str, **inputs):
    body = {"model": model, "variations": "1", "form_token": str(uuid.uuid4()), **inputs}
    return client.post("/generate/submit/", body, headers=HTMX)


def sent_input(kie_sim, generation: Generation) -> dict:
    return kie_sim.sim.get_task(generation.kie_task_id, "market").body["input"]


def upload_bytes(kie_sim, url: str) -> bytes:
    return kie_sim.sim.uploads[url.split("/_sim/files/", 1)[1]].data


# --- Uploads, checked by content ----------------------------------------------------------------------------------


def test_a_video_upload_is_checked_by_its_content_and_gets_a_poster(client, alice):
    client.force_login(alice)
    response = upload(client, mp4_bytes(2.0), kind="video", model="topaz/video-upscale", field="video_url")
    assert response.status_code == 200, response.content
    body = response.json()
    reference = Reference.objects.get()
    assert reference.kind == "video" and reference.mime_type == "video/mp4" and reference.label == "clip.mp4"
    assert reference.duration == pytest.approx(2.0) and (reference.width, reference.height) == (64, 64)
    assert reference.poster and body["thumb"] == f"/files/references/{reference.pk}/poster/"
    assert body["clock"] == "0:02" and body["src"] == f"/files/references/{reference.pk}/"
    poster = client.get(body["thumb"])
    assert poster.status_code == 200 and poster["Content-Type"] == "image/webp"


def test_an_uploads_chip_is_the_partial_the_form_renders(client, alice, charlie):
    client.force_login(alice)
    body = upload(client, mp4_bytes(2.0), kind="video", model="topaz/video-upscale", field="video_url").json()
    pk = body["id"]
    assert body["chip"] == f"/references/{pk}/chip/"
    chip = client.get(body["chip"], {"name": "video_url", "n": "2"})
    assert chip.status_code == 200
    html = chip.content.decode()
    assert html.startswith(f'<li class="ref-item ref-video"><input type="hidden" name="video_url" value="{pk}">')
    assert f'src="/files/references/{pk}/poster/" alt="Video clip 2: clip.mp4"' in html
    assert "data-ref-duration>0:02</span>" in html and 'aria-label="Remove video clip 2"' in html
    assert client.get(body["chip"], {"name": "<b>", "n": "1"}).status_code == 400
    assert client.get(body["chip"], {"name": "video_url", "n": "0"}).status_code == 400
    client.force_login(charlie)
    assert client.get(body["chip"], {"name": "video_url", "n": "1"}).status_code == 404


def test_a_renamed_text_file_is_not_a_video(client, alice):
    client.force_login(alice)
    response = upload(client, b"just some notes, not a film\n" * 40, name="holiday.mp4", kind="video")
    assert response.status_code == 400
    error = response.json()["error"]
    assert "not a video or a sound file we can read" in error and "MP4, MOV or MKV" in error
    assert not Reference.objects.exists()


def test_each_box_takes_its_own_kind(client, alice):
    client.force_login(alice)
    sound = upload(client, wav_bytes(), name="voice.wav", mime="audio/wav", kind="video")
    assert sound.status_code == 400 and sound.json()["error"] == "“voice.wav” is a sound file; this takes a video."
    clip = upload(client, mp4_bytes(), kind="audio")
    assert clip.status_code == 400 and clip.json()["error"] == "“clip.mp4” is a video; this takes a sound file."
    flac = upload(client, encoded_audio("flac", "flac"), name="take.flac", mime="audio/flac", kind="audio")
    assert flac.status_code == 400
    assert flac.json()["error"] == "“take.flac” is a FLAC file; the studio takes MP3, WAV, AAC, M4A or OGG sound files."
    assert not Reference.objects.exists()


def test_sounds_are_accepted_with_their_length(client, alice):
    client.force_login(alice)
    wav = upload(client, wav_bytes(1.5), name="line.wav", mime="audio/wav", kind="audio")
    mp3 = upload(client, encoded_audio("mp3", "libmp3lame", 1.0), name="hum.mp3", mime="audio/mpeg", kind="audio")
    assert wav.status_code == 200 and mp3.status_code == 200, (wav.content, mp3.content)
    assert wav.json()["thumb"] == f"/files/references/{wav.json()['id']}/"  # no poster: the chip is a player
    found = {r.label: r for r in Reference.objects.all()}
    assert found["line.wav"].kind == "audio" and found["line.wav"].mime_type == "audio/wav"
    assert found["line.wav"].duration == pytest.approx(1.5) and not found["line.wav"].poster
    assert found["hum.mp3"].mime_type == "audio/mpeg" and found["hum.mp3"].duration == pytest.approx(1.0, abs=0.1)


def test_a_video_too_big_for_the_model_is_refused_with_its_limit(client, alice):
    client.force_login(alice)
    # Kie's docs: Wan 2.6 takes clips up to 10 MB. The size is checked before anything is read.
    big = upload(
        client, b"\0" * (10 * 1024 * 1024 + 1), kind="video", model="wan/2-6-video-to-video", field="video_urls"
    )
    assert big.status_code == 400
    assert big.json()["error"] == "“clip.mp4” is 10.0 MB; Wan 2.6 (from video) takes videos up to 10 MB."
    assert not Reference.objects.exists()


def test_the_studio_limits_apply_without_a_model_and_are_named(client, alice, monkeypatch):
    client.force_login(alice)
    small = dataclasses.replace(uploads.DEFAULT_RULES["video"], max_bytes=uploads.MB)
    monkeypatch.setitem(uploads.DEFAULT_RULES, "video", small)
    response = upload(client, b"\0" * (2 * uploads.MB), kind="video")
    assert response.status_code == 400
    assert response.json()["error"] == "“clip.mp4” is 2.0 MB; the studio takes videos up to 1 MB."
    long = dataclasses.replace(uploads.DEFAULT_RULES["video"], max_bytes=100 * uploads.MB, max_seconds=1)
    monkeypatch.setitem(uploads.DEFAULT_RULES, "video", long)
    response = upload(client, mp4_bytes(2.0), kind="video")
    assert response.json()["error"] == "“clip.mp4” is 2.0 s long; the studio takes videos up to 1 s long."
    assert not Reference.objects.exists()


def test_clip_length_follows_the_models_documented_range(client, alice):
    client.force_login(alice)
    target = {"kind": "video", "model": "bytedance/seedance-2", "field": "reference_video_urls"}
    long = upload(client, mp4_bytes(16.0, fps=2), name="long.mp4", **target)
    assert long.status_code == 400
    assert long.json()["error"] == "“long.mp4” is 16.0 s long; Seedance 2 takes videos between 2 s and 15 s long."
    short = upload(client, mp4_bytes(1.0), name="short.mp4", **target)
    assert short.status_code == 400 and "between 2 s and 15 s long" in short.json()["error"]
    fine = upload(client, mp4_bytes(3.0), name="fine.mp4", **target)
    assert fine.status_code == 200
    # The same clip for a model without a length rule is fine too: the limits are the input's, not the file's.
    assert upload(client, mp4_bytes(16.0, fps=2), name="long.mp4", kind="video").status_code == 200


# --- Into a job ------------------------------------------------------------------------------------------------


def test_an_uploaded_video_reaches_kie_as_kies_own_upload_once(client, alice, kie_sim):
    client.force_login(alice)
    clip = mp4_bytes(2.0)
    ref = upload(client, clip, kind="video", model="topaz/video-upscale", field="video_url").json()
    response = submit(client, "topaz/video-upscale", video_url=ref["id"], upscale_factor="2")
    assert response.status_code == 200, response.content.decode()[:2000]
    drain()
    generation = Generation.objects.get()
    assert generation.status == Status.SUCCEEDED, generation.failure_message
    assert generation.references == {"video_url": [ref["id"]]}
    sent = sent_input(kie_sim, generation)["video_url"]
    assert sent.startswith(f"{kie_sim.base_url}/_sim/files/kiestudio/references/")
    assert upload_bytes(kie_sim, sent) == clip
    reference = Reference.objects.get()
    assert reference.kie_url == sent and reference.kie_uploaded_at is not None
    # The same clip again, while Kie keeps its upload: the job names the same upload, nothing is sent twice.
    assert submit(client, "topaz/video-upscale", video_url=ref["id"]).status_code == 200
    drain()
    second = Generation.objects.exclude(pk=generation.pk).get()
    assert sent_input(kie_sim, second)["video_url"] == sent
    assert len(kie_sim.log.of_kind("upload")) == 1


def test_uploads_and_pasted_links_go_together_in_a_list(client, alice, kie_sim):
    client.force_login(alice)
    ref = upload(client, mp4_bytes(), kind="video", model="wan/2-6-video-to-video", field="video_urls").json()
    link = "https://videos.example.invalid/dance.mp4"
    response = client.post(
        "/generate/submit/",
        {
            "model": "wan/2-6-video-to-video",
            "prompt": "The dancer turns into a paper cut-out",
            "video_urls": [str(ref["id"]), link],
            "variations": "2",
            "form_token": str(uuid.uuid4()),
        },
        headers=HTMX,
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    drain()
    first, second = Generation.objects.order_by("variation")
    kie_url = Reference.objects.get().kie_url
    assert sent_input(kie_sim, first)["video_urls"] == [kie_url, link]
    assert sent_input(kie_sim, second)["video_urls"] == [kie_url, link]
    assert len(kie_sim.log.of_kind("upload")) == 1  # two jobs, one file: one upload
    # Remixing shows the clip as a chip again, and the link in its box.
    html = client.get(f"/generate/?remix={first.pk}").content.decode()
    assert f'name="video_urls" value="{ref["id"]}"' in html and f">{link}</textarea>" in html


def test_one_file_inputs_take_a_file_or_a_link_not_both(client, alice, kie_sim):
    client.force_login(alice)
    ref = upload(client, mp4_bytes(), kind="video").json()
    response = submit(client, "topaz/video-upscale", video_url=[str(ref["id"]), "https://videos.example.invalid/a.mp4"])
    assert response.status_code == 422
    assert "Give one video clip: upload it, choose it, or paste one link." in response.content.decode()
    assert not Generation.objects.exists()


def test_a_pasted_link_in_a_list_still_meets_the_private_network_guard(client, alice, kie_sim):
    client.force_login(alice)
    response = submit(
        client, "wan/2-6-video-to-video", prompt="Anything", video_urls="http://169.254.169.254/latest/meta-data/"
    )
    assert response.status_code == 422 and "Kie can&#x27;t be sent this address" in response.content.decode()
    assert not Generation.objects.exists()


def test_a_reference_over_the_models_limit_is_refused_at_submit(client, alice, kie_sim):
    """An upload made for another model (no length rule) is checked again against this one's."""
    client.force_login(alice)
    ref = upload(client, mp4_bytes(16.0, fps=2), name="long.mp4", kind="video").json()
    response = submit(client, "bytedance/seedance-2", prompt="A calm lake", reference_video_urls=ref["id"])
    assert response.status_code == 422
    assert "“long.mp4” is 16.0 s long" in response.content.decode()
    assert not Generation.objects.exists()


def test_the_generate_form_offers_upload_boxes_for_clips_and_sounds(client, alice):
    client.force_login(alice)
    html = client.get("/generate/?model=bytedance/seedance-2").content.decode()
    assert 'data-kind="video"' in html and 'data-kind="audio"' in html
    assert 'accept="video/mp4,video/quicktime,.mp4,.mov"' in html
    assert "MP4 or MOV · up to 50 MB · 2–15 s long · 15 s in all" in html
    assert 'accept="audio/mpeg,audio/wav,.mp3,.wav"' in html
    assert html.count("data-ref-link") == 2  # a pasted link stays possible for clips and sounds
    topaz = client.get("/generate/?model=topaz/video-upscale").content.decode()
    assert 'type="url" id="id_video_url_link" name="video_url"' in topaz and "up to 50 MB" in topaz


def test_a_second_worker_waits_for_the_first_upload_instead_of_making_its_own(client, alice, monkeypatch):
    client.force_login(alice)
    ref = Reference.objects.get(pk=upload(client, mp4_bytes(), kind="video").json()["id"])
    assert lease_acquire(name=f"kie-upload:reference:{ref.pk}", holder="another-worker", seconds=60)

    def other_worker_finishes(_seconds):
        Reference.objects.filter(pk=ref.pk).update(
            kie_url="https://kie.example/clip.mp4", kie_uploaded_at=timezone.now()
        )

    monkeypatch.setattr(services.time, "sleep", other_worker_finishes)
    kie = mock.Mock()
    url = services.reference_kie_url(reference_id=ref.pk, workspace_id=ref.workspace_id, client=kie)
    assert url == "https://kie.example/clip.mp4"
    kie.upload_file.assert_not_called()


def test_a_stuck_upload_is_not_waited_for_forever(client, alice, monkeypatch):
    client.force_login(alice)
    ref = Reference.objects.get(pk=upload(client, mp4_bytes(), kind="video").json()["id"])
    assert lease_acquire(name=f"kie-upload:reference:{ref.pk}", holder="a-dead-worker", seconds=600)
    clock = [0.0]
    monkeypatch.setattr(services.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(services.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + 30))
    kie = mock.Mock()
    kie.upload_file.return_value.url = "https://kie.example/own.mp4"
    assert services.reference_kie_url(reference_id=ref.pk, workspace_id=ref.workspace_id, client=kie) == (
        "https://kie.example/own.mp4"
    )
    assert kie.upload_file.call_count == 1 and 150 <= clock[0] <= 240


# --- Picking a result from the gallery ----------------------------------------------------------------------------


def test_a_generated_video_can_be_picked_and_is_copied_once(client, alice, kie_sim):
    generation = made(alice, "veo/veo3_fast", prompt="Waves at night")
    video = generation.assets.get()
    client.force_login(alice)
    picker = client.get("/references/pick/?kind=video&model=topaz/video-upscale&field=video_url").content.decode()
    assert f"/references/from-asset/{video.pk}/" in picker
    first = client.post(f"/references/from-asset/{video.pk}/", {"kind": "video"})
    assert first.status_code == 200, first.content
    reference = Reference.objects.get()
    assert reference.kind == "video" and reference.source_asset == video and reference.label == "Waves at night"
    assert reference.duration and reference.poster
    again = client.post(f"/references/from-asset/{video.pk}/", {"kind": "video"})
    assert again.json()["id"] == first.json()["id"] and Reference.objects.count() == 1
    wrong = client.post(f"/references/from-asset/{video.pk}/", {"kind": "audio"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "Only sound files can be used here."
    assert f"/references/from-asset/{video.pk}/" not in client.get("/references/pick/?kind=audio").content.decode()
    # A picked clip shows in the picker too, with its length.
    picker = client.get("/references/pick/?kind=video").content.decode()
    assert f'data-pick-ref="{reference.pk}"' in picker and 'data-clock="0:0' in picker


def test_the_picker_says_why_a_clip_does_not_fit_the_model(client, alice):
    client.force_login(alice)
    ref = upload(client, mp4_bytes(16.0, fps=2), name="long.mp4", kind="video").json()
    html = client.get("/references/pick/?kind=video&model=bytedance/seedance-2&field=reference_video_urls").content
    html = html.decode()
    assert f'data-pick-ref="{ref["id"]}"' in html and 'aria-disabled="true"' in html
    assert "16.0 s long" in html


# --- Tenancy -------------------------------------------------------------------------------------------------


def test_another_workspaces_clip_is_a_404_and_cannot_be_sent(client, alice, charlie, kie_sim):
    client.force_login(alice)
    ref = upload(client, mp4_bytes(), kind="video").json()
    video = made(alice, "veo/veo3_fast", prompt="Alice's waves").assets.get()
    client.force_login(charlie)
    assert client.get(f"/files/references/{ref['id']}/").status_code == 404
    assert client.get(f"/files/references/{ref['id']}/poster/").status_code == 404
    assert client.post(f"/references/from-asset/{video.pk}/", {"kind": "video"}).status_code == 404
    assert f'data-pick-ref="{ref["id"]}"' not in client.get("/references/pick/?kind=video").content.decode()
    response = submit(client, "topaz/video-upscale", video_url=ref["id"])
    assert response.status_code == 422 and "no longer available" in response.content.decode()
    assert not Generation.objects.filter(workspace=workspace_of(charlie)).exists()


def test_a_picture_reference_id_is_not_accepted_as_a_clip(client, alice):
    from tests.chat.helpers import png_bytes

    client.force_login(alice)
    picture = client.post("/references/upload/", {"file": SimpleUploadedFile("a.png", png_bytes(), "image/png")}).json()
    response = submit(client, "topaz/video-upscale", video_url=picture["id"])
    assert response.status_code == 422 and "no longer available" in response.content.decode()


# --- The migration ---------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_existing_reference_images_keep_their_rows(alice):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("studio", "0006_callback_receipt_result")])
    old = executor.loader.project_state([("studio", "0006_callback_receipt_result")]).apps
    OldReference = old.get_model("studio", "ReferenceImage")
    row = OldReference.objects.create(
        workspace_id=workspace_of(alice).pk,
        file="ws1/refs/ref-old.png",
        mime_type="image/png",
        size=3,
        width=1,
        height=1,
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    kept = Reference.objects.get(pk=row.pk)
    assert kept.kind == "image" and kept.file.name == "ws1/refs/ref-old.png" and (kept.width, kept.height) == (1, 1)


# --- The follow-up dialog -----------------------------------------------------------------------------------------


def _followup_taking_a_sound():
    """An action on a picture whose model also takes a voice (a talking picture), if the catalog has one."""
    from kiestudio.kie.catalog.actions import Parent, load_actions

    parent = Parent(output="image", family="market", kind="text_to_image", has_task=True, media_kind="image")
    for action in load_actions().values():
        if not action.applies_to(parent):
            continue
        for spec in action.models(parent):
            media_input = action.media_input(spec, "image")
            for spec_field in spec.fields:
                if spec_field.type == "audio_url" and spec_field.required and spec_field.name != media_input:
                    return action, spec, spec_field
    return None


def test_the_follow_up_dialog_takes_a_voice_and_sends_both_files(client, alice, kie_sim):
    found = _followup_taking_a_sound()
    assert found is not None, 'the catalog offers talking-video follow-ups on pictures ("Make it talk")'
    action, spec, voice = found
    picture = made(alice).assets.get()
    client.force_login(alice)
    url = f"/assets/{picture.pk}/followups/{action.key}/"
    html = client.get(f"{url}?model={spec.key}", headers=HTMX).content.decode()
    assert 'data-kind="audio"' in html and 'data-upload-url="/references/upload/"' in html
    sound = wav_bytes(3.0)
    ref = upload(client, sound, name="hello.wav", mime="audio/wav", kind="audio", model=spec.key, field=voice.name)
    assert ref.status_code == 200, ref.content
    inputs = {voice.name: ref.json()["id"]}
    for spec_field in spec.fields:
        if spec_field.required and spec_field.type in {"text", "string"}:
            inputs[spec_field.name] = "Hello there, welcome to the studio"
    response = client.post(
        f"{url}submit/", {"model": spec.key, "form_token": str(uuid.uuid4()), **inputs}, headers=HTMX
    )
    assert response.status_code == 200, response.content.decode()[:3000]
    child = Generation.objects.get(parent__isnull=False)
    assert child.inputs[voice.name] == Reference.objects.get().placeholder  # until the worker sends Kie's upload
    drain()
    child.refresh_from_db()
    assert child.status == Status.SUCCEEDED, child.failure_message
    sent = sent_input(kie_sim, child)
    assert upload_bytes(kie_sim, sent[voice.name]) == sound
    assert sent[voice.name].startswith(f"{kie_sim.base_url}/_sim/files/kiestudio/references/")
    assert sent[child.parent_media_field].startswith(f"{kie_sim.base_url}/_sim/files/kiestudio/sources/")
