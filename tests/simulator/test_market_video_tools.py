"""The models of ``data/video_tools.json`` end to end over real HTTP: Grok Imagine Video 1.5 and its extend / 720p
follow-ups, Gemini Omni, OmniHuman, InfiniteTalk, Volcengine lip sync and ElevenLabs voice isolation. Each one
creates a task, reads a success record and downloads a file of the right kind; a documented choice broken is
Kie's 422 naming ``input.<field>``; a follow-up naming no earlier Grok Imagine video is refused before charging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiestudio.kie.catalog import ModelSpec, load_catalog
from tests.catalog.helpers import sample_inputs

from .helpers import client_for, create_market

DATA = Path(__file__).resolve().parents[2] / "kiestudio" / "kie" / "catalog" / "data" / "video_tools.json"
SPECS = [load_catalog().get(entry["key"]) for entry in json.loads(DATA.read_text(encoding="utf-8"))["models"]]
ORIGINALS = [spec for spec in SPECS if not spec.followup_only]
FOLLOWUPS = [spec for spec in SPECS if spec.followup_only]
#: What a downloaded file starts with: an MP4 box at byte 4, a WAV's RIFF header at byte 0.
MAGIC = {"video": (slice(4, 8), b"ftyp", "video/mp4"), "audio": (slice(0, 4), b"RIFF", "audio/wav")}
#: The first field of each model that Kie documents as a list of choices.
ENUMS = [
    (spec, next(f for f in spec.fields if f.type == "enum")) for spec in SPECS if any(f.choices for f in spec.fields)
]


def record(client, task_id: str) -> dict:
    response = client.get("/api/v1/jobs/recordInfo", params={"taskId": task_id})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def create(client, model: str, **input_) -> dict:
    return client.post("/api/v1/jobs/createTask", json={"model": model, "input": input_}).json()


def assert_one_file_of_kind(client, task_id: str, output: str) -> None:
    data = record(client, task_id)
    assert data["state"] == "success", data
    [url] = json.loads(data["resultJson"])["resultUrls"]
    where, magic, mime = MAGIC[output]
    response = client.get(url)
    assert response.status_code == 200
    assert response.content[where] == magic and response.headers["content-type"] == mime


def grok_video(client) -> str:
    return create_market(client, "grok-imagine-video-1-5-preview", prompt="A fox trots through snow", duration=6)


def test_the_file_holds_every_model_of_the_brief():
    assert {spec.key for spec in SPECS} == {
        "grok-imagine-video-1-5-preview",
        "grok-imagine/extend",
        "grok-imagine/upscale",
        "gemini-omni-video",
        "omnihuman-1-5",
        "infinitalk/from-audio",
        "volcengine/video-to-video-lip-sync",
        "elevenlabs/audio-isolation",
    }
    assert {spec.key for spec in FOLLOWUPS} == {"grok-imagine/extend", "grok-imagine/upscale"}


@pytest.mark.parametrize("spec", ORIGINALS, ids=[spec.key for spec in ORIGINALS])
def test_each_model_creates_a_task_and_reads_a_success_with_its_file(client, kie, spec: ModelSpec):
    inputs = sample_inputs(spec)
    task_id = create_market(client, spec.model, **inputs)
    assert json.loads(record(client, task_id)["param"]) == {"model": spec.model, "input": inputs}
    assert_one_file_of_kind(client, task_id, spec.output)
    assert kie.sim.tasks[task_id].spec_key == spec.key and kie.sim.tasks[task_id].credits > 0


@pytest.mark.parametrize("spec", FOLLOWUPS, ids=[spec.key for spec in FOLLOWUPS])
def test_grok_follow_ups_continue_an_earlier_grok_video(client, kie, spec: ModelSpec):
    parent = grok_video(client)
    inputs = sample_inputs(spec)
    task_id = create_market(client, spec.model, task_id=parent, **inputs)
    assert json.loads(record(client, task_id)["param"])["input"] == {"task_id": parent, **inputs}
    assert_one_file_of_kind(client, task_id, "video")
    task = kie.sim.tasks[task_id]
    assert task.extra["parent"] == parent and task.spec_key == spec.key
    assert task.credits == {"grok-imagine/extend": 20, "grok-imagine/upscale": 10}[spec.key]
    # An extended video can be extended (and upscaled) again.
    again = create_market(client, spec.model, task_id=task_id, **inputs)
    assert_one_file_of_kind(client, again, "video")


@pytest.mark.parametrize("spec", FOLLOWUPS, ids=[spec.key for spec in FOLLOWUPS])
def test_a_follow_up_naming_no_earlier_grok_video_is_refused_before_charging(make_sim, spec: ModelSpec):
    kie = make_sim(balance=1000)
    with client_for(kie) as client:
        inputs = sample_inputs(spec)
        image = create_market(client, "grok-imagine/text-to-image", prompt="A fox")
        other = create_market(client, "kling-2.6/text-to-video", prompt="waves", sound=False, duration="5")
        spent = kie.sim.balance
        created = set(kie.sim.tasks)
        for task_id, says in [
            ("task_grok_12345678", "record is empty"),  # Kie made no such task
            (image, "not a grok-imagine video"),  # a Grok Imagine picture, not a video
            (other, "not a grok-imagine video"),  # a video of another model
        ]:
            body = create(client, spec.model, task_id=task_id, **inputs)
            assert body["code"] == 422 and "'input.task_id'" in body["msg"] and says in body["msg"], body
        missing = create(client, spec.model, **inputs)
        assert missing["code"] == 422 and "'input.task_id'" in missing["msg"] and "required" in missing["msg"]
        too_long = create(client, spec.model, task_id="x" * 101, **inputs)
        assert too_long["code"] == 422 and "'input.task_id'" in too_long["msg"]
        assert set(kie.sim.tasks) == created and kie.sim.balance == spent


def test_a_follow_up_of_a_video_still_being_made_is_refused(make_sim):
    kie = make_sim(state_seconds={"waiting": 5, "queuing": 5, "generating": 5})
    with client_for(kie) as client:
        parent = grok_video(client)
        body = create(client, "grok-imagine/upscale", task_id=parent)
        assert body["code"] == 422 and "'input.task_id'" in body["msg"] and "not success" in body["msg"]
        assert list(kie.sim.tasks) == [parent]


@pytest.mark.parametrize(("spec", "field"), ENUMS, ids=[f"{spec.key}:{field.name}" for spec, field in ENUMS])
def test_a_documented_choice_broken_is_kies_422_naming_the_field(client, kie, spec: ModelSpec, field):
    raw = sample_inputs(spec)
    if spec.followup_only:
        raw["task_id"] = grok_video(client)
    created = set(kie.sim.tasks)
    bad = "9:7" if "ratio" in field.name else "13"
    assert bad not in {str(choice) for choice in field.choices}
    body = create(client, spec.model, **{**raw, field.name: bad})
    assert body["code"] == 422 and f"'input.{field.name}'" in body["msg"], body
    assert set(kie.sim.tasks) == created
    # The same value with the wire type Kie documents ("6", not 6) is the only form accepted.
    if isinstance(field.choices[0], str) and field.choices[0].isdigit():
        wrong_type = create(client, spec.model, **{**raw, field.name: int(field.choices[0])})
        assert wrong_type["code"] == 422 and f"'input.{field.name}'" in wrong_type["msg"]
