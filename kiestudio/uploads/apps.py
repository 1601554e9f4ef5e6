from __future__ import annotations

from django.apps import AppConfig


class UploadsConfig(AppConfig):
    name = "kiestudio.uploads"
    label = "uploads"
    verbose_name = "Uploads"

    def ready(self) -> None:
        # Imported here, not at the top: these modules need the app registry (models) to be ready.
        from kiestudio.uploads.files import reference_file_names, reference_files_delete_unshared
        from kiestudio.workspaces.files import workspace_files_register

        workspace_files_register("uploads", collect=reference_file_names, sweep=reference_files_delete_unshared)
