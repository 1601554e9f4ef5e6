"""Guarded outbound fetches for URLs we download (Kie results) or forward.

Only http and https; the resolved address must be public (not loopback, link-local, private, ULA, or an
IPv4-mapped private address); every redirect is checked again; size and time are capped. The simulator on
loopback is reachable only through the explicit ``FETCH_ALLOWED_PRIVATE_HOSTS`` setting (development, tests).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import IO
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings

MAX_REDIRECTS = 5


class FetchError(Exception):
    """A URL we refused to fetch, or a fetch that went wrong. The message is safe to show."""


class BlockedURL(FetchError):
    pass


class TooLarge(FetchError):
    pass


@dataclass(frozen=True)
class Fetched:
    url: str
    content_type: str
    size: int


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return _is_public(mapped)
    return address.is_global and not (address.is_multicast or address.is_reserved)


def check_url(url: str, *, https_only: bool = False) -> str:
    """Refuse the URL unless its scheme is http(s) and every address its host resolves to is public.
    Returns the host name. Hosts listed in FETCH_ALLOWED_PRIVATE_HOSTS skip the address check (and, with
    ``https_only``, may be plain http; every other host must then be https)."""
    return _resolve(url, https_only=https_only)[0]


def _resolve(url: str, *, https_only: bool = False) -> tuple[str, str | None]:
    """The host, and the public address to connect to (None for an explicitly allowed private host, which is
    connected to by name). Connecting to the address that was checked, rather than resolving again, means a
    name can't pass the check and then resolve somewhere private (DNS rebinding)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise BlockedURL(f"Only http and https URLs can be fetched, not {parts.scheme or 'a bare path'}.")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise BlockedURL("The URL has an invalid port.") from exc
    if not host:
        raise BlockedURL("The URL has no host.")
    allowed = {h.lower() for h in getattr(settings, "FETCH_ALLOWED_PRIVATE_HOSTS", ())}
    hostport = f"{host}:{port}" if port else host
    if host.lower() in allowed or hostport.lower() in allowed:
        return host, None
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BlockedURL(f"The host {host} could not be resolved.") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise BlockedURL(f"The host {host} could not be resolved.")
    for address in addresses:
        if not _is_public(address):
            raise BlockedURL(f"The host {host} resolves to a private address, which is not allowed.")
    if https_only and parts.scheme != "https":
        raise BlockedURL("Only https URLs are allowed.")
    return host, str(addresses[0])


def check_forward_url(url: str) -> None:
    """For a URL we hand to Kie to fetch (a video or audio address typed into a form): http(s) only, and never
    one that points into a private network. A name we can't resolve from here is left to Kie."""
    try:
        _resolve(url)
    except BlockedURL as exc:
        if "could not be resolved" not in str(exc):
            raise


def _pinned(url: str, address: str) -> str:
    """``url`` with its host replaced by ``address`` (the Host header and TLS name keep the real one)."""
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    return parts._replace(netloc=netloc).geturl()


def _pin(url: str, host: str, address: str | None, headers: dict[str, str]) -> tuple[str, dict[str, object]]:
    """The URL to connect to (the checked address, not the name again) and the request's extensions; sets the
    Host header to the real one."""
    if address is None:
        return url, {}
    parts = urlsplit(url)
    headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
    extensions: dict[str, object] = {}
    if parts.scheme == "https":
        extensions["sni_hostname"] = host  # SNI and certificate checks use the real name
    return _pinned(url, address), extensions


@cache
def _client() -> httpx.Client:
    """One pool per process; redirects are never followed by httpx, we re-check each hop ourselves."""
    return httpx.Client(follow_redirects=False)


@contextmanager
def guarded_stream(url: str, *, max_bytes: int, timeout: float = 60.0) -> Iterator[httpx.Response]:
    """Open a streamed GET, following at most MAX_REDIRECTS redirects, each re-checked."""
    deadline = time.monotonic() + timeout
    client = _client()
    request_timeout = httpx.Timeout(timeout, connect=10.0)
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        host, address = _resolve(current)
        headers = {"User-Agent": "KieStudio/0.1 (+media copy)"}
        target, extensions = _pin(current, host, address, headers)
        with client.stream("GET", target, headers=headers, timeout=request_timeout, extensions=extensions) as response:
            if response.is_redirect:
                location = response.headers.get("location")
                if not location:
                    raise FetchError("The server answered with a redirect that has no location.")
                current = urljoin(current, location)
                continue
            if response.status_code >= 400:
                raise FetchError(f"The file server answered HTTP {response.status_code}.")
            length = response.headers.get("content-length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise TooLarge(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
            response.extensions["kiestudio_deadline"] = deadline
            response.extensions["kiestudio_url"] = current
            yield response
            return
    raise FetchError("Too many redirects.")


def fetch_to_file(url: str, dest: IO[bytes], *, max_bytes: int, timeout: float = 120.0) -> Fetched:
    """Stream ``url`` into ``dest``, refusing more than ``max_bytes`` and more than ``timeout`` seconds."""
    size = 0
    with guarded_stream(url, max_bytes=max_bytes, timeout=timeout) as response:
        deadline = response.extensions["kiestudio_deadline"]
        for chunk in response.iter_bytes(65536):
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
            if time.monotonic() > deadline:
                raise FetchError("The download took too long.")
            dest.write(chunk)
        url = response.extensions["kiestudio_url"]
        return Fetched(url=url, content_type=response.headers.get("content-type", ""), size=size)


def guarded_post(url: str, *, content: bytes, headers: dict[str, str], timeout: float = 10.0) -> int:
    """POST ``content`` once to a URL that passes the https-only check, connecting to the address that was
    checked (so DNS can't change between the check and the connection). Redirects are not followed: a 3xx is
    the answer. Returns the status code; raises BlockedURL for a refused URL and FetchError for a timeout or a
    connection error (its message is safe to show)."""
    host, address = _resolve(url, https_only=True)
    sent = {"User-Agent": "KieStudio/0.1 (+webhook)", **headers}
    target, extensions = _pin(url, host, address, sent)
    try:
        with _client().stream(
            "POST", target, content=content, headers=sent, timeout=httpx.Timeout(timeout), extensions=extensions
        ) as response:
            for _ in response.iter_bytes(65536):  # read a little of the answer, never all of it
                break
            return response.status_code
    except httpx.TimeoutException as exc:
        raise FetchError(f"No answer within {timeout:g} s.") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"Could not connect ({exc.__class__.__name__}: {str(exc)[:200]}).") from exc
