"""Stored files of generations: which names a set of assets holds, and deleting those no row points at any more.

Demo data and copies share files between rows, so a file is deleted only when no asset refers to it."""

from __future__ import annotations

import re

from django.db.models import QuerySet
from django.utils.text import slugify

from kiestudio.core.storage import storage_delete_unused
from kiestudio.studio.models import Asset, Generation
from kiestudio.workspaces.models import Workspace


def file_names(assets: QuerySet[Asset]) -> set[str]:
    """Every stored file (results and thumbnails) of ``assets``."""
    names: set[str] = set()
    for file_name, thumb in assets.values_list("file", "thumbnail"):
        names.update(n for n in (file_name, thumb) if n)
    return names


def files_delete_unshared(names: set[str]) -> None:
    """Delete stored files no remaining asset points at."""
    if not names:
        return
    in_use = set(Asset.objects.filter(file__in=names).values_list("file", flat=True)) | set(
        Asset.objects.filter(thumbnail__in=names).values_list("thumbnail", flat=True)
    )
    storage_delete_unused(names, in_use)


def workspace_file_names(workspace: Workspace) -> set[str]:
    """Every stored file of a workspace's results, for deleting the workspace."""
    return file_names(Asset.objects.filter(workspace=workspace))


_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def asset_label(asset: Asset) -> str:
    """A file's own name, readable, when Kie gave one: a song's title as given, a stem's field name in words
    ("backingVocals" → "Backing vocals"). The card, the detail, download names and zips all use this one."""
    metadata = asset.metadata or {}
    if metadata.get("title"):
        return str(metadata["title"])
    name = str(metadata.get("name") or "")
    words = _CAMEL_HUMP.sub(" ", name).replace("_", " ").strip()
    return words[:1].upper() + words[1:].lower()


def download_name(generation: Generation, asset: Asset) -> str:
    """A file name a person can read: the prompt's first words, the gallery id and file number, and the stem or
    track name ("a-lighthouse-at-dusk-oil-painting-42-1.png", "rainy-day-song-57-2-vocals.mp3")."""
    name = asset.file.name or ""
    ext = name.rsplit(".", 1)[-1] if "." in name else "bin"
    words = slugify(generation.prompt_text)[:48].rstrip("-") or slugify(generation.model_key.rsplit("/", 1)[-1])
    label = slugify(asset_label(asset))[:40]
    return f"{words or 'kiestudio'}-{generation.pk}-{asset.index + 1}{'-' + label if label else ''}.{ext}"
