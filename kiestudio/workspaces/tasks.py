"""django-q2 tasks for workspaces."""

from __future__ import annotations

from kiestudio.workspaces.files import workspace_files_sweep


def files_delete_task(names: list[str], owner: str = "studio") -> int:
    """Delete the stored files of a deleted workspace (rows are gone already; files follow in batches)."""
    workspace_files_sweep(names, owner)
    return len(names)
