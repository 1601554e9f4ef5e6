"""Deleting stored files that no row points at any more: demo data and copies share files between rows, so each
owner (studio's results, uploads' references) says which of the names are still in use, and the rest go."""

from __future__ import annotations

from django.core.files.storage import default_storage


def storage_delete_unused(names: set[str], in_use: set[str]) -> None:
    for name in names - in_use:
        default_storage.delete(name)
