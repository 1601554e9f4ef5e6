"""Stored files of generations: which names a set of assets holds, and deleting those no row points at any more.

Demo data and copies share files between rows, so a file is deleted only when no asset refers to it."""

from __future__ import annotations

from django.db.models import QuerySet

from kiestudio.core.storage import storage_delete_unused
from kiestudio.studio.models import Asset
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
