from __future__ import annotations

from django.apps import AppConfig


class BatchesConfig(AppConfig):
    name = "kiestudio.batches"
    label = "batches"
    verbose_name = "Batches and comparisons"

    def ready(self) -> None:
        from kiestudio.batches import webhooks
        from kiestudio.studio.signals import generation_ended

        generation_ended.connect(webhooks.on_generation_ended, dispatch_uid="batches-generation-ended")
