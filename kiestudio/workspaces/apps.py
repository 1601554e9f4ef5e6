from __future__ import annotations

from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "kiestudio.workspaces"
    label = "workspaces"
    verbose_name = "Workspaces"
