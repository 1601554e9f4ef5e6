"""What the public page of a share shows, and its files: served by the gallery's own storage code, under the
share's address, named without the prompt unless the sharer chose to show it."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse
from django.utils.text import slugify

from kiestudio.sharing.models import Share
from kiestudio.sharing.services import share_generations
from kiestudio.studio.files import asset_label, download_name
from kiestudio.studio.media_views import _serve
from kiestudio.studio.models import Asset, Generation
from kiestudio.studio.templatetags.studio import model_name

NOUNS = {"image": "picture", "video": "video", "audio": "sound"}


@dataclass
class Entry:
    generation: Generation
    label: str  # the model's name (a letter in a blind comparison)
    assets: list[Asset] = field(default_factory=list)


def _file_name(share: Share, asset: Asset) -> str:
    if share.show_prompt:
        return download_name(asset.generation, asset)
    name = asset.file.name or ""
    ext = name.rsplit(".", 1)[-1] if "." in name else "bin"
    label = slugify(asset_label(asset))[:40]
    return f"kie-studio-{asset.generation_id}-{asset.index + 1}{'-' + label if label else ''}.{ext}"


def serve_asset(share: Share, asset: Asset, *, how: str) -> HttpResponseBase:
    """``how``: "inline" (shown on the page), "thumb" (its thumbnail or poster) or "download" (an attachment)."""
    if how == "thumb" and asset.thumbnail:
        response = _serve(asset.thumbnail, "image/webp", download=False, filename=f"thumb-{asset.pk}.webp")
    else:
        response = _serve(asset.file, asset.mime_type, download=how == "download", filename=_file_name(share, asset))
    if response.status_code == 200:
        response["Cache-Control"] = "private, max-age=300"  # a revoked link's files stop soon after its page
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _title(share: Share, entries: list[Entry]) -> str:
    if share.kind == Share.Kind.COLLECTION and share.collection:
        return share.collection.name
    if share.kind == Share.Kind.COMPARISON:
        return f"A comparison of {len(entries)} models"
    if entries:
        first = entries[0]
        noun = NOUNS.get(first.generation.output, "result")
        return f"A {noun} made with {first.label}"
    return "Shared from Kie Studio"


def page_context(request: HttpRequest, share: Share, token: str) -> dict[str, object]:
    blind = share.kind == Share.Kind.COMPARISON and share.batch is not None and share.batch.blind
    entries = []
    for n, generation in enumerate(share_generations(share)):
        label = f"Model {chr(ord('A') + n % 26)}" if blind else model_name(generation.model_key)
        entries.append(Entry(generation, label, list(generation.assets.all())))
    title = _title(share, entries)
    prompt = entries[0].generation.prompt_text if share.show_prompt and entries else ""
    count = sum(len(e.assets) for e in entries)
    description = prompt[:200] or (
        f"{count} file{'s' if count != 1 else ''} shared from Kie Studio" if count else "Shared from Kie Studio"
    )
    pictures = [a for e in entries for a in e.assets if a.kind == Asset.Kind.IMAGE]
    posters = [a for e in entries for a in e.assets if a.thumbnail]
    og_image = ""
    if pictures:
        og_image = request.build_absolute_uri(reverse("share-media", args=[token, pictures[0].pk]))
    elif posters:
        og_image = request.build_absolute_uri(reverse("share-thumb", args=[token, posters[0].pk]))
    return {
        "share": share,
        "token": token,
        "entries": entries,
        "title": title,
        "description": description,
        "og_image": og_image,
        "og_url": request.build_absolute_uri(reverse("share-page", args=[token])),
        "og_type": "video.other" if any(a.kind == Asset.Kind.VIDEO for e in entries for a in e.assets) else "website",
    }
