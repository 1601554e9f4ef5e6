"""Batches: check every row against its model's own form and price it (``batch_preview``), then buy the rows that
can run as ordinary generations, all or nothing, within the budget (``batch_create``); pause, resume and retry.

A row runs on each of the batch's models, or on the one its CSV "model" column names. Its values reach the model
through the same form a creator fills in on Generate, so a value out of range is refused with the words the form
would use, and the row's line number."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import QueryDict

from kiestudio.batches.models import Batch, BatchItem
from kiestudio.batches.rows import Row, _key
from kiestudio.core.credits import format_credits
from kiestudio.kie.catalog import ModelSpec, UnknownModel, get_model, load_catalog
from kiestudio.studio.forms import GenerateForm
from kiestudio.studio.models import Generation, Status
from kiestudio.studio.services import generation_create, generation_retry
from kiestudio.studio.services.plan import PlannedGeneration
from kiestudio.studio.services.queue import generations_hold, generations_release
from kiestudio.studio.services.scheduler import dispatch_due
from kiestudio.usage.services import spent_this_month
from kiestudio.workspaces.audit import A, audit_record
from kiestudio.workspaces.models import Membership, Workspace

MAX_MODELS = 4
MAX_JOBS = 500
# Columns that are about the row, not a model's setting.
ROW_COLUMNS = {"prompt", "model"}


class BatchError(Exception):
    """A batch that can't be started; the message is safe to show."""


@dataclass
class Job:
    """One generation a batch would buy: a row on one model, or the reason it can't."""

    line: int
    spec: ModelSpec | None
    prompt: str
    plan: PlannedGeneration | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)  # what a comparison changed for this model, and why
    settings: list[tuple[str, str]] = field(
        default_factory=list
    )  # a comparison's shared settings, as this model has them
    own: list[Any] = field(default_factory=list)  # a comparison's settings this model keeps for itself (OwnSetting)

    @property
    def credits(self) -> Decimal:
        return self.plan.credits_total if self.plan else Decimal(0)


@dataclass
class Preview:
    jobs: list[Job]
    notices: list[str] = field(default_factory=list)  # about the input as a whole (a column no model takes)

    @property
    def runnable(self) -> list[Job]:
        return [job for job in self.jobs if job.plan is not None]

    @property
    def refused(self) -> list[Job]:
        return [job for job in self.jobs if job.plan is None]

    @property
    def credits_total(self) -> Decimal:
        return sum((job.credits for job in self.runnable), Decimal(0))


def known_models(keys: Iterable[str]) -> list[ModelSpec]:
    """The chosen models, each once, in order (blank choices skipped); an unknown one is refused by name."""
    specs: list[ModelSpec] = []
    for key in keys:
        if not key:
            continue
        try:
            spec = get_model(key)
        except UnknownModel:
            raise BatchError(f"There is no model “{key[:60]}”. Choose one from the list.") from None
        if spec not in specs:
            specs.append(spec)
    return specs


def batch_models(keys: Iterable[str]) -> list[ModelSpec]:
    """The models a batch runs on, checked: known, at most four, each once."""
    specs = known_models(keys)
    if len(specs) > MAX_MODELS:
        raise BatchError(f"Choose at most {MAX_MODELS} models for one batch ({len(specs)} chosen).")
    return specs


def _model_named(name: str) -> ModelSpec | None:
    """A CSV's "model" cell: a model's key ("google/nano-banana") or its name ("Nano Banana"), any case."""
    try:
        return get_model(name)
    except UnknownModel:
        wanted = _key(name)
        return next((m for m in load_catalog().models if _key(m.name) == wanted or _key(m.key) == wanted), None)


def _setting_names(spec: ModelSpec) -> dict[str, str]:
    """Each column name that means one of the model's settings: its wire name or its label, as _key gives."""
    names: dict[str, str] = {}
    for spec_field in spec.fields:
        if spec_field.alias_of:
            continue
        names.setdefault(_key(spec_field.name), spec_field.name)
        names.setdefault(_key(spec_field.label), spec_field.name)
    return names


def _form_data(spec: ModelSpec, form: GenerateForm, row: Row) -> QueryDict:
    """The row as the model's form would receive it from a browser: the form's defaults under the row's values."""
    names = _setting_names(spec)
    values = {names[column]: value for column, value in row.values.items() if column in names}
    return form_data(spec, form, values, row.prompt)


def form_data(spec: ModelSpec, form: GenerateForm, values: dict[str, str], prompt: str) -> QueryDict:
    """What the model's form would receive from a browser: its defaults under ``values`` (by the model's own field
    names; empty values keep the default), the prompt, one variation and a fresh token."""
    data = QueryDict(mutable=True)
    for name, value in form.initial.items():
        if name in form.fields and value not in (None, "") and name != "form_token":
            if isinstance(value, list):
                data.setlist(name, [str(v) for v in value])
            elif isinstance(value, bool):
                data[name] = "true" if value else ""
            else:
                data[name] = str(value)
    for name, value in values.items():
        if name != spec.prompt_field and value != "":
            data[name] = value
    if spec.prompt_field:
        data[spec.prompt_field] = prompt
    data["variations"] = "1"
    data["form_token"] = str(uuid.uuid4())
    return data


def _first_error(form: GenerateForm) -> str:
    for name, errors in form.errors.items():
        if name == "form_token":
            continue
        label = form.fields[name].label if name in form.fields else ""
        text = str(errors[0])
        return f"{label}: {text}" if label else text
    return "This row can't run on that model."


def checked_job(workspace: Workspace, spec: ModelSpec, line: int, prompt: str, data: QueryDict) -> Job:
    """One job checked by its model's own form: planned and priced, or refused with the form's first error."""
    bound = GenerateForm(spec, data, workspace=workspace)
    if bound.is_valid() and bound.plan is not None:
        return Job(line, spec, prompt, plan=bound.plan)
    return Job(line, spec, prompt, reason=_first_error(bound))


def batch_preview(
    *,
    workspace: Workspace,
    rows: list[Row],
    model_keys: Iterable[str],
    columns: Iterable[str] = (),
    variables: Iterable[str] = (),
) -> Preview:
    """Every job the rows make, each checked by its model's form and priced, or refused with the reason.
    ``columns`` (a CSV's) that are neither the template's ``variables`` nor a setting of a model get a notice."""
    specs = batch_models(model_keys)
    has_model_column = any(row.values.get("model") for row in rows)
    if not specs and not has_model_column:
        raise BatchError("Choose at least one model (or give each row one in a “model” column).")
    jobs: list[Job] = []
    for row in rows:
        if row.reason:
            jobs.append(Job(row.line, None, row.prompt, reason=row.reason))
            continue
        named = row.values.get("model", "")
        if named:
            spec = _model_named(named)
            if spec is None:
                jobs.append(Job(row.line, None, row.prompt, reason=f"There is no model “{named[:60]}”."))
                continue
            row_specs = [spec]
        else:
            if not specs:
                jobs.append(Job(row.line, None, row.prompt, reason="No model: choose one, or fill the model column."))
                continue
            row_specs = specs
        for spec in row_specs:
            form = GenerateForm(spec, workspace=workspace)
            jobs.append(checked_job(workspace, spec, row.line, row.prompt, _form_data(spec, form, row)))
    if len(jobs) > MAX_JOBS:
        raise BatchError(f"That makes {len(jobs)} generations; a batch buys at most {MAX_JOBS}. Split it.")
    known = ROW_COLUMNS | set(variables)
    for spec in {*specs, *(job.spec for job in jobs if job.spec)}:
        known |= set(_setting_names(spec))
    notices = [
        f"The column “{column}” is neither a variable of the template nor a setting of the models, so it was left out."
        for column in columns
        if column and column not in known
    ]
    return Preview(jobs, notices)


def _over_by(workspace: Workspace, membership: Membership, cost: Decimal) -> Decimal:
    """How far ``cost`` goes over the tighter of the workspace's budget and the member's cap (0: it fits)."""
    over = Decimal(0)
    if workspace.monthly_budget is not None:
        over = max(over, cost - (workspace.monthly_budget - spent_this_month(workspace=workspace)))
    if membership.monthly_cap is not None:
        left = membership.monthly_cap - spent_this_month(workspace=workspace, user=membership.user)
        over = max(over, cost - left)
    return over


def batch_create(
    *,
    workspace: Workspace,
    membership: Membership,
    preview: Preview,
    name: str,
    source: str,
    template: str = "",
    model_keys: Iterable[str] = (),
    request_key: uuid.UUID,
    blind: bool = False,
) -> Batch:
    """Buy every runnable job as a generation, or none: the whole batch is checked against the budget and the
    member's cap first (refused with the amount over), then each row again as it is created. The same
    ``request_key`` again returns the batch it made (a double click buys nothing twice)."""
    existing = Batch.objects.filter(workspace=workspace, request_key=request_key).first()
    if existing is not None:
        return existing
    jobs = preview.runnable
    if not jobs:
        raise BatchError("None of the rows can run: see the reason beside each.")
    user = membership.user
    total = preview.credits_total
    with transaction.atomic():
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        over = _over_by(workspace, membership, total)
        if over > 0:
            raise BatchError(
                f"This batch costs about {format_credits(total)} credits, {format_credits(over)} more than "
                "this month's budget or your cap leaves. Nothing was started: remove rows or ask an admin."
            )
        batch = Batch.objects.create(
            workspace=workspace,
            created_by=user,
            name=" ".join(name.split())[:120] or "Batch",
            source=source,
            template=template,
            model_keys=list(model_keys),
            request_key=request_key,
            # A row refused on each of its models for one reason is listed once.
            refused=[
                dict(pair) for pair in dict.fromkeys((("line", j.line), ("reason", j.reason)) for j in preview.refused)
            ],
            credits_estimated=total,
            blind=blind,
        )
        items = []
        for job in jobs:
            assert job.plan is not None
            token = uuid.uuid5(request_key, f"{job.line}:{job.plan.spec.key}")
            [generation] = generation_create(
                workspace=workspace, user=user, plan=job.plan, form_token=token, membership=membership, dispatch=False
            )
            items.append(BatchItem(batch=batch, generation=generation, line=job.line))
        BatchItem.objects.bulk_create(items)
        audit_record(workspace=workspace, actor=user, action=A.BATCH_STARTED, target=batch.name, rows=len(items))
        transaction.on_commit(lambda: dispatch_due(limit=len(items)))
    return batch


def batch_generations(batch: Batch):
    return Generation.objects.filter(batch_item__batch=batch)


def batch_pause(*, batch: Batch, user) -> int:
    """Hold the batch's rows still waiting (rows already sent finish). Returns how many were held."""
    from django.utils import timezone

    Batch.objects.filter(pk=batch.pk, paused_at__isnull=True).update(paused_at=timezone.now())
    batch.refresh_from_db(fields=["paused_at"])
    held = generations_hold(generations=batch_generations(batch))
    audit_record(workspace=batch.workspace, actor=user, action=A.BATCH_PAUSED, target=batch.name)
    return held


def batch_resume(*, batch: Batch, user) -> int:
    Batch.objects.filter(pk=batch.pk).update(paused_at=None)
    batch.refresh_from_db(fields=["paused_at"])
    released = generations_release(generations=batch_generations(batch))
    audit_record(workspace=batch.workspace, actor=user, action=A.BATCH_RESUMED, target=batch.name)
    return released


# Rows that can be run again: a failure, or a row canceled before it was sent. Never an unknown one: Kie may
# have accepted it, and running it again could buy it twice.
RETRYABLE = (Status.FAILED, Status.CANCELED)


def batch_retryable(batch: Batch):
    return batch_generations(batch).filter(status__in=RETRYABLE, retries__isnull=True)


def batch_retry_failed(*, batch: Batch, membership: Membership) -> int:
    """Run each failed or canceled row again (a new generation in the batch, at the same line), once each;
    returns how many."""
    retried = 0
    failed = batch_retryable(batch).select_related("batch_item")
    for generation in failed:
        again = generation_retry(generation=generation, user=membership.user, membership=membership)
        BatchItem.objects.get_or_create(batch=batch, generation=again, defaults={"line": generation.batch_item.line})
        if batch.paused_at is not None:
            generations_hold(generations=Generation.objects.filter(pk=again.pk))
        retried += 1
    return retried
