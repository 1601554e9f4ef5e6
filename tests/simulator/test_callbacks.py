from __future__ import annotations

import json
import time

import pytest

from . import contract_examples as ex
from .helpers import client_for, create_market, expected_signature, same_shape, wait_for

HMAC_KEY = "whsec-test"


def signed_ok(callback, task_id):
    headers = {k.lower(): v for k, v in callback["headers"].items()}
    timestamp = headers["x-webhook-timestamp"]
    assert abs(int(timestamp) - time.time()) < 5
    assert headers["x-webhook-signature"] == expected_signature(HMAC_KEY, task_id, timestamp)


def test_market_success_and_failure_callbacks_are_signed(make_sim, receiver):
    kie = make_sim(webhook_hmac_key=HMAC_KEY)
    with client_for(kie) as client:
        ok_id = create_market(client, "google/nano-banana", prompt="fox", callBackUrl=receiver.url("/ok"))
        fail_id = create_market(client, "google/nano-banana", prompt="[sim:fail]", callBackUrl=receiver.url("/fail"))
        received = {c["path"]: c for c in receiver.wait(2)}
    success = received["/ok"]
    assert same_shape(success["body"], ex.MARKET_CALLBACK) == []
    assert success["body"]["data"]["taskId"] == ok_id and success["body"]["data"]["state"] == "success"
    assert json.loads(success["body"]["data"]["resultJson"])["resultUrls"]
    signed_ok(success, ok_id)
    failure = received["/fail"]["body"]
    assert failure["code"] == 501 and failure["msg"] == "Playground task failed."
    assert failure["data"]["state"] == "fail" and failure["data"]["resultJson"] is None
    assert failure["data"]["failCode"] == "500"
    signed_ok(received["/fail"], fail_id)


def test_callback_fires_at_completion_time(make_sim, receiver):
    kie = make_sim(state_seconds={"generating": 0.3})
    with client_for(kie) as client:
        started = time.monotonic()
        create_market(client, "google/nano-banana", prompt="x", callBackUrl=receiver.url())
        receiver.wait(1)
        assert 0.28 <= time.monotonic() - started < 1.0


def test_no_signature_without_key_and_callbacks_switch(make_sim, receiver):
    kie = make_sim()
    with client_for(kie) as client:
        create_market(client, "google/nano-banana", prompt="x", callBackUrl=receiver.url())
        headers = {k.lower() for k in receiver.wait(1)[0]["headers"]}
        assert "x-webhook-signature" not in headers
        kie.config.callbacks = False
        create_market(client, "google/nano-banana", prompt="x", callBackUrl=receiver.url())
        time.sleep(0.15)
        assert len(receiver.received) == 1


def test_delivery_failures_are_logged_not_raised(make_sim, receiver):
    kie = make_sim()
    receiver.status = 500
    with client_for(kie) as client:
        create_market(client, "google/nano-banana", prompt="x", callBackUrl=receiver.url())
        create_market(client, "google/nano-banana", prompt="x", callBackUrl="http://127.0.0.1:9/closed")
        wait_for(lambda: len(kie.sim.callback_log) == 2)
        by_url = {entry["url"]: entry for entry in kie.sim.callback_log}
        assert by_url[receiver.url()]["status"] == 500
        assert by_url["http://127.0.0.1:9/closed"]["error"]
        assert client.get("/api/v1/chat/credit").status_code == 200  # still serving


def test_veo_callbacks(make_sim, receiver):
    kie = make_sim(webhook_hmac_key=HMAC_KEY)
    with client_for(kie) as client:
        task_id = client.post(
            "/api/v1/veo/generate",
            json={"prompt": "a cat", "aspect_ratio": "9:16", "callBackUrl": receiver.url("/gen")},
        ).json()["data"]["taskId"]
        receiver.wait(1)
        client.post("/api/v1/veo/get-4k-video", json={"taskId": task_id, "callBackUrl": receiver.url("/4k")})
        failed = client.post(
            "/api/v1/veo/generate", json={"prompt": "[sim:reject]", "callBackUrl": receiver.url("/bad")}
        )
        received = {c["path"]: c for c in receiver.wait(3)}
    generated = received["/gen"]
    assert same_shape(generated["body"], ex.VEO_CALLBACK) == []
    assert generated["body"]["data"]["info"]["originUrls"]
    signed_ok(generated, task_id)
    four_k = received["/4k"]
    shapes = (ex.VEO_4K_CALLBACK, ex.VEO_4K_CALLBACK_INFO, ex.VEO_4K_CALLBACK_FLAT)
    assert any(same_shape(four_k["body"], shape) == [] for shape in shapes), four_k["body"]
    data = four_k["body"]["data"]
    assert data.get("task_id", data.get("taskId")) == task_id
    signed_ok(four_k, task_id)
    rejected = received["/bad"]["body"]
    assert same_shape(rejected, ex.VEO_CALLBACK_FAILURE) == [] and rejected["code"] == 400
    assert rejected["data"]["taskId"] == failed.json()["data"]["taskId"]


def test_suno_staged_callbacks(make_sim, receiver):
    kie = make_sim(state_seconds={"generating": 0.3}, webhook_hmac_key=HMAC_KEY)
    with client_for(kie) as client:
        task_id = client.post(
            "/api/v1/generate",
            json={
                "prompt": "rain",
                "customMode": False,
                "instrumental": False,
                "model": "V4_5",
                "callBackUrl": receiver.url(),
            },
        ).json()["data"]["taskId"]
        callbacks = receiver.wait(3)
        lyrics = client.post("/api/v1/lyrics", json={"prompt": "sea", "callBackUrl": receiver.url("/lyrics")})
        failed = client.post(
            "/api/v1/generate",
            json={
                "prompt": "[sim:fail 413 matches existing work]",
                "customMode": False,
                "instrumental": True,
                "model": "V4",
                "callBackUrl": receiver.url("/error"),
            },
        )
        receiver.wait(5)
    stages = [c["body"]["data"]["callbackType"] for c in callbacks[:3]]
    assert stages == ["text", "first", "complete"]
    for callback in callbacks[:3]:
        assert same_shape(callback["body"], ex.SUNO_CALLBACK) == []
        signed_ok(callback, task_id)
    complete = callbacks[2]["body"]["data"]["data"]
    assert len(complete) == 2 and all(track["audio_url"] for track in complete)
    assert callbacks[1]["body"]["data"]["data"][1]["audio_url"] == ""
    by_path = {c["path"]: c["body"] for c in receiver.received}
    assert same_shape(by_path["/lyrics"], ex.SUNO_LYRICS_CALLBACK) == []
    assert by_path["/lyrics"]["data"]["task_id"] == lyrics.json()["data"]["taskId"]
    assert same_shape(by_path["/error"], ex.SUNO_ERROR_CALLBACK) == [] and by_path["/error"]["code"] == 413
    assert by_path["/error"]["data"]["task_id"] == failed.json()["data"]["taskId"]


def test_suno_extra_callbacks(make_sim, receiver):
    kie = make_sim()
    with client_for(kie) as client:
        music = client.post(
            "/api/v1/generate",
            json={
                "prompt": "x",
                "customMode": False,
                "instrumental": False,
                "model": "V5",
                "callBackUrl": receiver.url(),
            },
        ).json()["data"]["taskId"]
        receiver.wait(3)
        audio_id = client.get("/api/v1/generate/record-info", params={"taskId": music}).json()["data"]["response"][
            "sunoData"
        ][0]["id"]
        wav = client.post(
            "/api/v1/wav/generate", json={"taskId": music, "audioId": audio_id, "callBackUrl": receiver.url("/wav")}
        ).json()["data"]["taskId"]
        stems = client.post(
            "/api/v1/vocal-removal/generate",
            json={"taskId": music, "audioId": audio_id, "type": "split_stem", "callBackUrl": receiver.url("/stems")},
        ).json()["data"]["taskId"]
        receiver.wait(5)
        client.post("/api/v1/midi/generate", json={"taskId": stems, "callBackUrl": receiver.url("/midi")})
        client.post(
            "/api/v1/mp4/generate", json={"taskId": music, "audioId": audio_id, "callBackUrl": receiver.url("/mp4")}
        )
        receiver.wait(7)
    by_path = {c["path"]: c["body"] for c in receiver.received}
    assert by_path["/wav"]["data"] == {"audio_wav_url": by_path["/wav"]["data"]["audio_wav_url"], "task_id": wav}
    info = by_path["/stems"]["data"]["vocal_removal_info"]
    assert info["vocal_url"] and info["drums_url"] and info["origin_url"] == ""
    assert by_path["/midi"]["data"]["state"] == "complete" and by_path["/midi"]["data"]["instruments"]
    assert by_path["/mp4"]["data"]["video_url"].endswith(".mp4")


def test_image_and_runway_family_callbacks(make_sim, receiver):
    kie = make_sim(webhook_hmac_key=HMAC_KEY)
    with client_for(kie) as client:
        gpt = client.post(
            "/api/v1/gpt4o-image/generate", json={"prompt": "x", "size": "1:1", "callBackUrl": receiver.url("/4o")}
        )
        client.post(
            "/api/v1/gpt4o-image/generate",
            json={"prompt": "[sim:reject]", "size": "1:1", "callBackUrl": receiver.url("/4o-bad")},
        )
        client.post("/api/v1/flux/kontext/generate", json={"prompt": "x", "callBackUrl": receiver.url("/flux")})
        client.post(
            "/api/v1/runway/generate",
            json={
                "prompt": "x",
                "duration": 5,
                "quality": "720p",
                "aspectRatio": "1:1",
                "callBackUrl": receiver.url("/rw"),
            },
        )
        aleph = client.post(
            "/api/v1/aleph/generate",
            json={"prompt": "x", "videoUrl": "https://example.com/v.mp4", "callBackUrl": receiver.url("/aleph")},
        )
        receiver.wait(5)
    by_path = {c["path"]: c for c in receiver.received}
    assert same_shape(by_path["/4o"]["body"], ex.GPT4O_CALLBACK) == []
    signed_ok(by_path["/4o"], gpt.json()["data"]["taskId"])
    assert same_shape(by_path["/4o-bad"]["body"], ex.GPT4O_CALLBACK_FAILURE) == []
    assert by_path["/4o-bad"]["body"]["code"] == 400
    assert same_shape(by_path["/flux"]["body"], ex.FLUX_CALLBACK) == []
    assert same_shape(by_path["/rw"]["body"], ex.RUNWAY_CALLBACK) == []
    assert same_shape(by_path["/aleph"]["body"], ex.ALEPH_CALLBACK) == []
    aleph_id = aleph.json()["data"]["taskId"]
    assert by_path["/aleph"]["body"]["taskId"] == aleph_id
    signed_ok(by_path["/aleph"], aleph_id)


@pytest.mark.parametrize(
    ("variant", "shape"),
    [("snake", ex.VEO_4K_CALLBACK), ("info", ex.VEO_4K_CALLBACK_INFO), ("flat", ex.VEO_4K_CALLBACK_FLAT)],
)
def test_veo_4k_callback_speaks_each_documented_shape(make_sim, receiver, variant, shape):
    kie = make_sim()
    with client_for(kie) as client:
        task_id = client.post(
            "/api/v1/veo/generate", json={"prompt": f"a cat [sim:variant 4k={variant}]", "callBackUrl": receiver.url()}
        ).json()["data"]["taskId"]
        receiver.wait(1)
        client.post("/api/v1/veo/get-4k-video", json={"taskId": task_id, "callBackUrl": receiver.url("/4k")})
        [four_k] = [c for c in receiver.wait(2) if c["path"] == "/4k"]
    assert same_shape(four_k["body"], shape) == [], four_k["body"]


def test_the_4k_shape_is_a_seeded_coin_per_task(make_sim):
    kie = make_sim(seed=3)
    chosen = {kie.sim.variant("4k", f"veo_task_{n}", ("snake", "info", "flat")) for n in range(40)}
    assert chosen == {"snake", "info", "flat"}
    assert kie.sim.variant("4k", "veo_task_1", ("snake", "info", "flat")) == kie.sim.variant(
        "4k", "veo_task_1", ("snake", "info", "flat")
    )


def test_a_task_read_at_its_own_end_time_is_finished(kie):
    """Floating point: created + total - created can fall short of total. The Veo callback body is built at the
    task's end time, and a "still generating" reading there had no video in it (the callback crashed)."""
    from kiestudio.simulator.state import Task

    total = 120 * 0.2  # Veo's typical seconds at the default time scale, split as plan_phases splits it
    for created in (134364.244, 847433.737, 763774.619, 255069.026):
        task = Task(
            task_id="t",
            family="veo",
            op="generate",
            model="veo3_fast",
            body={},
            prompt="",
            callback_url=None,
            created_wall=0.0,
            created_mono=created,
            phases=(total * 0.1, total * 0.1, total * 0.8),
            base_url="http://x",
        )
        assert task.state(task.end_mono) == "success", created


def test_the_veo_callback_arrives_at_the_typical_pace(make_sim, receiver):
    """Tried as a new user would (time scale 0.2 of Veo's typical two minutes, here shortened): the callback comes
    when the video is done, with the video in it."""
    kie = make_sim(time_scale=0.004, state_seconds=None)
    with client_for(kie) as client:
        started = time.monotonic()
        task_id = client.post(
            "/api/v1/veo/generate", json={"prompt": "a lighthouse at dusk", "callBackUrl": receiver.url()}
        ).json()["data"]["taskId"]
        [delivered] = receiver.wait(1, timeout=5)
    task = kie.sim.tasks[task_id]
    assert time.monotonic() - started < task.total_seconds + 1.0
    assert delivered["body"]["code"] == 200 and delivered["body"]["data"]["info"]["resultUrls"]
