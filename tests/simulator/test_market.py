from __future__ import annotations

import io
import json
import time

from PIL import Image

from . import contract_examples as ex
from .helpers import client_for, create_market, same_shape


def record(client, task_id):
    response = client.get("/api/v1/jobs/recordInfo", params={"taskId": task_id})
    assert response.status_code == 200, response.text
    return response.json()


def test_create_and_record_match_the_contract(client, kie):
    create = client.post(
        "/api/v1/jobs/createTask",
        json={"model": "google/nano-banana", "input": {"prompt": "a red fox in snow", "aspect_ratio": "16:9"}},
    )
    assert same_shape(create.json(), ex.CREATE_RESPONSE) == []
    task_id = create.json()["data"]["taskId"]

    body = record(client, task_id)
    assert same_shape(body, ex.RECORD_INFO) == []
    data = body["data"]
    assert data["state"] == "success"
    assert data["failCode"] == "" and data["failMsg"] == ""
    # param is the whole create request as a JSON string; resultJson is a JSON string too.
    assert json.loads(data["param"]) == {
        "model": "google/nano-banana",
        "input": {"prompt": "a red fox in snow", "aspect_ratio": "16:9"},
    }
    urls = json.loads(data["resultJson"])["resultUrls"]
    assert len(urls) == 1 and urls[0].startswith(f"{kie.base_url}/_sim/media/{task_id}/")
    assert data["createTime"] <= data["completeTime"]


def test_states_move_waiting_queuing_generating_success(make_sim):
    kie = make_sim(state_seconds={"waiting": 0.15, "queuing": 0.15, "generating": 0.3}, read_rate_limit_enabled=False)
    with client_for(kie) as client:
        task_id = create_market(client, "google/nano-banana", prompt="a lighthouse")
        seen = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            data = record(client, task_id)["data"]
            if not seen or seen[-1] != data["state"]:
                seen.append(data["state"])
            if data["state"] == "success":
                break
            assert data["resultJson"] == "" and data["completeTime"] is None and data["costTime"] is None
            time.sleep(0.03)
        assert seen == ["waiting", "queuing", "generating", "success"]
        assert data["costTime"] == 600
        assert data["updateTime"] == data["completeTime"]


def test_time_scale_uses_the_catalog_typical_seconds(make_sim):
    kie = make_sim(time_scale=0.002)  # nano-banana is typically ~tens of seconds -> well under a second here
    with client_for(kie) as client:
        task_id = create_market(client, "google/nano-banana", prompt="x")
        task = kie.sim.tasks[task_id]
        assert 0 < task.total_seconds < 1
        time.sleep(task.total_seconds + 0.02)
        assert record(client, task_id)["data"]["state"] == "success"


def test_image_output_follows_format_count_and_aspect(client):
    task_id = create_market(
        client, "bytedance/seedream-v4-text-to-image", prompt="tiles", image_size="landscape_16_9", max_images=2
    )
    urls = json.loads(record(client, task_id)["data"]["resultJson"])["resultUrls"]
    assert len(urls) == 2
    image = Image.open(io.BytesIO(client.get(urls[1]).content))
    assert image.width > image.height and abs(image.width / image.height - 16 / 9) < 0.02

    task_id = create_market(client, "google/nano-banana", prompt="fox", output_format="jpeg", aspect_ratio="9:16")
    url = json.loads(record(client, task_id)["data"]["resultJson"])["resultUrls"][0]
    assert url.endswith(".jpeg")
    response = client.get(url)
    assert response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG" and image.height > image.width


def test_fail_markers(client):
    task_id = create_market(client, "google/nano-banana", prompt="boom [sim:fail]")
    data = record(client, task_id)["data"]
    assert (data["state"], data["failCode"], data["failMsg"]) == ("fail", "500", "Internal server error")
    assert data["resultJson"] == ""

    task_id = create_market(client, "google/nano-banana", prompt="[sim:fail 422 Invalid prompt: prohibited content] x")
    data = record(client, task_id)["data"]
    assert (data["failCode"], data["failMsg"]) == ("422", "Invalid prompt: prohibited content")

    task_id = create_market(client, "google/nano-banana", prompt="[sim:reject] x")
    data = record(client, task_id)["data"]
    assert data["state"] == "fail" and data["failCode"] == "400" and "content" in data["failMsg"].lower()


def test_fail_code_empty_and_message_key_knobs(make_sim):
    kie = make_sim(fail_code_empty=None, message_key="message")
    with client_for(kie) as client:
        task_id = create_market(client, "google/nano-banana", prompt="x")
        body = record(client, task_id)
        assert "message" in body and "msg" not in body
        assert body["data"]["failCode"] is None and body["data"]["failMsg"] is None


def test_unknown_model_and_bad_input_are_422_naming_the_field(client, kie):
    body = client.post("/api/v1/jobs/createTask", json={"model": "no/such-model", "input": {"prompt": "x"}}).json()
    assert body["code"] == 422 and "model" in body["msg"]

    response = client.post(
        "/api/v1/jobs/createTask",
        json={"model": "google/nano-banana", "input": {"prompt": "x", "aspect_ratio": "7:3"}},
    )
    assert response.status_code == 200  # error_style "body": business codes travel in the body
    assert response.json()["code"] == 422
    assert "'input.aspect_ratio'" in response.json()["msg"]

    missing = client.post("/api/v1/jobs/createTask", json={"model": "google/nano-banana", "input": {}}).json()
    assert missing["code"] == 422 and "input.prompt" in missing["msg"]

    unknown = client.post(
        "/api/v1/jobs/createTask", json={"model": "google/nano-banana", "input": {"prompt": "x", "colour": "red"}}
    ).json()
    assert unknown["code"] == 422 and "input.colour" in unknown["msg"]
    assert not kie.sim.tasks  # nothing was created


def test_no_coercion_surprises(client):
    # The catalog validator would coerce "true" to True and 5 to "5"; the simulator refuses both, like Kie.
    bad_bool = client.post(
        "/api/v1/jobs/createTask",
        json={"model": "kling-2.6/text-to-video", "input": {"prompt": "x", "sound": "true", "duration": "5"}},
    ).json()
    assert bad_bool["code"] == 422 and "input.sound" in bad_bool["msg"]
    bad_enum = client.post(
        "/api/v1/jobs/createTask",
        json={"model": "kling-2.6/text-to-video", "input": {"prompt": "x", "sound": False, "duration": 5}},
    ).json()
    assert bad_enum["code"] == 422 and "input.duration" in bad_enum["msg"]
    good = client.post(
        "/api/v1/jobs/createTask",
        json={"model": "kling-2.6/text-to-video", "input": {"prompt": "x", "sound": False, "duration": "5"}},
    ).json()
    assert good["code"] == 200


def test_error_style_http_gives_real_statuses(make_sim):
    kie = make_sim(error_style="http")
    with client_for(kie) as client:
        response = client.post("/api/v1/jobs/createTask", json={"model": "nope", "input": {}})
        assert response.status_code == 422 and response.json()["code"] == 422


def test_credits_are_charged_and_402_when_short(make_sim):
    kie = make_sim(balance=10)
    with client_for(kie) as client:
        assert client.get("/api/v1/chat/credit").json() == {"code": 200, "msg": "success", "data": 10}
        create_market(client, "google/nano-banana", prompt="one")  # 4 credits
        balance = client.get("/api/v1/chat/credit").json()
        assert same_shape(balance, ex.CREDIT) == []
        assert balance["data"] == 6
        create_market(client, "google/nano-banana", prompt="two")
        refused = client.post("/api/v1/jobs/createTask", json={"model": "google/nano-banana", "input": {"prompt": "3"}})
        assert refused.status_code == 200 and refused.json()["code"] == 402
        assert "insufficient credits" in refused.json()["msg"].lower()
        assert len(kie.sim.tasks) == 2
        kie.sim.set_balance(100)
        create_market(client, "google/nano-banana", prompt="three")


def test_record_errors(client):
    missing = client.get("/api/v1/jobs/recordInfo")
    assert missing.status_code == 400 and same_shape(missing.json(), ex.RECORD_INFO_ERRORS[400]) == []
    unknown = client.get("/api/v1/jobs/recordInfo", params={"taskId": "nope"})
    assert unknown.status_code == 404 and same_shape(unknown.json(), ex.RECORD_INFO_ERRORS[404]) == []


def test_download_url_signs_kie_urls_only(client):
    task_id = create_market(client, "google/nano-banana", prompt="x")
    url = json.loads(record(client, task_id)["data"]["resultJson"])["resultUrls"][0]
    body = client.post("/api/v1/common/download-url", json={"url": url}).json()
    assert same_shape(body, ex.DOWNLOAD_URL) == []
    assert "X-Amz-Expires=1200" in body["data"]
    assert client.get(body["data"]).content == client.get(url).content
    other = client.post("/api/v1/common/download-url", json={"url": "https://example.com/a.png"}).json()
    assert other["code"] == 422


def test_video_and_audio_models(client):
    task_id = create_market(client, "kling-2.6/text-to-video", prompt="waves", sound=False, duration="5")
    url = json.loads(record(client, task_id)["data"]["resultJson"])["resultUrls"][0]
    assert url.endswith(".mp4") and client.get(url).content[4:8] == b"ftyp"
    task_id = create_market(client, "elevenlabs/text-to-speech-turbo-2-5", text="hello there")
    url = json.loads(record(client, task_id)["data"]["resultJson"])["resultUrls"][0]
    assert url.endswith(".wav") and client.get(url).content[:4] == b"RIFF"
