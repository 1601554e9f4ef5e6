"""Absolute links to the studio, for whoever reads them outside a request: Kie's callbacks, webhook payloads and
MCP answers. ``PUBLIC_BASE_URL`` is the address the studio is reached at (README, configuration)."""

from __future__ import annotations

from django.conf import settings


def public_url(path: str) -> str:
    """``path`` (from ``reverse``) under ``PUBLIC_BASE_URL``; just the path when that is not set."""
    return (settings.PUBLIC_BASE_URL or "").rstrip("/") + path
