"""Django's side of the Kie client: build a ``KieClient`` from settings, with the shared rate limiter."""

from __future__ import annotations

import ipaddress
from functools import cache
from urllib.parse import urlsplit

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


def _is_local(url: str | None) -> bool:
    """Whether a URL's host is loopback, private, link-local or a name only a local network knows. Names are not
    resolved (a public DNS name is taken as public)."""
    try:
        host = (urlsplit(url or "").hostname or "").strip("[]").lower()
    except ValueError:
        return True
    if not host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or "." not in host or host.endswith((".localhost", ".local", ".internal", ".lan"))
    return not address.is_global


def callbacks_reachable() -> tuple[bool, str]:
    """Whether Kie can reach our callback URL, and why not. Kie must be able to connect to PUBLIC_BASE_URL: a
    loopback or private address works only when Kie is on the same network too (the embedded simulator)."""
    if not getattr(settings, "KIE_CALLBACKS", True):
        return False, "Kie callbacks are off (KIE_CALLBACKS=false); the studio polls Kie on its normal schedule."
    public = settings.PUBLIC_BASE_URL
    if not public:
        return False, "Kie callbacks are off: PUBLIC_BASE_URL is not set; the studio polls Kie on its normal schedule."
    if _is_local(public) and not _is_local(settings.KIE_BASE_URL):
        return False, (
            f"Kie callbacks are off: PUBLIC_BASE_URL ({public}) is a loopback or private address Kie can't reach; "
            "the studio polls Kie on its normal schedule. Set PUBLIC_BASE_URL to the studio's public address."
        )
    return True, f"Kie calls back to {public.rstrip('/')}/kie/callback/…"
