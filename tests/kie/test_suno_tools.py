"""The client's Suno mashup, replace section, cover art, persona and style-boost calls, and the cover record."""

from __future__ import annotations

import json

import httpx
import pytest

from kiestudio.kie import KieBadRequest, KieGenerationFailed, KieMalformedResponse, TaskState, normalise_record
from kiestudio.kie.catalog import get_model

from .conftest import ok

CREATED = ok({"taskId": "task_9"})


def sent(rec, index=-1):
    request = rec.requests[index]
    return request.method, request.url.path, json.loads(request.content) if request.content else None


def test_the_catalog_entries_reach_their_own_endpoints(make_client):
    client, rec = make_client(CREATED)
    inputs = {"uploadUrlList": ["https://a/1.mp3", "https://a/2.mp3"], "prompt": "Blend", "customMode": False}
    client.create_task(get_model("suno/mashup"), inputs, callback_url="https://studio/cb")
    assert sent(rec) == (
        "POST",
        "/api/v1/generate/mashup",
        {**inputs, "model": "V5", "callBackUrl": "https://studio/cb"},
    )
    section = {"taskId": "t1", "audioId": "a1", "infillStartS": 1.5, "infillEndS": 9.0, "prompt": "New"}
    client.create_task(get_model("suno/replace-section"), section, callback_url=None)
    method, path, body = sent(rec)
    assert (method, path) == ("POST", "/api/v1/generate/replace-section") and "model" not in body
    client.create_task(get_model("suno/cover-art"), {"taskId": "t1"}, callback_url="https://studio/cb")
    assert sent(rec) == ("POST", "/api/v1/suno/cover/generate", {"taskId": "t1", "callBackUrl": "https://studio/cb"})


@pytest.mark.parametrize(
    ("family", "path"),
    [
        ("suno_mashup", "/api/v1/generate/record-info"),
        ("suno_section", "/api/v1/generate/record-info"),
        ("suno_cover", "/api/v1/suno/cover/record-info"),
    ],
)
def test_records_are_read_where_kie_keeps_them(make_client, family, path):
    client, rec = make_client(ok({"taskId": "abc"}))
    client.get_task(family, "abc")
    assert rec.requests[-1].url.path == path and dict(rec.requests[-1].url.params) == {"taskId": "abc"}


def cover(flag, **extra):
    return {"taskId": "c1", "parentTaskId": "m1", "successFlag": flag, "response": None, **extra}


@pytest.mark.parametrize(
    ("flag", "state"),
    [(0, TaskState.WAITING), (2, TaskState.GENERATING), ("2", TaskState.GENERATING), ("PENDING", TaskState.WAITING)],
)
def test_a_cover_still_being_drawn_is_not_a_failure(flag, state):
    # Unlike the other families' flags, the cover record's 2 means "drawing", not "failed".
    status = normalise_record("suno_cover", cover(flag), task_id="c1")
    assert status.state is state and not status.is_terminal


def test_a_finished_cover_gives_its_pictures_and_a_failed_one_its_reason():
    urls = ["https://tempfile.aiquickdraw.com/s/1.png", "https://tempfile.aiquickdraw.com/s/2.png"]
    done = normalise_record(
        "suno_cover", cover(1, response={"images": urls}, errorCode=200, errorMessage=""), task_id="c1"
    )
    assert done.succeeded and [r.url for r in done.results] == urls and {r.kind for r in done.results} == {"image"}
    assert done.results[1].metadata == {"index": 1, "name": "Cover 2"}
    failed = normalise_record("suno_cover", cover(3, errorCode=500, errorMessage="Internal error"), task_id="c1")
    assert failed.failed and failed.fail_code == "500" and failed.fail_message == "Internal error"
    words = normalise_record("suno_cover", {"taskId": "c1", "status": "GENERATE_COVER_FAILED"}, task_id="c1")
    assert words.failed and words.fail_message == "Kie couldn't draw the cover art."


def test_mashup_and_section_records_are_suno_tracks():
    record = {
        "taskId": "m1",
        "status": "SUCCESS",
        "response": {"sunoData": [{"id": "a1", "audioUrl": "https://x/1.mp3", "title": "Blend", "duration": 9.5}]},
    }
    for family in ("suno_mashup", "suno_section"):
        status = normalise_record(family, record, task_id="m1")
        assert status.succeeded and status.results[0].metadata["audio_id"] == "a1"


def test_a_persona_comes_back_at_once(make_client):
    client, rec = make_client(ok({"personaId": "p-1", "name": "Crooner", "description": "Soft"}))
    persona = client.suno_generate_persona("t1", "a1", name="Crooner", description="Soft")
    assert (persona.persona_id, persona.name, persona.description) == ("p-1", "Crooner", "Soft")
    body = {"taskId": "t1", "audioId": "a1", "name": "Crooner", "description": "Soft"}
    assert sent(rec) == ("POST", "/api/v1/generate/generate-persona", body)


def test_kie_refusing_a_second_persona_is_a_bad_request_with_its_code(make_client):
    client, _ = make_client(httpx.Response(200, json={"code": 409, "msg": "Persona already exists"}))
    with pytest.raises(KieBadRequest) as refused:
        client.suno_generate_persona("t1", "a1", name="Crooner", description="Soft")
    assert refused.value.code == 409
    client, _ = make_client(ok({"name": "Crooner"}))
    with pytest.raises(KieMalformedResponse):
        client.suno_generate_persona("t1", "a1", name="Crooner", description="Soft")


def test_style_boost_reads_the_text_and_its_cost(make_client):
    answer = {
        "taskId": "s1",
        "result": "  Pop, mysterious: a slow build.  ",
        "creditsConsumed": 0.4,
        "successFlag": "1",
    }
    client, rec = make_client(ok(answer))
    boosted = client.suno_boost_style("Pop, mysterious")
    assert boosted.text == "Pop, mysterious: a slow build." and boosted.credits_consumed == 0.4
    assert boosted.task_id == "s1"
    assert sent(rec) == ("POST", "/api/v1/style/generate", {"content": "Pop, mysterious"})


def test_a_failed_style_boost_says_why(make_client):
    failed = {"taskId": "s1", "result": None, "successFlag": "2", "errorCode": 500, "errorMessage": "Model busy"}
    client, _ = make_client(ok(failed))
    with pytest.raises(KieGenerationFailed) as refused:
        client.suno_boost_style("rock")
    assert "Model busy" in refused.value.user_message
    client, _ = make_client(ok({"taskId": "s1", "successFlag": "0"}))
    with pytest.raises(KieMalformedResponse):
        client.suno_boost_style("rock")
