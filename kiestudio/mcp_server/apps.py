from __future__ import annotations

from django.apps import AppConfig


class McpServerConfig(AppConfig):
    name = "kiestudio.mcp_server"
    label = "mcp_server"
    verbose_name = "The MCP server"
