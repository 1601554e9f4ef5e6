"""Step 6 (when Kie can reach us): Kie's callbacks make a row due for one status read; Veo's 4K answers."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from kiestudio.kie.webhooks import callback_shape, four_k_answer, key_paths
from kiestudio.studio.models import (
    CallbackReceipt,
    Generation,
    Status,
)
from kiestudio.studio.services.lifecycle import transition
from kiestudio.studio.services.plan import log
from kiestudio.studio.services.scheduler import generation_nudge
from kiestudio.studio.services.worker import _on_4k_callback

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
