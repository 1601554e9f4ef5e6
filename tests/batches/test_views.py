"""The batch pages: check the rows (each refusal with its line), run the ones that can, follow the batch."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kiestudio.batches.models import Batch
from kiestudio.studio.models import Generation, Prompt
from kiestudio.workspaces.models import Membership, Role
from tests.batches.test_batches import CSV, MODEL
from tests.studio.helpers import drain, workspace_of

pytestmark = pytest.mark.django_db


def _form(**extra):
    data = {"name": "Boats", "template": "A {subject}, soft light", "models": [MODEL], "request_key": str(uuid.uuid4())}
    data.update(extra)
    return data


def test_checking_a_csv_shows_every_row_its_price_and_both_refusals(client, kie_sim, alice):
    client.force_login(alice)
    csv = SimpleUploadedFile("boats.csv", CSV, content_type="text/csv")
    response = client.post("/batches/new/check/", _form(csv=csv), HTTP_HX_REQUEST="true")
    page = html.unescape(response.content.decode())
    assert response.status_code == 200 and 'id="batch-preview"' in page and "<html" not in page
    assert (
        "Line 7:</strong> Aspect ratio: " in page and "Line 12:</strong> There is no model “holo-model-9000”." in page
    )
    assert "10 generations ready" in page.replace("<strong>", "").replace("</strong>", "")
    assert "Run 10 generations · 40 credits" in page
    assert not Generation.objects.exists()  # checking buys nothing


def test_running_buys_the_ten_rows_that_can_run_and_shows_the_batch(client, kie_sim, alice):
    client.force_login(alice)
    csv = SimpleUploadedFile("boats.csv", CSV, content_type="text/csv")
    response = client.post("/batches/new/start/", _form(csv=csv))
    batch = Batch.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/batches/{batch.pk}/"
    assert batch.items.count() == 10 and [r["line"] for r in batch.refused] == [7, 12]
    drain()
    page = html.unescape(client.get(f"/batches/{batch.pk}/").content.decode())
    assert "<strong>10</strong> of 10 done" in page
    assert "Line 7:</strong> Aspect ratio:" in page  # the rows that didn't run, and why


def test_a_list_runs_without_a_csv_and_a_library_prompt_starts_the_template(client, kie_sim, alice):
    client.force_login(alice)
    prompt = Prompt.objects.create(
        workspace=workspace_of(alice), text="A {subject} at dusk", text_hash="x", saved_name="Dusk"
    )
    page = client.get(f"/batches/new/?prompt={prompt.pk}&model={MODEL}").content.decode()
    assert "A {subject} at dusk</textarea>" in page and f'value="{MODEL}" selected' in page
    client.post("/batches/new/start/", _form(template="A {subject} at dusk", prompts="a fox\na cat"))
    assert sorted(Generation.objects.values_list("prompt_text", flat=True)) == ["A a cat at dusk", "A a fox at dusk"]


def test_refusals_keep_the_form_and_buy_nothing(client, kie_sim, alice):
    client.force_login(alice)
    for data, message in (
        (_form(prompts="", template=""), "There are no rows"),
        (_form(prompts="a fox", models=[]), "Choose at least one model"),
        (_form(prompts="a fox", models=["nope/model"]), "There is no model “nope/model”"),
        (_form(prompts="a fox", request_key="not-a-token"), "missing its token"),
        (_form(prompts="a fox [sim:x]", template="{subject} in {style}"), "No value for {style}"),
    ):
        response = client.post("/batches/new/start/", data)
        page = html.unescape(response.content.decode())
        assert response.status_code == 400 and message in page, (message, page[-3000:])
        assert data["prompts"] in page  # the list is still there
    assert not Generation.objects.exists() and not Batch.objects.exists()


def test_a_viewer_cannot_start_or_pause_a_batch(client, kie_sim, alice, charlie):
    team = workspace_of(alice)
    Membership.objects.create(workspace=team, user=charlie, role=Role.VIEWER)
    batch = Batch.objects.create(workspace=team, created_by=alice, name="Boats", source=Batch.Source.LIST)
    client.force_login(charlie)
    client.post("/workspaces/switch/", {"workspace": team.pk})
    assert client.post("/batches/new/start/", _form(prompts="a fox")).status_code == 403
    assert client.post(f"/batches/{batch.pk}/pause/").status_code == 403
    assert client.get(f"/batches/{batch.pk}/").status_code == 200  # viewers follow it
    assert not Generation.objects.exists()


def test_the_batch_page_estimates_each_waiting_rows_start_and_the_batchs_finish(client, kie_sim, alice, settings):
    # Four creates per window: rows 1–4 go at once, 5–8 a window later, 9 and 10 two windows later (the queue
    # page's own figures), and the batch is done when its last row should be; none of it once the batch is paused.
    settings.KIE_CREATE_LIMIT = 4
    client.force_login(alice)
    client.post("/batches/new/start/", _form(prompts="\n".join(f"a boat no. {n}" for n in range(1, 11))))
    batch = Batch.objects.get()
    Generation.objects.update(status="queued", create_sent_at=None, kie_task_id="")
    page = html.unescape(client.get(f"/batches/{batch.pk}/").content.decode())
    starts = re.findall(r'class="batch-eta small muted">starts ([^·<]+?) ·', page)
    assert starts[:4] == ["any moment"] * 4, starts
    assert starts[4:8] == ["in ~10 s"] * 4, starts
    assert starts[8:] in (["in ~20 s"] * 2, ["in ~21 s"] * 2), starts  # two windows of 10.25 s, less a moment
    assert re.search(r"all done <strong>in ~\d+ s</strong> \(estimated\)", page)
    client.post(f"/batches/{batch.pk}/pause/")
    page = html.unescape(client.get(f"/batches/{batch.pk}/").content.decode())
    assert "(estimated)" not in page and "starts " not in page and "<strong>paused</strong>" in page


def test_the_prompt_library_shows_a_templates_variables_and_runs_it_as_a_batch(client, kie_sim, alice, charlie):
    team = workspace_of(alice)
    template = Prompt.objects.create(
        workspace=team, text="A {subject} in {Style=watercolour}, {subject} again", text_hash="t", saved_name="Scenes"
    )
    Prompt.objects.create(workspace=team, text="A plain prompt", text_hash="p", saved_name="Plain")
    client.force_login(alice)
    for url in ("/prompts/", f"/prompts/{template.pk}/"):
        page = html.unescape(client.get(url).content.decode())
        chips = re.findall(
            r'<span class="variable-chip"><code>\{(\w+)\}</code> <span class="muted">([^<]+)</span>', page
        )
        assert chips == [("subject", "needed in each row"), ("style", "default “watercolour”")], (url, chips)
        assert page.count("Run as a batch</a>") == 1 and f'href="/batches/new/?prompt={template.pk}"' in page
    batch_form = client.get(f"/batches/new/?prompt={template.pk}").content.decode()
    assert "A {subject} in {Style=watercolour}, {subject} again</textarea>" in batch_form
    Membership.objects.create(workspace=team, user=charlie, role=Role.VIEWER)
    client.force_login(charlie)
    client.post("/workspaces/switch/", {"workspace": team.pk})
    page = client.get("/prompts/").content.decode()
    assert 'class="variable-chip"' in page and "Run as a batch" not in page  # a viewer sees it, can't run it
