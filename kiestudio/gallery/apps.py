from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class GalleryConfig(AppConfig):
    name = "kiestudio.gallery"
    label = "gallery"
    verbose_name = "Gallery"

    def ready(self) -> None:
        from kiestudio.gallery.search_index import _after_migrate  # app registry edge: needs models loaded

        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="gallery.ensure_prompt_search")
