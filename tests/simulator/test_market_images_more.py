"""Every model of ``images_more.json`` end to end against the simulator, over real HTTP.

Each entry's create body is built the way the studio builds it (``validate_inputs`` then ``request_body``); the
simulator validates it against the catalog, charges the catalog's price and makes the pictures, and the record
reads back as a success with as many image files as the job asked for. A value outside one of Kie's documented
enums, or against a rule Kie's page states, is refused with Kie's 422 naming ``input.<field>``.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from PIL import Image

from kiestudio.kie.catalog import estimate_credits, load_catalog, request_body, validate_inputs
from kiestudio.kie.catalog.fmt import DATA

ENTRIES = [entry["key"] for entry in json.loads((DATA / "images_more.json").read_text(encoding="utf-8"))["models"]]
PROMPT = "a red fox reading a paper map in a snowy forest"
PICTURE = "https://example.com/input.png"
MASK = "https://example.com/mask.png"

#: Sample inputs (besides the prompt) for each entry, and how many pictures the task must make.
CASES: dict[str, tuple[dict[str, object], int]] = {
    "gpt-image-2-text-to-image": ({"aspect_ratio": "16:9", "resolution": "2K"}, 1),
    "gpt-image-2-image-to-image": ({"input_urls": [PICTURE, PICTURE], "aspect_ratio": "3:2", "resolution": "4K"}, 1),
    "grok-imagine/image-to-image": ({"image_urls": [PICTURE]}, 1),
    "ideogram/character-edit": (
        {"image_url": PICTURE, "mask_url": MASK, "reference_image_urls": [PICTURE], "num_images": "2"},
        2,
    ),
    "ideogram/character-remix": (
        {"image_url": PICTURE, "reference_image_urls": [PICTURE], "image_size": "portrait_16_9", "num_images": "3"},
        3,
    ),
    "qwen/image-to-image": ({"image_url": PICTURE, "strength": 0.5, "output_format": "jpeg"}, 1),
    "qwen2/text-to-image": ({"image_size": "9:16"}, 1),
    "qwen2/image-edit": ({"image_url": PICTURE, "image_size": "21:9", "output_format": "jpeg"}, 1),
    "bytedance/seedream": ({"image_size": "landscape_16_9"}, 1),
    "wan/2-7-image": ({}, 4),  # no count chosen: the studio sends Kie's own default, four pictures
    "wan/2-7-image-pro": ({"input_urls": [PICTURE, PICTURE], "enable_sequential": True, "n": 6}, 6),
}
ENUMS = [(key, field.name) for key in ENTRIES for field in load_catalog().get(key).fields if field.type == "enum"]


def body_for(key: str, **changes: object) -> dict[str, object]:
    """The create body the studio sends for ``key`` with its sample inputs."""
    spec = load_catalog().get(key)
    extra, _ = CASES[key]
    return request_body(spec, validate_inputs(spec, {"prompt": PROMPT, **extra, **changes}))


def create(client, body):
    response = client.post("/api/v1/jobs/createTask", json=body)
    assert response.status_code == 200, response.text  # error_style "body": business codes travel in the body
    return response.json()


def test_every_entry_has_a_case_and_every_entry_but_grok_has_an_enum():
    assert sorted(CASES) == sorted(ENTRIES)
    assert set(ENTRIES) - {key for key, _ in ENUMS} == {"grok-imagine/image-to-image"}


@pytest.mark.parametrize("key", ENTRIES)
def test_the_model_runs_end_to_end(client, kie, key):
    spec = load_catalog().get(key)
    _, count = CASES[key]
    body = body_for(key)
    answer = create(client, body)
    assert answer["code"] == 200, answer
    task_id = answer["data"]["taskId"]
    task = kie.sim.tasks[task_id]
    assert task.spec_key == key  # qwen2/image-edit: the text-only page and the edit page are told apart
    assert task.credits == estimate_credits(spec, body["input"]) > Decimal(0)

    record = client.get("/api/v1/jobs/recordInfo", params={"taskId": task_id}).json()
    assert record["code"] == 200
    data = record["data"]
    assert (data["state"], data["model"]) == ("success", spec.model)
    assert json.loads(data["param"]) == body
    urls = json.loads(data["resultJson"])["resultUrls"]
    assert len(urls) == count
    wanted_format = "JPEG" if body["input"].get("output_format") == "jpeg" else "PNG"
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200 and response.headers["content-type"].startswith("image/")
        assert Image.open(io.BytesIO(response.content)).format == wanted_format


def test_the_result_takes_the_chosen_shape(client):
    task_id = create(client, body_for("qwen2/text-to-image"))["data"]["taskId"]
    url = json.loads(client.get("/api/v1/jobs/recordInfo", params={"taskId": task_id}).json()["data"]["resultJson"])
    image = Image.open(io.BytesIO(client.get(url["resultUrls"][0]).content))
    assert image.height > image.width and abs(image.width / image.height - 9 / 16) < 0.02


@pytest.mark.parametrize(("key", "name"), ENUMS, ids=[f"{key}:{name}" for key, name in ENUMS])
def test_a_value_outside_a_documented_enum_is_refused(client, kie, key, name):
    body = body_for(key)
    body["input"][name] = "not-a-choice"
    answer = create(client, body)
    assert answer["code"] == 422 and f"'input.{name}'" in answer["msg"], answer
    assert not kie.sim.tasks  # nothing was created or charged


@pytest.mark.parametrize(
    ("key", "changes", "name"),
    [
        ("gpt-image-2-text-to-image", {"resolution": "4K", "aspect_ratio": "9:21"}, "aspect_ratio"),
        ("gpt-image-2-image-to-image", {"resolution": "4K", "aspect_ratio": "1:1"}, "aspect_ratio"),
        ("gpt-image-2-image-to-image", {"resolution": "2K", "aspect_ratio": "auto"}, "aspect_ratio"),
        ("grok-imagine/image-to-image", {"image_urls": [PICTURE, PICTURE]}, "image_urls"),
        ("wan/2-7-image", {"n": 5}, "n"),
        ("wan/2-7-image", {"input_urls": [PICTURE], "thinking_mode": True}, "thinking_mode"),
        ("wan/2-7-image-pro", {"input_urls": [PICTURE], "resolution": "4K"}, "resolution"),
    ],
)
def test_what_kies_pages_rule_out_is_refused(client, kie, key, changes, name):
    """The studio's form refuses these too; the simulator, validating against the catalog, answers like Kie."""
    body = body_for(key)
    body["input"].update(changes)
    answer = create(client, body)
    assert answer["code"] == 422 and f"'input.{name}'" in answer["msg"], answer
    assert not kie.sim.tasks
