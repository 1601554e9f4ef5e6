"""Follow-up actions end to end against the simulator over real HTTP: every family's follow-up endpoint, the
family tree they record, and the refusals that come before anything is spent."""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import mido
import pytest
from django.utils import timezone

from kiestudio.kie.catalog import get_model
from kiestudio.kie.catalog.actions import get_action
from kiestudio.studio import services
from kiestudio.studio.models import Asset, Generation, Status
from kiestudio.usage.models import UsageEntry
from tests.studio.helpers import create, drain, made

pytestmark = pytest.mark.django_db


def follow(user, parent: Generation, action_key: str, model_key: str, asset: Asset | None = None, **inputs):
    asset = asset or parent.assets.order_by("index").first()
    plan = services.followup_plan(
        generation=parent, asset=asset, action=get_action(action_key), spec=get_model(model_key), raw_inputs=inputs
    )
    return services.followup_create(
        generation=parent, asset=asset, action=get_action(action_key), plan=plan, user=user, form_token=uuid.uuid4()
    )


def finished(generation: Generation) -> Generation:
    drain()
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, (generation.status, generation.failure_message)
    return generation


def creates_to(kie_sim, path: str) -> list:
    return [entry for entry in kie_sim.log.entries if entry.path == path and entry.method == "POST"]


def sent_body(kie_sim, generation: Generation, family: str) -> dict:
    """What the simulator received for this generation's task."""
    return kie_sim.sim.get_task(generation.kie_task_id, family).body


def ledger(generation: Generation) -> UsageEntry:
    return UsageEntry.objects.get(source=f"generation:{generation.pk}")


def uploaded(kie_sim) -> list:
    return kie_sim.log.of_kind("upload")


def upload_bytes(kie_sim, url: str) -> bytes:
    """What the simulator holds at an upload URL it handed out."""
    return kie_sim.sim.uploads[url.split("/_sim/files/", 1)[1]].data


def file_bytes(asset: Asset) -> bytes:
    with asset.file.open("rb") as fh:
        return fh.read()


def step(generation: Generation) -> Generation:
    """One worker step for this generation (submit or one status read), as the dispatcher would hand it out."""
    services.generation_advance(generation_id=generation.pk, token=None)
    generation.refresh_from_db()
    return generation


def assert_lineage(child: Generation, parent: Generation, asset: Asset, action: str) -> None:
    assert child.parent == parent and child.parent_asset == asset and child.action == action
    assert child.lineage == f"{parent.pk}/" and child.ancestor_ids == [parent.pk]
    assert child.workspace_id == parent.workspace_id


def track_parent(user) -> Generation:
    parent = made(user, "suno/V5", prompt="A calm piano piece", customMode=False, instrumental=False)
    first, second = parent.assets.order_by("index")
    assert first.metadata["audio_id"] and second.metadata["audio_id"]
    assert first.metadata["audio_id"] != second.metadata["audio_id"]
    return parent


def second_track(parent: Generation) -> Asset:
    return parent.assets.get(index=1)


# --- Veo: extend, 1080p and 4K ------------------------------------------------------------------------------------


def test_veo_extend_sends_the_parent_task_and_records_the_family_tree(kie_sim, alice):
    parent = made(alice, "veo/veo3_fast", prompt="A drone flight over hills")
    child = finished(follow(alice, parent, "veo_extend", "veo/extend", prompt="The drone rises into clouds"))
    assert len(creates_to(kie_sim, "/api/v1/veo/extend")) == 1
    sent = sent_body(kie_sim, child, "veo")
    assert sent["taskId"] == parent.kie_task_id and sent["prompt"] == "The drone rises into clouds"
    assert child.parent == parent and child.parent_asset == parent.assets.first() and child.action == "veo_extend"
    assert child.lineage == f"{parent.pk}/" and child.assets.get().kind == "video"
    grandchild = finished(follow(alice, child, "veo_extend", "veo/extend", prompt="Then it lands"))
    assert grandchild.lineage == f"{parent.pk}/{child.pk}/" and grandchild.ancestor_ids == [parent.pk, child.pk]


def test_veo_1080p_waits_while_kie_says_processing_then_stores_the_video(kie_sim, alice):
    parent = made(alice, "veo/veo3_fast", prompt="A drone flight over hills")
    kie_sim.sim.config.veo_1080p_pending_calls = 2
    creates_before = len(kie_sim.log.of_kind("create"))
    seen_before = len(kie_sim.log.entries)
    child = follow(alice, parent, "veo_1080p", "veo/1080p")
    assert child.inputs["taskId"] == parent.kie_task_id and child.inputs["index"] == 0

    def reads() -> list:
        return [e for e in kie_sim.log.entries if e.path == "/api/v1/veo/get-1080p-video"]

    # Submitting sends nothing to buy (there is no create) and reads the 1080p at once: "processing".
    child = step(child)
    assert len(reads()) == 1 and reads()[-1].code == 400
    assert child.status == Status.SUBMITTED and child.kie_stage == "1080P_PROCESSING" and not child.failure_message
    assert child.kie_task_id == parent.kie_task_id and not child.assets.exists()
    # The next read: still processing, still pending, never a failure.
    child = step(child)
    assert len(reads()) == 2 and reads()[-1].code == 400
    assert child.status == Status.SUBMITTED and child.kie_stage == "1080P_PROCESSING" and not child.failure_message
    # The third read brings the file.
    child = step(child)
    assert len(reads()) == 3 and reads()[-1].code == 200
    assert child.status == Status.SUCCEEDED, child.failure_message
    assert child.kie_stage == ""
    [asset] = child.assets.all()
    assert asset.kind == "video" and asset.mime_type == "video/mp4" and asset.size > 0
    assert asset.metadata == {"index": 0, "resolution": "1080p"}
    assert asset.source_url == f"{kie_sim.base_url}/_sim/media/{parent.kie_task_id}/100.mp4"
    assert_lineage(child, parent, parent.assets.get(), "veo_1080p")
    # No create at all, only the three reads of the 1080p video.
    assert len(kie_sim.log.of_kind("create")) == creates_before
    api_calls = [e for e in kie_sim.log.entries[seen_before:] if e.path.startswith("/api/")]
    assert [(e.method, e.path) for e in api_calls] == [("GET", "/api/v1/veo/get-1080p-video")] * 3
    # Kie's table: "Google veo 3.1, Get 1080P Video" $0.025 = 5 credits.
    entry = ledger(child)
    assert entry.credits == 5 and entry.model_key == "veo/1080p"


@pytest.mark.django_db(transaction=True)
def test_veo_4k_arrives_by_kie_callback_over_http(kie_sim, alice, asgi_live_server, settings):
    parent = made(alice, "veo/veo3_fast", prompt="A drone flight over hills")
    settings.PUBLIC_BASE_URL = asgi_live_server
    settings.KIE_CALLBACKS = True
    kie_sim.sim.config.callbacks = True
    # Kie takes a while to upscale (minutes in reality): the callback comes after the create's answer.
    kie_sim.sim.config.state_seconds = {"generating": 0.5}
    child = follow(alice, parent, "veo_4k", "veo/4k")
    child = step(child)
    assert child.status == Status.SUBMITTED and child.kie_task_id == parent.kie_task_id
    [_] = creates_to(kie_sim, "/api/v1/veo/get-4k-video")
    job = kie_sim.sim.veo_4k[(parent.kie_task_id, 0)]
    callback_url = f"{asgi_live_server}/kie/callback/{settings.KIE_CALLBACK_TOKEN}/"
    assert job.body == {"taskId": parent.kie_task_id, "index": 0, "callBackUrl": callback_url}
    assert ledger(child).credits == 120 and ledger(child).estimated

    # Nothing polls for 4K: the callback alone brings it, over HTTP into our callback view.
    deadline = time.monotonic() + 15
    while child.status in (Status.SUBMITTED, Status.STORING) and time.monotonic() < deadline:
        time.sleep(0.05)
        child.refresh_from_db()
    assert child.status == Status.SUCCEEDED, (child.status, child.failure_message)

    # The simulator logs the delivery once our answer is back, which is after the video was stored.
    def deliveries() -> list[dict]:
        return [c for c in list(kie_sim.sim.callback_log) if c["task_id"] == job.task_id]

    while not deliveries() and time.monotonic() < deadline:
        time.sleep(0.02)
    [delivered] = deliveries()
    assert delivered["url"] == callback_url and delivered["status"] == 200
    assert delivered["body"]["data"]["task_id"] == parent.kie_task_id
    [asset] = child.assets.all()
    assert asset.kind == "video" and asset.size > 0 and asset.metadata == {"index": 0, "resolution": "4k"}
    assert asset.source_url == delivered["body"]["data"]["result_urls"][0]
    assert_lineage(child, parent, parent.assets.get(), "veo_4k")
    # The parent, whose task id the callback names, is untouched.
    parent.refresh_from_db()
    assert parent.status == Status.SUCCEEDED and parent.assets.count() == 1
    assert len(creates_to(kie_sim, "/api/v1/veo/get-4k-video")) == 1


def test_veo_4k_is_refused_before_spending_when_callbacks_are_off(kie_sim, alice, settings):
    parent = made(alice, "veo/veo3_fast", prompt="A drone flight over hills")
    settings.KIE_CALLBACKS = False
    with pytest.raises(services.GenerationError, match="callback"):
        follow(alice, parent, "veo_4k", "veo/4k")
    assert Generation.objects.count() == 1
    assert creates_to(kie_sim, "/api/v1/veo/get-4k-video") == []


def test_a_failed_4k_callback_fails_the_child_with_a_clear_message(kie_sim, alice, settings, client):
    parent = made(alice, "veo/veo3_fast", prompt="A drone flight over hills")
    settings.KIE_CALLBACKS = True  # the simulator itself calls back to no one (its callbacks are off)
    child = step(follow(alice, parent, "veo_4k", "veo/4k"))
    assert child.status == Status.SUBMITTED and child.kie_task_id == parent.kie_task_id
    callback_url = f"/kie/callback/{settings.KIE_CALLBACK_TOKEN}/"
    # A late callback of the parent's own Veo task (contract 3.2; it names the same task id) is not the 4K result.
    late = {
        "code": 200,
        "msg": "Veo3.1 video generated successfully.",
        "data": {
            "taskId": parent.kie_task_id,
            "info": {"resultUrls": [parent.assets.get().source_url], "originUrls": [], "resolution": "720p"},
            "fallbackFlag": False,
        },
    }
    response = client.post(callback_url, data=json.dumps(late), content_type="application/json")
    assert response.status_code == 200
    child.refresh_from_db()
    assert child.status == Status.SUBMITTED and child.failure_message == ""
    body = {"code": 500, "msg": "4K upscaling failed on Kie's side.", "data": {"task_id": parent.kie_task_id}}
    response = client.post(callback_url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    child.refresh_from_db()
    assert child.status == Status.FAILED
    assert child.failure_message == "Kie couldn't make the 4K version: 4K upscaling failed on Kie's side."
    assert child.next_check_at is None and not child.assets.exists()
    parent.refresh_from_db()
    assert parent.status == Status.SUCCEEDED and parent.failure_message == ""


def test_a_4k_answer_that_beats_the_submit_is_kept_and_applied(kie_sim, alice, settings, client, monkeypatch):
    """Kie's 4K callback can land before the worker has recorded the submission. It is the only delivery of the
    file, so its body is kept with the receipt and the submit applies it: the child finishes, no deadline wait."""
    from kiestudio.kie import KieClient

    parent = made(alice, "veo/veo3_fast", prompt="A drone flight over hills")
    settings.KIE_CALLBACKS = True
    url = parent.assets.get().source_url  # a file the simulator serves over HTTP
    original = KieClient.veo_4k_answer

    def ask_then_call_back(self, task_id, **kwargs):
        answer = original(self, task_id, **kwargs)
        body = {
            "code": 200,
            "msg": "4K Video generated successfully.",
            "data": {"task_id": task_id, "result_urls": [url]},
        }
        callback = f"/kie/callback/{settings.KIE_CALLBACK_TOKEN}/"
        assert client.post(callback, data=json.dumps(body), content_type="application/json").status_code == 200
        return answer

    monkeypatch.setattr(KieClient, "veo_4k_answer", ask_then_call_back)
    child = step(follow(alice, parent, "veo_4k", "veo/4k"))
    assert child.status == Status.SUCCEEDED, (child.status, child.failure_message)
    assert child.assets.get().source_url == url
    # A later, ordinary callback for the same task clears the kept answer, so a new 4K can't reuse it.
    late = {"code": 200, "data": {"taskId": parent.kie_task_id, "info": {"resultUrls": [url]}}}
    client.post(f"/kie/callback/{settings.KIE_CALLBACK_TOKEN}/", data=json.dumps(late), content_type="application/json")
    from kiestudio.studio.models import CallbackReceipt

    assert CallbackReceipt.objects.get(task_id=parent.kie_task_id).result is None


# --- Runway extend and Aleph --------------------------------------------------------------------------------------


def test_runway_extend_sends_the_parent_task(kie_sim, alice):
    parent = made(alice, "runway/gen", prompt="Waves at night", duration=5, quality="720p", aspectRatio="16:9")
    child = finished(follow(alice, parent, "runway_extend", "runway/extend", prompt="The waves calm down"))
    [_] = creates_to(kie_sim, "/api/v1/runway/extend")
    sent = sent_body(kie_sim, child, "runway")
    assert sent["taskId"] == parent.kie_task_id
    assert sent["prompt"] == "The waves calm down" and sent["quality"] == "720p"
    assert kie_sim.sim.get_task(child.kie_task_id, "runway").extra["parent"] == parent.kie_task_id
    # Runway extends a task by its id: no file of ours goes to Kie.
    assert uploaded(kie_sim) == [] and child.parent_media_field == ""
    [asset] = child.assets.all()
    assert asset.kind == "video" and asset.size > 0
    assert_lineage(child, parent, parent.assets.get(), "runway_extend")
    assert ledger(child).credits == 12


def test_aleph_and_video_upscale_upload_the_parent_video_once(kie_sim, alice):
    parent = made(alice, "veo/veo3_fast", prompt="A drone flight over hills")
    video = parent.assets.get()
    child = finished(follow(alice, parent, "aleph", "runway/aleph", prompt="Make it snow"))
    [upload] = uploaded(kie_sim)
    assert upload.path == "/api/file-stream-upload" and upload.status == 200
    sent = sent_body(kie_sim, child, "aleph")
    assert sent["prompt"] == "Make it snow"
    assert sent["videoUrl"].startswith(f"{kie_sim.base_url}/_sim/files/kiestudio/sources/")
    assert upload_bytes(kie_sim, sent["videoUrl"]) == file_bytes(video)
    video.refresh_from_db()
    assert video.kie_url == sent["videoUrl"] and video.kie_uploaded_at is not None
    assert child.parent_media_field == "videoUrl"
    [asset] = child.assets.all()
    assert asset.kind == "video" and asset.size > 0
    assert_lineage(child, parent, video, "aleph")
    assert ledger(child).credits == 110

    # A second follow-up from the same file reuses Kie's copy while Kie still keeps it.
    again = finished(follow(alice, parent, "aleph", "runway/aleph", prompt="Make it rain"))
    assert sent_body(kie_sim, again, "aleph")["videoUrl"] == video.kie_url
    upscaled = finished(follow(alice, parent, "video_upscale", "topaz/video-upscale", upscale_factor="2"))
    assert sent_body(kie_sim, upscaled, "market")["input"]["video_url"] == video.kie_url
    assert len(uploaded(kie_sim)) == 1
    assert len(creates_to(kie_sim, "/api/v1/aleph/generate")) == 2


# --- Suno ---------------------------------------------------------------------------------------------------------


def test_suno_extend_sends_the_chosen_tracks_audio_id(kie_sim, alice):
    parent = track_parent(alice)
    first, second = parent.assets.order_by("index")
    child = finished(
        follow(
            alice,
            parent,
            "suno_extend",
            "suno/extend",
            asset=second,
            defaultParamFlag=True,
            style="Late-night jazz trio",
            title="Night drive (extended)",
            continueAt=1.5,
            prompt="The piano slows down",
        )
    )
    [_] = creates_to(kie_sim, "/api/v1/generate/extend")
    sent = sent_body(kie_sim, child, "suno")
    assert sent["audioId"] == second.metadata["audio_id"] != first.metadata["audio_id"]
    assert sent["defaultParamFlag"] is True and sent["continueAt"] == 1.5
    assert sent["style"] == "Late-night jazz trio" and sent["title"] == "Night drive (extended)"
    assert sent["model"] == "V5" and sent["callBackUrl"]
    assert kie_sim.sim.get_task(child.kie_task_id, "suno").extra["parent_track"]["id"] == second.metadata["audio_id"]
    assert [a.kind for a in child.assets.order_by("index")] == ["audio", "audio"]
    assert_lineage(child, parent, second, "suno_extend")
    assert ledger(child).credits == 12

    # Keeping the track's own style: the flag goes as false, with only the track to continue.
    plain = finished(follow(alice, parent, "suno_extend", "suno/extend", asset=first))
    sent = sent_body(kie_sim, plain, "suno")
    assert sent["audioId"] == first.metadata["audio_id"] and sent["defaultParamFlag"] is False
    assert "style" not in sent and "continueAt" not in sent


def test_suno_cover_add_vocals_and_add_instrumental_upload_the_chosen_track_once(kie_sim, alice):
    parent = track_parent(alice)
    second = second_track(parent)
    cover = finished(
        follow(
            alice, parent, "cover", "suno/cover", asset=second, customMode=False, instrumental=False, prompt="As jazz"
        )
    )
    [_] = creates_to(kie_sim, "/api/v1/generate/upload-cover")
    sent = sent_body(kie_sim, cover, "suno")
    [upload] = uploaded(kie_sim)
    assert upload.path == "/api/file-stream-upload" and upload.status == 200
    assert sent["uploadUrl"].startswith(f"{kie_sim.base_url}/_sim/files/kiestudio/sources/")
    # It is the second track's file that went to Kie, not the first one's.
    assert upload_bytes(kie_sim, sent["uploadUrl"]) == file_bytes(second)
    assert upload_bytes(kie_sim, sent["uploadUrl"]) != file_bytes(parent.assets.get(index=0))
    assert sent["model"] == "V5" and sent["customMode"] is False and sent["prompt"] == "As jazz"
    assert cover.parent_media_field == "uploadUrl"
    second.refresh_from_db()
    assert second.kie_url == sent["uploadUrl"]

    vocals = finished(
        follow(
            alice,
            parent,
            "add_vocals",
            "suno/add-vocals",
            asset=second,
            prompt="Hold me close tonight",
            style="warm female vocals, soul",
            title="With vocals",
        )
    )
    [_] = creates_to(kie_sim, "/api/v1/generate/add-vocals")
    sent = sent_body(kie_sim, vocals, "suno")
    assert sent["uploadUrl"] == second.kie_url and sent["model"] == "V4_5PLUS"
    assert sent["prompt"] == "Hold me close tonight" and sent["style"] == "warm female vocals, soul"
    assert sent["title"] == "With vocals" and sent["negativeTags"] == "shouting"

    backing = finished(
        follow(
            alice, parent, "add_instrumental", "suno/add-instrumental", asset=second, tags="lo-fi beat", title="Backed"
        )
    )
    [_] = creates_to(kie_sim, "/api/v1/generate/add-instrumental")
    sent = sent_body(kie_sim, backing, "suno")
    assert sent["uploadUrl"] == second.kie_url and sent["model"] == "V4_5PLUS"
    assert sent["tags"] == "lo-fi beat" and sent["title"] == "Backed" and sent["negativeTags"] == "heavy distortion"

    assert len(uploaded(kie_sim)) == 1  # one upload, reused by all three
    for child, action in ((cover, "cover"), (vocals, "add_vocals"), (backing, "add_instrumental")):
        assert [a.kind for a in child.assets.order_by("index")] == ["audio", "audio"]
        assert all(a.metadata.get("audio_id") for a in child.assets.all())
        assert_lineage(child, parent, second, action)
        assert ledger(child).credits == 12


@pytest.mark.parametrize(
    ("split", "names", "credits"),
    [
        ("separate_vocal", ["instrumental", "vocal"], 10),
        ("split_stem", ["vocal", "backingVocals", "drums", "bass", "guitar", "keyboard", "strings", "synth"], 50),
    ],
)
def test_suno_separate_stores_every_stem(kie_sim, alice, client, split, names, credits):
    parent = track_parent(alice)
    second = second_track(parent)
    child = finished(follow(alice, parent, "separate", "suno/separate", asset=second, type=split))
    [_] = creates_to(kie_sim, "/api/v1/vocal-removal/generate")
    sent = sent_body(kie_sim, child, "suno")
    assert sent["taskId"] == parent.kie_task_id and sent["audioId"] == second.metadata["audio_id"]
    assert sent["type"] == split and sent["callBackUrl"]
    assert uploaded(kie_sim) == []
    stems = list(child.assets.order_by("index"))
    assert [a.metadata["name"] for a in stems] == names
    assert {a.kind for a in stems} == {"audio"}
    client.force_login(alice)
    for stem in stems:
        response = client.get(f"/files/assets/{stem.pk}/")
        assert response.status_code == 200
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert body == file_bytes(stem) and len(body) == stem.size > 0
    assert_lineage(child, parent, second, "separate")
    assert ledger(child).credits == credits


def test_suno_wav_converts_the_chosen_track(kie_sim, alice):
    parent = track_parent(alice)
    second = second_track(parent)
    child = finished(follow(alice, parent, "wav", "suno/wav", asset=second))
    [_] = creates_to(kie_sim, "/api/v1/wav/generate")
    sent = sent_body(kie_sim, child, "suno")
    assert sent["taskId"] == parent.kie_task_id and sent["audioId"] == second.metadata["audio_id"]
    [asset] = child.assets.all()
    assert asset.kind == "audio" and asset.mime_type == "audio/wav" and asset.size > 0
    assert asset.file.name.endswith(".wav")
    assert_lineage(child, parent, second, "wav")
    assert ledger(child).credits == Decimal("0.4")


def test_suno_midi_is_stored_as_a_midi_file_with_every_instrument(kie_sim, alice):
    parent = track_parent(alice)
    second = second_track(parent)
    child = finished(follow(alice, parent, "midi", "suno/midi", asset=second))
    [_] = creates_to(kie_sim, "/api/v1/midi/generate")
    sent = sent_body(kie_sim, child, "suno")
    assert sent["taskId"] == parent.kie_task_id and sent["audioId"] == second.metadata["audio_id"]
    instruments = kie_sim.sim.get_task(child.kie_task_id, "suno").extra["instruments"]
    [asset] = child.assets.all()
    assert asset.kind == Asset.Kind.FILE == "file" and asset.mime_type == "audio/midi"
    assert asset.file.name.endswith(".mid") and asset.size == len(file_bytes(asset))
    song = mido.MidiFile(file=io.BytesIO(file_bytes(asset)))
    tracks = {track.name: track for track in song.tracks if track.name}
    assert set(tracks) == {i["name"] for i in instruments}
    for instrument in instruments:
        track = tracks[instrument["name"]]
        ons = [m for m in track if m.type == "note_on" and m.velocity > 0]
        assert [m.note for m in ons] == [n["pitch"] for n in instrument["notes"]]
        channels = {m.channel for m in ons}
        programs = [m.program for m in track if m.type == "program_change"]
        if instrument["name"] == "Drums":
            assert channels == {9} and programs == []  # General MIDI's drum channel
        else:
            assert len(channels) == 1 and 9 not in channels and len(programs) == 1
    assert [m.program for m in tracks["Electric Bass (finger)"] if m.type == "program_change"] == [33]
    last_end = max(n["end"] for i in instruments for n in i["notes"])
    assert song.length == pytest.approx(last_end, abs=0.01)
    assert asset.metadata["tracks"] == [{"name": i["name"], "notes": len(i["notes"])} for i in instruments]
    assert asset.duration == pytest.approx(last_end, abs=0.01)
    assert_lineage(child, parent, second, "midi")
    assert ledger(child).credits == 0  # Kie's table: "Suno, Generate Midi From Audio" $0


def test_suno_music_video_is_stored_as_a_video(kie_sim, alice):
    parent = track_parent(alice)
    second = second_track(parent)
    child = finished(follow(alice, parent, "music_video", "suno/music-video", asset=second, author="The Foxes"))
    [_] = creates_to(kie_sim, "/api/v1/mp4/generate")
    sent = sent_body(kie_sim, child, "suno")
    assert sent["taskId"] == parent.kie_task_id and sent["audioId"] == second.metadata["audio_id"]
    assert sent["author"] == "The Foxes"
    [asset] = child.assets.all()
    assert asset.kind == "video" and asset.mime_type == "video/mp4" and asset.size > 0 and asset.thumbnail
    assert child.output == "video"
    assert_lineage(child, parent, second, "music_video")
    assert ledger(child).credits == 2


def test_timestamped_lyrics_are_asked_once_and_kept_on_the_track(kie_sim, alice):
    parent = track_parent(alice)
    second = second_track(parent)

    def asked() -> list:
        return [e for e in kie_sim.log.entries if e.path == "/api/v1/generate/get-timestamped-lyrics"]

    words = services.asset_timestamped_lyrics(asset=second, user=alice)
    [request] = asked()
    assert request.task_id == parent.kie_task_id and request.status == 200
    assert [w["word"] for w in words] == second.metadata["prompt"].split()
    assert all(0 <= w["start"] < w["end"] <= second.metadata["duration"] for w in words)
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)
    stored = Asset.objects.get(pk=second.pk)
    assert stored.metadata["lyrics"] == words
    assert stored.metadata["audio_id"] == second.metadata["audio_id"]  # the rest of the metadata is kept
    assert services.asset_timestamped_lyrics(asset=stored) == words
    assert len(asked()) == 1
    # Kie charges half a credit a request ($0.0025 in its table): in the ledger once, for the one request.
    entry = UsageEntry.objects.get(source=f"lyrics:{second.pk}")
    assert (entry.credits, entry.user, entry.model_key) == (Decimal("0.5"), alice, "suno/timestamped-lyrics")


def test_suno_stages_are_recorded_as_the_status_is_read(kie_sim, alice, monkeypatch):
    # The simulator's clock, held still between reads: the task takes 100 s, its stages come at 30 % and 60 %.
    clock = [time.monotonic()]
    monkeypatch.setattr(kie_sim.sim, "now", lambda: clock[0])
    kie_sim.sim.config.state_seconds = {"generating": 100.0}
    [generation] = create(alice, "suno/V5", prompt="A calm piano piece", customMode=False, instrumental=False)
    generation = step(generation)
    assert generation.status == Status.SUBMITTED
    started = clock[0]
    for elapsed, stage in ((10, "PENDING"), (35, "TEXT_SUCCESS"), (65, "FIRST_SUCCESS")):
        clock[0] = started + elapsed
        generation = step(generation)
        assert generation.status == Status.SUBMITTED and generation.kie_stage == stage, (elapsed, generation.kie_stage)
        assert not generation.assets.exists() and not generation.failure_message
    clock[0] = started + 101
    generation = step(generation)
    assert generation.status == Status.SUCCEEDED, generation.failure_message
    assert generation.kie_stage == "SUCCESS"
    assert [a.kind for a in generation.assets.order_by("index")] == ["audio", "audio"]
    stages = [e.task_id for e in kie_sim.log.entries if e.path == "/api/v1/generate/record-info"]
    assert stages == [generation.kie_task_id] * 4


# --- Market image follow-ups --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "model", "inputs", "field", "output"),
    [
        ("upscale", "topaz/image-upscale", {"upscale_factor": "2"}, "image_url", "image"),
        ("remove_background", "recraft/remove-background", {}, "image", "image"),
        ("edit", "google/nano-banana-edit", {"prompt": "Give the fox a red scarf"}, "image_urls", "image"),
        ("animate", "kling/v2-1-standard", {"prompt": "The fox runs through the snow"}, "image_url", "video"),
    ],
)
def test_market_image_followups_send_the_parent_image(kie_sim, alice, action, model, inputs, field, output):
    parent = made(alice, "google/nano-banana", prompt="A red fox in the snow")
    image = parent.assets.get()
    child = finished(follow(alice, parent, action, model, **inputs))
    [upload] = uploaded(kie_sim)
    assert upload.path == "/api/file-stream-upload" and upload.status == 200
    sent = sent_body(kie_sim, child, "market")
    assert sent["model"] == get_model(model).model
    value = sent["input"][field]
    url = value[0] if isinstance(value, list) else value
    assert isinstance(value, list) == (field == "image_urls")
    assert url.startswith(f"{kie_sim.base_url}/_sim/files/kiestudio/sources/")
    assert upload_bytes(kie_sim, url) == file_bytes(image)
    for name, typed in inputs.items():
        assert sent["input"][name] == typed
    image.refresh_from_db()
    assert image.kie_url == url
    assert child.parent_media_field == field and child.output == output
    [asset] = child.assets.all()
    assert asset.kind == output and asset.size > 0
    assert_lineage(child, parent, image, action)
    assert ledger(child).credits == child.credits_estimated > 0
    assert len(kie_sim.log.of_kind("create")) == 2


# --- Refusals before anything is spent ----------------------------------------------------------------------------


def test_a_parent_older_than_14_days_refuses_task_actions_but_not_file_actions(kie_sim, alice):
    video = made(alice, "veo/veo3_fast", prompt="A drone flight over hills")
    song = track_parent(alice)
    image = made(alice, "google/nano-banana", prompt="A red fox in the snow")
    long_ago = timezone.now() - timedelta(days=15)
    Generation.objects.filter(pk__in=[video.pk, song.pk, image.pk]).update(completed_at=long_ago)
    for generation in (video, song, image):
        generation.refresh_from_db()
    creates = len(kie_sim.log.of_kind("create"))
    count = Generation.objects.count()

    with pytest.raises(services.GenerationError, match="14 days") as refused:
        follow(alice, video, "veo_extend", "veo/extend", prompt="The drone rises into clouds")
    assert "extend is no longer possible" in str(refused.value)
    with pytest.raises(services.GenerationError, match="14 days"):
        follow(alice, song, "separate", "suno/separate", asset=second_track(song), type="separate_vocal")
    with pytest.raises(services.GenerationError, match="14 days"):
        services.asset_timestamped_lyrics(asset=second_track(song))
    # The menu still lists them, saying why they can't be used.
    choices = {c.action.key: c for c in services.followup_choices(generation=video, asset=video.assets.get())}
    assert "14 days" in choices["veo_extend"].unavailable and choices["aleph"].unavailable == ""
    assert Generation.objects.count() == count
    assert len(kie_sim.log.of_kind("create")) == creates
    assert not [e for e in kie_sim.log.entries if e.path == "/api/v1/generate/get-timestamped-lyrics"]

    # Our own copy of the file is still good for actions that send the file itself.
    child = finished(follow(alice, image, "upscale", "topaz/image-upscale", upscale_factor="2"))
    assert len(uploaded(kie_sim)) == 1 and child.assets.get().kind == "image"
    assert len(kie_sim.log.of_kind("create")) == creates + 1


def test_followups_that_do_not_fit_are_refused_before_anything_is_spent(kie_sim, alice):
    image = made(alice, "google/nano-banana", prompt="A red fox in the snow")
    video = made(alice, "veo/veo3_fast", prompt="A drone flight over hills")
    creates = len(kie_sim.log.of_kind("create"))
    count = Generation.objects.count()
    # An action that doesn't apply to the item.
    with pytest.raises(services.GenerationError, match="isn't available"):
        follow(alice, image, "veo_extend", "veo/extend", prompt="More")
    with pytest.raises(services.GenerationError, match="isn't available"):
        follow(alice, video, "separate", "suno/separate", type="separate_vocal")
    # A model the action doesn't offer.
    with pytest.raises(services.GenerationError, match="can't upscale"):
        follow(alice, image, "upscale", "google/nano-banana-edit", prompt="Sharper")
    with pytest.raises(services.GenerationError, match="can't extend"):
        follow(alice, video, "veo_extend", "runway/extend", prompt="More", quality="720p")
    # Inputs the model refuses.
    with pytest.raises(services.GenerationError):
        follow(alice, video, "veo_extend", "veo/extend")
    # A generation that has not finished offers nothing.
    [pending] = create(alice, "google/nano-banana", prompt="Not yet")
    with pytest.raises(services.GenerationError, match="isn't available"):
        follow(alice, pending, "upscale", "topaz/image-upscale", asset=image.assets.get())
    assert Generation.objects.count() == count + 1
    assert len(kie_sim.log.of_kind("create")) == creates
    assert uploaded(kie_sim) == []
