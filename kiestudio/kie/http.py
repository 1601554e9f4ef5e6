"""Transport-level pieces shared by the sync and async clients.

The rules for "is it safe to send this again?" live here, in one place:

* reads (GETs, record-info, credit, download links) are retried on anything transient;
* creates are retried only when the answer proves nothing was created: HTTP/body 429, 5xx answers that
  came back with a body, and connection failures where the request never left (ConnectError/ConnectTimeout);
* a create that may have reached Kie without an answer (read/write timeout, dropped connection, 504, an
  unreadable 2xx) becomes :class:`KieUnknownOutcome` and is never resent automatically.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx

from .errors import (
    KieConnectionError,
    KieError,
    KieMalformedResponse,
    KieNotReady,
    KieRateLimited,
    KieServerError,
    KieTimeout,
    KieUnavailable,
    KieUnknownOutcome,
    error_for_code,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_UPLOAD_BASE_URL",
    "DEFAULT_USER_AGENT",
    "Op",
    "RetryPolicy",
    "account_id",
    "error_from_transport",
    "interpret_response",
    "message_of",
    "may_retry",
]

DEFAULT_BASE_URL = "https://api.kie.ai"
DEFAULT_UPLOAD_BASE_URL = "https://kieai.redpandaai.co"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("kiestudio")
    except Exception:  # noqa: BLE001 - not installed as a distribution (running from a checkout)
        return "0.1.0"


DEFAULT_USER_AGENT = f"KieStudio/{_version()} (+httpx)"


class Op(Enum):
    """What kind of call this is, which decides rate-limit bucket and retry rules."""

    READ = "read"  # safe to repeat; read bucket
    CREATE = "create"  # starts paid work; create bucket; resent only when nothing was created
    UPLOAD = "upload"  # file upload: free and temporary, so safe to repeat; not a generation request (no bucket)
    CHAT = "chat"  # chat completion; no bucket, resent only when nothing happened (before streaming starts)

    @property
    def repeat_safe(self) -> bool:
        return self in (Op.READ, Op.UPLOAD)


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` counts every try (1 = no retries). Delay = full jitter over ``min(cap, base * 2**n)``."""

    attempts: int = 4
    base: float = 0.5
    cap: float = 8.0

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        ceiling = min(self.cap, self.base * (2 ** max(failures - 1, 0)))
        wait = random.uniform(0, ceiling) if ceiling > 0 else 0.0
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap))
        return wait

    @classmethod
    def coerce(cls, value: RetryPolicy | int | None) -> RetryPolicy:
        if value is None:
            return cls()
        if isinstance(value, RetryPolicy):
            return value
        return cls(attempts=max(1, int(value) + 1))


def account_id(api_key: str) -> str:
    """A short, non-reversible name for the account behind a key (used for rate-limit buckets and logs)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def message_of(body: Any) -> str:
    """Kie's own text from any of its error shapes: ``msg``, ``message``, or ``{"error": {"message": …}}``."""
    if not isinstance(body, dict):
        return ""
    for key in ("msg", "message"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    err = body.get("error")
    if isinstance(err, dict):
        value = err.get("message")
        if isinstance(value, str):
            return value
    elif isinstance(err, str):
        return err
    return ""


def _body_code(body: Any) -> int | None:
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.strip().isdigit():
        return int(code.strip())
    return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _parse_json(response: httpx.Response) -> tuple[Any, bool]:
    """(body, ok). ``ok`` is False when the body is not JSON."""
    content = response.content
    if not content.strip():
        return None, False
    try:
        return json.loads(content), True
    except (ValueError, UnicodeDecodeError):
        return None, False


def _mark(err: KieError, *, nothing_created: bool) -> KieError:
    err._nothing_created = nothing_created  # type: ignore[attr-defined]
    return err


def _scrub(text: str, secret: str | None) -> str:
    if secret and text and secret in text:
        return text.replace(secret, "***")
    return text


def interpret_response(
    response: httpx.Response,
    *,
    op: Op,
    field_candidates: Iterable[str] = (),
    secret: str | None = None,
) -> Any:
    """Check the HTTP status, then the body ``code``; return the whole parsed body on success."""
    status = response.status_code
    body, parsed = _parse_json(response)
    message = _scrub(message_of(body), secret) if parsed else ""
    code = _body_code(body) if parsed else None

    if status >= 400:
        if not message and not parsed:
            snippet = response.text[:200].strip() if response.content else ""
            message = _scrub(snippet, secret)
        # A generic HTTP status (400/500) with a more specific body code: the body says more.
        effective = code if (status in (400, 500) and code not in (None, 200, status)) else status
        err = error_for_code(
            effective,
            message,
            http_status=status,
            field_candidates=field_candidates,
            retry_after=_retry_after(response),
        )
        if err.code is None:
            err.code = effective
        has_body = bool(response.content.strip())
        if status == 504 and not op.repeat_safe:
            # The gateway gave up waiting on Kie; the create may well have gone through.
            raise _mark(
                KieUnknownOutcome(message or "Gateway timeout", http_status=status, code=code), nothing_created=False
            )
        if status >= 500 and not has_body and not op.repeat_safe:
            raise _mark(KieUnknownOutcome("Empty 5xx answer", http_status=status, code=code), nothing_created=False)
        nothing = isinstance(err, KieRateLimited) or (
            status >= 500 and has_body and isinstance(err, KieServerError | KieUnavailable)
        )
        raise _mark(err, nothing_created=nothing)

    if not parsed or not isinstance(body, dict):
        if op.repeat_safe:
            raise _mark(
                KieMalformedResponse("Kie answered with something that is not JSON", http_status=status),
                nothing_created=False,
            )
        raise _mark(
            KieUnknownOutcome("Kie accepted the request but its answer could not be read", http_status=status),
            nothing_created=False,
        )

    if code is None:
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            # An OpenAI/Anthropic-style error object that came back with HTTP 200.
            implied = _ERROR_TYPE_CODES.get(str(error.get("type") or ""), 400)
            err = error_for_code(implied, message, http_status=status, field_candidates=field_candidates)
            raise _mark(err, nothing_created=isinstance(err, KieRateLimited | KieServerError | KieUnavailable))
        if body.get("success") is False:
            raise _mark(error_for_code(400, message, http_status=status), nothing_created=False)
        return body
    if code == 200:
        if body.get("success") is False:
            raise _mark(error_for_code(400, message, http_status=status), nothing_created=False)
        return body

    err = error_for_code(code, message, http_status=status, field_candidates=field_candidates)
    nothing = isinstance(err, KieRateLimited | KieServerError | KieUnavailable)
    raise _mark(err, nothing_created=nothing)


_ERROR_TYPE_CODES = {
    "authentication_error": 401,
    "permission_error": 401,
    "insufficient_credits_error": 402,
    "billing_error": 402,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "overloaded_error": 503,
    "api_error": 500,
}

_PRE_SEND = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def error_from_transport(exc: httpx.HTTPError, *, op: Op) -> KieError:
    """Translate an httpx exception. Never includes request headers (which carry the key)."""
    name = type(exc).__name__
    if isinstance(exc, _PRE_SEND):
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            err: KieError = KieTimeout(f"Could not connect to Kie in time ({name})")
        else:
            err = KieConnectionError(f"Could not connect to Kie ({name})")
        return _mark(err, nothing_created=True)
    if not op.repeat_safe:
        return _mark(KieUnknownOutcome(f"The request was sent but no answer came back ({name})"), nothing_created=False)
    if isinstance(exc, httpx.TimeoutException):
        return _mark(KieTimeout(f"Kie did not answer in time ({name})"), nothing_created=False)
    return _mark(KieConnectionError(f"The connection to Kie failed ({name})"), nothing_created=False)


def may_retry(err: KieError, op: Op) -> bool:
    if isinstance(err, KieUnknownOutcome | KieNotReady):
        return False  # never resend blind; "not ready" is retried by the caller on its own schedule
    if op.repeat_safe:
        return err.retryable
    return bool(getattr(err, "_nothing_created", False))
