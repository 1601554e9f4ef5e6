"""Batches: rows from a list or a CSV, each checked by its model's own form and priced before anything is bought;
then every runnable row bought once, within the budget, paused, resumed, retried and zipped."""

from __future__ import annotations

import io
import uuid
import zipfile
from decimal import Decimal

import pytest
from django.utils import timezone

from kiestudio.batches import services
from kiestudio.batches.models import Batch
from kiestudio.batches.rows import RowsError, rows_from_csv, rows_from_list, template_variables
from kiestudio.studio.models import Generation, Status
from kiestudio.studio.services import dispatch_due
from kiestudio.usage.models import UsageEntry
from kiestudio.workspaces.models import Membership
from tests.studio.helpers import drain, workspace_of

pytestmark = pytest.mark.django_db

MODEL = "google/nano-banana"

CSV = (
    "subject,aspect_ratio,model\n"
    + "".join(f"a paper boat no. {n},1:1,\n" for n in range(1, 6))
    + "a red fox,7:3,\n"  # line 7: not a ratio Nano Banana offers
    + "".join(f"a lighthouse no. {n},16:9,\n" for n in range(1, 5))
    + "a tram,1:1,holo-model-9000\n"  # line 12: no such model
    + "a quiet harbour,,Imagen 4 Fast\n"  # line 13: a model named in words
).encode()


def test_template_variables_and_defaults():
    assert [(v.name, v.default) for v in template_variables("A {Subject} in {style = ink} by {subject}")] == [
        ("subject", None),
        ("style", "ink"),
    ]


def test_a_list_fills_the_first_variable_or_names_several():
    rows = rows_from_list("a fox\n\nsubject: a cat | style: oil\n", template="{subject}, {style=ink}")
    assert [(r.line, r.prompt) for r in rows] == [(1, "a fox, ink"), (3, "a cat, oil")]
    missing = rows_from_list("style: oil", template="{subject}, {style=ink}")
    assert missing[0].reason == "No value for {subject}."


def test_csv_rows_are_refused_one_by_one_with_their_line(alice):
    bad = b"prompt,aspect_ratio\nA fox,1:1\n" + "A café,1:1\n".encode("latin-1") + b"A cat,1:1,extra\nA dog,1:1\n"
    header, rows = rows_from_csv(bad)
    assert header == ["prompt", "aspect_ratio"]
    assert [(r.line, r.reason) for r in rows] == [
        (2, ""),
        (3, "This line isn't UTF-8 text (save the file as “CSV UTF-8”)."),
        (4, "This line has 3 cells; the header names 2."),
        (5, ""),
    ]
    # A quoted prompt across two lines is one row; the next row's line number counts both.
    _, rows = rows_from_csv(b'prompt\n"A fox\nin snow"\nA cat\n')
    assert [(r.line, r.prompt) for r in rows] == [(2, "A fox in snow"), (4, "A cat")]
    for data, message in (
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "isn't a CSV"),
        ("prix,modèle\n".encode("latin-1"), "first line isn't UTF-8"),
        (b"prompt,prompt\nA,B\n", "appears twice"),
        (b"prompt\n", "no rows"),
    ):
        with pytest.raises(RowsError, match=message):
            rows_from_csv(data)


def test_preview_checks_each_row_on_its_model_and_prices_it(kie_sim, alice):
    columns, rows = rows_from_csv(CSV, template="A {subject}, soft light")
    preview = services.batch_preview(
        workspace=workspace_of(alice), rows=rows, model_keys=[MODEL], columns=columns, variables=["subject"]
    )
    refused = {job.line: job.reason for job in preview.refused}
    assert set(refused) == {7, 12}
    assert refused[7].startswith("Aspect ratio: ") and "7:3" in refused[7]
    assert refused[12] == "There is no model “holo-model-9000”."
    assert len(preview.runnable) == 10
    assert {job.spec.key for job in preview.runnable if job.line == 13} == {"google/imagen4-fast"}
    assert preview.credits_total == sum(job.plan.credits_total for job in preview.runnable)
    assert preview.runnable[0].plan.inputs["prompt"] == "A a paper boat no. 1, soft light"
    assert preview.runnable[5].plan.inputs["aspect_ratio"] == "16:9"


def test_a_column_no_model_takes_gets_a_notice(kie_sim, alice):
    columns, rows = rows_from_csv(b"prompt,colour_grade\nA fox,warm\n")
    preview = services.batch_preview(workspace=workspace_of(alice), rows=rows, model_keys=[MODEL], columns=columns)
    assert preview.notices == [
        "The column “colour_grade” is neither a variable of the template nor a setting of the models, so it was left out."
    ]


def _start(alice, text="a fox\na cat\na dog", *, models=(MODEL,), key=None):
    workspace = workspace_of(alice)
    membership = Membership.objects.get(workspace=workspace, user=alice)
    preview = services.batch_preview(workspace=workspace, rows=rows_from_list(text), model_keys=models)
    return services.batch_create(
        workspace=workspace,
        membership=membership,
        preview=preview,
        name="Animals",
        source=Batch.Source.LIST,
        model_keys=models,
        request_key=key or uuid.uuid4(),
    )


def test_a_batch_buys_each_row_once_on_each_model(kie_sim, alice):
    key = uuid.uuid4()
    batch = _start(alice, models=(MODEL, "google/imagen4-fast"), key=key)
    again = _start(alice, models=(MODEL, "google/imagen4-fast"), key=key)  # the same submit twice
    assert again.pk == batch.pk and Generation.objects.count() == 6
    drain()
    assert set(Generation.objects.values_list("status", flat=True)) == {Status.SUCCEEDED}
    assert len(kie_sim.log.of_kind("create")) == 6
    assert sorted(batch.items.values_list("line", flat=True)) == [1, 1, 2, 2, 3, 3]
    estimated = sum(g.credits_estimated for g in Generation.objects.all())
    assert batch.credits_estimated == estimated


def test_a_batch_over_the_budget_is_refused_with_the_amount_over_and_buys_nothing(kie_sim, alice):
    workspace = workspace_of(alice)
    workspace.monthly_budget = Decimal("5")
    workspace.save()
    with pytest.raises(services.BatchError, match=r"about 12 credits, 7 more than this month's budget"):
        _start(alice)
    assert not Generation.objects.exists() and not Batch.objects.exists() and not kie_sim.log.of_kind("create")


def test_a_paused_batch_sends_nothing_until_resumed(kie_sim, alice):
    batch = _start(alice)
    services.batch_pause(batch=batch, user=alice)
    dispatch_due()
    assert not kie_sim.log.of_kind("create")
    assert Generation.objects.filter(held_at__isnull=False).count() == 3
    services.batch_resume(batch=batch, user=alice)
    drain()
    assert len(kie_sim.log.of_kind("create")) == 3


def test_retry_runs_the_failed_rows_again_in_the_batch(kie_sim, alice):
    batch = _start(alice, "a fox\na cat [sim:fail]")
    drain()
    failed = Generation.objects.get(status=Status.FAILED)
    membership = Membership.objects.get(user=alice)
    assert services.batch_retry_failed(batch=batch, membership=membership) == 1
    assert services.batch_retry_failed(batch=batch, membership=membership) == 0  # once per failure
    retry = Generation.objects.get(retry_of=failed)
    assert retry.batch_item.batch == batch and retry.batch_item.line == 2


def test_the_zip_holds_every_finished_result(client, kie_sim, alice):
    batch = _start(alice)
    drain()
    client.force_login(alice)
    response = client.post(f"/batches/{batch.pk}/zip/")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    pictures = [name for name in archive.namelist() if name.endswith(".png")]
    assert len(pictures) == 3
    assert UsageEntry.objects.filter(source__startswith="generation:").count() == 3


def test_a_canceled_row_runs_again_but_an_unknown_one_never(kie_sim, alice):
    from kiestudio.studio.services import generation_cancel

    workspace = workspace_of(alice)
    workspace.queue_paused_at = timezone.now()
    workspace.save()
    batch = _start(alice, "a fox\na cat\na dog")
    fox, cat, dog = Generation.objects.order_by("pk")
    assert generation_cancel(generation=fox)
    Generation.objects.filter(pk=cat.pk).update(status=Status.UNKNOWN)  # Kie may have it: never bought again
    membership = Membership.objects.get(user=alice)
    assert services.batch_retry_failed(batch=batch, membership=membership) == 1
    assert Generation.objects.get(retry_of=fox).batch_item.line == 1
    assert not Generation.objects.filter(retry_of=cat).exists()
