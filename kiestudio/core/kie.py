"""Django's side of the Kie client: build a ``KieClient`` from settings, with the shared rate limiter."""

from __future__ import annotations

from functools import cache

import httpx
from django.conf import settings

from kiestudio.core.ratelimit import shared_limiter
from kiestudio.kie import KieClient


@cache
def _shared_http(timeout: float) -> httpx.Client:
    """One connection pool per process for every Kie call (building a TLS context costs ~20 ms)."""
    return httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False)


def kie_client(*, api_key: str | None = None, retries: int | None = None) -> KieClient:
    """A cheap client over the process's shared pool; per-call settings (limiter, key) stay per client."""
    return KieClient(
        api_key or settings.KIE_API_KEY or "",
        http=_shared_http(settings.KIE_TIMEOUT),
        base_url=settings.KIE_BASE_URL,
        upload_base_url=settings.KIE_UPLOAD_BASE_URL,
        limiter=shared_limiter(),
        create_limit=settings.KIE_CREATE_LIMIT,
        create_window=settings.KIE_CREATE_WINDOW,
        read_limit=settings.KIE_READ_LIMIT,
        read_window=settings.KIE_READ_WINDOW,
        timeout=settings.KIE_TIMEOUT,
        rate_margin=settings.KIE_RATE_MARGIN,
        retries=retries,
    )
