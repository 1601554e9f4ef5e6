from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kiestudio.core"
    label = "core"
    verbose_name = "Studio core"

    def ready(self) -> None:
        from kiestudio.core.logging import install_redaction  # app registry edge: after logging is configured

        install_redaction()
