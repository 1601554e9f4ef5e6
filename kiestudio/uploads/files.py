"""The stored files of references, for deleting a workspace with everything in it (``workspaces.files``)."""

from __future__ import annotations

from kiestudio.core.storage import storage_delete_unused
from kiestudio.uploads.models import Reference
from kiestudio.workspaces.models import Workspace


def reference_file_names(workspace: Workspace) -> set[str]:
    """Every stored file (uploads and video posters) of the workspace's references."""
    pairs = Reference.objects.filter(workspace=workspace).values_list("file", "poster")
    return {name for pair in pairs for name in pair if name}


def reference_files_delete_unshared(names: set[str]) -> None:
    """Delete the stored files no remaining reference points at."""
    in_use = set(Reference.objects.filter(file__in=names).values_list("file", flat=True)) | set(
        Reference.objects.filter(poster__in=names).values_list("poster", flat=True)
    )
    storage_delete_unused(names, in_use)
