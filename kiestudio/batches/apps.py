from __future__ import annotations

from django.apps import AppConfig


class BatchesConfig(AppConfig):
    name = "kiestudio.batches"
    label = "batches"
    verbose_name = "Batches and comparisons"
