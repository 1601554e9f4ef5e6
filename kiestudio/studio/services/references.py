"""What a job sends Kie in place of our files: its references and a follow-up's parent file, as Kie's own uploads."""

from __future__ import annotations

from typing import Any

from kiestudio.studio.models import Asset, Generation
from kiestudio.uploads.kie import REFERENCE_KIE_TTL, REFERENCE_MAX_BYTES, ReferenceMissing, kie_copy, reference_kie_url
from kiestudio.uploads.models import Reference


def _payload_with_references(generation: Generation, client) -> dict[str, Any]:
    """The inputs to send, with our references (pictures, clips, sounds) and a follow-up's parent file swapped for
    fresh Kie uploads. In a list, our files come first and any links typed beside them follow, sent as typed."""
    payload = dict(generation.inputs)
    for field_name, ids in (generation.references or {}).items():
        urls = [reference_kie_url(reference_id=rid, workspace_id=generation.workspace_id, client=client) for rid in ids]
        sent = payload.get(field_name)
        payload[field_name] = urls + sent[len(ids) :] if isinstance(sent, list) else urls[0]

    # A reference's stand-in names it ("https://studio.local/files/references/12/"), so one the list above doesn't
    # cover (a follow-up's voice or mask, say, or an element's pictures inside Kling's list of elements) is swapped
    # too, at any depth; only a reference of this workspace ever is.
    def swapped(value: Any) -> Any:
        if isinstance(value, list):
            return [swapped(item) for item in value]
        if isinstance(value, dict):
            return {key: swapped(item) for key, item in value.items()}
        rid = Reference.id_in_placeholder(value)
        if rid is None:
            return value
        return reference_kie_url(reference_id=rid, workspace_id=generation.workspace_id, client=client)

    for field_name, value in payload.items():
        payload[field_name] = swapped(value)
    if generation.parent_media_field:
        url = asset_kie_url(asset_id=generation.parent_asset_id, workspace_id=generation.workspace_id, client=client)
        field_name = generation.parent_media_field
        payload[field_name] = [url] if isinstance(payload.get(field_name), list) else url
    return payload


def asset_kie_url(*, asset_id: int | None, workspace_id: int, client) -> str:
    """Our stored file uploaded to Kie (reused while Kie still keeps the upload), for a follow-up that takes it."""
    asset = Asset.objects.filter(pk=asset_id, workspace_id=workspace_id).first() if asset_id else None
    if asset is None:
        raise ReferenceMissing("The file this was made from has been deleted, so it can't be sent to Kie.")
    return kie_copy(asset, client, folder="kiestudio/sources")


__all__ = ["REFERENCE_KIE_TTL", "REFERENCE_MAX_BYTES", "asset_kie_url", "reference_kie_url"]
