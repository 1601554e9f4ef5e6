from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from kiestudio.simulator.app import CREATE_PATHS

from . import contract_examples as ex
from .helpers import client_for, create_market

NANO = {"model": "google/nano-banana", "input": {"prompt": "x"}}


def test_every_api_path_needs_a_key(kie):
    paths = [("POST", p) for p in CREATE_PATHS] + [
        ("GET", "/api/v1/jobs/recordInfo"),
        ("GET", "/api/v1/veo/record-info"),
        ("GET", "/api/v1/veo/get-1080p-video"),
        ("GET", "/api/v1/generate/record-info"),
        ("GET", "/api/v1/runway/record-detail"),
        ("GET", "/api/v1/chat/credit"),
        ("POST", "/api/v1/common/download-url"),
        ("POST", "/api/v1/gpt4o-image/download-url"),
        ("POST", "/api/v1/generate/get-timestamped-lyrics"),
    ]
    with httpx.Client(base_url=kie.base_url) as anonymous:
        for headers in (
            {},
            {"Authorization": "Bearer bad-key"},
            {"Authorization": "Bearer"},
            {"Authorization": "Basic x"},
        ):
            for method, path in paths:
                response = anonymous.request(method, path, json={}, headers=headers)
                assert response.status_code == 401, (path, headers)
                assert response.json() == ex.UNAUTHORIZED
    assert not kie.sim.tasks


def test_configured_api_keys(make_sim):
    kie = make_sim(api_keys=["alpha"])
    good = httpx.get(kie.base_url + "/api/v1/chat/credit", headers={"Authorization": "Bearer alpha"})
    other = httpx.get(kie.base_url + "/api/v1/chat/credit", headers={"Authorization": "Bearer beta"})
    assert good.status_code == 200 and other.status_code == 401


def test_rate_limit_429_beyond_20_creates_per_window(make_sim):
    kie = make_sim(rate_window=1.0)
    with client_for(kie) as client:
        answers = [client.post("/api/v1/jobs/createTask", json=NANO) for _ in range(25)]
        statuses = [a.status_code for a in answers]
        assert statuses == [200] * 20 + [429] * 5
        assert answers[-1].json() == ex.RECORD_INFO_ERRORS[429]
        assert len(kie.sim.tasks) == 20  # rejected creates are not recorded
        assert kie.sim.log.creates_in_window(1.0) == 20
        assert kie.sim.log.creates_in_window(1.0, include_rejected=True) == 25
        time.sleep(1.0)
        assert client.post("/api/v1/jobs/createTask", json=NANO).status_code == 200


def test_rate_limit_is_shared_by_all_create_endpoints(make_sim):
    kie = make_sim(rate_limit=3, rate_window=1.0)
    with client_for(kie) as client:
        client.post("/api/v1/jobs/createTask", json=NANO)
        client.post("/api/v1/veo/generate", json={"prompt": "x"})
        client.post("/api/v1/flux/kontext/generate", json={"prompt": "x"})
        assert client.post("/api/v1/gpt4o-image/generate", json={"prompt": "x", "size": "1:1"}).status_code == 429


def test_status_reads_beyond_10_per_second_get_429(make_sim):
    kie = make_sim()
    with client_for(kie) as client:
        task_id = create_market(client, "google/nano-banana", prompt="x")
        statuses = [client.get("/api/v1/jobs/recordInfo", params={"taskId": task_id}).status_code for _ in range(12)]
        assert statuses[:10] == [200] * 10 and 429 in statuses[10:]
        assert kie.sim.log.polls_per_task()[task_id] == 12
    kie = make_sim(read_rate_limit_enabled=False)
    with client_for(kie) as client:
        task_id = create_market(client, "google/nano-banana", prompt="x")
        assert all(
            client.get("/api/v1/jobs/recordInfo", params={"taskId": task_id}).status_code == 200 for _ in range(15)
        )


def test_5xx_marker(client, kie):
    response = client.post(
        "/api/v1/jobs/createTask", json={"model": "google/nano-banana", "input": {"prompt": "[sim:5xx]"}}
    )
    assert response.status_code == 500 and response.json()["code"] == 500
    response = client.post("/api/v1/veo/generate", json={"prompt": "[sim:5xx 503] x"})
    assert response.status_code == 503
    assert not kie.sim.tasks


def test_malformed_marker(client, kie):
    response = client.post(
        "/api/v1/jobs/createTask", json={"model": "google/nano-banana", "input": {"prompt": "[sim:malformed]"}}
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert not kie.sim.tasks


def test_slow_marker_and_slow_seconds(make_sim):
    kie = make_sim(slow_seconds=0.5)
    with client_for(kie) as client:
        started = time.monotonic()
        create_market(client, "google/nano-banana", prompt="[sim:slow] x")
        assert time.monotonic() - started >= 0.5
        started = time.monotonic()
        create_market(client, "google/nano-banana", prompt="[sim:slow 0.1] x")
        assert 0.1 <= time.monotonic() - started < 0.45


def test_hang_marker_times_out_on_the_client_and_is_released_on_stop(make_sim):
    kie = make_sim(hang_seconds=30)
    with client_for(kie) as client, pytest.raises(httpx.ReadTimeout):
        client.post(
            "/api/v1/jobs/createTask",
            json={"model": "google/nano-banana", "input": {"prompt": "[sim:hang]"}},
            timeout=0.3,
        )
    # a second request hangs until the simulator stops; stop() must not wait the 30 s
    outcome = {}

    def hang() -> None:
        try:
            outcome["status"] = httpx.post(
                kie.base_url + "/api/v1/jobs/createTask",
                json={"model": "google/nano-banana", "input": {"prompt": "[sim:hang]"}},
                headers={"Authorization": "Bearer k"},
                timeout=5,
            ).status_code
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=hang)
    thread.start()
    time.sleep(0.1)
    started = time.monotonic()
    kie.stop()
    thread.join(3)
    assert time.monotonic() - started < 1.5
    assert outcome.get("status") == 504 or "error" in outcome


def test_seeded_random_faults(make_sim):
    def run() -> list[int]:
        kie = make_sim(seed=3, fault_5xx_rate=0.3, malformed_rate=0.2, rate_limit=100)
        with client_for(kie) as client:
            codes = []
            for _ in range(30):
                response = client.post("/api/v1/jobs/createTask", json=NANO)
                try:
                    codes.append(response.json()["code"])
                except json.JSONDecodeError:
                    codes.append(-1)
        kie.stop()
        return codes

    first, second = run(), run()
    assert first == second
    assert {200, 500, -1} <= set(first)


def test_slow_rate_applies_to_reads(make_sim):
    kie = make_sim(slow_rate=1.0, slow_seconds=0.15, fault_kinds=["read"])
    with client_for(kie) as client:
        started = time.monotonic()
        task_id = create_market(client, "google/nano-banana", prompt="x")
        assert time.monotonic() - started < 0.15
        started = time.monotonic()
        client.get("/api/v1/jobs/recordInfo", params={"taskId": task_id})
        assert time.monotonic() - started >= 0.15


def test_unknown_paths_and_methods(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json()["code"] == 404
    response = client.get("/api/v1/jobs/createTask")
    assert response.status_code == 405
    bad_json = client.post(
        "/api/v1/jobs/createTask", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400 and bad_json.json()["code"] == 400
