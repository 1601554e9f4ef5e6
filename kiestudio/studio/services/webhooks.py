"""What a generation tells the workspace's webhooks when it ends (the webhooks app sits below the studio, so the
studio builds the event's data and hands it to ``webhook_emit``)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from kiestudio.core.links import public_url
from kiestudio.kie.catalog import UnknownModel, get_model
from kiestudio.studio.models import STUDIO_MADE, Asset, Generation, Status
from kiestudio.webhooks.services import webhook_emit, webhook_wanted

EVENTS = {
    Status.SUCCEEDED: "generation.succeeded",
    Status.FAILED: "generation.failed",
    Status.UNKNOWN: "generation.failed",  # we stopped following it: no result will come
}


def _model_name(key: str) -> str:
    try:
        return get_model(key).name
    except UnknownModel:
        return STUDIO_MADE.get(key, key)


def generation_webhook_data(generation: Generation) -> dict[str, Any]:
    credits = generation.credits_charged if generation.credits_charged is not None else generation.credits_estimated
    assets = Asset.objects.filter(generation=generation).order_by("index", "pk")
    return {
        "generation_id": generation.pk,
        "model_key": generation.model_key,
        "model_name": _model_name(generation.model_key),
        "status": generation.status,
        "prompt": generation.prompt_text,
        "credits": str(credits),
        "created_at": generation.created_at.isoformat(),
        "finished_at": generation.completed_at.isoformat() if generation.completed_at else None,
        "url": public_url(reverse("gallery-detail", args=[generation.pk])),
        "files": [
            {"url": public_url(reverse("asset-file", args=[a.pk])), "kind": a.kind, "mime_type": a.mime_type}
            for a in assets
        ],
        "failure_message": generation.failure_message if generation.status != Status.SUCCEEDED else "",
    }


def generation_webhook(generation: Generation) -> None:
    """Queue the generation's end for the workspace's webhooks, in the transaction that ended it (once: only the
    transition that wins the conditional UPDATE calls this, and the key makes a repeat a no-op)."""
    event = EVENTS.get(Status(generation.status))
    if event is None or not webhook_wanted(workspace_id=generation.workspace_id, event=event):
        return
    data = generation_webhook_data(generation)
    webhook_emit(workspace_id=generation.workspace_id, event=event, data=data, key=f"{event}:{generation.pk}")
