from __future__ import annotations

from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "kiestudio.studio"
    label = "studio"
    verbose_name = "Generate"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        # Imported here, not at the top: these modules need the app registry (models) to be ready.
        from kiestudio.core.health import health_register
        from kiestudio.studio.files import files_delete_unshared, workspace_file_names
        from kiestudio.studio.health import jobs_health
        from kiestudio.workspaces.files import workspace_files_register

        post_spawn.connect(_start_dispatcher, dispatch_uid="studio-dispatcher")
        health_register("jobs", lambda: jobs_health().as_dict())
        workspace_files_register("studio", collect=workspace_file_names, sweep=files_delete_unshared)


def _say_when_callbacks_cannot_arrive() -> None:
    """One line at start-up (of the web process, and of a worker cluster) when Kie could not reach our callback
    URL: jobs are then polled on the normal schedule instead of waiting for a callback that never comes. Other
    manage.py commands stay quiet (their output may be piped)."""
    import logging

    from kiestudio.core.kie import callbacks_reachable  # app registry edge: called from ready()

    reachable, reason = callbacks_reachable()
    if not reachable:
        logging.getLogger("kiestudio.studio").warning(reason)


_said: list[bool] = []


def _start_dispatcher(sender, proc_name: str, **kwargs) -> None:
    """When a worker process starts, make sure the dispatcher chain is running (it hands out due polls)."""
    from kiestudio.studio.tasks import ensure_dispatcher  # app registry edge: tasks import the models

    if not _said:
        _said.append(True)
        _say_when_callbacks_cannot_arrive()
    try:
        ensure_dispatcher()
    except Exception:  # a worker must start even if the database is briefly unavailable
        import logging

        logging.getLogger("kiestudio.studio").exception("Could not start the dispatcher")
