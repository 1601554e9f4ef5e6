"""The Wan video models of ``data/wan.json`` end to end over real HTTP against the simulator.

Each model creates a task from valid sample inputs (Kie's wire types: ``"5"`` where Kie wants a string, ``5``
where it wants an integer), is charged its catalog price, and reads a success record holding one playable video.
A resolution Kie does not list for the model, a duration of the wrong JSON type and the cross-field rules of the
Wan 2.7 pages are each refused with Kie's 422 naming ``input.<field>``, and nothing is created or charged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from kiestudio.kie.catalog import estimate_credits, load_catalog, validate_inputs
from kiestudio.simulator.testing import RunningSimulator, start_simulator
from tests.catalog.helpers import sample_inputs

from .helpers import AUTH, fast_config

DATA = Path(__file__).resolve().parents[2] / "kiestudio" / "kie" / "catalog" / "data" / "wan.json"
SPECS = [load_catalog().get(entry["key"]) for entry in json.loads(DATA.read_text(encoding="utf-8"))["models"]]
IMAGE = "https://example.com/character.png"
CLIP = "https://example.com/dance.mp4"
VOICE = "https://example.com/voice.mp3"
#: Values beyond the required ones, so that each model also sends some of its optional fields on the wire.
EXTRA = {
    "wan/2-2-a14b-text-to-video-turbo": {
        "resolution": "480p",
        "aspect_ratio": "9:16",
        "acceleration": "regular",
        "seed": 7,
    },
    "wan/2-2-a14b-image-to-video-turbo": {"image_url": IMAGE, "enable_prompt_expansion": True},
    "wan/2-2-a14b-speech-to-video-turbo": {
        "image_url": IMAGE,
        "audio_url": VOICE,
        "num_frames": 120,
        "frames_per_second": 24,
        "guidance_scale": 4.5,
        "resolution": "580p",
    },
    "wan/2-2-animate-move": {"video_url": CLIP, "image_url": IMAGE, "resolution": "720p"},
    "wan/2-2-animate-replace": {"video_url": CLIP, "image_url": IMAGE, "resolution": "580p"},
    "wan/2-5-text-to-video": {"duration": "10", "aspect_ratio": "1:1", "negative_prompt": "blurry"},
    "wan/2-5-image-to-video": {"image_url": IMAGE, "resolution": "720p", "seed": 123456},
    "wan/2-6-flash-image-to-video": {"image_urls": [IMAGE], "duration": "15", "audio": False, "multi_shots": True},
    "wan/2-6-flash-video-to-video": {"video_urls": [CLIP, CLIP], "duration": "10", "resolution": "720p"},
    "wan/2-7-text-to-video": {"duration": 12, "ratio": "9:16", "audio_url": VOICE, "watermark": False},
    "wan/2-7-image-to-video": {"first_frame_url": IMAGE, "last_frame_url": IMAGE, "duration": 8},
    "wan/2-7-videoedit": {"video_url": CLIP, "reference_image": IMAGE, "audio_setting": "origin", "duration": 0},
    "wan/2-7-r2v": {
        "reference_image": [IMAGE, IMAGE],
        "reference_video": [CLIP],
        "reference_voice": VOICE,
        "duration": 10,
    },
}
RESOLUTIONS = ("480p", "580p", "720p", "1080p", "4K")


@pytest.fixture(scope="module")
def kie() -> Iterator[RunningSimulator]:
    running = start_simulator(
        fast_config(rate_limit=1000, read_rate_limit_enabled=False)
    )  # one simulator serves every test of the module
    yield running
    running.stop()


@pytest.fixture
def client(kie: RunningSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=kie.base_url, headers=AUTH, timeout=10) as c:
        yield c


def create(client: httpx.Client, model: str, input_: dict) -> dict:
    response = client.post("/api/v1/jobs/createTask", json={"model": model, "input": input_})
    assert response.status_code == 200, response.text
    return response.json()


def refused(client: httpx.Client, kie: RunningSimulator, model: str, input_: dict, field: str) -> str:
    """The create is Kie's 422 naming ``input.<field>``, and no task is made."""
    before = set(kie.sim.tasks)
    body = create(client, model, input_)
    assert body["code"] == 422, body
    assert f"'input.{field}'" in body["msg"], body
    assert set(kie.sim.tasks) == before
    return body["msg"]


def test_the_file_holds_the_models_of_the_brief():
    assert [spec.key for spec in SPECS] == list(EXTRA)
    assert all(spec.family == "market" and spec.output == "video" for spec in SPECS)


@pytest.mark.parametrize("spec", SPECS, ids=[spec.key for spec in SPECS])
def test_each_model_makes_one_video(client, kie, spec):
    input_ = sample_inputs(spec, **EXTRA[spec.key])
    balance = kie.sim.balance
    body = create(client, spec.model, input_)
    assert body["code"] == 200, body
    task_id = body["data"]["taskId"]
    assert kie.sim.balance == balance - estimate_credits(spec, validate_inputs(spec, input_)) > 0

    response = client.get("/api/v1/jobs/recordInfo", params={"taskId": task_id})
    data = response.json()["data"]
    assert data["state"] == "success", data
    assert json.loads(data["param"]) == {"model": spec.model, "input": input_}
    [url] = json.loads(data["resultJson"])["resultUrls"]
    video = client.get(url)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"


@pytest.mark.parametrize("spec", SPECS, ids=[spec.key for spec in SPECS])
def test_a_resolution_kie_does_not_list_is_refused(client, kie, spec):
    choices = spec.field("resolution").choices
    wrong = next(value for value in RESOLUTIONS if value not in choices)
    input_ = sample_inputs(spec, **EXTRA[spec.key]) | {"resolution": wrong}
    refused(client, kie, spec.model, input_, "resolution")


def test_durations_travel_in_each_pages_own_json_type(client, kie):
    # Wan 2.5 and 2.6 Flash take the length as a string enum, Wan 2.7 as an integer: the other type is a 422.
    refused(client, kie, "wan/2-5-text-to-video", {"prompt": "a fox", "duration": 5}, "duration")
    refused(
        client,
        kie,
        "wan/2-6-flash-image-to-video",
        {"prompt": "a fox", "image_urls": [IMAGE], "duration": 5, "audio": True},
        "duration",
    )
    refused(client, kie, "wan/2-7-text-to-video", {"prompt": "a fox", "duration": "5"}, "duration")
    refused(client, kie, "wan/2-7-text-to-video", {"prompt": "a fox", "duration": 16}, "duration")
    # Speech to video counts frames in fours, from 40 to 120.
    speech = {"prompt": "she speaks", "image_url": IMAGE, "audio_url": VOICE}
    refused(client, kie, "wan/2-2-a14b-speech-to-video-turbo", speech | {"num_frames": 82}, "num_frames")


def test_the_wan_2_7_rules_between_fields(client, kie):
    # Image to video starts from a first frame (optionally with a last one) or continues a clip, never both.
    refused(client, kie, "wan/2-7-image-to-video", {"prompt": "a fox"}, "first_frame_url")
    refused(client, kie, "wan/2-7-image-to-video", {"last_frame_url": IMAGE}, "first_frame_url")
    refused(
        client, kie, "wan/2-7-image-to-video", {"first_clip_url": CLIP, "first_frame_url": IMAGE}, "first_frame_url"
    )
    # Video edit keeps the whole clip (0) or cuts it to 2-10 seconds.
    refused(client, kie, "wan/2-7-videoedit", {"video_url": CLIP, "duration": 1}, "duration")
    # Reference to video needs a reference, and at most 5 pictures and clips together.
    refused(client, kie, "wan/2-7-r2v", {"prompt": "a duet"}, "reference_image")
    too_many = {"prompt": "a duet", "reference_image": [IMAGE] * 3, "reference_video": [CLIP] * 3}
    message = refused(client, kie, "wan/2-7-r2v", too_many, "reference_image")
    assert "at most 5" in message
    ok = create(client, "wan/2-7-r2v", too_many | {"reference_video": [CLIP] * 2})
    assert ok["code"] == 200, ok


def test_the_price_charged_follows_length_and_resolution(client, kie):
    balance = kie.sim.balance
    assert (
        create(client, "wan/2-7-text-to-video", {"prompt": "a fox", "duration": 10, "resolution": "720p"})["code"]
        == 200
    )
    assert balance - kie.sim.balance == Decimal("160")  # $0.08 a second at 720p
    balance = kie.sim.balance
    assert (
        create(client, "wan/2-5-image-to-video", {"prompt": "a fox", "image_url": IMAGE, "duration": "10"})["code"]
        == 200
    )
    assert balance - kie.sim.balance == Decimal("200")  # $1.00 for 10 seconds at 1080p
