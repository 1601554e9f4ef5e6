"""The Kling, HappyHorse and Seedance models of ``data/video_more.json``, end to end against the simulator.

Each model is created over real HTTP with inputs a creator could send (in Kie's wire types), its record is
read until it reports success with one video file, and a documented enum broken is refused with Kie's 422.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiestudio.kie.catalog import estimate_credits, load_catalog, validate_inputs
from kiestudio.simulator.testing import RunningSimulator, start_simulator
from tests.catalog.conformance import documented_specs

from .helpers import client_for, create_market, fast_config, wait_for

DATA = Path(__file__).resolve().parents[2] / "kiestudio" / "kie" / "catalog" / "data" / "video_more.json"
KEYS = [entry["key"] for entry in json.loads(DATA.read_text(encoding="utf-8"))["models"]]

FACE = "https://example.com/uploads/presenter.png"
VOICE = "https://example.com/uploads/greeting.mp3"
STILL = "https://example.com/uploads/lighthouse.jpg"
DANCER = "https://example.com/uploads/dancer.png"
MOVES = "https://example.com/uploads/dance-moves.mp4"
CLIP = "https://example.com/uploads/street.mov"

#: Valid inputs per model, as the studio would send them.
SAMPLES: dict[str, dict[str, Any]] = {
    "kling/ai-avatar-standard": {"image_url": FACE, "audio_url": VOICE, "prompt": "smiles and nods while talking"},
    "kling/ai-avatar-pro": {"image_url": FACE, "audio_url": VOICE, "prompt": "calm, slow zoom in"},
    "kling/v2-1-master-image-to-video": {
        "prompt": "waves crash against the lighthouse as the camera pans slowly",
        "image_url": STILL,
        "duration": "10",
        "negative_prompt": "blurry, watermark",
        "cfg_scale": 0.6,
    },
    "kling-2.6/motion-control": {
        "prompt": "the cartoon character dances on a stage",
        "input_urls": [DANCER],
        "video_urls": [MOVES],
        "character_orientation": "image",
        "mode": "1080p",
    },
    "kling-3.0/motion-control": {
        "input_urls": [DANCER],
        "video_urls": [MOVES],
        "mode": "pro",
        "character_orientation": "video",
        "background_source": "input_image",
    },
    "kling/v3-turbo-text-to-video": {
        "prompt": 'Two friends on a terrace; she says "the leaves will turn soon".',
        "duration": "8",
        "aspect_ratio": "9:16",
        "resolution": "1080p",
    },
    "kling/v3-turbo-image-to-video": {
        "prompt": "the lighthouse beam sweeps across the fog",
        "image_urls": [STILL],
        "duration": "3",
        "resolution": "720p",
    },
    "happyhorse/text-to-video": {
        "prompt": "a cardboard city comes alive at night as a tiny train rolls through",
        "resolution": "720p",
        "aspect_ratio": "4:3",
        "duration": 12,
        "seed": 480751225,
    },
    "happyhorse/image-to-video": {"image_urls": [STILL], "prompt": "fog rolls in", "duration": 3},
    "happyhorse/reference-to-video": {
        "prompt": "character1 opens the fan character2 and smiles",
        "image_urls": [DANCER, STILL],
        "aspect_ratio": "9:16",
        "duration": 15,
    },
    "happyhorse/video-edit": {
        "prompt": "dress the walker in the striped sweater from the picture",
        "video_url": CLIP,
        "reference_image": [STILL],
        "resolution": "720p",
        "audio_setting": "origin",
    },
    "happyhorse-1-1/text-to-video": {
        "prompt": "a dog running across a field at dawn",
        "aspect_ratio": "21:9",
        "duration": 6,
    },
    "happyhorse-1-1/image-to-video": {"image_urls": [STILL], "resolution": "720p"},
    "happyhorse-1-1/reference-to-video": {
        "prompt": "the dancer from [Image 1] walks past the lighthouse from [Image 2]",
        "reference_image": [DANCER, STILL],
        "aspect_ratio": "4:5",
        "duration": 4,
    },
    "bytedance/seedance-2-fast": {
        "prompt": "a quiet beach at sunset, palm trees swaying",
        "reference_image_urls": [STILL],
        "reference_video_urls": [CLIP],
        "generate_audio": False,
        "resolution": "480p",
        "aspect_ratio": "adaptive",
        "duration": 10,
    },
}

#: Every enum field of every model, each to be broken once.
ENUM_FIELDS = [(key, field.name) for key in KEYS for field in load_catalog().get(key).fields if field.type == "enum"]


@pytest.fixture(scope="module")
def kie() -> Iterator[RunningSimulator]:
    config = fast_config(balance=1_000_000, rate_limit=1000, read_rate_limit_enabled=False)
    with start_simulator(config) as running:
        yield running


@pytest.fixture(scope="module")
def client(kie: RunningSimulator) -> Iterator[httpx.Client]:
    with client_for(kie) as c:
        yield c


def test_every_model_of_the_file_has_a_sample():
    assert sorted(SAMPLES) == sorted(KEYS)
    assert len(KEYS) == 15


def test_every_documented_enum_is_broken_below():
    """The enum cases cover each field Kie's spec gives choices for (and the ones only its prose lists)."""
    covered = set(ENUM_FIELDS)
    for key in KEYS:
        for doc in documented_specs(load_catalog().get(key)):
            for name, want in doc.items():
                if "enum" in want:
                    assert (key, name) in covered, (key, name)


@pytest.mark.parametrize("key", KEYS)
def test_create_then_read_a_success_with_one_video(client, kie, key):
    spec = load_catalog().get(key)
    task_id = create_market(client, key, **SAMPLES[key])

    def finished():
        response = client.get("/api/v1/jobs/recordInfo", params={"taskId": task_id})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        return data if data["state"] in ("success", "fail") else None

    data = wait_for(finished)
    assert data["state"] == "success", data
    assert data["model"] == key
    assert json.loads(data["param"]) == {"model": key, "input": SAMPLES[key]}
    urls = json.loads(data["resultJson"])["resultUrls"]
    assert len(urls) == 1
    assert urls[0].startswith(f"{kie.base_url}/_sim/media/{task_id}/") and urls[0].endswith(".mp4")
    video = client.get(urls[0])
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    # The simulator charged what the catalog estimates for these inputs.
    assert kie.sim.tasks[task_id].credits == estimate_credits(spec, validate_inputs(spec, SAMPLES[key]))


@pytest.mark.parametrize(("key", "name"), ENUM_FIELDS, ids=[f"{k}:{n}" for k, n in ENUM_FIELDS])
def test_a_value_outside_the_enum_is_refused_with_422(client, kie, key, name):
    before = len(kie.sim.tasks)
    body = {"model": key, "input": {**SAMPLES[key], name: "not-a-choice"}}
    response = client.post("/api/v1/jobs/createTask", json=body)
    assert response.status_code == 200  # error_style "body": Kie's business codes travel in the body
    payload = response.json()
    assert payload["code"] == 422, payload
    assert f"'input.{name}'" in payload["msg"]
    assert len(kie.sim.tasks) == before  # nothing was created or charged


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        # Kie: first(/last) frames and reference pictures, clips or audio are separate modes, never mixed.
        ({"prompt": "a calm sea", "first_frame_url": STILL, "reference_audio_urls": [VOICE]}, "reference_audio_urls"),
        ({"prompt": "a calm sea", "last_frame_url": STILL}, "first_frame_url"),
    ],
    ids=["frames-with-references", "last-frame-alone"],
)
def test_seedance_fast_refuses_what_kie_says_cannot_be_combined(client, kie, inputs, field):
    before = len(kie.sim.tasks)
    payload = client.post(
        "/api/v1/jobs/createTask", json={"model": "bytedance/seedance-2-fast", "input": inputs}
    ).json()
    assert payload["code"] == 422 and f"'input.{field}'" in payload["msg"], payload
    assert len(kie.sim.tasks) == before
