from __future__ import annotations

from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "kiestudio.studio"
    label = "studio"
    verbose_name = "Generate"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        post_spawn.connect(_start_dispatcher, dispatch_uid="studio-dispatcher")


def _start_dispatcher(sender, proc_name: str, **kwargs) -> None:
    """When a worker process starts, make sure the dispatcher chain is running (it hands out due polls)."""
    from kiestudio.studio.tasks import ensure_dispatcher

    try:
        ensure_dispatcher()
    except Exception:  # a worker must start even if the database is briefly unavailable
        import logging

        logging.getLogger("kiestudio.studio").exception("Could not start the dispatcher")
