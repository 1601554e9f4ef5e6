from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "kiestudio.api"
    label = "api"
    verbose_name = "API tokens, the REST API and the MCP server"
