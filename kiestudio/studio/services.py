"""Generations: from the click that buys a Kie task to the files stored in our own storage.

The database is the source of truth. A generation that needs work has ``next_check_at`` set; the dispatcher
leases due rows and hands their ids to workers, and ``generation_advance`` performs one step (submit, poll or
store) under that lease. Every step is safe to run twice: transitions are conditional UPDATEs that only one
worker can win. One click buys at most one Kie task: a create whose outcome is unknown is never resent.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from kiestudio.core.fetch import FetchError, fetch_to_file
from kiestudio.core.kie import callbacks_reachable, kie_client
from kiestudio.core.ratelimit import shared_limiter
from kiestudio.kie import errors as kie_errors
from kiestudio.kie.catalog import (
    InputValidationError,
    ModelSpec,
    estimate_credits,
    get_model,
    load_catalog,
    validate_inputs,
)
from kiestudio.kie.catalog.actions import Action, Parent, actions_for
from kiestudio.kie.http import account_id
from kiestudio.kie.types import TaskState, TaskStatus
from kiestudio.kie.webhooks import callback_shape, four_k_answer, key_paths
from kiestudio.studio import media
from kiestudio.studio.models import (
    PENDING,
    TRANSITIONS,
    Asset,
    CallbackReceipt,
    Generation,
    GenerationEvent,
    Prompt,
    ReferenceImage,
    Status,
    SunoPersona,
)
from kiestudio.workspaces.models import Membership, UsageEntry, Workspace
from kiestudio.workspaces.services import budget_check, usage_record, workspace_kie_key

log = logging.getLogger("kiestudio.studio")

REQUEST_NAMESPACE = uuid.UUID("6f1c1b8e-3d5e-4f0a-9d7e-6b8f2a1c9e01")
MAX_VARIATIONS = 4
MAX_SUBMIT_ATTEMPTS = 8
MAX_STORE_ATTEMPTS = 5
MAX_RESULT_BYTES = 512 * 1024 * 1024
REFERENCE_MAX_BYTES = 10 * 1024 * 1024
REFERENCE_KIE_TTL = timedelta(hours=60)  # Kie keeps uploads 3 days; re-upload before that runs out
# Kie deletes a task's record and files after 14 days; a follow-up that names the task must be sent before that
# (with an hour to spare for the queue).
KIE_TASK_RETENTION = timedelta(days=14) - timedelta(hours=1)
MEDIA_PLACEHOLDER = "https://studio.local/files/assets/{pk}/"  # validated in place of the Kie upload made at submit


class GenerationError(Exception):
    """A generation could not be created; ``errors`` maps field names to messages."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


# --- Prompts ------------------------------------------------------------------------------------------------


def prompt_record(*, workspace: Workspace, user, text: str) -> Prompt | None:
    """Remember a typed prompt, de-duplicated per workspace (whitespace-insensitive)."""
    clean = Prompt.normalise(text)
    if not clean:
        return None
    digest = Prompt.hash_text(clean)
    now = timezone.now()
    updated = Prompt.objects.filter(workspace=workspace, text_hash=digest).update(
        use_count=F("use_count") + 1, last_used_at=now
    )
    if not updated:
        try:
            with transaction.atomic():
                return Prompt.objects.create(
                    workspace=workspace, text=text.strip(), text_hash=digest, created_by=user, use_count=1
                )
        except IntegrityError:
            pass
    return Prompt.objects.get(workspace=workspace, text_hash=digest)


def prompt_save(*, prompt: Prompt, user, name: str) -> Prompt:
    name = name.strip()[:80]
    if not name:
        raise GenerationError("Give the prompt a name to save it to the library.", {"name": ["Enter a name."]})
    prompt.saved_name = name
    prompt.saved_by = user
    prompt.saved_at = timezone.now()
    prompt.save(update_fields=["saved_name", "saved_by", "saved_at"])
    return prompt


# --- Creating generations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedGeneration:
    spec: ModelSpec
    inputs: dict[str, Any]
    credits_each: Decimal
    variations: int

    @property
    def credits_total(self) -> Decimal:
        return self.credits_each * self.variations


def generation_plan(*, spec: ModelSpec, raw_inputs: dict[str, Any], variations: int) -> PlannedGeneration:
    """Validate inputs against the catalog and price them, before anything is spent."""
    if not 1 <= variations <= MAX_VARIATIONS:
        raise GenerationError(f"Variations must be between 1 and {MAX_VARIATIONS}.", {"variations": ["Choose 1 to 4."]})
    try:
        inputs = validate_inputs(spec, raw_inputs)
    except InputValidationError as exc:
        raise GenerationError(str(exc), dict(exc.errors)) from exc
    return PlannedGeneration(spec, inputs, estimate_credits(spec, inputs), variations)


def generation_create(
    *,
    workspace: Workspace,
    user,
    plan: PlannedGeneration,
    form_token: uuid.UUID,
    references: dict[str, list[int]] | None = None,
    retry_of: Generation | None = None,
    membership: Membership | None = None,
    parent: Generation | None = None,
    parent_asset: Asset | None = None,
    action: str = "",
    parent_media_field: str = "",
) -> list[Generation]:
    """Create one generation per variation. Idempotent: the same form token returns the same rows, so a double
    click or a resent POST never buys a second task.

    With the ``membership`` of who asks, the workspace's monthly budget and their own cap are checked first
    (BudgetExceeded, before anything is spent); the check and the new rows share one transaction, with the
    workspace row locked, so two clicks at once can't both squeeze under a limit."""
    spec = plan.spec
    prompt_text = str(plan.inputs.get(spec.prompt_field, "")) if spec.prompt_field else ""
    keys = [uuid.uuid5(REQUEST_NAMESPACE, f"{form_token}:{i}") for i in range(plan.variations)]
    existing = list(Generation.objects.filter(request_key__in=keys, workspace=workspace).order_by("variation"))
    if existing:
        return existing
    persona_check(workspace=workspace, inputs=plan.inputs)
    created: list[Generation] = []
    # A retry keeps its place in the family tree even if its parent has since been purged.
    lineage = parent.descendant_prefix if parent is not None else (retry_of.lineage if retry_of else "")
    with transaction.atomic():
        if membership is not None and (workspace.monthly_budget is not None or membership.monthly_cap is not None):
            Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
            budget_check(workspace=workspace, membership=membership, cost=plan.credits_total)
        prompt = prompt_record(workspace=workspace, user=user, text=prompt_text) if prompt_text else None
        now = timezone.now()
        for index, key in enumerate(keys):
            generation = Generation(
                workspace=workspace,
                created_by=user,
                request_key=key,
                model_key=spec.key,
                family=spec.family,
                kind=spec.kind,
                output=spec.output,
                inputs=plan.inputs,
                references=references or {},
                prompt=prompt,
                prompt_text=prompt_text,
                variation=index + 1,
                retry_of=retry_of,
                parent=parent,
                parent_asset=parent_asset,
                action=action,
                parent_media_field=parent_media_field,
                lineage=lineage,
                credits_estimated=plan.credits_each,
                next_check_at=now,
                created_at=now,
            )
            try:
                with transaction.atomic():
                    generation.save()
            except IntegrityError:
                # A concurrent identical POST in this workspace won the race; return its rows (never another
                # workspace's: the key is unique per workspace, so a token replayed elsewhere can't collide here).
                return list(Generation.objects.filter(request_key__in=keys, workspace=workspace).order_by("variation"))
            GenerationEvent.objects.create(generation=generation, to_status=Status.QUEUED, note="Created")
            created.append(generation)
        # Start at once if create slots are free; otherwise the dispatcher hands them out as slots free up.
        transaction.on_commit(lambda: dispatch_due(limit=len(created)))
    return created


def generation_retry(*, generation: Generation, user, membership: Membership | None = None) -> Generation:
    """A failed, canceled or unknown generation is retried as a new, explicit task (a new Kie charge)."""
    if generation.is_pending:
        raise GenerationError("This generation is still running.")
    spec = get_model(generation.model_key)
    plan = PlannedGeneration(spec, generation.inputs, generation.credits_estimated, 1)
    [retry] = generation_create(
        workspace=generation.workspace,
        user=user,
        plan=plan,
        form_token=uuid.uuid4(),
        references=generation.references,
        retry_of=generation,
        membership=membership,
        parent=generation.parent,
        parent_asset=generation.parent_asset,
        action=generation.action,
        parent_media_field=generation.parent_media_field,
    )
    return retry


# --- Follow-ups -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowupChoice:
    action: Action
    unavailable: str = ""  # why it can't be used now ("" when it can)


def _task_expired(generation: Generation) -> bool:
    finished = generation.completed_at or generation.submitted_at or generation.created_at
    return timezone.now() - finished > KIE_TASK_RETENTION


def followup_parent(*, generation: Generation, asset: Asset) -> Parent:
    return Parent(
        output=generation.output,
        family=generation.family,
        kind=generation.kind,
        has_task=bool(generation.kie_task_id) and generation.status == Status.SUCCEEDED,
        media_kind=asset.kind,
        is_track=bool((asset.metadata or {}).get("audio_id")),
        model_key=generation.model_key,
    )


def followup_choices(*, generation: Generation, asset: Asset) -> list[FollowupChoice]:
    """The actions offered for one file of a finished generation. Those that name its Kie task are listed but
    unavailable once Kie has deleted the task (after 14 days), with the reason."""
    if generation.status != Status.SUCCEEDED or generation.deleted_at is not None:
        return []
    expired = _task_expired(generation)
    choices = []
    for action in actions_for(followup_parent(generation=generation, asset=asset)):
        reason = ""
        if action.needs_task and expired:
            made = timezone.localtime(generation.completed_at or generation.created_at)
            reason = (
                f"Kie keeps a task for 14 days and this one is from {made.day} {made:%B}, so {action.label.lower()} "
                "is no longer possible. Download the file and start from it instead."
            )
        choices.append(FollowupChoice(action, reason))
    return choices


def followup_check(*, generation: Generation, asset: Asset, action: Action, spec: ModelSpec) -> None:
    """Refuse, before anything is spent, a follow-up that can't work (GenerationError with the reason)."""
    choice = next((c for c in followup_choices(generation=generation, asset=asset) if c.action.key == action.key), None)
    if choice is None:
        raise GenerationError(f"“{action.label}” isn't available for this item.")
    if choice.unavailable:
        raise GenerationError(choice.unavailable)
    parent = followup_parent(generation=generation, asset=asset)
    if spec.key not in {s.key for s in action.models(parent)}:
        raise GenerationError(f"{spec.name} can't {action.label.lower()} this item.")
    if spec.operation == "veo_4k" and not callback_url_for(spec)[1]:
        raise GenerationError(f"Kie sends 4K videos only by callback. {callbacks_reachable()[1]}")


def followup_media_placeholder(asset: Asset, *, as_list: bool) -> str | list[str]:
    url = MEDIA_PLACEHOLDER.format(pk=asset.pk)
    return [url] if as_list else url


def followup_plan(
    *, generation: Generation, asset: Asset, action: Action, spec: ModelSpec, raw_inputs: dict[str, Any]
) -> PlannedGeneration:
    """Validate and price a follow-up: the user's inputs, the parent's file (a placeholder until the job is sent)
    and what the model takes from the parent's Kie task."""
    followup_check(generation=generation, asset=asset, action=action, spec=spec)
    media_input = action.media_input(spec, asset.kind)
    raw = dict(raw_inputs)
    if media_input and spec.has_field(media_input):
        raw[media_input] = followup_media_placeholder(asset, as_list=spec.field(media_input).is_list)
    plan = generation_plan(spec=spec, raw_inputs=raw, variations=1)
    taken = {}
    for wire, source in spec.from_parent.items():
        value = _parent_value(generation, asset, source)
        if value in (None, ""):
            raise GenerationError(f"This item has no {source.replace('_', ' ')} for Kie, so it can't be used here.")
        taken[wire] = value
    planned = PlannedGeneration(spec, {**plan.inputs, **taken}, plan.credits_each, 1)
    suno_followup_check(generation=generation, asset=asset, plan=planned)
    return planned


def _parent_value(generation: Generation, asset: Asset, source: str) -> Any:
    if source == "task_id":
        return generation.kie_task_id
    if source == "audio_id":
        return (asset.metadata or {}).get("audio_id")
    if source == "result_index":
        return int((asset.metadata or {}).get("index", asset.index))
    if source == "model":
        return generation.inputs.get("model") or get_model(generation.model_key).model
    raise ValueError(source)


def followup_create(
    *,
    generation: Generation,
    asset: Asset,
    action: Action,
    plan: PlannedGeneration,
    user,
    form_token: uuid.UUID,
    membership: Membership | None = None,
) -> Generation:
    """Buy the follow-up: an ordinary generation (same ledger, limiter, sweeper, storage and budgets) that
    records what it was made from."""
    [child] = generation_create(
        workspace=generation.workspace,
        user=user,
        plan=plan,
        form_token=form_token,
        membership=membership,
        parent=generation,
        parent_asset=asset,
        action=action.key,
        parent_media_field=action.media_input(plan.spec, asset.kind) or "",
    )
    return child


TIMESTAMPED_LYRICS_CREDITS = Decimal("0.5")  # Kie's table: "Suno, TimeStamped Lyrics", $0.0025 a request


def asset_timestamped_lyrics(*, asset: Asset, user=None) -> list[dict[str, Any]]:
    """Each sung word of a Suno track with its start and end, asked of Kie once and kept on the asset (shown
    karaoke-style under the player). Kie charges half a credit ($0.0025) a request, and answers only while it keeps
    the task (14 days)."""
    cached = (asset.metadata or {}).get("lyrics")
    if isinstance(cached, list):
        return cached
    generation = asset.generation
    audio_id = (asset.metadata or {}).get("audio_id")
    if not audio_id or not generation.kie_task_id or generation.family != "suno":
        raise GenerationError("Timestamped lyrics exist only for a Suno track.")
    if _task_expired(generation):
        raise GenerationError("Kie keeps a track's lyrics timing for 14 days, and this track is older than that.")
    try:
        with kie_client(api_key=workspace_kie_key(generation.workspace_id)) as client:
            aligned = client.suno_timestamped_lyrics(generation.kie_task_id, str(audio_id))
    except kie_errors.KieError as exc:
        raise GenerationError(f"Kie couldn't give the lyrics timing: {exc.user_message}") from exc
    words = [
        {"word": w.word, "start": w.start, "end": w.end}
        for w in aligned.words
        if w.word.strip() and w.start is not None and w.end is not None
    ]
    # Kie charged for the answer, words or not: the ledger has it (once per track, as the answer is kept).
    usage_record(
        workspace_id=generation.workspace_id,
        user_id=getattr(user, "pk", None),
        kind=UsageEntry.Kind.GENERATION,
        model_key="suno/timestamped-lyrics",
        credits=TIMESTAMPED_LYRICS_CREDITS,
        source=f"lyrics:{asset.pk}",
        estimated=False,
    )
    if not words:
        raise GenerationError("Kie found no sung words in this track (is it instrumental?).")
    metadata = {**(asset.metadata or {}), "lyrics": words}
    Asset.objects.filter(pk=asset.pk).update(metadata=metadata)
    asset.metadata = metadata
    return words


def generation_cancel(*, generation: Generation) -> bool:
    """Stop following the task. Kie has no cancel call, so a task already sent may still finish (and be
    charged) on Kie's side; we just stop waiting for it."""
    now = timezone.now()
    return transition(
        generation,
        Status.CANCELED,
        note="Canceled by a member",
        fields={"next_check_at": None, "lease_until": None, "completed_at": now},
        allowed_from=(Status.QUEUED, Status.SUBMITTED),
    )


# --- Transitions --------------------------------------------------------------------------------------------


def transition(
    generation: Generation,
    to: str,
    *,
    note: str = "",
    fields: dict[str, Any] | None = None,
    allowed_from: tuple[str, ...] | None = None,
    lease_token: uuid.UUID | None = None,
) -> bool:
    """Move the generation to ``to`` if its current status allows it. A conditional UPDATE, so when two workers
    race only one wins; the loser gets False and must not act. Updates the instance on success."""
    current = generation.status
    if to not in TRANSITIONS[current] and to != current:
        return False
    if allowed_from is not None and current not in allowed_from:
        return False
    values = dict(fields or {})
    values["status"] = to
    values["updated_at"] = timezone.now()
    query = Generation.objects.filter(pk=generation.pk, status=current)
    if lease_token is not None:
        query = query.filter(lease_token=lease_token)
    if not query.update(**values):
        return False
    for key, value in values.items():
        setattr(generation, key, value)
    if to != current:
        GenerationEvent.objects.create(generation=generation, from_status=current, to_status=to, note=note[:300])
        log.info("generation %s: %s -> %s", generation.pk, current, to, extra={"note": note[:120]})
    return True


def _fail(generation: Generation, error: kie_errors.KieError | None, *, message: str = "", token=None) -> None:
    error_class = error.error_class if error else "upstream_error"
    text = message or (error.user_message if error else "The generation failed.")
    field = getattr(error, "field", None) or ""
    transition(
        generation,
        Status.FAILED,
        note=text,
        fields={
            "failure_class": error_class,
            "failure_message": text,
            "failure_field": field,
            "next_check_at": None,
            "lease_until": None,
            "completed_at": timezone.now(),
        },
        lease_token=token,
    )


# --- Scheduling: nudges, the dispatcher and the sweeper -----------------------------------------------------


def _lease_seconds() -> float:
    return float(getattr(settings, "STUDIO_LEASE_SECONDS", 90))


def _due(now) -> QuerySet[Generation]:
    """Pending rows whose next check has come and that no worker holds a live lease on."""
    return Generation.objects.filter(status__in=PENDING, next_check_at__lte=now).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )


def generation_claim(*, generation_id: int) -> uuid.UUID | None:
    """Lease a due generation for one worker step; None when it is not due or another worker holds it."""
    now = timezone.now()
    token = uuid.uuid4()
    claimed = (
        _due(now)
        .filter(pk=generation_id)
        .update(lease_until=now + timedelta(seconds=_lease_seconds()), lease_token=token)
    )
    return token if claimed else None


def generation_nudge(*, generation_id: int) -> bool:
    """Hand a due generation to a worker now. Only a nudge: if it is lost, the dispatcher finds the row."""
    from django_q.tasks import async_task

    token = generation_claim(generation_id=generation_id)
    if token is None:
        return False
    async_task("kiestudio.studio.tasks.generation_advance_task", generation_id, str(token), group="generations")
    return True


def dispatch_due(*, limit: int = 50) -> int:
    """Lease and hand out due generations (the dispatcher loop calls this several times a second).

    Submits are paced by the shared limiter: only as many queued jobs are handed out as there are free create
    slots right now, so the task queue never fills with jobs waiting for a slot while callbacks, status reads
    and storing wait behind them."""
    now = timezone.now()
    due = _due(now).order_by("next_check_at")
    handed = sum(
        1
        for pk in due.exclude(status=Status.QUEUED).values_list("pk", flat=True)[:limit]
        if generation_nudge(generation_id=pk)
    )

    # Jobs already handed out but not yet sent will take slots too. Each Kie account (a workspace's own key, or
    # the studio's) has its own slots.
    def account(workspace_id: int) -> str:
        return account_id(workspace_kie_key(workspace_id))

    in_flight: dict[str, int] = {}
    busy = Generation.objects.filter(status__in=(Status.QUEUED, Status.SUBMITTING), lease_until__gt=now)
    for workspace_id in busy.values_list("workspace_id", flat=True):
        in_flight[account(workspace_id)] = in_flight.get(account(workspace_id), 0) + 1
    free: dict[str, int] = {}
    submits = 0
    for pk, workspace_id in due.filter(status=Status.QUEUED).values_list("pk", "workspace_id")[: limit * 4]:
        name = account(workspace_id)
        if name not in free:
            free[name] = _free_create_slots(workspace_kie_key(workspace_id)) - in_flight.get(name, 0)
        if free[name] > 0 and submits < limit and generation_nudge(generation_id=pk):
            free[name] -= 1
            submits += 1
    return handed + submits


def _create_bucket(api_key: str) -> tuple[str, int, float]:
    """The shared limiter bucket, limit and window every create of this Kie account goes through."""
    with kie_client(api_key=api_key) as probe:
        return probe.create_bucket()


def _free_create_slots(api_key: str) -> int:
    bucket, limit, window = _create_bucket(api_key)
    return shared_limiter().available(bucket, limit=limit, window=window)


def sweep() -> dict[str, int]:
    """Re-drive anything stalled. A worker killed mid-step leaves its lease to expire; then:
    - SUBMITTING with no create sent: nothing reached Kie, so it goes back to the queue;
    - SUBMITTING with a create sent: Kie may have accepted it, so it becomes UNKNOWN (never resent);
    - any other pending row without a next check gets one now."""
    now = timezone.now()
    counts = {"requeued": 0, "unknown": 0, "rescheduled": 0}
    stalled = Generation.objects.filter(status=Status.SUBMITTING, lease_until__lt=now)
    for generation in stalled:
        settled = _settle_abandoned_submit(generation)
        if settled:
            counts[settled] += 1
    CallbackReceipt.objects.filter(received_at__lt=now - timedelta(days=1)).delete()
    counts["rescheduled"] = Generation.objects.filter(
        status__in=(Status.QUEUED, Status.SUBMITTED, Status.STORING), next_check_at__isnull=True
    ).update(next_check_at=now)
    return counts


# --- One worker step ----------------------------------------------------------------------------------------


def generation_advance(*, generation_id: int, token: str | None) -> str:
    """Do the next step for a leased generation: submit, poll or store. Returns what it did (for logs)."""
    lease = uuid.UUID(token) if token else generation_claim(generation_id=generation_id)
    if lease is None:
        return "not-due"
    generation = Generation.objects.select_related("workspace").filter(pk=generation_id, lease_token=lease).first()
    if generation is None or not generation.is_pending:
        return "not-leased"
    if generation.status == Status.QUEUED:
        return _submit(generation, lease)
    if generation.status == Status.SUBMITTED:
        return _poll(generation, lease)
    if generation.status == Status.STORING:
        return _store(generation, lease)
    # SUBMITTING is only ever claimed after the submitting worker's lease ran out: that worker is gone. Settle
    # it now (whoever looks first: this step or the sweeper), or the row would be re-claimed for ever.
    return _settle_abandoned_submit(generation, token=lease) or "busy"


def _settle_abandoned_submit(generation: Generation, *, token: uuid.UUID | None = None) -> str | None:
    """A SUBMITTING row whose worker died: back to the queue if no create was sent (nothing reached Kie), else
    UNKNOWN (Kie may have accepted it; never resent). Returns "requeued", "unknown", or None if another
    process settled it first."""
    if generation.create_sent_at is None:
        moved = transition(
            generation,
            Status.QUEUED,
            note="Worker stopped before sending; queued again",
            fields={"next_check_at": timezone.now(), "lease_until": None},
            lease_token=token,
        )
        return "requeued" if moved else None
    moved = transition(
        generation,
        Status.UNKNOWN,
        note="Worker stopped after sending the create call",
        fields=_unknown_fields(),
        lease_token=token,
    )
    return "unknown" if moved else None


def _unknown_fields() -> dict[str, Any]:
    """What an UNKNOWN outcome records: Kie may have accepted the create, so we stop and never resend."""
    return {
        "failure_class": "unknown_outcome",
        "failure_message": kie_errors.KieUnknownOutcome.default_user_message,
        "next_check_at": None,
        "lease_until": None,
        "completed_at": timezone.now(),
    }


def _release(generation: Generation, lease: uuid.UUID, *, next_in: float | None, **fields: Any) -> None:
    next_at = timezone.now() + timedelta(seconds=next_in) if next_in is not None else None
    Generation.objects.filter(pk=generation.pk, lease_token=lease).update(
        next_check_at=next_at, lease_until=None, updated_at=timezone.now(), **fields
    )


def _poll_scale() -> float:
    return float(getattr(settings, "STUDIO_POLL_SCALE", 1.0))


def callback_url_for(spec: ModelSpec) -> tuple[str | None, bool]:
    """The callback URL to send, and whether we expect Kie to use it. Families that require a callback (Suno)
    always get one, even when callbacks are off and we poll."""
    from django.urls import reverse

    from kiestudio.kie.catalog import FAMILIES

    enabled = callbacks_reachable()[0]
    # Veo's 4K result comes only by callback (there is nothing to poll).
    required = bool(FAMILIES[spec.family].get("callback_required")) or spec.operation == "veo_4k"
    if not (enabled or required):
        return None, False
    url = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("kie-callback", args=[settings.KIE_CALLBACK_TOKEN])
    return url, enabled


def first_poll_delay(spec: ModelSpec, *, callbacks: bool) -> float:
    # With callbacks on, the first read waits past the typical duration: the callback usually comes first.
    typical = max(spec.typical_seconds, 2)
    delay = typical * 1.5 if callbacks else max(2.0, typical * 0.5)
    return delay * _poll_scale()


def next_poll_delay(elapsed: float) -> float:
    """Every 2–3 s at first, about every 10 s after half a minute, up to 30 s after a few minutes (Kie's advice)."""
    return min(max(2.0, elapsed * 0.25), 30.0) * _poll_scale()


class _SlotBusy(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(f"No create slot free for {wait:.2f} s")
        self.wait = wait


MAX_SLOT_WAIT = 1.0


class _SubmitLimiter:
    """The shared limiter as one submit sees it. A worker never sleeps long for a create slot: if none frees up
    within MAX_SLOT_WAIT it raises _SlotBusy, and the job goes back to the queue due when a slot frees, leaving
    the worker free for status reads and storing. The moment a slot is granted the create is about to be sent,
    so that is recorded: a worker that dies after this point leaves an UNKNOWN outcome, never a resubmit."""

    def __init__(self, inner, generation: Generation) -> None:
        self.inner = inner
        self.generation = generation
        self.prepaid = False

    def acquire(self, bucket: str, *, limit: int, window: float) -> None:
        if not bucket.startswith("create:"):
            self.inner.acquire(bucket, limit=limit, window=window)
            return
        if self.prepaid:
            # _submit already reserved this slot before claiming the job.
            self.prepaid = False
            Generation.objects.filter(pk=self.generation.pk).update(create_sent_at=timezone.now())
            return
        give_up = time.monotonic() + MAX_SLOT_WAIT
        while True:
            wait = self.inner.try_acquire(bucket, limit=limit, window=window)
            if wait == 0:
                break
            if time.monotonic() + wait > give_up:
                raise _SlotBusy(wait)
            time.sleep(wait)
        Generation.objects.filter(pk=self.generation.pk).update(create_sent_at=timezone.now())


def _submit(generation: Generation, lease: uuid.UUID) -> str:
    spec = get_model(generation.model_key)
    if spec.operation == "veo_1080p":
        return _submit_1080p(generation, lease, spec)
    api_key = workspace_kie_key(generation.workspace_id)
    # Take a create slot before anything else; without one the job waits in the queue, not in a worker.
    limiter = shared_limiter()
    bucket, limit, window = _create_bucket(api_key)
    give_up = time.monotonic() + MAX_SLOT_WAIT
    while (wait := limiter.try_acquire(bucket, limit=limit, window=window)) > 0:
        if time.monotonic() + wait > give_up:
            _release(generation, lease, next_in=wait)
            return "waiting-for-slot"
        time.sleep(wait)
    if not transition(
        generation,
        Status.SUBMITTING,
        note="Sending to Kie",
        lease_token=lease,
        fields={"submit_attempts": generation.submit_attempts + 1},
    ):
        return "lost-race"
    callback, callbacks_on = callback_url_for(spec)
    unknown_fields = _unknown_fields()
    try:
        with kie_client(api_key=api_key) as client:
            payload = _payload_with_references(generation, client)
            client.limiter = _SubmitLimiter(limiter, generation)
            client.limiter.prepaid = True
            task_id, immediate = _send_create(client, spec, payload, callback)
    except (kie_errors.KieUnknownOutcome, kie_errors.KieTimeout) as exc:
        transition(
            generation,
            Status.UNKNOWN,
            note=exc.user_message,
            lease_token=lease,
            fields={**unknown_fields, "failure_message": exc.user_message},
        )
        return "unknown"
    except _SlotBusy as exc:
        # Only a retry after a 429 gets here: Kie created nothing, so the job simply waits its turn.
        transition(
            generation,
            Status.QUEUED,
            note="Waiting for a rate-limit slot",
            lease_token=lease,
            fields={
                "create_sent_at": None,
                "failure_class": "rate_limited",
                "submit_attempts": generation.submit_attempts - 1,
                "next_check_at": timezone.now() + timedelta(seconds=exc.wait),
                "lease_until": None,
            },
        )
        return "requeued"
    except (
        kie_errors.KieRateLimited,
        kie_errors.KieServerError,
        kie_errors.KieUnavailable,
        kie_errors.KieConnectionError,
        kie_errors.KieMalformedResponse,
    ) as exc:
        # Kie answered (or was never reached) without creating anything: wait and try again, unless we have
        # tried long enough. A malformed answer to a create that was sent is an unknown outcome.
        sent = Generation.objects.filter(pk=generation.pk).values_list("create_sent_at", flat=True).first()
        if isinstance(exc, kie_errors.KieMalformedResponse) and sent:
            transition(generation, Status.UNKNOWN, note=str(exc), lease_token=lease, fields=unknown_fields)
            return "unknown"
        if generation.submit_attempts >= MAX_SUBMIT_ATTEMPTS:
            _fail(generation, exc, token=lease)
            return "failed"
        delay = min(60.0, 2.0 * 2**generation.submit_attempts) * _poll_scale()
        transition(
            generation,
            Status.QUEUED,
            note=f"{exc.user_message} (waiting in line)",
            lease_token=lease,
            fields={
                "create_sent_at": None,
                "failure_class": exc.error_class,
                "failure_message": exc.user_message,  # the card says why it waits ("Kie is down for maintenance")
                "next_check_at": timezone.now() + timedelta(seconds=delay),
                "lease_until": None,
            },
        )
        return "requeued"
    except kie_errors.KieError as exc:
        _fail(generation, exc, token=lease)
        return "failed"
    except _ReferenceError as exc:
        _fail(generation, None, message=str(exc), token=lease)
        return "failed"
    now = timezone.now()
    transition(
        generation,
        Status.SUBMITTED,
        note=f"Kie task {task_id}",
        lease_token=lease,
        fields={
            "kie_task_id": task_id,
            "kie_state": TaskState.WAITING.value,
            "submitted_at": now,
            "failure_class": "",
            "failure_message": "",
            "deadline_at": now + timedelta(seconds=spec.deadline_seconds),
            "next_check_at": now + timedelta(seconds=_first_check(spec, callbacks=callbacks_on)),
            "lease_until": None,
        },
    )
    # Kie charges when it accepts a create: the ledger has it from now (the estimate, until Kie says what it cost).
    _charge(generation, generation.credits_estimated, estimated=True)
    # Kie may have called back before we recorded the task id (fast tasks, instant failures).
    sent_at = Generation.objects.filter(pk=generation.pk).values_list("create_sent_at", flat=True).first() or now
    early = CallbackReceipt.objects.filter(task_id=task_id, received_at__gte=sent_at - timedelta(seconds=5))
    if spec.operation == "veo_4k":
        answer = immediate or early.filter(result__isnull=False).values_list("result", flat=True).first()
        if answer is not None:
            _on_4k_callback(task_id=task_id, body=answer)
        return "submitted"
    if early.exists():
        Generation.objects.filter(pk=generation.pk, status=Status.SUBMITTED).update(next_check_at=timezone.now())
        generation_nudge(generation_id=generation.pk)
    return "submitted"


def _send_create(client, spec: ModelSpec, payload: dict[str, Any], callback: str | None) -> tuple[str, Any]:
    """The one call that buys the Kie task, and any result its answer already carries. Veo's 4K answers to the
    source task's id (its callback names it); asked again for a 4K Kie has made, the answer holds the URLs, and
    while Kie is still making one it says "processing" (the first request's callback brings the file)."""
    if spec.operation == "veo_4k":
        try:
            data = client.veo_4k_answer(
                str(payload["taskId"]), index=int(payload.get("index") or 0), callback_url=callback
            )
        except kie_errors.KieNotReady:
            data = None
        immediate = {"code": 200, "data": data} if isinstance(data, dict) else None
        answer = four_k_answer(immediate) if immediate else None
        return str(payload["taskId"]), immediate if answer is not None and answer.ok else None
    return client.create_task(spec, payload, callback_url=callback), None


def _first_check(spec: ModelSpec, *, callbacks: bool) -> float:
    if spec.operation == "veo_4k":
        return float(spec.deadline_seconds)  # nothing to poll: wake only to give up if the callback never comes
    return first_poll_delay(spec, callbacks=callbacks)


def _submit_1080p(generation: Generation, lease: uuid.UUID, spec: ModelSpec) -> str:
    """Veo's 1080p is a read of the source task (Kie charges $0.025 for the copy): there is no create to send, so no
    slot to take. The job goes straight to following the source task, whose 1080p Kie makes on request."""
    if not transition(generation, Status.SUBMITTING, note="Asking Kie for 1080p", lease_token=lease):
        return "lost-race"
    now = timezone.now()
    transition(
        generation,
        Status.SUBMITTED,
        note=f"Kie task {generation.inputs.get('taskId')} in 1080p",
        lease_token=lease,
        fields={
            "kie_task_id": str(generation.inputs.get("taskId") or ""),
            "kie_state": TaskState.WAITING.value,
            "submitted_at": now,
            "deadline_at": now + timedelta(seconds=spec.deadline_seconds),
            "next_check_at": now,
            "lease_until": None,
        },
    )
    _charge(generation, generation.credits_estimated, estimated=True)
    generation_nudge(generation_id=generation.pk)
    return "submitted"


class _ReferenceError(Exception):
    pass


def _charge(generation: Generation, credits: Decimal, *, estimated: bool) -> None:
    usage_record(
        workspace_id=generation.workspace_id,
        user_id=generation.created_by_id,
        kind=UsageEntry.Kind.GENERATION,
        model_key=generation.model_key,
        credits=credits,
        source=f"generation:{generation.pk}",
        estimated=estimated,
    )


def _payload_with_references(generation: Generation, client) -> dict[str, Any]:
    """The inputs to send, with our references (pictures, clips, sounds) and a follow-up's parent file swapped for
    fresh Kie uploads. In a list, our files come first and any links typed beside them follow, sent as typed."""
    payload = dict(generation.inputs)
    for field_name, ids in (generation.references or {}).items():
        urls = [reference_kie_url(reference_id=rid, workspace_id=generation.workspace_id, client=client) for rid in ids]
        sent = payload.get(field_name)
        payload[field_name] = urls + sent[len(ids) :] if isinstance(sent, list) else urls[0]

    # A reference's stand-in names it ("https://studio.local/files/references/12/"), so one the list above doesn't
    # cover (a follow-up's voice or mask, say) is swapped too; only a reference of this workspace ever is.
    def swapped(value: Any) -> Any:
        rid = ReferenceImage.id_in_placeholder(value)
        if rid is None:
            return value
        return reference_kie_url(reference_id=rid, workspace_id=generation.workspace_id, client=client)

    for field_name, value in payload.items():
        payload[field_name] = [swapped(v) for v in value] if isinstance(value, list) else swapped(value)
    if generation.parent_media_field:
        url = asset_kie_url(asset_id=generation.parent_asset_id, workspace_id=generation.workspace_id, client=client)
        field_name = generation.parent_media_field
        payload[field_name] = [url] if isinstance(payload.get(field_name), list) else url
    return payload


def asset_kie_url(*, asset_id: int | None, workspace_id: int, client) -> str:
    """Our stored file uploaded to Kie (reused while Kie still keeps the upload), for a follow-up that takes it."""
    asset = Asset.objects.filter(pk=asset_id, workspace_id=workspace_id).first() if asset_id else None
    if asset is None:
        raise _ReferenceError("The file this was made from has been deleted, so it can't be sent to Kie.")
    return _kie_copy(asset, client, folder="kiestudio/sources")


def reference_kie_url(*, reference_id: int, workspace_id: int, client) -> str:
    reference = ReferenceImage.objects.filter(pk=reference_id, workspace_id=workspace_id).first()
    if reference is None:
        raise _ReferenceError("A file added to this job was deleted before the job was sent. Add it again.")
    return _kie_copy(reference, client, folder="kiestudio/references")


def _kie_copy(stored: Asset | ReferenceImage, client, *, folder: str) -> str:
    """The Kie URL of one of our files: the last upload while Kie still keeps it (3 days), else a new upload.

    One upload per file: jobs that share a file and are sent at the same moment (variations, a retry, two tabs)
    take turns under a lease, and the one that waited finds the other's upload. If the upload it waits for seems
    stuck (a worker died holding the lease), it stops waiting and uploads the file itself."""
    from kiestudio.core.leases import lease_acquire, lease_release

    wait_seconds, lease_seconds = 180.0, 900.0

    def current() -> str | None:
        row = type(stored).objects.filter(pk=stored.pk).values("kie_url", "kie_uploaded_at").first() or {}
        at = row.get("kie_uploaded_at")
        if row.get("kie_url") and at and timezone.now() - at < REFERENCE_KIE_TTL:
            stored.kie_url, stored.kie_uploaded_at = row["kie_url"], at
            return row["kie_url"]
        return None

    fresh = stored.kie_uploaded_at and timezone.now() - stored.kie_uploaded_at < REFERENCE_KIE_TTL
    if stored.kie_url and fresh:
        return stored.kie_url
    name = f"kie-upload:{stored._meta.model_name}:{stored.pk}"
    holder = uuid.uuid4().hex
    give_up = time.monotonic() + wait_seconds
    while not lease_acquire(name=name, holder=holder, seconds=lease_seconds):
        if url := current():
            return url
        if time.monotonic() > give_up:
            break
        time.sleep(0.5)
    try:
        if url := current():  # uploaded by another worker while this one waited for the lease
            return url
        with stored.file.open("rb") as fh:
            uploaded = client.upload_file(
                fh, file_name=stored.file.name.rsplit("/", 1)[-1], mime_type=stored.mime_type, upload_path=folder
            )
        now = timezone.now()
        type(stored).objects.filter(pk=stored.pk).update(kie_url=uploaded.url, kie_uploaded_at=now)
        stored.kie_url, stored.kie_uploaded_at = uploaded.url, now
        return uploaded.url
    finally:
        lease_release(name=name, holder=holder)


def _poll(generation: Generation, lease: uuid.UUID) -> str:
    now = timezone.now()
    if generation.deadline_at and now > generation.deadline_at:
        spec = get_model(generation.model_key)
        minutes = max(1, spec.deadline_seconds // 60)
        _fail(
            generation,
            kie_errors.KieTimeout(f"Kie did not finish within {minutes} minutes."),
            message=f"Kie didn't finish this within {minutes} minutes, so we stopped waiting. "
            "If it finishes later it will still be in your Kie logs; a retry buys a new task.",
            token=lease,
        )
        return "timed-out"
    operation = get_model(generation.model_key).operation
    if operation == "veo_4k":
        # Only Kie's callback brings the 4K file; until the deadline there is nothing to do.
        wait = (generation.deadline_at - now).total_seconds() if generation.deadline_at else 60.0
        _release(generation, lease, next_in=max(1.0, wait))
        return "waiting-for-callback"
    try:
        with kie_client(api_key=workspace_kie_key(generation.workspace_id)) as client:
            if operation == "veo_1080p":
                return _poll_1080p(generation, lease, client)
            status = client.get_task(generation.family, generation.kie_task_id)
    except (
        kie_errors.KieRateLimited,
        kie_errors.KieServerError,
        kie_errors.KieUnavailable,
        kie_errors.KieTimeout,
        kie_errors.KieConnectionError,
        kie_errors.KieMalformedResponse,
        kie_errors.KieNotFound,
    ) as exc:
        elapsed = (now - (generation.submitted_at or now)).total_seconds()
        _release(generation, lease, next_in=next_poll_delay(elapsed) + 1, poll_count=F("poll_count") + 1)
        log.warning("generation %s: status read failed (%s); will retry", generation.pk, exc.error_class)
        return "poll-retry"
    except kie_errors.KieError as exc:
        _fail(generation, exc, token=lease)
        return "failed"
    return _apply_status(generation, lease, status)


def _poll_1080p(generation: Generation, lease: uuid.UUID, client) -> str:
    """Ask for the 1080p file. "1080P is processing, try again" is the normal answer for a minute or two: it is
    read again on the polling schedule, never shown as a failure."""
    now = timezone.now()
    index = int(generation.inputs.get("index") or 0)
    try:
        url = client.veo_1080p(generation.kie_task_id, index=index)
    except kie_errors.KieNotReady:
        elapsed = (now - (generation.submitted_at or now)).total_seconds()
        _release(
            generation,
            lease,
            next_in=next_poll_delay(elapsed),
            poll_count=F("poll_count") + 1,
            kie_state=TaskState.GENERATING.value,
            kie_stage="1080P_PROCESSING",
        )
        return "pending"
    Generation.objects.filter(pk=generation.pk).update(poll_count=F("poll_count") + 1)
    results = [{"url": url, "kind": "video", "metadata": {"index": index, "resolution": "1080p"}}]
    return _results_ready(generation, lease, results, charged=None, state=TaskState.SUCCESS.value, stage="")


def _results_ready(
    generation: Generation,
    lease: uuid.UUID | None,
    results: list[dict],
    *,
    charged: Decimal | None,
    state: str,
    stage: str,
) -> str:
    """Kie is done: record what to copy and copy it now."""
    if charged is not None:
        _charge(generation, charged, estimated=False)
    moved = transition(
        generation,
        Status.STORING,
        note="Kie finished; copying the results",
        lease_token=lease,
        fields={
            "kie_state": state,
            "kie_stage": stage,
            "results": results,
            "credits_charged": charged if charged is not None else generation.credits_estimated,
            "next_check_at": timezone.now(),
        },
    )
    if not moved:
        return "lost-race"
    if lease is None:
        generation_nudge(generation_id=generation.pk)
        return "storing"
    return _store(generation, lease)


def _apply_status(generation: Generation, lease: uuid.UUID, status: TaskStatus) -> str:
    now = timezone.now()
    Generation.objects.filter(pk=generation.pk).update(poll_count=F("poll_count") + 1)
    if status.succeeded:
        results = [{"url": r.url, "kind": r.kind, "metadata": r.metadata} for r in status.results]
        midi = (status.result_object or {}).get("midi")
        if not results and isinstance(midi, dict) and midi.get("instruments"):
            # MIDI comes as notes, not a file: the stored asset is a .mid written from them.
            results = [{"midi": midi["instruments"], "kind": "file", "metadata": {"index": 0, "name": "MIDI"}}]
        if not results:
            _fail(generation, None, message="Kie reported success but returned no files.", token=lease)
            return "failed"
        charged = Decimal(str(status.credits_consumed)) if status.credits_consumed is not None else None
        return _results_ready(
            generation, lease, results, charged=charged, state=status.state.value, stage=status.stage or ""
        )
    if status.failed:
        _fail(generation, status.error(), token=lease)
        return "failed"
    elapsed = (now - (generation.submitted_at or now)).total_seconds()
    _release(
        generation, lease, next_in=next_poll_delay(elapsed), kie_state=status.state.value, kie_stage=status.stage or ""
    )
    return "pending"


def _store(generation: Generation, lease: uuid.UUID) -> str:
    """Copy every result into our storage now (Kie deletes its copies). Safe to repeat: stored indexes are
    skipped."""
    done = set(Asset.objects.filter(generation=generation).values_list("index", flat=True))
    try:
        for index, result in enumerate(generation.results):
            if index not in done:
                _store_one(generation, index, result)
    except (FetchError, media.MediaError, OSError) as exc:
        attempts = generation.store_attempts + 1
        if attempts >= MAX_STORE_ATTEMPTS:
            _fail(
                generation, None, message=f"We couldn't copy the result into the studio's storage: {exc}", token=lease
            )
            return "failed"
        _release(generation, lease, next_in=min(60.0, 3.0 * 2**attempts) * _poll_scale(), store_attempts=attempts)
        log.warning("generation %s: storing failed (%s); will retry", generation.pk, exc)
        return "store-retry"
    transition(
        generation,
        Status.SUCCEEDED,
        note="Stored",
        lease_token=lease,
        fields={"completed_at": timezone.now(), "next_check_at": None, "lease_until": None},
    )
    return "succeeded"


def _store_one(generation: Generation, index: int, result: dict[str, Any]) -> Asset:
    with tempfile.TemporaryFile() as tmp:
        metadata = dict(result.get("metadata") or {})
        if "midi" in result:
            data = media.midi_file(result["midi"])
            size = tmp.write(data)
            summary = media.midi_summary(data)
            metadata["tracks"] = summary["tracks"]
            info = media.Probe("file", "audio/midi", "mid", duration=summary["seconds"])
        else:
            size = fetch_to_file(result["url"], tmp, max_bytes=MAX_RESULT_BYTES).size
            info = media.probe(tmp)
        stem = f"{generation.pk}-{index}-{uuid.uuid4().hex[:8]}"
        asset = Asset(
            workspace_id=generation.workspace_id,
            generation=generation,
            index=index,
            kind=info.kind,
            mime_type=info.mime_type,
            size=size,
            width=info.width,
            height=info.height,
            duration=info.duration,
            source_url=result.get("url", ""),
            metadata=metadata,
        )
        tmp.seek(0)
        asset.file.save(f"{stem}.{info.extension}", File(tmp), save=False)
        thumb = media.image_thumbnail(tmp) if info.kind == "image" else None
        if info.kind == "video":
            thumb = media.video_poster(tmp)
        if thumb:
            asset.thumbnail.save(f"{stem}-thumb.webp", ContentFile(thumb), save=False)
        try:
            with transaction.atomic():
                asset.save()
        except IntegrityError:
            # Another run stored this index first; drop our copy.
            default_storage.delete(asset.file.name)
            if asset.thumbnail:
                default_storage.delete(asset.thumbnail.name)
            return Asset.objects.get(generation=generation, index=index)
        return asset


# --- Callbacks ----------------------------------------------------------------------------------------------


def generation_on_callback(*, task_id: str, body: dict[str, Any] | None = None) -> bool:
    """A Kie callback only makes the task due for an immediate status read; its body is never trusted, except
    for Veo's 4K, which Kie delivers by callback alone (see ``_on_4k_callback``)."""
    if body is not None and callback_shape(body) is None:
        _log_new_shape(body)
    # One upsert statement: a read-then-write here made SQLite refuse the lock upgrade under load. A body that
    # may be a 4K answer is kept with the receipt, in case its job hasn't recorded the task yet.
    kept = body if body is not None and four_k_answer(body) is not None else None
    CallbackReceipt.objects.bulk_create(
        [CallbackReceipt(task_id=task_id[:120], received_at=timezone.now(), result=kept)],
        update_conflicts=True,
        unique_fields=["task_id"],
        update_fields=["received_at", "result"],
    )
    if body is not None and _on_4k_callback(task_id=task_id, body=body):
        return True
    generation = (
        Generation.objects.filter(kie_task_id=task_id, status__in=(Status.SUBMITTED, Status.UNKNOWN))
        .order_by("-pk")
        .first()
    )
    if generation is None:
        # The create's worker has not recorded the task id yet; it will find the receipt.
        return False
    if generation.status == Status.UNKNOWN:
        transition(
            generation,
            Status.SUBMITTED,
            note="Kie called back: the task exists after all",
            fields={"completed_at": None, "failure_class": "", "failure_message": ""},
        )
    if generation.status != Status.SUBMITTED:
        return False
    Generation.objects.filter(pk=generation.pk, status=Status.SUBMITTED).update(next_check_at=timezone.now())
    nudged = generation_nudge(generation_id=generation.pk)
    log.info("generation %s: Kie called back; status read %s", generation.pk, "queued" if nudged else "already due")
    return True


_SHAPES_SEEN: set[tuple[str, ...]] = set()


def _log_new_shape(body: dict[str, Any]) -> None:
    """A callback shape no family documents: logged once per process and shape, with its keys (never its values,
    which hold URLs); the callback still makes the task due for a status read, which is what we trust."""
    paths = tuple(key_paths(body))
    if paths in _SHAPES_SEEN or len(_SHAPES_SEEN) > 200:
        return
    _SHAPES_SEEN.add(paths)
    log.warning(
        "Kie sent a callback of a shape the studio doesn't know; reading the task's status instead. Keys: %s",
        ", ".join(paths) or "(none)",
    )


def _pending_4k(task_id: str) -> QuerySet[Generation]:
    keys = [spec.key for spec in load_catalog() if spec.operation == "veo_4k"]
    return Generation.objects.filter(kie_task_id=task_id, model_key__in=keys, status=Status.SUBMITTED).order_by("pk")


def _on_4k_callback(*, task_id: str, body: dict[str, Any]) -> bool:
    """Veo's 4K file has no record to poll: the callback (already checked against the URL secret and, when
    configured, the HMAC signature) carries its URLs, in any of Kie's documented shapes (``four_k_answer``). They
    are fetched through the same guarded download as every result, so a forged URL can't reach inside our
    network. Every 4K job waiting on this task gets the answer (a second request for the same video is answered
    "processing" by Kie, and only the first request's callback comes)."""
    answer = four_k_answer(body)
    if answer is None:
        return False
    waiting = list(_pending_4k(task_id))
    if not waiting:
        return False
    for generation in waiting:
        if not answer.ok:
            message = (answer.message or "Kie could not make the 4K video.")[:300]
            _fail(generation, None, message=f"Kie couldn't make the 4K version: {message}")
            continue
        index = int(generation.inputs.get("index") or 0)
        results = [
            {"url": url, "kind": "video", "metadata": {"index": index, "resolution": "4k"}} for url in answer.urls[:4]
        ]
        _results_ready(generation, None, results, charged=None, state=TaskState.SUCCESS.value, stage="")
        log.info("generation %s: Kie sent the 4K video", generation.pk)
    return True


# --- Deleting and reusing -----------------------------------------------------------------------------------


def generation_delete(*, generation: Generation, user=None) -> None:
    """Move a finished generation to the trash; its files are purged after 30 days (gallery.services)."""
    from kiestudio.gallery.services import generations_trash

    generations_trash(generations=[generation], user=user)


def reference_from_asset(*, asset: Asset, user, kind: str = "image", rules=None) -> ReferenceImage:
    """Use one of the workspace's results (a picture, a clip, a sound) as a reference, checked against ``rules`` (the
    input's, see uploads.rules_for) or the studio's limits. Picking the same result again reuses the copy made the
    first time, and with it Kie's upload of it while Kie keeps it."""
    from kiestudio.studio.uploads import NOUNS, UploadRejected, reference_from_asset_file

    if asset.kind != kind or kind not in NOUNS:
        raise UploadRejected(f"Only {NOUNS.get(kind, NOUNS['image'])[1]} can be used here.")
    existing = ReferenceImage.objects.filter(workspace_id=asset.workspace_id, source_asset=asset).order_by("-pk")
    return existing.first() or reference_from_asset_file(asset=asset, user=user, rules=rules)


# --- Suno: personas, style boost and what Kie refuses of a follow-up -----------------------------------------

#: A replaced section is 6 to 60 seconds long (Kie's replace-section page).
SECTION_SECONDS = (6.0, 60.0)
#: Kie's table: "Suno, Boost Music Style Boost", $0.002 a request.
STYLE_BOOST_CREDITS = Decimal("0.4")
PERSONA_ACTION = "persona"


def suno_followup_check(*, generation: Generation, asset: Asset, plan: PlannedGeneration) -> None:
    """Refuse, before anything is spent, what Kie would refuse of a Suno follow-up: a replaced section is 6 to 60
    seconds and ends within the song; Kie draws cover art once per song."""
    spec, inputs = plan.spec, plan.inputs
    if spec.family == "suno_section":
        start, end = float(inputs["infillStartS"]), float(inputs["infillEndS"])
        shortest, longest = SECTION_SECONDS
        length = asset.duration or _as_seconds((asset.metadata or {}).get("duration"))
        problem = ""
        if end <= start:
            problem = "End the section after it starts."
        elif not shortest <= end - start <= longest:
            problem = f"That section is {end - start:g} seconds long; Kie replaces 6 to 60 seconds at a time."
        elif length and end > length + 0.01:
            problem = f"The song is {length:.1f} seconds long: end the section by then."
        if problem:
            raise GenerationError(problem, {"infillEndS": [problem]})
    if spec.family == "suno_cover":
        earlier = (
            Generation.objects.filter(workspace_id=generation.workspace_id, parent=generation, model_key=spec.key)
            .exclude(status=Status.FAILED)
            .order_by("pk")
            .first()
        )
        if earlier is not None:
            where = "in the trash" if earlier.deleted_at else "among its follow-ups"
            raise GenerationError(f"Kie draws cover art once per song, and this song already has it ({where}).")


def _as_seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def persona_check(*, workspace: Workspace, inputs: dict[str, Any]) -> None:
    """A song may only use a persona of its own workspace (the form offers no other; this guards every way in)."""
    persona_id = inputs.get("personaId")
    if persona_id and not SunoPersona.objects.filter(workspace=workspace, persona_id=str(persona_id)).exists():
        message = "Choose one of this workspace's personas."
        raise GenerationError(message, {"personaId": [message]})


def persona_create(*, generation: Generation, asset: Asset, user, name: str, description: str) -> SunoPersona:
    """Ask Kie for a persona of one track (answered at once, free) and keep it for the workspace's new songs. Kie
    makes one persona per track, from a generated or extended song it still keeps (14 days)."""
    name, description = " ".join(name.split()), description.strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Give the persona a name."]
    elif len(name) > 80:
        errors["name"] = [f"Keep the name to 80 characters (it has {len(name)})."]
    if not description:
        errors["description"] = ["Describe the voice and style it carries, e.g. “warm, breathy female pop vocals”."]
    if errors:
        raise GenerationError("Check the persona's name and description.", errors)
    audio_id = str((asset.metadata or {}).get("audio_id") or "")
    choices = followup_choices(generation=generation, asset=asset) if audio_id else []
    choice = next((c for c in choices if c.action.key == PERSONA_ACTION), None)
    if choice is None:
        raise GenerationError("A persona can only be made from a finished Suno song, generated or extended.")
    if choice.unavailable:
        raise GenerationError(choice.unavailable)
    existing = SunoPersona.objects.filter(workspace_id=generation.workspace_id, audio_id=audio_id).first()
    if existing is not None:
        raise GenerationError(f"This track already has a persona: “{existing.name}”. Kie makes one per track.")
    try:
        with kie_client(api_key=workspace_kie_key(generation.workspace_id)) as client:
            made = client.suno_generate_persona(generation.kie_task_id, audio_id, name=name, description=description)
    except kie_errors.KieBadRequest as exc:
        if exc.code == 409:
            raise GenerationError("Kie already has a persona for this track, and it makes only one per track.") from exc
        raise GenerationError(f"Kie couldn't make the persona: {exc.user_message}") from exc
    except kie_errors.KieError as exc:
        raise GenerationError(f"Kie couldn't make the persona: {exc.user_message}") from exc
    persona = SunoPersona(
        workspace_id=generation.workspace_id,
        created_by=user,
        persona_id=made.persona_id,
        name=name,
        description=description,
        source_asset=asset,
        audio_id=audio_id,
    )
    try:
        persona.full_clean(exclude=["workspace", "created_by", "source_asset"])
        with transaction.atomic():
            persona.save()
    except ValidationError as exc:
        raise GenerationError("Kie's persona couldn't be kept here.", exc.message_dict) from exc
    except IntegrityError as exc:  # a second click that got here first
        raise GenerationError("This track already has a persona. Kie makes one per track.") from exc
    log.info("persona %s made from asset %s", persona.pk, asset.pk)
    return persona


def persona_delete(*, persona: SunoPersona) -> None:
    """Forget a persona here. Kie has no call to delete one, so songs already made with it are unchanged."""
    persona.delete()


def style_boost(*, workspace: Workspace, user, style: str, membership: Membership | None = None) -> str:
    """Kie's richer wording of a Suno style, answered at once. Charged per request, so it goes in the ledger (and
    counts against the budget like any generation)."""
    text = style.strip()
    if not text:
        raise GenerationError("Write a few words of style first (e.g. “dreamy synth-pop, female vocals”), then boost.")
    if membership is not None:
        budget_check(workspace=workspace, membership=membership, cost=STYLE_BOOST_CREDITS)
    try:
        with kie_client(api_key=workspace_kie_key(workspace.pk)) as client:
            boosted = client.suno_boost_style(text)
    except kie_errors.KieError as exc:
        raise GenerationError(f"Kie couldn't boost the style: {exc.user_message}") from exc
    charged = boosted.credits_consumed
    usage_record(
        workspace_id=workspace.pk,
        user_id=getattr(user, "pk", None),
        kind=UsageEntry.Kind.GENERATION,
        model_key="suno/style-boost",
        credits=Decimal(str(charged)) if charged is not None else STYLE_BOOST_CREDITS,
        source=f"style-boost:{(boosted.task_id or uuid.uuid4().hex)[:28]}",
        estimated=charged is None,
    )
    return boosted.text
