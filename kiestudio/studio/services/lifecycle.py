"""Step 3: the state machine. Every move is a conditional UPDATE that only one worker can win."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from kiestudio.kie import errors as kie_errors
from kiestudio.studio.models import (
    TERMINAL,
    TRANSITIONS,
    Generation,
    GenerationEvent,
    Status,
)
from kiestudio.studio.services.plan import log
from kiestudio.studio.services.webhooks import generation_webhook
from kiestudio.studio.signals import generation_ended
from kiestudio.usage.services import usage_release

# Before Kie is sent the job, its price is held in the usage ledger; any other status has been charged or never
# will be, so leaving these lets the hold go.
HELD = (Status.QUEUED, Status.SUBMITTING)


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
    with transaction.atomic():  # the move and what it records (the event, its webhooks) commit together
        if not query.update(**values):
            return False
        for key, value in values.items():
            setattr(generation, key, value)
        if current in HELD and to not in HELD:
            usage_release(source=generation.usage_source)
        if to != current:
            GenerationEvent.objects.create(generation=generation, from_status=current, to_status=to, note=note[:300])
            if to in TERMINAL:
                generation_webhook(generation)
                pk = generation.pk
                transaction.on_commit(lambda: generation_ended.send_robust(sender=Generation, generation_id=pk))
    if to != current:
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
