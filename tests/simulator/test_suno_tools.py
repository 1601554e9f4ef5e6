"""Suno's mashup, replace section, cover art, personas and style boost, over real HTTP, checked against the shapes
of Kie's own doc pages (henjicc/Henji-AI, docs/api/KIE/Suno API/Music Generation: 179–184, callbacks 169/170)."""

from __future__ import annotations

import io
import json
import time
import wave
from decimal import Decimal

from PIL import Image

from . import contract_examples as ex
from .helpers import client_for, same_shape

CB = "http://127.0.0.1:9/never"
SOURCES = ["https://example.com/a.mp3", "https://example.com/b.mp3"]

# The examples of Kie's pages (values only stand for their JSON types).
COVER_RECORD = {
    "taskId": "21aee3c3c2a01fa5e030b3799fa4dd56",
    "parentTaskId": "73d6128b3523a0079df10da9471017c8",
    "callbackUrl": None,
    "completeTime": "2025-01-15T10:35:27.000Z",
    "response": {"images": ["https://tempfile.aiquickdraw.com/s/1.png"]},
    "successFlag": 1,
    "createTime": "2025-01-15T10:33:01.000Z",
    "errorCode": 200,
    "errorMessage": "",
}
COVER_CALLBACK = {"code": 200, "msg": "success", "data": {"taskId": "21ae", "images": ["https://x/1.png"]}}
REPLACE_CALLBACK = {
    "code": 200,
    "msg": "All generated successfully.",
    "data": {"callbackType": "complete", "task_id": "2fac", "data": [ex.SUNO_CALLBACK["data"]["data"][0]]},
}
PERSONA_ANSWER = {"personaId": "a1b2c3d4", "name": "Electronic pop singer", "description": "Modern electro-pop"}
STYLE_ANSWER = {
    "taskId": "x",
    "param": "{}",
    "result": "text",
    "creditsConsumed": 0.4,
    "creditsRemaining": 100.0,
    "successFlag": "1",
    "errorCode": None,
    "errorMessage": None,
    "createTime": "2025-01-01 00:00:00",
}


def ok_data(response):
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == 200, body
    return body["data"]


def refused(response) -> dict:
    body = response.json()
    assert body["code"] != 200, body
    return body


def music(client, **extra) -> tuple[str, list[dict]]:
    body = {"prompt": "a song about rain", "customMode": False, "instrumental": False, "model": "V5", "callBackUrl": CB}
    task_id = ok_data(client.post("/api/v1/generate", json={**body, **extra}))["taskId"]
    record = ok_data(client.get("/api/v1/generate/record-info", params={"taskId": task_id}))
    return task_id, record["response"]["sunoData"]


def mashup_body(**extra) -> dict:
    body = {
        "uploadUrlList": SOURCES,
        "customMode": False,
        "prompt": "the two songs as one summer anthem",
        "model": "V5",
        "callBackUrl": CB,
    }
    body.update(extra)
    return body


# --- Mashup ---------------------------------------------------------------------------------------------------


def test_mashup_makes_two_tracks_read_from_suno_s_record(client, kie):
    before = kie.sim.balance
    task_id = ok_data(client.post("/api/v1/generate/mashup", json=mashup_body()))["taskId"]
    data = ok_data(client.get("/api/v1/generate/record-info", params={"taskId": task_id}))
    assert set(data) == ex.SUNO_RECORD_FIELDS and data["status"] == "SUCCESS"
    assert data["operationType"] == "mashup" and json.loads(data["param"])["uploadUrlList"] == SOURCES
    tracks = data["response"]["sunoData"]
    assert len(tracks) == 2 and all(set(t) == ex.SUNO_TRACK_FIELDS for t in tracks)
    with wave.open(io.BytesIO(client.get(tracks[0]["audioUrl"]).content)) as audio:
        assert audio.getnframes() > 0
    assert before - kie.sim.balance == Decimal(12)  # Suno, Mashup: $0.06
    custom = mashup_body(customMode=True, style="disco house", title="Two as one", prompt="We dance as one", model="V4")
    custom_id = ok_data(client.post("/api/v1/generate/mashup", json=custom))["taskId"]
    tracks = ok_data(client.get("/api/v1/generate/record-info", params={"taskId": custom_id}))["response"]["sunoData"]
    assert {t["title"] for t in tracks} == {"Two as one"} and tracks[0]["tags"] == "disco house"


def test_mashup_is_refused_as_kie_documents(client, kie):
    one = refused(client.post("/api/v1/generate/mashup", json=mashup_body(uploadUrlList=SOURCES[:1])))
    assert one["code"] == 422 and "uploadUrlList" in one["msg"]
    three = refused(client.post("/api/v1/generate/mashup", json=mashup_body(uploadUrlList=[*SOURCES, SOURCES[0]])))
    assert three["code"] == 422
    no_model = refused(client.post("/api/v1/generate/mashup", json=mashup_body(model=None)))
    assert no_model["code"] == 422 and "model" in no_model["msg"]
    no_callback = refused(client.post("/api/v1/generate/mashup", json=mashup_body(callBackUrl=None)))
    assert no_callback["code"] == 422 and "callBackUrl" in no_callback["msg"]
    custom = refused(client.post("/api/v1/generate/mashup", json=mashup_body(customMode=True)))
    assert custom["code"] == 422 and ("style" in custom["msg"] or "title" in custom["msg"])
    long = refused(client.post("/api/v1/generate/mashup", json=mashup_body(prompt="x" * 501)))
    assert long["code"] == 422 and "prompt" in long["msg"]
    string_flag = refused(client.post("/api/v1/generate/mashup", json=mashup_body(customMode="false")))
    assert string_flag["code"] == 422 and "customMode" in string_flag["msg"]
    assert not [task for task in kie.sim.tasks.values() if task.op == "mashup"]


# --- Replace section ------------------------------------------------------------------------------------------


def replace_body(task_id: str, audio_id: str, **extra) -> dict:
    body = {
        "taskId": task_id,
        "audioId": audio_id,
        "prompt": "A brand new bridge",
        "tags": "lo-fi, warm",
        "title": "Rain (new bridge)",
        "infillStartS": 2.5,
        "infillEndS": 9.0,
        "fullLyrics": "[Verse]\nOld line\n[Bridge]\nA brand new bridge",
        "callBackUrl": CB,
    }
    body.update(extra)
    return body


def test_replace_section_answers_one_track_of_the_source_s_length(make_sim):
    kie = make_sim(audio_seconds=12.0)
    with client_for(kie) as client:
        task_id, tracks = music(client)
        source = tracks[1]
        before = kie.sim.balance
        replaced = ok_data(client.post("/api/v1/generate/replace-section", json=replace_body(task_id, source["id"])))[
            "taskId"
        ]
        data = ok_data(client.get("/api/v1/generate/record-info", params={"taskId": replaced}))
        assert set(data) == ex.SUNO_RECORD_FIELDS and data["status"] == "SUCCESS"
        assert data["operationType"] == "replace_section" and data["parentMusicId"] == source["id"]
        [track] = data["response"]["sunoData"]
        assert track["duration"] == source["duration"] and track["id"] != source["id"]
        assert track["prompt"] == "[Verse]\nOld line\n[Bridge]\nA brand new bridge"
        assert track["title"] == "Rain (new bridge)" and track["tags"] == "lo-fi, warm"
        with wave.open(io.BytesIO(client.get(track["audioUrl"]).content)) as audio:
            assert abs(audio.getnframes() / audio.getframerate() - source["duration"]) < 0.01
        assert before - kie.sim.balance == Decimal(5)  # Suno, Replace Music Section: $0.025

        def refusal(**extra) -> dict:
            return refused(
                client.post("/api/v1/generate/replace-section", json=replace_body(task_id, source["id"], **extra))
            )

        assert refusal(infillEndS=7.0)["code"] == 422  # 4.5 s: under 6
        assert "60" in refusal(infillStartS=0, infillEndS=61)["msg"]
        assert refusal(infillStartS=5, infillEndS=5)["code"] == 422
        assert "12" in refusal(infillStartS=4, infillEndS=12.5)["msg"]  # past the end of the song
        assert "fullLyrics" in refusal(fullLyrics="")["msg"]
        assert refusal(infillStartS="2.5")["code"] == 422
        assert refusal(audioId="nope")["code"] == 422
        missing = client.post("/api/v1/generate/replace-section", json=replace_body("0" * 32, source["id"]))
        assert missing.status_code == 404


def test_replace_section_calls_back_once_when_complete(make_sim, receiver):
    kie = make_sim(audio_seconds=12.0)
    with client_for(kie) as client:
        task_id, tracks = music(client)
        body = replace_body(task_id, tracks[0]["id"], callBackUrl=receiver.url("/replace"))
        replaced = ok_data(client.post("/api/v1/generate/replace-section", json=body))["taskId"]
        [callback] = receiver.wait(1)
    assert callback["path"] == "/replace"
    assert same_shape(callback["body"], REPLACE_CALLBACK) == []
    assert callback["body"]["data"]["task_id"] == replaced and len(callback["body"]["data"]["data"]) == 1


# --- Cover art ------------------------------------------------------------------------------------------------


def test_cover_art_has_its_own_record_with_two_pictures_and_is_drawn_once_per_task(client, kie):
    task_id, _ = music(client)
    cover = ok_data(client.post("/api/v1/suno/cover/generate", json={"taskId": task_id, "callBackUrl": CB}))["taskId"]
    data = ok_data(client.get("/api/v1/suno/cover/record-info", params={"taskId": cover}))
    assert same_shape(data, COVER_RECORD) == [] and set(data) == set(COVER_RECORD)
    assert data["successFlag"] == 1 and data["parentTaskId"] == task_id and data["callbackUrl"] == CB
    images = data["response"]["images"]
    assert len(images) == 2
    for url in images:
        assert Image.open(io.BytesIO(client.get(url).content)).format == "PNG"
    # Music's own record doesn't know the cover task, and the cover record doesn't know music tasks.
    assert client.get("/api/v1/generate/record-info", params={"taskId": cover}).status_code == 404
    assert client.get("/api/v1/suno/cover/record-info", params={"taskId": task_id}).status_code == 404
    # A second request for the same music: 400 with the task that already has it.
    again = client.post("/api/v1/suno/cover/generate", json={"taskId": task_id})
    assert again.status_code == 400 and again.json()["data"] == {"taskId": cover}
    assert client.post("/api/v1/suno/cover/generate", json={}).json()["code"] == 422
    assert client.post("/api/v1/suno/cover/generate", json={"taskId": "0" * 32}).status_code == 404


def test_cover_art_flags_run_waiting_drawing_done_and_call_back(make_sim, receiver):
    kie = make_sim(read_rate_limit_enabled=False)
    with client_for(kie) as client:
        task_id, _ = music(client)
        kie.sim.config.state_seconds = {"waiting": 0.2, "generating": 0.3}
        body = {"taskId": task_id, "callBackUrl": receiver.url("/cover")}
        cover = ok_data(client.post("/api/v1/suno/cover/generate", json=body))["taskId"]
        flags: list[int] = []
        deadline = time.monotonic() + 3
        while (not flags or flags[-1] != 1) and time.monotonic() < deadline:
            flag = ok_data(client.get("/api/v1/suno/cover/record-info", params={"taskId": cover}))["successFlag"]
            if not flags or flags[-1] != flag:
                flags.append(flag)
            time.sleep(0.01)
        [callback] = receiver.wait(1)
    assert flags == [0, 2, 1]
    assert callback["path"] == "/cover"
    assert same_shape(callback["body"], COVER_CALLBACK) == [] and callback["body"]["data"]["taskId"] == cover


def test_a_failed_cover_reads_flag_3_with_the_reason(client, kie):
    task_id, _ = music(client)
    cover = ok_data(client.post("/api/v1/suno/cover/generate", json={"taskId": task_id}))["taskId"]
    kie.sim.tasks[cover].fail = ("500", "Cover drawing failed")
    data = ok_data(client.get("/api/v1/suno/cover/record-info", params={"taskId": cover}))
    assert data["successFlag"] == 3 and data["response"] is None
    assert data["errorCode"] == 500 and data["errorMessage"] == "Cover drawing failed"
    # Music that failed has nothing to draw a cover for.
    body = {"prompt": "rain [sim:fail]", "customMode": False, "instrumental": False, "model": "V5", "callBackUrl": CB}
    failed = ok_data(client.post("/api/v1/generate", json=body))["taskId"]
    assert refused(client.post("/api/v1/suno/cover/generate", json={"taskId": failed}))["code"] == 422


# --- Personas -------------------------------------------------------------------------------------------------


def test_a_persona_is_made_once_per_track_from_generated_music(client, kie):
    task_id, tracks = music(client)
    body = {"taskId": task_id, "audioId": tracks[0]["id"], "name": "Rainy crooner", "description": "Soft male pop"}
    persona = ok_data(client.post("/api/v1/generate/generate-persona", json=body))
    assert same_shape(persona, PERSONA_ANSWER) == [] and set(persona) == set(PERSONA_ANSWER)
    assert persona["name"] == "Rainy crooner" and persona["description"] == "Soft male pop" and persona["personaId"]
    again = refused(client.post("/api/v1/generate/generate-persona", json=body))
    assert again["code"] == 409
    other = ok_data(client.post("/api/v1/generate/generate-persona", json={**body, "audioId": tracks[1]["id"]}))
    assert other["personaId"] != persona["personaId"]
    assert refused(client.post("/api/v1/generate/generate-persona", json={**body, "name": ""}))["code"] == 422
    assert refused(client.post("/api/v1/generate/generate-persona", json={**body, "audioId": "x"}))["code"] == 422
    cover = ok_data(
        client.post(
            "/api/v1/generate/upload-cover",
            json={
                "uploadUrl": SOURCES[0],
                "customMode": False,
                "instrumental": True,
                "prompt": "jazzy",
                "model": "V5",
                "callBackUrl": CB,
            },
        )
    )["taskId"]
    cover_track = ok_data(client.get("/api/v1/generate/record-info", params={"taskId": cover}))["response"]["sunoData"]
    from_cover = refused(
        client.post(
            "/api/v1/generate/generate-persona", json={**body, "taskId": cover, "audioId": cover_track[0]["id"]}
        )
    )
    assert from_cover["code"] == 422 and "taskId" in from_cover["msg"]
    assert kie.sim.log.entries[-1].kind == "create"


# --- Style boost ----------------------------------------------------------------------------------------------


def test_style_boost_answers_richer_text_at_once_and_charges_per_request(client, kie):
    before = kie.sim.balance
    data = ok_data(client.post("/api/v1/style/generate", json={"content": "pop, mysterious"}))
    assert same_shape(data, STYLE_ANSWER) == [] and set(data) == set(STYLE_ANSWER)
    assert data["successFlag"] == "1" and data["result"].startswith("Pop, mysterious")
    assert len(data["result"]) > 3 * len("pop, mysterious")
    assert Decimal(str(data["creditsConsumed"])) == before - kie.sim.balance == Decimal("0.4")
    assert data["creditsRemaining"] == float(kie.sim.balance)
    assert json.loads(data["param"]) == {"content": "pop, mysterious"}
    # The same words get the same answer.
    again = ok_data(client.post("/api/v1/style/generate", json={"content": "pop, mysterious"}))
    assert again["result"] == data["result"]
    assert refused(client.post("/api/v1/style/generate", json={"content": " "}))["code"] == 422


def test_style_boost_failures(make_sim):
    kie = make_sim()
    with client_for(kie) as client:
        failed = ok_data(
            client.post("/api/v1/style/generate", json={"content": "rock [sim:fail 500 Style model busy]"})
        )
        assert failed["successFlag"] == "2" and failed["result"] is None
        assert failed["errorCode"] == 500 and failed["errorMessage"] == "Style model busy"
        assert kie.sim.balance == Decimal(str(kie.sim.config.balance))  # not charged
        kie.sim.set_balance("0.1")
        poor = refused(client.post("/api/v1/style/generate", json={"content": "rock"}))
        assert poor["code"] == 402
        server = client.post("/api/v1/style/generate", json={"content": "rock [sim:5xx]"})
        assert server.status_code == 500
