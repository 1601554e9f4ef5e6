"""django-q2 tasks for workspaces."""

from __future__ import annotations


def files_delete_task(names: list[str]) -> int:
    """Delete the stored files of a deleted workspace (rows are gone already; files follow in batches)."""
    from kiestudio.gallery.services import _delete_unshared

    _delete_unshared(set(names))
    return len(names)
