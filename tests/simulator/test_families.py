from __future__ import annotations

import io
import json
import time
import wave

import av
from PIL import Image

from . import contract_examples as ex
from .helpers import client_for, same_shape

CB = "http://127.0.0.1:9/never"


def ok_data(response):
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == 200, body
    return body["data"]


def create(client, path, **body):
    return ok_data(client.post(path, json=body))["taskId"]


def get(client, path, task_id):
    return ok_data(client.get(path, params={"taskId": task_id}))


# ------------------------------------------------------------------------------------------------ Veo


def test_veo_generate_record_and_media(client):
    task_id = create(client, "/api/v1/veo/generate", prompt="a boat at dawn", aspect_ratio="9:16")
    assert task_id.startswith("veo_task_")
    body = client.get("/api/v1/veo/record-info", params={"taskId": task_id}).json()
    assert same_shape(body, ex.VEO_RECORD_INFO) == []
    data = body["data"]
    assert data["successFlag"] == 1 and data["response"]["originUrls"]  # 9:16 -> origin URLs
    assert json.loads(data["paramJson"])["prompt"] == "a boat at dawn"
    assert len(data["completeTime"]) == 19 and data["completeTime"][4] == "-"  # string times
    with av.open(io.BytesIO(client.get(data["response"]["resultUrls"][0]).content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.height > stream.width


def test_veo_accepts_both_aspect_ratio_spellings_and_validates(client):
    task_id = create(client, "/api/v1/veo/generate", prompt="x", aspectRatio="9:16", model="veo3")
    assert get(client, "/api/v1/veo/record-info", task_id)["response"]["originUrls"]
    bad = client.post("/api/v1/veo/generate", json={"prompt": "x", "model": "veo9"}).json()
    assert bad["code"] == 422 and "model" in bad["msg"]
    no_prompt = client.post("/api/v1/veo/generate", json={"model": "veo3_fast"}).json()
    assert no_prompt["code"] == 422 and "prompt" in no_prompt["msg"]
    unknown = client.get("/api/v1/veo/record-info", params={"taskId": "nope"}).json()
    assert unknown["code"] == 422 and unknown["msg"] == "record is empty"


def test_veo_extend_collects_full_result_urls(client):
    first = create(client, "/api/v1/veo/generate", prompt="a boat")
    second = create(client, "/api/v1/veo/extend", taskId=first, prompt="the boat sails on", model="fast")
    data = get(client, "/api/v1/veo/record-info", second)
    assert len(data["response"]["fullResultUrls"]) == 2
    assert (
        data["response"]["fullResultUrls"][0]
        == get(client, "/api/v1/veo/record-info", first)["response"]["resultUrls"][0]
    )
    bad = client.post("/api/v1/veo/extend", json={"taskId": "nope", "prompt": "x"}).json()
    assert bad["code"] == 422


def test_veo_1080p_is_processing_for_the_first_calls(make_sim):
    kie = make_sim(veo_1080p_pending_calls=2)
    with client_for(kie) as client:
        task_id = create(client, "/api/v1/veo/generate", prompt="a boat")
        for _ in range(2):
            response = client.get("/api/v1/veo/get-1080p-video", params={"taskId": task_id, "index": 0})
            assert response.status_code == 200
            assert response.json()["code"] == 400 and "1080P is processing" in response.json()["msg"]
        data = ok_data(client.get("/api/v1/veo/get-1080p-video", params={"taskId": task_id, "index": 0}))
        assert data["resultUrl"].endswith(".mp4") and client.get(data["resultUrl"]).status_code == 200


def test_veo_1080p_is_processing_for_the_first_seconds(make_sim):
    kie = make_sim(veo_1080p_pending_calls=0, veo_1080p_pending_seconds=0.3)
    with client_for(kie) as client:
        task_id = create(client, "/api/v1/veo/generate", prompt="a boat")
        assert client.get("/api/v1/veo/get-1080p-video", params={"taskId": task_id}).json()["code"] == 400
        time.sleep(0.32)
        assert client.get("/api/v1/veo/get-1080p-video", params={"taskId": task_id}).json()["code"] == 200


def test_veo_4k_answers_with_the_task_id(client):
    task_id = create(client, "/api/v1/veo/generate", prompt="a boat")
    body = client.post("/api/v1/veo/get-4k-video", json={"taskId": task_id, "index": 0}).json()
    assert body == {"code": 200, "msg": "success", "data": {"taskId": task_id}}


# ---------------------------------------------------------------------------------------------- Suno


def suno_body(**extra):
    body = {"prompt": "a song about rain", "customMode": False, "instrumental": False, "model": "V5", "callBackUrl": CB}
    body.update(extra)
    return body


def test_suno_status_goes_pending_text_first_success(make_sim):
    kie = make_sim(state_seconds={"generating": 0.6}, read_rate_limit_enabled=False, callbacks=False)
    with client_for(kie) as client:
        task_id = create(client, "/api/v1/generate", **suno_body())
        seen = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            data = get(client, "/api/v1/generate/record-info", task_id)
            if not seen or seen[-1] != data["status"]:
                seen.append(data["status"])
                if data["status"] == "FIRST_SUCCESS":
                    tracks = data["response"]["sunoData"]
                    assert tracks[0]["audioUrl"] and not tracks[1]["audioUrl"]
                if data["status"] == "TEXT_SUCCESS":
                    assert all(t["streamAudioUrl"] and not t["audioUrl"] for t in data["response"]["sunoData"])
            if data["status"] == "SUCCESS":
                break
            time.sleep(0.02)
        assert seen == ["PENDING", "TEXT_SUCCESS", "FIRST_SUCCESS", "SUCCESS"]


def test_suno_record_shape_two_tracks_and_real_audio(client):
    task_id = create(client, "/api/v1/generate", **suno_body())
    data = get(client, "/api/v1/generate/record-info", task_id)
    assert set(data) == ex.SUNO_RECORD_FIELDS
    assert data["operationType"] == "generate" and json.loads(data["param"])["model"] == "V5"
    tracks = data["response"]["sunoData"]
    assert len(tracks) == 2 and all(set(t) == ex.SUNO_TRACK_FIELDS for t in tracks)
    for track in tracks:
        with wave.open(io.BytesIO(client.get(track["audioUrl"]).content)) as audio:
            assert abs(audio.getnframes() / audio.getframerate() - track["duration"]) < 0.01
        assert Image.open(io.BytesIO(client.get(track["imageUrl"]).content)).format == "JPEG"


def test_suno_validation(client):
    assert client.post("/api/v1/generate", json=suno_body(callBackUrl=None)).json()["code"] == 422
    assert client.post("/api/v1/generate", json=suno_body(model="V9")).json()["code"] == 422
    custom = client.post("/api/v1/generate", json=suno_body(customMode=True, instrumental=True)).json()
    assert custom["code"] == 422 and ("style" in custom["msg"] or "title" in custom["msg"])
    long_prompt = client.post("/api/v1/generate", json=suno_body(prompt="x" * 501)).json()
    assert long_prompt["code"] == 422 and "prompt" in long_prompt["msg"]
    ok = client.post(
        "/api/v1/generate", json=suno_body(customMode=True, instrumental=True, style="lo-fi", title="Rain", prompt="")
    ).json()
    assert ok["code"] == 200


def test_suno_follow_up_operations(client):
    music = create(client, "/api/v1/generate", **suno_body())
    tracks = get(client, "/api/v1/generate/record-info", music)["response"]["sunoData"]
    audio_id = tracks[0]["id"]

    extended = create(
        client, "/api/v1/generate/extend", audioId=audio_id, defaultParamFlag=False, model="V5", callBackUrl=CB
    )
    data = get(client, "/api/v1/generate/record-info", extended)
    assert data["operationType"] == "extend" and data["parentMusicId"] == audio_id
    cover = create(
        client,
        "/api/v1/generate/upload-cover",
        uploadUrl="https://example.com/a.mp3",
        customMode=False,
        instrumental=True,
        prompt="jazzy",
        model="V4_5",
        callBackUrl=CB,
    )
    assert get(client, "/api/v1/generate/record-info", cover)["operationType"] == "upload_cover"
    upload_extend = create(
        client,
        "/api/v1/generate/upload-extend",
        uploadUrl="https://example.com/a.mp3",
        defaultParamFlag=False,
        model="V5",
        callBackUrl=CB,
    )
    assert len(get(client, "/api/v1/generate/record-info", upload_extend)["response"]["sunoData"]) == 2
    vocals = create(
        client,
        "/api/v1/generate/add-vocals",
        uploadUrl="https://example.com/a.mp3",
        prompt="la la",
        title="T",
        negativeTags="metal",
        style="pop",
    )
    instrumental = create(
        client,
        "/api/v1/generate/add-instrumental",
        uploadUrl="https://example.com/a.mp3",
        title="T",
        negativeTags="metal",
        tags="ambient",
    )
    for task_id in (vocals, instrumental):
        assert get(client, "/api/v1/generate/record-info", task_id)["status"] == "SUCCESS"

    stamped = ok_data(
        client.post("/api/v1/generate/get-timestamped-lyrics", json={"taskId": music, "audioId": audio_id})
    )
    assert stamped["alignedWords"] and {"word", "success", "startS", "endS", "palign"} == set(
        stamped["alignedWords"][0]
    )
    assert isinstance(stamped["waveformData"], list) and isinstance(stamped["hootCer"], float)

    wav = create(client, "/api/v1/wav/generate", taskId=music, audioId=audio_id, callBackUrl=CB)
    wav_data = get(client, "/api/v1/wav/record-info", wav)
    assert wav_data["successFlag"] == "SUCCESS" and wav_data["musicId"] == audio_id
    assert client.get(wav_data["response"]["audioWavUrl"]).content[:4] == b"RIFF"

    mp4 = create(client, "/api/v1/mp4/generate", taskId=music, audioId=audio_id, author="me")
    video_url = get(client, "/api/v1/mp4/record-info", mp4)["response"]["videoUrl"]
    assert client.get(video_url).content[4:8] == b"ftyp"


def test_suno_vocal_removal_both_types_and_midi(client):
    music = create(client, "/api/v1/generate", **suno_body())
    audio_id = get(client, "/api/v1/generate/record-info", music)["response"]["sunoData"][1]["id"]

    split = create(client, "/api/v1/vocal-removal/generate", taskId=music, audioId=audio_id, callBackUrl=CB)
    response = get(client, "/api/v1/vocal-removal/record-info", split)["response"]
    assert response["vocalUrl"] and response["instrumentalUrl"] and response["drumsUrl"] is None
    assert [item["stem_type_group_name"] for item in response["originData"]] == ["Instrumental", "Vocals"]

    stems = create(
        client, "/api/v1/vocal-removal/generate", taskId=music, audioId=audio_id, type="split_stem", callBackUrl=CB
    )
    data = get(client, "/api/v1/vocal-removal/record-info", stems)
    response = data["response"]
    assert data["musicIndex"] == 1 and response["instrumentalUrl"] is None
    filled = [key for key, value in response.items() if key.endswith("Url") and value]
    assert len(filled) >= 6 and len(response["originData"]) == len(filled)
    for key in filled:
        assert client.get(response[key]).content[:4] == b"RIFF"

    bad = client.post(
        "/api/v1/vocal-removal/generate", json={"taskId": music, "audioId": audio_id, "type": "x", "callBackUrl": CB}
    ).json()
    assert bad["code"] == 422

    midi = create(client, "/api/v1/midi/generate", taskId=stems, callBackUrl=CB)
    data = get(client, "/api/v1/midi/record-info", midi)
    assert data["successFlag"] == 1 and data["midiData"]["state"] == "complete"
    note = data["midiData"]["instruments"][0]["notes"][0]
    assert set(note) == {"pitch", "start", "end", "velocity"} and 0 <= note["pitch"] <= 127


def test_suno_lyrics(client):
    task_id = create(client, "/api/v1/lyrics", prompt="a song about the sea", callBackUrl=CB)
    data = get(client, "/api/v1/lyrics/record-info", task_id)
    assert set(data) == ex.SUNO_LYRICS_RECORD_FIELDS and data["status"] == "SUCCESS"
    assert len(data["response"]["data"]) == 2 and "[Verse]" in data["response"]["data"][0]["text"]
    wrong_kind = client.get("/api/v1/generate/record-info", params={"taskId": task_id})
    assert wrong_kind.status_code == 404


# ---------------------------------------------------------------------------------------- 4o / Flux


def test_gpt4o_image(make_sim):
    kie = make_sim(state_seconds={"generating": 0.4}, read_rate_limit_enabled=False)
    with client_for(kie) as client:
        task_id = create(client, "/api/v1/gpt4o-image/generate", prompt="a cat", size="3:2", nVariants=2)
        data = get(client, "/api/v1/gpt4o-image/record-info", task_id)
        assert set(data) == ex.GPT4O_RECORD_FIELDS
        assert data["successFlag"] == 0 and data["status"] == "GENERATING" and data["response"] is None
        assert isinstance(data["progress"], str) and 0 <= float(data["progress"]) < 1
        time.sleep(0.45)
        data = get(client, "/api/v1/gpt4o-image/record-info", task_id)
        assert (data["successFlag"], data["status"], data["progress"]) == (1, "SUCCESS", "1.00")
        urls = data["response"]["resultUrls"]
        assert len(urls) == 2
        image = Image.open(io.BytesIO(client.get(urls[0]).content))
        assert image.format == "PNG" and abs(image.width / image.height - 1.5) < 0.01
        signed = ok_data(client.post("/api/v1/gpt4o-image/download-url", json={"taskId": task_id, "url": urls[0]}))
        assert "X-Amz-Expires=1200" in signed
        missing = client.post("/api/v1/gpt4o-image/generate", json={"prompt": "a cat"}).json()
        assert missing["code"] == 422 and "size" in missing["msg"]


def test_flux_kontext(client):
    task_id = create(client, "/api/v1/flux/kontext/generate", prompt="a castle", aspectRatio="1:1", outputFormat="png")
    data = get(client, "/api/v1/flux/kontext/record-info", task_id)
    assert set(data) == ex.FLUX_RECORD_FIELDS and data["successFlag"] == 1
    assert data["completeTime"].endswith("Z")
    image = Image.open(io.BytesIO(client.get(data["response"]["resultImageUrl"]).content))
    assert image.format == "PNG" and image.width == image.height
    edit = create(
        client,
        "/api/v1/flux/kontext/generate",
        prompt="make it night",
        inputImage="https://example.com/in.png",
        model="flux-kontext-max",
    )
    assert kie_task_spec(client, edit) == "flux-kontext/max-edit"
    jpeg = get(client, "/api/v1/flux/kontext/record-info", edit)["response"]["resultImageUrl"]
    assert jpeg.endswith(".jpeg")
    bad = client.post("/api/v1/flux/kontext/generate", json={"prompt": "x", "model": "flux-kontext-ultra"}).json()
    assert bad["code"] == 422


def kie_task_spec(client, task_id):
    tasks = client.get("/_sim/tasks").json()["tasks"]
    return next(t for t in tasks if t["taskId"] == task_id)["spec"]


# ------------------------------------------------------------------------------------- Runway / Aleph


def test_runway_states_and_extend(make_sim):
    kie = make_sim(state_seconds={"waiting": 0.1, "queuing": 0.1, "generating": 0.2}, read_rate_limit_enabled=False)
    with client_for(kie) as client:
        task_id = create(
            client, "/api/v1/runway/generate", prompt="city at night", duration=5, quality="720p", aspectRatio="16:9"
        )
        seen = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            data = get(client, "/api/v1/runway/record-detail", task_id)
            if not seen or seen[-1] != data["state"]:
                seen.append(data["state"])
            if data["state"] == "success":
                break
            time.sleep(0.02)
        assert seen == ["wait", "queueing", "generating", "success"]
        assert set(data) == ex.RUNWAY_RECORD_FIELDS and data["expireFlag"] == 0
        assert client.get(data["videoInfo"]["videoUrl"]).content[4:8] == b"ftyp"
        assert client.get(data["videoInfo"]["imageUrl"]).content[:4] == b"\x89PNG"

        kie.config.state_seconds = None
        extension = create(client, "/api/v1/runway/extend", taskId=task_id, prompt="and then rain", quality="720p")
        data = get(client, "/api/v1/runway/record-detail", extension)
        assert data["parentTaskId"] == task_id and data["state"] == "success"

        too_big = client.post(
            "/api/v1/runway/generate", json={"prompt": "x", "duration": 10, "quality": "1080p", "aspectRatio": "16:9"}
        ).json()
        assert too_big["code"] == 422 and "quality" in too_big["msg"]


def test_aleph(client):
    task_id = create(
        client,
        "/api/v1/aleph/generate",
        prompt="make it snow [sim:variant aleph_quiet=zero]",
        videoUrl="https://example.com/in.mp4",
    )
    data = get(client, "/api/v1/aleph/record-info", task_id)
    assert set(data) == ex.ALEPH_RECORD_FIELDS and data["successFlag"] == 1 and data["errorCode"] == 0
    quiet = create(
        client, "/api/v1/aleph/generate", prompt="rain [sim:variant aleph_quiet=null]", videoUrl="https://e.com/a.mp4"
    )
    data = get(client, "/api/v1/aleph/record-info", quiet)
    assert (data["errorCode"], data["errorMessage"]) == (None, None)
    assert client.get(data["response"]["resultVideoUrl"]).content[4:8] == b"ftyp"
    failed = create(client, "/api/v1/aleph/generate", prompt="[sim:fail]", videoUrl="https://example.com/in.mp4")
    data = get(client, "/api/v1/aleph/record-info", failed)
    assert data["successFlag"] == 0 and data["errorCode"] == 500 and data["response"] is None
    missing = client.post("/api/v1/aleph/generate", json={"prompt": "x"}).json()
    assert missing["code"] == 422 and "videoUrl" in missing["msg"]
