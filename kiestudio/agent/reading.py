"""The tools that only read: what a gallery search, a look at one item and a model's settings answer the model.

Every id the model passes is looked up in the conversation's workspace; another workspace's item is "no such item".
Pictures go to a model that sees images as image blocks (a reference copied from our stored file: Kie's own
result URLs are never passed on).
"""

from __future__ import annotations

import json
from typing import Any

from kiestudio.agent import tools
from kiestudio.agent.models import ToolCall
from kiestudio.chat.models import Conversation
from kiestudio.gallery.selectors import gallery_queryset, parse_filters
from kiestudio.kie.catalog import UnknownModel
from kiestudio.kie.catalog.chat import get_chat_model
from kiestudio.studio.models import Asset, Generation, Status
from kiestudio.studio.services import followup_choices, followup_parent, reference_from_asset
from kiestudio.uploads.services import UploadRejected


class ToolError(Exception):
    """A call that can't be made; the message goes back to the model and onto the card."""


def text_block(value: Any) -> dict[str, Any]:
    return {"type": "text", "text": value if isinstance(value, str) else json.dumps(value, indent=1, default=str)}


def workspace_item(conversation: Conversation, item: Any) -> Generation:
    try:
        pk = int(item)
    except (TypeError, ValueError):
        raise ToolError(f"“{item}” is not a gallery item id.") from None
    found = Generation.objects.filter(workspace_id=conversation.workspace_id, pk=pk, deleted_at__isnull=True).first()
    if found is None:
        raise ToolError(f"There is no gallery item {pk} in this workspace.")
    return found


def search(call: ToolCall, conversation: Conversation) -> list[dict[str, Any]]:
    query = call.input.get("query") or ""
    output = call.input.get("output") or ""
    limit = max(1, min(tools.SEARCH_LIMIT, int(call.input.get("limit") or 6)))
    filters = parse_filters({"q": str(query)}, workspace=conversation.workspace, member_ids=set())
    found = gallery_queryset(workspace=conversation.workspace, user=conversation.owner, filters=filters)
    if output in ("image", "video", "audio"):
        found = found.filter(output=output)
    return [
        {"item": g.pk, "model": g.model_key, "kind": g.output, "prompt": g.prompt_text[:300], "status": g.status}
        for g in found.filter(status=Status.SUCCEEDED)[:limit]
    ]


def view(call: ToolCall, conversation: Conversation) -> list[dict[str, Any]]:
    item = workspace_item(conversation, call.input.get("item"))
    return item_result(item, user=conversation.owner, images=sees_images(conversation))


def sees_images(conversation: Conversation) -> bool:
    try:
        return get_chat_model(conversation.model_key).vision
    except UnknownModel:
        return False


def follow_ups(item: Generation, asset: Asset) -> list[dict[str, Any]]:
    """The follow-up actions the item's first file can take (for follow_up), with their models."""
    parent = followup_parent(generation=item, asset=asset)
    return [
        {
            "action": choice.action.key,
            "label": choice.action.label,
            "models": [spec.key for spec in choice.action.models(parent)],
            **({"unavailable": choice.unavailable} if choice.unavailable else {}),
        }
        for choice in followup_choices(generation=item, asset=asset)
        if not choice.action.sync
    ]


def item_result(item: Generation, *, user, images: bool) -> list[dict[str, Any]]:
    """A gallery item as the model reads it: its facts as text, and its pictures as images for a model that sees
    them (a copy of our stored file; Kie's own result URLs are never passed on)."""
    assets = list(item.assets.all())
    facts = {
        "item": item.pk,
        "model": item.model_key,
        "status": item.status,
        "prompt": item.prompt_text,
        "settings": {k: v for k, v in (item.inputs or {}).items() if not str(v).startswith("https://studio.local/")},
        "files": [
            {"kind": a.kind, "width": a.width, "height": a.height, "seconds": a.duration, "bytes": a.size}
            for a in assets
        ],
    }
    if assets and item.status == Status.SUCCEEDED:
        facts["follow_ups"] = follow_ups(item, assets[0])
    blocks = [text_block(facts)]
    for asset in assets if images else ():
        if asset.kind == Asset.Kind.IMAGE:
            try:
                reference = reference_from_asset(asset=asset, user=user)
            except UploadRejected as exc:
                blocks.append(text_block(f"(Picture {asset.index + 1} can't be shown: {exc})"))
                continue
            blocks.append({"type": "image", "reference": reference.pk})
    return blocks
