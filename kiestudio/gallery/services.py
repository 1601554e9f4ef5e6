"""Changing the gallery: favourites, collections, the trash, and zip exports."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from kiestudio.gallery.models import Collection, CollectionItem, Favorite, ItemTag, Rating, Tag
from kiestudio.kie.catalog import UnknownModel, get_model
from kiestudio.studio.files import asset_label, download_name
from kiestudio.studio.models import Asset, Generation

# The trash changes generations and their files, so it lives beside them (studio); gallery's views use it from here.
from kiestudio.studio.services.trash import TRASH_DAYS as TRASH_DAYS
from kiestudio.studio.services.trash import generations_restore as generations_restore
from kiestudio.studio.services.trash import generations_trash as generations_trash
from kiestudio.studio.services.trash import trash_purge as trash_purge
from kiestudio.workspaces.audit import A, audit_record
from kiestudio.workspaces.models import Workspace


class GalleryError(Exception):
    """A change that can't be made; the message is safe to show."""


def favorite_toggle(*, generation: Generation, user) -> bool:
    """Favourite or un-favourite; returns whether it is a favourite now."""
    deleted, _ = Favorite.objects.filter(user=user, generation=generation).delete()
    if deleted:
        return False
    try:
        with transaction.atomic():
            Favorite.objects.create(
                user=user,
                generation=generation,
                workspace_id=generation.workspace_id,
                generation_created_at=generation.created_at,
            )
    except IntegrityError:
        pass
    return True


def collection_create(*, workspace: Workspace, user, name: str) -> Collection:
    name = " ".join(name.split())[:80]
    if not name:
        raise GalleryError("Give the collection a name.")
    return Collection.objects.create(workspace=workspace, name=name, created_by=user)


def collection_rename(*, collection: Collection, name: str) -> Collection:
    name = " ".join(name.split())[:80]
    if not name:
        raise GalleryError("Give the collection a name.")
    collection.name = name
    collection.save(update_fields=["name", "updated_at"])
    return collection


def collection_delete(*, collection: Collection, user=None) -> None:
    """Deleting a board keeps its items in the gallery."""

    collection.delete()
    audit_record(workspace=collection.workspace, actor=user, action=A.COLLECTION_DELETED, target=collection.name)


def collection_add(*, collection: Collection, generations: Iterable[Generation], user) -> int:
    rows = [
        CollectionItem(collection=collection, generation=g, added_by=user)
        for g in generations
        if g.workspace_id == collection.workspace_id
    ]
    before = collection.memberships.count()
    CollectionItem.objects.bulk_create(rows, ignore_conflicts=True)
    collection.save(update_fields=["updated_at"])
    return collection.memberships.count() - before


def collection_remove(*, collection: Collection, generations: Iterable[Generation]) -> int:
    deleted, _ = collection.memberships.filter(generation__in=list(generations)).delete()
    return deleted


def collection_set_cover(*, collection: Collection, generation: Generation) -> None:
    """Show this item's picture for the collection (it joins the collection if it wasn't in it). Without a chosen
    cover, a collection shows its most recently added item's (``selectors.collection_cards``)."""
    if generation.workspace_id != collection.workspace_id:
        raise GalleryError("That item is not in this workspace.")
    CollectionItem.objects.get_or_create(collection=collection, generation=generation)
    collection.cover = generation
    collection.save(update_fields=["cover", "updated_at"])


# --- Tags and ratings ---------------------------------------------------------------------------------------

TAG_CHARS = 40
TAGS_PER_ITEM = 20
TAGS_PER_WORKSPACE = 500


def tag_name(text: str) -> str:
    """A tag as typed, tidied: spaces collapsed, a leading "#" dropped. Raises GalleryError with the reason."""
    name = " ".join(str(text).split()).lstrip("#").strip()
    if not name:
        raise GalleryError("Type a tag first.")
    if len(name) > TAG_CHARS:
        raise GalleryError(f"A tag can be at most {TAG_CHARS} characters ({len(name)} given).")
    if any(ch in name for ch in ",<>"):
        raise GalleryError("A tag can't contain commas or angle brackets. Add two tags one at a time.")
    return name


def tag_get_or_create(*, workspace: Workspace, user, name: str) -> Tag:
    name = tag_name(name)
    key = name.casefold()[:TAG_CHARS]
    found = Tag.objects.filter(workspace=workspace, key=key).first()
    if found is not None:
        return found
    if Tag.objects.filter(workspace=workspace).count() >= TAGS_PER_WORKSPACE:
        raise GalleryError(f"This workspace has {TAGS_PER_WORKSPACE} tags, the most it can have. Reuse one.")
    try:
        with transaction.atomic():
            return Tag.objects.create(workspace=workspace, name=name, key=key, created_by=user)
    except IntegrityError:  # a teammate made the same tag a moment ago
        return Tag.objects.get(workspace=workspace, key=key)


def tags_add(*, generations: Iterable[Generation], user, name: str) -> tuple[Tag, int]:
    """Tag every given item (all in one workspace); returns the tag and how many items newly carry it."""
    generations = list(generations)
    if not generations:
        raise GalleryError("Nothing selected.")
    workspace = generations[0].workspace
    if any(g.workspace_id != workspace.pk for g in generations):
        raise GalleryError("Those items are not all in one workspace.")
    tag = tag_get_or_create(workspace=workspace, user=user, name=name)
    full = {
        row["generation_id"]
        for row in ItemTag.objects.filter(generation__in=generations)
        .values("generation_id")
        .annotate(n=models.Count("id"))
        .filter(n__gte=TAGS_PER_ITEM)
    }
    already = set(tag.links.filter(generation__in=generations).values_list("generation_id", flat=True))
    if len(generations) == 1 and full and not already:
        raise GalleryError(f"An item can have at most {TAGS_PER_ITEM} tags. Remove one first.")
    rows = [
        ItemTag(tag=tag, generation=g, added_by=user) for g in generations if g.pk not in full and g.pk not in already
    ]
    ItemTag.objects.bulk_create(rows, ignore_conflicts=True)
    return tag, len(rows)


def tag_remove(*, generation: Generation, tag: Tag) -> None:
    ItemTag.objects.filter(generation=generation, tag=tag).delete()
    if not tag.links.exists():  # nothing carries it any more: it leaves the filter's list too
        tag.delete()


def rating_set(*, generation: Generation, user, stars: int) -> int:
    """Rate an item 1 to 5 stars for this member; 0 clears the rating. Returns the rating now."""
    if stars not in range(0, 6):
        raise GalleryError("A rating is 1 to 5 stars (or 0 to clear it).")
    if stars == 0:
        Rating.objects.filter(user=user, generation=generation).delete()
        return 0
    Rating.objects.update_or_create(
        user=user, generation=generation, defaults={"stars": stars, "workspace_id": generation.workspace_id}
    )
    return stars


# --- Zip export ---------------------------------------------------------------------------------------------


def _metadata(generation: Generation) -> dict[str, object]:
    try:
        model_name = get_model(generation.model_key).name
    except UnknownModel:
        model_name = generation.model_key
    return {
        "id": generation.pk,
        "model": generation.model_key,
        "model_name": model_name,
        "kind": generation.kind,
        "status": generation.status,
        "prompt": generation.prompt_text,
        "inputs": generation.inputs,
        "created_at": generation.created_at.isoformat(),
        "completed_at": generation.completed_at.isoformat() if generation.completed_at else None,
        "created_by": generation.created_by.email if generation.created_by else None,
        "credits": str(
            generation.credits_charged if generation.credits_charged is not None else generation.credits_estimated
        ),
        "kie_task_id": generation.kie_task_id,
        "made_from": (
            {
                "id": generation.parent_id,
                "file": generation.parent_asset.index + 1 if generation.parent_asset else None,
                "action": generation.action,
            }
            if generation.action
            else None
        ),
        "files": [
            {
                "name": _zip_name(generation, asset),
                "label": asset_label(asset),
                "kind": asset.kind,
                "mime_type": asset.mime_type,
                "size": asset.size,
                "width": asset.width,
                "height": asset.height,
                "duration": asset.duration,
                "source_url": asset.source_url,
            }
            for asset in generation.assets.all()
        ],
    }


def _zip_name(generation: Generation, asset: Asset) -> str:
    """Every file of one generation in one folder, named as its download is."""
    return f"{generation.pk}/{download_name(generation, asset)}"


class _Sink:
    """A write-only file for zipfile that hands finished chunks to a generator."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:  # zipfile never closes a file it was given; here for the type checker's protocol
        pass

    def drain(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def zip_stream(generations: list[Generation]) -> Iterator[bytes]:
    """A zip of every file of the given generations (multi-file results kept together in one folder) plus a
    metadata.json, streamed so memory stays flat whatever the size."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for generation in generations:
            for asset in generation.assets.all():
                with (
                    asset.file.open("rb") as source,
                    archive.open(_zip_name(generation, asset), "w", force_zip64=True) as target,
                ):
                    while chunk := source.read(1024 * 256):
                        target.write(chunk)
                        yield sink.drain()
        metadata = {"exported_at": timezone.now().isoformat(), "items": [_metadata(g) for g in generations]}
        archive.writestr("metadata.json", json.dumps(metadata, indent=2, ensure_ascii=False))
    yield sink.drain()
