"""Deleting a workspace deletes the files of every feature that registered its files with tenancy: results
(studio) and reference uploads with their video posters (uploads). A file another workspace still uses stays."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from kiestudio.uploads.models import Reference
from kiestudio.uploads.services import reference_create, reference_from_bytes
from kiestudio.workspaces import services
from kiestudio.workspaces.files import workspace_files
from tests.chat.helpers import png_bytes
from tests.studio.helpers import made, workspace_of
from tests.studio.media_samples import mp4_bytes

pytestmark = pytest.mark.django_db


def test_deleting_a_workspace_deletes_its_results_and_references(
    kie_sim, alice, charlie, django_capture_on_commit_callbacks
):
    workspace = workspace_of(alice)
    generation = made(alice, prompt="A paper boat")
    picture = reference_from_bytes(workspace=workspace, user=alice, data=png_bytes(), label="boat.png")
    clip = reference_create(
        workspace=workspace, user=alice, upload=SimpleUploadedFile("wave.mp4", mp4_bytes(), "video/mp4"), kind="video"
    )
    assert clip.poster.name
    # Charlie's workspace holds a reference to the same stored picture (a copy that shares the file).
    shared = Reference.objects.create(
        workspace=workspace_of(charlie), created_by=charlie, file=picture.file.name, mime_type="image/png", size=3
    )

    held = workspace_files(workspace)
    results = {name for asset in generation.assets.all() for name in (asset.file.name, asset.thumbnail.name) if name}
    assert set(held["studio"]) == results and results
    assert set(held["uploads"]) == {picture.file.name, clip.file.name, clip.poster.name}

    with django_capture_on_commit_callbacks(execute=True):
        services.workspace_delete(workspace=workspace, actor=alice, confirm=workspace.name)

    assert not any(default_storage.exists(name) for name in results | {clip.file.name, clip.poster.name})
    assert default_storage.exists(shared.file.name)  # still Charlie's
    assert list(Reference.objects.all()) == [shared]
