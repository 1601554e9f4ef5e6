"""Step 5: one worker step under a lease: submit the create call, poll Kie's record, store the results."""

from __future__ import annotations

import tempfile
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from kiestudio.core.fetch import FetchError, fetch_to_file
from kiestudio.core.kie import kie_client
from kiestudio.core.ratelimit import shared_limiter
from kiestudio.kie import errors as kie_errors
from kiestudio.kie.catalog import (
    ModelSpec,
    get_model,
    load_catalog,
)
from kiestudio.kie.types import TaskState, TaskStatus
from kiestudio.kie.webhooks import four_k_answer
from kiestudio.studio.models import (
    Asset,
    CallbackReceipt,
    Generation,
    Status,
)
from kiestudio.studio.services.lifecycle import _fail, _release, _unknown_fields, transition
from kiestudio.studio.services.plan import log
from kiestudio.studio.services.references import _payload_with_references
from kiestudio.studio.services.scheduler import (
    _first_check,
    _poll_scale,
    _settle_abandoned_submit,
    _SlotBusy,
    _SubmitLimiter,
    callback_url_for,
    generation_claim,
    generation_nudge,
    next_poll_delay,
)
from kiestudio.uploads import media
from kiestudio.uploads.kie import ReferenceMissing
from kiestudio.usage.models import UsageEntry
from kiestudio.usage.services import usage_record
from kiestudio.workspaces.services import workspace_kie_key

MAX_SUBMIT_ATTEMPTS = 8
MAX_STORE_ATTEMPTS = 5
MAX_RESULT_BYTES = 512 * 1024 * 1024


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


def _submit(generation: Generation, lease: uuid.UUID) -> str:
    if generation.held_at is not None or generation.workspace.queue_paused_at is not None:
        # Paused after the dispatcher handed it out: it goes back to its place in the queue, unsent.
        Generation.objects.filter(pk=generation.pk, lease_token=lease).update(lease_until=None)
        return "held"
    spec = get_model(generation.model_key)
    if spec.operation == "veo_1080p":
        return _submit_1080p(generation, lease, spec)
    api_key = workspace_kie_key(generation.workspace_id)
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
            # The create slot is taken the moment before the request goes out (see _SubmitLimiter): a slot taken
            # earlier, before the claim and the payload, reached Kie late by as much as those database writes took
            # under load, and five creates of 200 landed in a full window (bench, issue 21).
            client.limiter = _SubmitLimiter(shared_limiter(), generation)
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
    except ReferenceMissing as exc:
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


def _charge(generation: Generation, credits: Decimal, *, estimated: bool) -> None:
    usage_record(
        workspace_id=generation.workspace_id,
        user_id=generation.created_by_id,
        kind=UsageEntry.Kind.GENERATION,
        model_key=generation.model_key,
        credits=credits,
        source=generation.usage_source,
        estimated=estimated,
    )


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
            if asset.file.name:
                default_storage.delete(asset.file.name)
            if asset.thumbnail and asset.thumbnail.name:
                default_storage.delete(asset.thumbnail.name)
            return Asset.objects.get(generation=generation, index=index)
        return asset


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
