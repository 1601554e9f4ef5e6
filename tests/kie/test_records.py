from __future__ import annotations

import json

import pytest

from kiestudio.kie import KieContentRejected, KieGenerationFailed, TaskState, normalise_record
from kiestudio.kie.records import kind_from_url, parse_url_list

from .conftest import ok


def market(state, result=None, fail_code="", fail_msg="", **extra):
    return {
        "taskId": "task_1",
        "model": "google/nano-banana",
        "state": state,
        "param": json.dumps({"model": "google/nano-banana", "input": {"prompt": "x"}}),
        "resultJson": json.dumps(result) if result is not None else "",
        "failCode": fail_code,
        "failMsg": fail_msg,
        **extra,
    }


@pytest.mark.parametrize("state", ["waiting", "queuing", "generating"])
def test_market_running_states(state):
    status = normalise_record("market", market(state), task_id="task_1")
    assert status.state == TaskState(state)
    assert not status.is_terminal
    assert status.fail_code is None and status.results == ()


def test_market_success_parses_result_json_string():
    result = {"resultUrls": ["https://f/a.png", "https://f/b.mp4"], "resultWaterMarkUrls": ["https://f/wa.png"]}
    status = normalise_record("market", market("success", result, costTime=15000), task_id="task_1")
    assert status.succeeded and status.is_terminal
    assert [r.url for r in status.results] == ["https://f/a.png", "https://f/b.mp4"]
    assert [r.kind for r in status.results] == ["image", "video"]
    assert status.results[0].metadata == {"index": 0, "watermark_url": "https://f/wa.png"}
    assert status.error() is None


def test_market_result_object():
    result = {"resultObject": {"character_id": "c1"}}
    status = normalise_record("market", market("success", result), task_id="task_1")
    assert status.result_object == {"character_id": "c1"}


@pytest.mark.parametrize("empty", ["", None])
def test_market_empty_fail_fields_are_none(empty):
    status = normalise_record(
        "market", market("success", {"resultUrls": []}, fail_code=empty, fail_msg=empty), task_id="t"
    )
    assert status.fail_code is None and status.fail_message is None


@pytest.mark.parametrize("result_json", ["", None])
def test_market_fail(result_json):
    data = market("fail", fail_code="422", fail_msg="Invalid prompt: prompt contains prohibited content")
    data["resultJson"] = result_json
    status = normalise_record("market", data, task_id="t")
    assert status.failed
    assert status.fail_code == "422"
    assert isinstance(status.error(), KieContentRejected)


def test_market_numeric_fail_code_and_credits():
    data = market("fail", fail_code=500, fail_msg="Internal server error", creditsConsumed=6.0)
    status = normalise_record("market", data, task_id="t")
    assert status.fail_code == "500"
    assert status.credits_consumed == 6.0
    assert isinstance(status.error(), KieGenerationFailed)


def test_market_without_credits_consumed():
    assert normalise_record("market", market("waiting"), task_id="t").credits_consumed is None


def test_unknown_state_keeps_polling():
    status = normalise_record("market", market("something_new"), task_id="t")
    assert status.state is TaskState.GENERATING


def veo(flag, urls=None, **extra):
    response = None if urls is None else {"taskId": "veo_1", "resultUrls": urls, "resolution": "1080p"}
    return {
        "taskId": "veo_1",
        "response": response,
        "successFlag": flag,
        "errorCode": None,
        "errorMessage": "",
        **extra,
    }


@pytest.mark.parametrize(
    "urls",
    [
        ["http://x/video1.mp4", "http://x/video2.mp4"],
        '["http://x/video1.mp4", "http://x/video2.mp4"]',
        "[http://x/video1.mp4, http://x/video2.mp4]",
    ],
)
def test_veo_result_urls_array_or_stringified(urls):
    status = normalise_record("veo", veo(1, urls), task_id="veo_1")
    assert status.succeeded
    assert [r.url for r in status.results] == ["http://x/video1.mp4", "http://x/video2.mp4"]
    assert status.results[1].metadata == {"index": 1, "resolution": "1080p"}
    assert status.results[0].kind == "video"


@pytest.mark.parametrize(
    ("flag", "state"), [(0, "generating"), (1, "success"), (2, "fail"), (3, "fail"), ("1", "success")]
)
def test_success_flags(flag, state):
    for family in ("veo", "gpt4o_image", "flux_kontext", "aleph"):
        data = {"taskId": "t", "successFlag": flag, "errorCode": 501 if state == "fail" else None, "errorMessage": ""}
        status = normalise_record(family, data, task_id="t")
        assert status.state == TaskState(state), family
        if state == "fail":
            assert status.fail_code == "501"
            assert status.fail_message is None


def test_veo_origin_urls():
    data = veo(1, ["http://x/v.mp4"])
    data["response"]["originUrls"] = ["http://x/o.mp4"]
    assert normalise_record("veo", data, task_id="t").results[0].metadata["origin_url"] == "http://x/o.mp4"


def test_gpt4o_progress_and_results():
    data = {"taskId": "t", "successFlag": 0, "status": "GENERATING", "progress": "0.45", "response": None}
    status = normalise_record("gpt4o_image", data, task_id="t")
    assert status.progress == 0.45 and status.stage == "GENERATING" and status.state is TaskState.GENERATING
    data = {
        "taskId": "t",
        "successFlag": 1,
        "status": "SUCCESS",
        "progress": "1.00",
        "response": {"resultUrls": ["https://x/1.png"]},
    }
    status = normalise_record("gpt4o_image", data, task_id="t")
    assert status.results[0].url == "https://x/1.png" and status.results[0].kind == "image"


def test_flux_result():
    data = {
        "taskId": "t",
        "successFlag": 1,
        "response": {"originImageUrl": "https://x/o.jpg", "resultImageUrl": "https://x/r.jpg"},
    }
    status = normalise_record("flux_kontext", data, task_id="t")
    assert status.results[0].url == "https://x/r.jpg"
    assert status.results[0].metadata["origin_image_url"] == "https://x/o.jpg"


def test_aleph_result():
    data = {
        "taskId": "t",
        "successFlag": 1,
        "response": {"resultVideoUrl": "https://x/r.mp4", "resultImageUrl": "https://x/c.jpg"},
    }
    status = normalise_record("aleph", data, task_id="t")
    assert status.results[0].kind == "video"
    assert status.results[0].metadata["image_url"] == "https://x/c.jpg"


@pytest.mark.parametrize(
    ("code", "message"),
    [(500, "Video generation failed"), ("400", ""), (None, "The input video could not be read"), ("", "Timeout")],
)
def test_aleph_failure_is_flag_0_with_an_error(code, message):
    """Aleph's details page: successFlag 0 means "failed or in progress"; only errorCode/errorMessage tell."""
    data = {"taskId": "t", "successFlag": 0, "response": None, "errorCode": code, "errorMessage": message}
    status = normalise_record("aleph", data, task_id="t")
    assert status.failed and status.is_terminal
    assert (status.fail_code, status.fail_message) == (str(code) if code not in (None, "") else None, message or None)


@pytest.mark.parametrize(("code", "message"), [(0, ""), (None, None), ("", ""), ("0", "")])
def test_aleph_flag_0_without_an_error_is_still_running(code, message):
    data = {"taskId": "t", "successFlag": 0, "response": None, "errorCode": code, "errorMessage": message}
    assert normalise_record("aleph", data, task_id="t").state is TaskState.GENERATING


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("wait", "waiting"),
        ("queueing", "queuing"),
        ("generating", "generating"),
        ("success", "success"),
        ("fail", "fail"),
    ],
)
def test_runway_states(state, expected):
    data = {
        "taskId": "t",
        "state": state,
        "videoInfo": {"videoId": "v1", "videoUrl": "https://x/v.mp4", "imageUrl": "https://x/c.png"}
        if state == "success"
        else None,
        "failCode": None if state != "fail" else 400,
        "failMsg": "" if state != "fail" else "flagged by moderation",
        "expireFlag": 0,
    }
    status = normalise_record("runway", data, task_id="t")
    assert status.state == TaskState(expected)
    if expected == "success":
        assert status.results[0].metadata == {
            "index": 0,
            "image_url": "https://x/c.png",
            "video_id": "v1",
            "expired": False,
        }
    if expected == "fail":
        assert status.fail_code == "400"
        assert isinstance(status.error(), KieContentRejected)


def suno(status, tracks=(), **extra):
    return {
        "taskId": "s1",
        "param": "{}",
        "response": {"taskId": "s1", "sunoData": list(tracks)},
        "status": status,
        "type": "chirp-v4",
        "operationType": "generate",
        "errorCode": None,
        "errorMessage": None,
        **extra,
    }


TRACK = {
    "id": "a1",
    "audioUrl": "https://x/a1.mp3",
    "streamAudioUrl": "https://x/s/a1",
    "imageUrl": "https://x/a1.jpeg",
    "prompt": "[Verse]",
    "modelName": "chirp-v4",
    "title": "Song",
    "tags": "rock",
    "createTime": "2025-01-01 00:00:00",
    "duration": 198.44,
}


def test_suno_stages():
    pending = normalise_record("suno", suno("PENDING"), task_id="s1")
    assert pending.state is TaskState.WAITING and pending.stage == "PENDING"
    text = normalise_record("suno", suno("TEXT_SUCCESS"), task_id="s1")
    assert text.state is TaskState.GENERATING and text.stage == "TEXT_SUCCESS"
    first = normalise_record(
        "suno", suno("FIRST_SUCCESS", [TRACK, {**TRACK, "id": "a2", "audioUrl": ""}]), task_id="s1"
    )
    assert first.state is TaskState.GENERATING and first.stage == "FIRST_SUCCESS"
    assert first.results[1].metadata["streaming_only"] is True
    done = normalise_record("suno", suno("SUCCESS", [TRACK]), task_id="s1")
    assert done.succeeded
    meta = done.results[0].metadata
    assert meta["audio_id"] == "a1" and meta["title"] == "Song" and meta["duration"] == 198.44
    assert meta["image_url"] == "https://x/a1.jpeg"
    assert done.results[0].kind == "audio"


@pytest.mark.parametrize("status", ["CREATE_TASK_FAILED", "GENERATE_AUDIO_FAILED", "SENSITIVE_WORD_ERROR"])
def test_suno_failures(status):
    result = normalise_record("suno", suno(status), task_id="s1")
    assert result.failed and result.stage == status
    assert result.fail_message
    if status == "SENSITIVE_WORD_ERROR":
        assert isinstance(result.error(), KieContentRejected)


def test_suno_callback_exception_with_complete_tracks_counts_as_success():
    assert normalise_record("suno", suno("CALLBACK_EXCEPTION", [TRACK]), task_id="s1").succeeded
    assert normalise_record("suno", suno("CALLBACK_EXCEPTION"), task_id="s1").failed


def test_suno_snake_case_tracks():
    track = {"id": "a1", "audio_url": "https://x/a.mp3", "image_url": "https://x/i.jpg", "duration": "12.5"}
    status = normalise_record("suno", suno("SUCCESS", [track]), task_id="s1")
    assert status.results[0].url == "https://x/a.mp3" and status.results[0].metadata["duration"] == 12.5


def test_suno_lyrics():
    data = {
        "taskId": "l1",
        "status": "SUCCESS",
        "response": {
            "taskId": "l1",
            "data": [{"text": "[Verse] la", "title": "T", "status": "complete", "errorMessage": ""}],
        },
    }
    status = normalise_record("suno_lyrics", data, task_id="l1")
    assert status.succeeded
    assert status.result_object == {
        "lyrics": [{"text": "[Verse] la", "title": "T", "status": "complete", "error_message": None}]
    }


def test_suno_vocal_separation_string_flag():
    data = {
        "taskId": "v1",
        "successFlag": "SUCCESS",
        "response": {
            "originUrl": None,
            "instrumentalUrl": "https://x/i.mp3",
            "vocalUrl": "https://x/v.mp3",
            "drumsUrl": None,
        },
    }
    status = normalise_record("suno_vocal_removal", data, task_id="v1")
    assert status.succeeded
    assert {r.metadata["name"]: r.url for r in status.results} == {
        "instrumental": "https://x/i.mp3",
        "vocal": "https://x/v.mp3",
    }
    pending = normalise_record("suno_vocal_removal", {"successFlag": "PENDING"}, task_id="v1")
    assert pending.state is TaskState.WAITING
    failed = normalise_record("suno_wav", {"successFlag": "GENERATE_WAV_FAILED", "errorMessage": "x"}, task_id="w")
    assert failed.failed


def test_suno_wav_mp4_midi():
    wav = normalise_record(
        "suno_wav", {"successFlag": "SUCCESS", "response": {"audioWavUrl": "https://x/a.wav"}}, task_id="w"
    )
    assert wav.results[0].kind == "audio"
    mp4 = normalise_record("suno_mp4", {"successFlag": "SUCCESS", "response": {"videoUrl": "https://x/v"}}, task_id="m")
    assert mp4.results[0].kind == "video"
    midi = normalise_record(
        "suno_midi", {"successFlag": 1, "midiData": {"state": "complete", "instruments": []}}, task_id="m"
    )
    assert midi.succeeded and midi.result_object == {"midi": {"state": "complete", "instruments": []}}


def test_unknown_family_refused():
    with pytest.raises(ValueError):
        normalise_record("sora", {}, task_id="x")


def test_missing_data_is_still_a_status():
    assert normalise_record("market", None, task_id="x").state is TaskState.GENERATING


def test_helpers():
    assert parse_url_list(None) == [] and parse_url_list("") == [] and parse_url_list("https://a") == ["https://a"]
    assert kind_from_url("https://x/a.JPG?sig=1") == "image"
    assert kind_from_url("https://x/noext") is None
    assert ok(1)["data"] == 1
