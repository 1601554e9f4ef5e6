"""Django's side of the Kie client: build a ``KieClient`` from settings, with the shared rate limiter."""

from __future__ import annotations

from django.conf import settings

from kiestudio.core.ratelimit import shared_limiter
from kiestudio.kie import KieClient


def kie_client(*, api_key: str | None = None) -> KieClient:
    return KieClient(
        api_key or settings.KIE_API_KEY or "",
        base_url=settings.KIE_BASE_URL,
        upload_base_url=settings.KIE_UPLOAD_BASE_URL,
        limiter=shared_limiter(),
        create_limit=settings.KIE_CREATE_LIMIT,
        create_window=settings.KIE_CREATE_WINDOW,
        read_limit=settings.KIE_READ_LIMIT,
        read_window=settings.KIE_READ_WINDOW,
        timeout=settings.KIE_TIMEOUT,
        rate_margin=settings.KIE_RATE_MARGIN,
    )
