from __future__ import annotations

import uuid
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from kiestudio.batches import services
from kiestudio.batches.models import Batch, BatchItem, Judgement
from kiestudio.batches.rows import RowsError, rows_from_csv, rows_from_list, template_variables
from kiestudio.core.http import AuthedHttpRequest
from kiestudio.core.params import BadParameter, parse_optional_id, parse_uuid
from kiestudio.gallery.services import zip_stream
from kiestudio.kie.catalog import load_catalog
from kiestudio.studio.models import PENDING, Asset, Generation, Prompt, Status
from kiestudio.studio.services.queue import QueueEntry, queue_entries
from kiestudio.usage.services import BudgetExceeded
from kiestudio.workspaces.access import current_membership, current_workspace, get_for_workspace, require_role, scoped

MAX_NAME = 120


def _inputs(request: HttpRequest) -> dict[str, object]:
    """The batch form's values as sent (to show them again beside a refusal)."""
    return {
        "name": request.POST.get("name", "")[:MAX_NAME],
        "template": request.POST.get("template", "")[:5000],
        "prompts": request.POST.get("prompts", "")[:200_000],
        "model_keys": [key for key in request.POST.getlist("models")[: services.MAX_MODELS + 1] if key][:8],
    }


def _preview(request: HttpRequest, values: dict) -> tuple[services.Preview, str]:
    """Read the rows (the CSV if one was sent, else the pasted list) and check each on its models."""
    template = str(values["template"])
    upload = request.FILES.get("csv")
    columns: list[str] = []
    if upload is not None:
        if upload.size and upload.size > 2 * 1024 * 1024:
            raise RowsError(f"The CSV is {upload.size / 1024 / 1024:.1f} MB; the most a batch takes is 2 MB.")
        columns, rows = rows_from_csv(upload.read(), template=template)
        source = Batch.Source.CSV
    else:
        rows = rows_from_list(str(values["prompts"]), template=template)
        source = Batch.Source.LIST
    variables = [v.name for v in template_variables(template)]
    preview = services.batch_preview(
        workspace=current_workspace(request),
        rows=rows,
        model_keys=values["model_keys"],  # type: ignore[arg-type]  # a list of str, from _inputs
        columns=columns,
        variables=variables,
    )
    return preview, source


def form_token(value: str) -> uuid.UUID | None:
    """The form's token (``core.params.parse_uuid``), or None when it is missing or malformed."""
    try:
        return parse_uuid(value, name="form token")
    except BadParameter:
        return None


def _form_context(request: HttpRequest, values: dict) -> dict[str, object]:
    return {
        "values": values,
        "models": [(m.key, m.name) for m in load_catalog().originals],
        "model_slots": [*values["model_keys"], *[""] * services.MAX_MODELS][: services.MAX_MODELS],  # type: ignore[misc]
        "request_key": form_token(request.POST.get("request_key", "")) or uuid.uuid4(),
        "library": scoped(request, Prompt).exclude(saved_name="").order_by("saved_name")[:200],
    }


@require_GET
@login_required
@require_role("member")
def batch_new(request: HttpRequest) -> HttpResponse:
    values: dict[str, object] = {"name": "", "template": "", "prompts": "", "model_keys": []}
    prompt_id = parse_optional_id(request.GET.get("prompt"), name="prompt")
    if prompt_id is not None:  # "Run as a batch" from the prompt library
        prompt = get_for_workspace(request, Prompt, pk=prompt_id)
        values.update(name=prompt.saved_name or "", template=prompt.text)
    model = request.GET.get("model", "")
    if model and model in load_catalog():
        values["model_keys"] = [model]
    return render(request, "batches/new.html", _form_context(request, values))


@require_POST
@login_required
@require_role("member")
def batch_check(request: AuthedHttpRequest) -> HttpResponse:
    """The rows checked and priced, before anything is bought (htmx swaps the preview in; without JavaScript the
    whole page comes back)."""
    values = _inputs(request)
    context = _form_context(request, values)
    try:
        context["preview"], _ = _preview(request, values)
    except (RowsError, services.BatchError) as exc:
        context["error"] = str(exc)
    template = "batches/new.html#preview" if request.htmx else "batches/new.html"
    return render(request, template, context, status=400 if "error" in context else 200)


@require_POST
@login_required
@require_role("member")
def batch_start(request: AuthedHttpRequest) -> HttpResponse:
    values = _inputs(request)
    context = _form_context(request, values)
    request_key = form_token(request.POST.get("request_key", ""))
    if request_key is None:
        context["error"] = "This form was missing its token, so nothing was started. Check the rows and run again."
        return render(request, "batches/new.html", context, status=400)
    try:
        preview, source = _preview(request, values)
    except (RowsError, services.BatchError) as exc:
        context["error"] = str(exc)
        return render(request, "batches/new.html", context, status=400)
    try:
        batch = services.batch_create(
            workspace=current_workspace(request),
            membership=current_membership(request),
            preview=preview,
            name=str(values["name"]) or _default_name(preview),
            source=source,
            template=str(values["template"]),
            model_keys=values["model_keys"],  # type: ignore[arg-type]  # a list of str, from _inputs
            request_key=request_key,
        )
    except services.BatchError as exc:  # nothing runnable, or over the budget: the rows show why
        context.update(error=str(exc), preview=preview)
        return render(request, "batches/new.html", context, status=400)
    count = batch.items.count()
    messages.success(request, f"Started {count} generation{'s' if count != 1 else ''} in “{batch.name}”.")
    return redirect("batch", batch_id=batch.pk)


def _default_name(preview: services.Preview) -> str:
    first = next((job.prompt for job in preview.runnable), "")
    return f"{first[:60]}…" if len(first) > 60 else (first or "Batch")


def _batch_context(batch: Batch, user) -> dict[str, object]:
    # A row run again counts once, by its latest attempt.
    current = BatchItem.objects.filter(batch=batch, generation__retries__isnull=True)
    items = list(
        current.select_related("generation").prefetch_related(
            Prefetch("generation__assets", queryset=Asset.objects.order_by("index"))
        )
    )
    attempts = Generation.objects.filter(batch_item__in=current)
    counts = {row["status"]: row["n"] for row in attempts.values("status").annotate(n=Count("id"))}
    done = counts.get(Status.SUCCEEDED, 0)
    failed = counts.get(Status.FAILED, 0) + counts.get(Status.UNKNOWN, 0)
    canceled = counts.get(Status.CANCELED, 0)
    pending = sum(counts.get(s, 0) for s in PENDING)
    total = len(items)
    # A blind comparison keeps its models' names from a member until that member has voted.
    reveal = not batch.blind or Judgement.objects.filter(batch=batch, user=user).exists()
    estimates, finish = _estimates(batch, items) if pending else ({}, None)
    for item in items:
        item.eta = estimates.get(item.generation_id)  # type: ignore[attr-defined]
    compare_url = ""
    if batch.source == Batch.Source.COMPARE and total and not pending and reveal:
        ids = urlencode([("ids", item.generation_id) for item in items])  # in the models' order (their lines)
        compare_url = f"{reverse('gallery-compare')}?{ids}"
    return {
        "reveal": reveal,
        "judgeable": batch.source == Batch.Source.COMPARE and done >= 2,
        "compare_url": compare_url,
        "batch": batch,
        "items": items,
        "total": total,
        "done": done,
        "failed": failed,
        "canceled": canceled,
        "pending": pending,
        "percent": round(100 * (total - pending) / total) if total else 100,
        "retryable": services.batch_retryable(batch).count(),
        "finish": finish,
    }


def _estimates(batch: Batch, items: list[BatchItem]) -> tuple[dict[int, QueueEntry], datetime | None]:
    """Each waiting or running row's estimated start and finish, from the workspace's queue (the same figures as the
    queue page), and when the whole batch should be done: None while any row of it is held or the queue is paused."""
    mine = {item.generation_id for item in items if item.generation.status in PENDING}
    entries = {e.generation.pk: e for e in queue_entries(workspace=batch.workspace) if e.generation.pk in mine}
    finishes = [e.finishes_at for e in entries.values() if e.finishes_at is not None]
    return entries, (max(finishes) if finishes and len(finishes) == len(mine) else None)


@require_GET
@login_required
def batches(request: HttpRequest) -> HttpResponse:
    rows = scoped(request, Batch).select_related("created_by").annotate(total=Count("items"))
    comparisons = request.GET.get("source") == Batch.Source.COMPARE
    if comparisons:
        rows = rows.filter(source=Batch.Source.COMPARE)
    rows = rows.order_by("-created_at", "-pk")[:100]
    return render(request, "batches/list.html", {"batches": rows, "comparisons": comparisons})


@require_GET
@login_required
def batch_detail(request: AuthedHttpRequest, batch_id: int) -> HttpResponse:
    batch = get_for_workspace(request, Batch, pk=batch_id)
    context = _batch_context(batch, request.user)
    if request.htmx:
        return render(request, "batches/detail.html#progress", context)
    return render(request, "batches/detail.html", context)


@require_POST
@login_required
@require_role("member")
def batch_pause(request: AuthedHttpRequest, batch_id: int) -> HttpResponse:
    batch = get_for_workspace(request, Batch, pk=batch_id)
    held = services.batch_pause(batch=batch, user=request.user)
    messages.success(request, f"Paused “{batch.name}”: {held} waiting generation{'s' if held != 1 else ''} held.")
    return redirect("batch", batch_id=batch.pk)


@require_POST
@login_required
@require_role("member")
def batch_resume(request: AuthedHttpRequest, batch_id: int) -> HttpResponse:
    batch = get_for_workspace(request, Batch, pk=batch_id)
    services.batch_resume(batch=batch, user=request.user)
    messages.success(request, f"Resumed “{batch.name}”.")
    return redirect("batch", batch_id=batch.pk)


@require_POST
@login_required
@require_role("member")
def batch_retry(request: AuthedHttpRequest, batch_id: int) -> HttpResponse:
    batch = get_for_workspace(request, Batch, pk=batch_id)
    try:
        count = services.batch_retry_failed(batch=batch, membership=current_membership(request))
    except BudgetExceeded as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Running {count} row{'s' if count != 1 else ''} again.")
    return redirect("batch", batch_id=batch.pk)


@require_POST
@login_required
def batch_zip(request: HttpRequest, batch_id: int) -> HttpResponseBase:
    batch = get_for_workspace(request, Batch, pk=batch_id)
    generations = list(
        Generation.objects.filter(batch_item__batch=batch, status=Status.SUCCEEDED, deleted_at__isnull=True)
        .select_related("created_by", "parent_asset")
        .prefetch_related(Prefetch("assets", queryset=Asset.objects.order_by("index")))
        .order_by("batch_item__line", "pk")
    )
    if not generations:
        messages.error(request, "Nothing in this batch has finished yet, so there is nothing to download.")
        return redirect("batch", batch_id=batch.pk)
    response = StreamingHttpResponse(zip_stream(generations), content_type="application/zip")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-{stamp}.zip"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
