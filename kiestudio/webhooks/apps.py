from __future__ import annotations

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "kiestudio.webhooks"
    label = "webhooks"
    verbose_name = "Outgoing webhooks"
