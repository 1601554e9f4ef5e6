"""A batch's "batch.finished" webhook: sent once, when the last of its rows ends.

The check runs after the commit that ends a row (the ``generation_ended`` signal); a process killed in that
moment would lose it, so a sweeper (``batch_webhooks_sweep``, every minute) asks again for batches that
ended lately."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Max, Sum
from django.urls import reverse
from django.utils import timezone

from kiestudio.batches.models import Batch, BatchItem
from kiestudio.core.links import public_url
from kiestudio.studio.models import PENDING, Generation
from kiestudio.webhooks.models import Delivery, Endpoint
from kiestudio.webhooks.services import webhook_emit, webhook_wanted

EVENT = "batch.finished"
SWEEP_WINDOW = timedelta(hours=1)  # a batch that ended longer ago than this is not asked about again


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
    return bool(_emit(batch))


def _emit(batch: Batch) -> int:
    """Queue the event for the endpoints that existed when the batch's last row ended; how many were made."""
    data = batch_webhook_data(batch)
    ended = Generation.objects.filter(batch_item__batch=batch).aggregate(last=Max("completed_at"))["last"]
    with transaction.atomic():
        made = webhook_emit(
            workspace_id=batch.workspace_id, event=EVENT, data=data, key=f"{EVENT}:{batch.pk}", made_before=ended
        )
    return len(made)


def batch_webhooks_sweep(*, window: timedelta = SWEEP_WINDOW) -> int:
    """Queue "batch.finished" for each batch whose last row ended within ``window`` and whose event is not
    queued yet; returns how many deliveries were made. Only endpoints that existed when the batch ended get
    it, and the event's key keeps it to once per endpoint, however often this runs."""
    workspace_ids = {
        endpoint.workspace_id for endpoint in Endpoint.objects.filter(is_active=True) if EVENT in endpoint.events
    }
    if not workspace_ids:
        return 0
    since = timezone.now() - window
    ended = (
        Batch.objects.filter(workspace_id__in=workspace_ids, items__generation__completed_at__gte=since)
        .exclude(items__generation__status__in=PENDING)
        .distinct()
    )
    # A batch already emitted went to every endpoint at once: don't rebuild its data each minute.
    emitted = set(Delivery.objects.filter(event=EVENT, created_at__gte=since).values_list("dedupe_key", flat=True))
    return sum(_emit(batch) for batch in ended if f"{EVENT}:{batch.pk}" not in emitted)


def on_generation_ended(sender, *, generation_id: int, **kwargs: Any) -> None:
    batch_check_finished(generation_id=generation_id)
