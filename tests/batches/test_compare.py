"""Compare models: one prompt on two to four alike models, each taking the shared settings under its own field name
(or its default, with a note), priced before Run; bought once as a comparison batch that reopens side by side."""

from __future__ import annotations

import html
import uuid
from decimal import Decimal

import pytest

from kiestudio.batches import compare
from kiestudio.batches.models import Batch
from kiestudio.batches.services import BatchError
from kiestudio.studio.models import Generation, Status
from kiestudio.usage.models import Hold
from kiestudio.workspaces.models import Membership
from tests.studio.helpers import drain, workspace_of

pytestmark = pytest.mark.django_db

# Three image models whose ratio field is "aspect_ratio", and Flux Kontext Pro, whose field is "aspectRatio".
IMAGES = ["google/nano-banana", "seedream/4.5-text-to-image", "google/imagen4-fast", "flux-kontext/pro"]


def _preview(alice, models=IMAGES, **shared):
    return compare.compare_preview(
        workspace=workspace_of(alice), prompt="  a lighthouse   at dusk ", model_keys=models, shared=shared
    )


def test_each_model_gets_the_shared_ratio_under_its_own_field_name(kie_sim, alice):
    preview = _preview(alice, aspect_ratio="16:9")
    assert [(job.line, job.spec.key) for job in preview.jobs] == [(n, key) for n, key in enumerate(IMAGES, start=1)]
    assert not preview.refused
    inputs = {job.spec.key: job.plan.inputs for job in preview.jobs}
    assert inputs["flux-kontext/pro"]["aspectRatio"] == "16:9" and "aspect_ratio" not in inputs["flux-kontext/pro"]
    assert all(inputs[key]["aspect_ratio"] == "16:9" for key in IMAGES[:3])
    assert {job.plan.inputs["prompt"] for job in preview.jobs} == {"a lighthouse at dusk"}
    assert ("Aspect ratio (aspectRatio)", "16:9") in preview.jobs[3].settings
    # Other spellings through the same tables: Wan 2.7's ratio is "ratio", Qwen's "image_size" says "landscape_16_9".
    video = compare.compare_preview(
        workspace=workspace_of(alice),
        prompt="a fox",
        model_keys=["veo/veo3_fast", "wan/2-7-text-to-video"],
        shared={"aspect_ratio": "9:16", "duration": "8"},
    )
    assert video.jobs[1].plan.inputs["ratio"] == "9:16" and video.jobs[1].plan.inputs["duration"] == 8
    qwen = _preview(alice, ["google/nano-banana", "qwen/text-to-image"], aspect_ratio="16:9")
    assert qwen.jobs[1].plan.inputs["image_size"] == "landscape_16_9" and not qwen.jobs[1].notes


def test_a_shared_value_a_model_lacks_is_a_note_and_its_default(kie_sim, alice):
    preview = _preview(alice, aspect_ratio="21:9")
    notes = {job.spec.key: job.notes for job in preview.jobs}
    assert notes["google/imagen4-fast"] == ["Imagen 4 Fast has no aspect ratio 21:9; it uses 16:9."]
    assert notes["google/nano-banana"] == notes["seedream/4.5-text-to-image"] == notes["flux-kontext/pro"] == []
    by_key = {job.spec.key: job.plan.inputs for job in preview.jobs}
    assert (
        by_key["google/imagen4-fast"]["aspect_ratio"] == "16:9" and by_key["flux-kontext/pro"]["aspectRatio"] == "21:9"
    )
    assert not preview.refused  # a note, not an error
    # A value none of them offers is a mistake, not a note.
    with pytest.raises(BatchError, match="None of these models offers the aspect ratio “7:3”"):
        _preview(alice, aspect_ratio="7:3")


@pytest.mark.parametrize(
    ("models", "message"),
    [
        (
            ["google/nano-banana", "veo/veo3_fast", "google/imagen4"],
            "Veo 3.1 Fast makes videos, but Nano Banana makes pictures",
        ),
        (
            ["google/nano-banana-edit", "google/nano-banana", "google/imagen4"],
            "Nano Banana Edit is image edit, but Nano Banana",
        ),
        (["google/nano-banana", "topaz/image-upscale"], "doesn't take a prompt"),
        (["google/nano-banana"], r"Choose 2 to 4 different models to compare \(1 chosen\)"),
        (["google/nano-banana", "google/nano-banana"], r"\(1 chosen\)"),
        ([*IMAGES, "z-image"], r"\(5 chosen\)"),
        (["google/nano-banana", "nope/model"], "There is no model “nope/model”"),
    ],
)
def test_odd_or_too_few_or_too_many_models_are_refused(kie_sim, alice, models, message):
    with pytest.raises(BatchError, match=message):
        _preview(alice, models)


def _create(alice, preview, key):
    workspace = workspace_of(alice)
    return compare.compare_create(
        workspace=workspace,
        membership=Membership.objects.get(workspace=workspace, user=alice),
        preview=preview,
        prompt="a lighthouse at dusk",
        request_key=key,
    )


def test_the_total_is_what_is_held_and_create_is_idempotent(kie_sim, alice):
    preview = _preview(alice, aspect_ratio="16:9")
    total = preview.credits_total
    assert total == sum(job.plan.credits_total for job in preview.jobs) and total > 0
    key = uuid.uuid4()
    batch = _create(alice, preview, key)
    assert _create(alice, _preview(alice, aspect_ratio="16:9"), key).pk == batch.pk  # the same submit twice
    assert batch.source == Batch.Source.COMPARE and batch.name == "a lighthouse at dusk"
    assert batch.model_keys == IMAGES and Generation.objects.count() == 4
    generations = Generation.objects.order_by("batch_item__line")
    assert [g.model_key for g in generations] == IMAGES
    assert sum(g.credits_estimated for g in generations) == total == batch.credits_estimated
    assert sum(h.credits for h in Hold.objects.all()) == total
    drain()
    assert set(Generation.objects.values_list("status", flat=True)) == {Status.SUCCEEDED}
    assert len(kie_sim.log.of_kind("create")) == 4


def test_a_model_that_cant_run_stops_the_whole_comparison(kie_sim, alice):
    preview = compare.compare_preview(
        workspace=workspace_of(alice),
        prompt="a lighthouse",
        model_keys=["google/nano-banana", "google/imagen4-fast"],
        shared={},
        overrides={"google/imagen4-fast": {"aspect_ratio": "7:3"}},
    )
    assert [bool(job.reason) for job in preview.jobs] == [False, True]
    with pytest.raises(BatchError, match="Imagen 4 Fast can't run this"):
        _create(alice, preview, uuid.uuid4())
    assert not Generation.objects.exists() and not Batch.objects.exists()


def _form(**extra):
    data = {
        "prompt": "a lighthouse at dusk",
        "models": IMAGES,
        "aspect_ratio": "21:9",
        "request_key": str(uuid.uuid4()),
    }
    data.update(extra)
    return data


def test_the_pages_check_prices_then_run_and_reopen_as_a_comparison(client, kie_sim, alice):
    client.force_login(alice)
    page = client.get("/batches/compare/new/?model=flux-kontext/pro&prompt=a+fox").content.decode()
    assert 'value="flux-kontext/pro" selected' in page and ">a fox</textarea>" in page
    response = client.post("/batches/compare/new/check/", _form(), HTTP_HX_REQUEST="true")
    check = html.unescape(response.content.decode())
    assert response.status_code == 200 and 'id="compare-live"' in check and "<html" not in check
    total = _preview(alice, aspect_ratio="21:9").credits_total
    assert "Imagen 4 Fast has no aspect ratio 21:9; it uses 16:9." in check
    assert "Aspect ratio (aspectRatio):</span> 21:9" in check
    assert f"Run 4 models · {total.normalize():f} credits" in check
    assert not Generation.objects.exists()  # checking buys nothing
    response = client.post("/batches/compare/new/start/", _form())
    batch = Batch.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/batches/{batch.pk}/"
    assert sum(g.credits_estimated for g in Generation.objects.all()) == total
    assert "Open the comparison" not in client.get(f"/batches/{batch.pk}/").content.decode()  # not finished yet
    drain()
    page = client.get(f"/batches/{batch.pk}/").content.decode()
    ids = list(Generation.objects.order_by("batch_item__line").values_list("pk", flat=True))
    link = "/gallery/compare/?" + "&amp;".join(f"ids={pk}" for pk in ids)
    assert f'href="{link}">Open the comparison</a>' in page
    listed = client.get("/batches/?source=compare").content.decode()
    assert "Comparison</span>" in listed and batch.name in listed
    compare_page = client.get(html.unescape(link))
    assert compare_page.status_code == 200 and compare_page.content.decode().count('class="compare-item"') == 4


def test_refusals_keep_the_form_and_buy_nothing(client, kie_sim, alice):
    client.force_login(alice)
    for data, message in (
        (_form(models=IMAGES[:1]), "Choose 2 to 4 different models"),
        (_form(models=["google/nano-banana", "veo/veo3_fast"]), "makes videos"),
        (_form(prompt="  "), "Write the prompt"),
        (_form(aspect_ratio="²"), "None of these models offers the aspect ratio “²”"),
        (_form(request_key="not-a-token"), "missing its token"),
    ):
        response = client.post("/batches/compare/new/start/", data)
        page = html.unescape(response.content.decode())
        assert response.status_code == 400 and message in page, (message, page[-2000:])
    assert not Generation.objects.exists() and not Batch.objects.exists()


def test_over_the_budget_nothing_is_bought(client, kie_sim, alice):
    workspace = workspace_of(alice)
    workspace.monthly_budget = Decimal("5")
    workspace.save()
    client.force_login(alice)
    response = client.post("/batches/compare/new/start/", _form())
    assert response.status_code == 400 and "more than this month's budget" in html.unescape(response.content.decode())
    assert not Generation.objects.exists()


def test_each_model_keeps_its_own_settings_and_the_price_follows(client, kie_sim, alice):
    # Seedream's quality, Imagen's seed and Flux's safety tolerance are each that model's own: set beside it after
    # Check prices, they reach only that model's job, and the total is re-priced with them. A name that isn't one of
    # the model's own settings is ignored; a value its form refuses stops the comparison with the model's reason.
    client.force_login(alice)
    own = {
        "o:seedream/4.5-text-to-image:quality": "high",
        "o:google/imagen4-fast:seed": "42",
        "o:flux-kontext/pro:safetyTolerance": "1",
        "o:google/nano-banana:prompt": "something else",
        "o:not/a-model:seed": "1",
    }
    check = html.unescape(client.post("/batches/compare/new/check/", {**_form(), **own}).content.decode())
    assert '<option value="high" selected>High</option>' in check and 'value="42"' in check
    assert check.count("'s own settings</summary>") == 4  # each of the four models has some
    overrides = {key: {k.rpartition(":")[2]: v} for k, v in own.items() for key in [k[2:].rpartition(":")[0]]}
    priced = compare.compare_preview(
        workspace=workspace_of(alice),
        prompt="a lighthouse at dusk",
        model_keys=IMAGES,
        shared={"aspect_ratio": "21:9"},
        overrides={k: v for k, v in overrides.items() if k in IMAGES and "prompt" not in v},
    ).credits_total
    assert f"Run 4 models · {priced.normalize():f} credits" in check
    client.post("/batches/compare/new/start/", {**_form(), **own})
    inputs = {g.model_key: g.inputs for g in Generation.objects.all()}
    assert inputs["seedream/4.5-text-to-image"]["quality"] == "high" and inputs["google/imagen4-fast"]["seed"] == 42
    assert inputs["flux-kontext/pro"]["safetyTolerance"] == 1 and "seed" not in inputs["seedream/4.5-text-to-image"]
    assert {g["prompt"] for g in inputs.values()} == {"a lighthouse at dusk"}
    Generation.objects.all().delete()
    Batch.objects.all().delete()
    refused = client.post("/batches/compare/new/start/", {**_form(), "o:google/imagen4-fast:seed": "a lot"})
    assert refused.status_code == 400 and not Generation.objects.exists()
    assert "Imagen 4 Fast can't run this: " in html.unescape(refused.content.decode())
