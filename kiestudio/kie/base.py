"""What the sync and async Kie clients share, written once and free of I/O.

:class:`KieBase` holds the configuration (key, hosts, rate-limit buckets, retry policy) and the three steps of
every call that do not touch the network:

1. :meth:`KieBase._plan` turns ``(method, path, op)`` into a :class:`Call` (URL, headers, bucket, attempts);
2. :meth:`KieBase._interpret` reads Kie's answer (status, body code) into the parsed body or a :class:`KieError`;
3. :meth:`KieBase._backoff` decides, after a failure, whether to try again and after how long (or re-raises).

The transports (:class:`~kiestudio.kie.client.KieClient` over ``httpx.Client``,
:class:`~kiestudio.kie.aio.AsyncKieClient` over ``httpx.AsyncClient``) only send, wait and sleep.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

import httpx

from .errors import KieError
from .http import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    DEFAULT_UPLOAD_BASE_URL,
    DEFAULT_USER_AGENT,
    Op,
    RetryPolicy,
    account_id,
    interpret_response,
    may_retry,
)
from .limiter import InMemoryRateLimiter, RateLimiter

__all__ = ["Call", "KieBase", "KieOptions", "compact"]

log = logging.getLogger("kiestudio.kie")

# Kie refuses these creates without a callBackUrl; ``default_callback_url`` fills the gap for polling-only setups.
_CALLBACK_REQUIRED = ("/api/v1/generate", "/api/v1/wav/", "/api/v1/vocal-removal/", "/api/v1/midi/")

# Process-wide default so every client of one account in this process shares one window.
_SHARED_LIMITER = InMemoryRateLimiter()

Bucket = tuple[str, int, float]


def compact(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping without its ``None`` values (Kie reads an explicit null as a value)."""
    return {k: v for k, v in mapping.items() if v is not None}


class KieOptions(TypedDict, total=False):
    """The keyword options every client takes (see :class:`KieBase`); the transports add their own."""

    base_url: str
    upload_base_url: str
    timeout: float | httpx.Timeout
    limiter: RateLimiter | None
    create_limit: int
    create_window: float
    read_limit: int
    read_window: float
    rate_margin: float
    retries: RetryPolicy | int | None
    user_agent: str
    default_callback_url: str | None


@dataclass(frozen=True)
class Call:
    """One planned request: everything the transport needs, decided before the first byte is sent."""

    method: str
    path: str
    url: str
    op: Op
    headers: dict[str, str]
    bucket: Bucket | None
    attempts: int
    field_candidates: tuple[str, ...]


class KieBase:
    """Configuration and the I/O-free steps shared by :class:`KieClient` and :class:`AsyncKieClient`."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        upload_base_url: str = DEFAULT_UPLOAD_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        limiter: RateLimiter | None = None,
        create_limit: int = 20,
        create_window: float = 10.0,
        read_limit: int = 10,
        read_window: float = 1.0,
        rate_margin: float = 0.25,
        retries: RetryPolicy | int | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        default_callback_url: str | None = None,
    ) -> None:
        if not api_key or not isinstance(api_key, str):
            raise ValueError("A Kie API key is required")
        self._api_key = api_key
        self.account = account_id(api_key)
        self.base_url = base_url.rstrip("/")
        self.upload_base_url = upload_base_url.rstrip("/")
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.limiter: RateLimiter = limiter if limiter is not None else _SHARED_LIMITER
        self.create_limit = create_limit
        self.create_window = create_window
        self.read_limit = read_limit
        self.read_window = read_window
        # Kie counts requests when they arrive, we count them when we reserve a slot; the time in between
        # varies, so each window is widened by this guard band or a late request could land in a full window.
        self.rate_margin = rate_margin
        self.retry = RetryPolicy.coerce(retries)
        self.user_agent = user_agent
        self.default_callback_url = default_callback_url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} account={self.account} base_url={self.base_url!r}>"

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._api_key}",
            "User-Agent": self.user_agent,
            "Accept": "application/json",
        }

    def create_bucket(self) -> Bucket:
        """The limiter bucket, limit and window (margin included) every create of this account goes through."""
        bucket = self._bucket(Op.CREATE)
        assert bucket is not None
        return bucket

    def _bucket(self, op: Op) -> Bucket | None:
        if op is Op.CREATE:
            return f"create:{self.account}", self.create_limit, self.create_window + self.rate_margin
        if op is Op.READ:
            return f"read:{self.account}", self.read_limit, self.read_window + self.rate_margin
        return None

    def _callback(self, path: str, callback_url: str | None) -> str | None:
        if callback_url:
            return callback_url
        if path.startswith(_CALLBACK_REQUIRED):
            return self.default_callback_url
        return None

    # -- the three I/O-free steps of a call -------------------------------------------------------------

    def _plan(
        self,
        method: str,
        path: str,
        *,
        op: Op,
        base_url: str | None = None,
        json: Any = None,
        field_candidates: Iterable[str] = (),
        attempts: int | None = None,
        stream: bool = False,
    ) -> Call:
        """Step 1: where the request goes, with which headers, through which bucket, how many times at most.
        ``field_candidates`` (default: the JSON body's keys) name the fields a 422 may be about."""
        headers = self._headers()
        if stream:
            headers["Accept"] = "text/event-stream"
        return Call(
            method=method,
            path=path,
            url=f"{base_url or self.base_url}{path}",
            op=op,
            headers=headers,
            bucket=self._bucket(op),
            attempts=attempts or self.retry.attempts,
            field_candidates=tuple(field_candidates) or tuple(json.keys() if isinstance(json, dict) else ()),
        )

    def _interpret(self, call: Call, response: httpx.Response) -> dict[str, Any]:
        """Step 2: the parsed body of a successful answer, or the :class:`KieError` Kie's answer means."""
        body: dict[str, Any] = interpret_response(
            response, op=call.op, field_candidates=call.field_candidates, secret=self._api_key
        )
        return body

    def _backoff(self, call: Call, err: KieError, failures: int) -> float:
        """Step 3, after the ``failures``-th failed attempt: re-raise ``err`` when another try is unsafe or the
        attempts are used up, else return how long to wait before the next one."""
        if failures >= call.attempts or not may_retry(err, call.op):
            raise err
        delay = self.retry.delay(failures, getattr(err, "retry_after", None))
        log.warning(
            "kie %s %s failed (%s, %s); retry %d in %.2fs",
            call.method,
            call.path,
            type(err).__name__,
            self.account,
            failures,
            delay,
        )
        return delay
