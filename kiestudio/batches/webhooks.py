"""A batch's "batch.finished" webhook: sent once, when the last of its rows ends."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Count, Sum
from django.urls import reverse

from kiestudio.batches.models import Batch, BatchItem
from kiestudio.core.links import public_url
from kiestudio.studio.models import PENDING, Generation
from kiestudio.webhooks.services import webhook_emit, webhook_wanted

EVENT = "batch.finished"


def batch_webhook_data(batch: Batch) -> dict[str, Any]:
    rows = Generation.objects.filter(batch_item__batch=batch)
    counts = {row["status"]: row["n"] for row in rows.order_by().values("status").annotate(n=Count("pk"))}
    finished = rows.order_by("-completed_at").values_list("completed_at", flat=True).first()
    charged = rows.aggregate(total=Sum("credits_charged"))["total"] or 0
    return {
        "batch_id": batch.pk,
        "name": batch.name,
        "source": batch.source,
        "models": list(batch.model_keys),
        "created_at": batch.created_at.isoformat(),
        "finished_at": finished.isoformat() if finished else None,
        "counts": counts,
        "credits": str(charged),
        "generation_ids": list(rows.order_by("pk").values_list("pk", flat=True)),
        "url": public_url(reverse("batch", args=[batch.pk])),
    }


def batch_check_finished(*, generation_id: int) -> bool:
    """When the generation was a batch's last row to end, queue "batch.finished" (once per batch: the event's
    key makes a second call, from a row that ended at the same moment or a retried row, a no-op)."""
    item = BatchItem.objects.select_related("batch").filter(generation_id=generation_id).first()
    if item is None:
        return False
    batch = item.batch
    if Generation.objects.filter(batch_item__batch=batch, status__in=PENDING).exists():
        return False
    if not webhook_wanted(workspace_id=batch.workspace_id, event=EVENT):
        return False
    with transaction.atomic():
        made = webhook_emit(
            workspace_id=batch.workspace_id, event=EVENT, data=batch_webhook_data(batch), key=f"{EVENT}:{batch.pk}"
        )
    return bool(made)


def on_generation_ended(sender, *, generation_id: int, **kwargs: Any) -> None:
    batch_check_finished(generation_id=generation_id)
