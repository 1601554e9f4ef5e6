"""django-q2 tasks for workspaces."""

from __future__ import annotations


def files_delete_task(names: list[str]) -> int:
    """Delete the stored files of a deleted workspace (rows are gone already; files follow in batches)."""
    from kiestudio.studio.files import files_delete_unshared  # upward: see workspaces.services.workspace_delete

    files_delete_unshared(set(names))
    return len(names)
