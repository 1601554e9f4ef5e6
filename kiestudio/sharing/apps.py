from __future__ import annotations

from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "kiestudio.sharing"
    label = "sharing"
    verbose_name = "Share links"
