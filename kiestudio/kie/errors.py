"""Named errors for every way a Kie call can go wrong.

Every error carries what Kie said (``kie_message``), what a creator should read (``user_message``),
a short stable slug for the studio's cards (``error_class``) and whether trying again later can help
(``retryable``). Nothing here ever holds the API key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypedDict

__all__ = [
    "KieAuthError",
    "KieBadRequest",
    "KieConnectionError",
    "KieContentRejected",
    "KieError",
    "KieFeatureDisabled",
    "KieFetchFailed",
    "KieGenerationFailed",
    "KieInsufficientCredits",
    "KieKeyLimitExceeded",
    "KieMalformedResponse",
    "KieModelPaused",
    "KieNotFound",
    "KieNotReady",
    "KieRateLimited",
    "KieServerError",
    "KieTimeout",
    "KieUnavailable",
    "KieUnknownOutcome",
    "KieValidationError",
    "error_for_code",
    "error_for_task_failure",
    "field_from_message",
    "looks_like_content_rejection",
]


class KieError(Exception):
    """Base class. ``code`` is Kie's business code (or the HTTP status when the body had none)."""

    error_class = "unknown"
    retryable = False
    default_user_message = "Kie could not complete this request. Try again, and contact support if it keeps happening."

    def __init__(
        self,
        kie_message: str | None = None,
        *,
        http_status: int | None = None,
        code: int | None = None,
        user_message: str | None = None,
    ) -> None:
        self.kie_message = kie_message or ""
        self.http_status = http_status
        self.code = code
        self.user_message = user_message or self.default_user_message
        super().__init__(self._summary())

    def _summary(self) -> str:
        parts = [self.kie_message or self.user_message]
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(http_status={self.http_status!r}, code={self.code!r}, "
            f"kie_message={self.kie_message!r})"
        )


class KieAuthError(KieError):
    error_class = "auth_failed"
    default_user_message = "Kie rejected the API key. Check the key in your workspace settings, then retry."


class KieInsufficientCredits(KieError):
    error_class = "insufficient_credits"
    default_user_message = "Your Kie account is out of credits. Top up at kie.ai, then retry."


class KieNotFound(KieError):
    error_class = "not_found"
    default_user_message = "Kie has no record of this task. It may be older than Kie keeps records, or the id is wrong."


def _quoted(message: str | None, limit: int = 300) -> str:
    text = " ".join((message or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class KieValidationError(KieError):
    """Kie refused the parameters (code 422, or a code 500 whose text is a validation message). Permanent: the
    same request would be refused again. ``field`` names the offending input when Kie's text does."""

    error_class = "invalid_input"
    default_user_message = "Kie rejected the settings for this request. Check the inputs and try again."

    def __init__(self, kie_message: str | None = None, *, field: str | None = None, **kwargs: object) -> None:
        self.field = field
        if not kwargs.get("user_message"):
            said = _quoted(kie_message)
            if said:
                kwargs["user_message"] = f"Kie refused the settings: “{said}” Change that and try again."
            elif field:
                kwargs["user_message"] = f"Kie rejected the value of “{field}”. Change it and try again."
        super().__init__(kie_message, **kwargs)  # type: ignore[arg-type]


class KieModelPaused(KieError):
    """Kie has paused this model or endpoint ("This interface is temporarily paused"). Not retried: resending the
    same create minutes later is refused the same way."""

    error_class = "model_paused"
    default_user_message = "Kie has paused this model for now. Pick another model, or try again later."

    def __init__(self, kie_message: str | None = None, **kwargs: object) -> None:
        if not kwargs.get("user_message") and _quoted(kie_message):
            kwargs["user_message"] = (
                f"Kie has paused this model for now: “{_quoted(kie_message)}” Pick another model, or try again later."
            )
        super().__init__(kie_message, **kwargs)  # type: ignore[arg-type]


class KieRateLimited(KieError):
    error_class = "rate_limited"
    retryable = True
    default_user_message = "Kie is receiving too many requests from this account right now. It will be retried shortly."

    def __init__(self, kie_message: str | None = None, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(kie_message, **kwargs)  # type: ignore[arg-type]


class KieKeyLimitExceeded(KieError):
    error_class = "key_limit"
    default_user_message = (
        "This Kie API key has reached the spending cap set on it. Raise the cap at kie.ai or wait for it to reset."
    )


class KieFetchFailed(KieError):
    error_class = "fetch_failed"
    default_user_message = (
        "Kie could not download one of the files you supplied. Make sure the link is public, then retry."
    )


class KieUnavailable(KieError):
    error_class = "unavailable"
    retryable = True
    default_user_message = "Kie is down for maintenance. Try again in a few minutes."


class KieServerError(KieError):
    error_class = "upstream_error"
    retryable = True
    default_user_message = "Kie had an internal error. Try again in a minute."


class KieGenerationFailed(KieError):
    error_class = "generation_failed"
    default_user_message = "Kie could not generate this. Try again, perhaps with a different prompt or settings."

    def __init__(self, kie_message: str | None = None, **kwargs: object) -> None:
        said = _quoted(kie_message)
        if not kwargs.get("user_message") and said and said.lower() not in ("fail", "failed", "error"):
            kwargs["user_message"] = f"Kie could not generate this: “{said}” Try again, perhaps with other settings."
        super().__init__(kie_message, **kwargs)  # type: ignore[arg-type]


class KieFeatureDisabled(KieError):
    error_class = "feature_disabled"
    default_user_message = "Kie has switched this feature off for now. Pick another model or try again later."


class KieContentRejected(KieError):
    error_class = "content_rejected"
    default_user_message = "Kie's content filter rejected this prompt or image. Rephrase it or use a different image."


class KieBadRequest(KieError):
    error_class = "bad_request"
    default_user_message = "Kie did not accept this request. Check the inputs and try again."


class KieNotReady(KieError):
    """The thing asked for exists but is still being produced (e.g. Veo 1080p). Ask again later."""

    error_class = "not_ready"
    retryable = True
    default_user_message = "Kie is still preparing this file. It will be checked again in a minute or two."


class KieTimeout(KieError):
    error_class = "timeout"
    retryable = True
    default_user_message = "Kie took too long to answer. Try again in a moment."


class KieConnectionError(KieError):
    error_class = "network_error"
    retryable = True
    default_user_message = "The studio could not reach Kie. Check the network, then retry."


class KieMalformedResponse(KieError):
    error_class = "upstream_error"
    retryable = True
    default_user_message = "Kie sent back an answer the studio could not read. Try again in a minute."


class KieUnknownOutcome(KieError):
    """A create was sent but no answer came back: the job may or may not exist. Never resent automatically."""

    error_class = "unknown_outcome"
    default_user_message = (
        "Kie did not confirm this request, so it may or may not have started. "
        "Check your Kie logs before trying again, or you may be charged twice."
    )


_CONTENT_WORDS = re.compile(
    r"content[ _-]?polic|prohibited|flagged|sensitive|nsfw|safety|violat|inappropriate|copyright|"
    r"not allowed|moderation|rejected by|unsafe|harmful",
    re.IGNORECASE,
)
#: Field reports: Kie answers body code 500 for refusals that are not outages. Such an answer is permanent.
_PAUSED = re.compile(
    r"temporarily paused|\bpaused\b|(?:model|interface|service) is (?:suspended|offline|disabled)", re.I
)
_REFUSAL = re.compile(
    r"not within the range|allowed options|\bis required\b|\bmust be\b|\bis (?:invalid|not valid|not supported)\b|"
    r"\binvalid (?:value|parameter|param|input|argument|format)|\bunsupported\b|\bout of range\b|"
    r"\bexceeds? the (?:maximum|limit)|\bparameter error\b",
    re.I,
)
_NOT_READY = re.compile(r"\bis (?:still )?processing\b|not ready|(?:try again|check back) (?:in|later|shortly)", re.I)


def looks_like_content_rejection(message: str | None) -> bool:
    return bool(message and _CONTENT_WORDS.search(message))


_FIELD_PATTERNS = (
    re.compile(r"[`'\"“‘]((?:input\.)?[A-Za-z_][\w.\[\]]*)[`'\"”’]"),
    re.compile(r"\b(?:field|parameter|param|property|argument)\s*[:=]?\s*((?:input\.)?[A-Za-z_][\w.\[\]]*)", re.I),
    re.compile(r"\binput\.([A-Za-z_]\w*)"),
    re.compile(r"\b([A-Za-z_][\w.]*)\s+(?:is required|is missing|must|should|cannot|can't|is invalid|is not)", re.I),
    re.compile(r"\b(?:invalid|missing|unknown|unsupported)\s+((?:input\.)?[A-Za-z_][\w.]*)", re.I),
)
_NOT_FIELDS = {
    "the",
    "a",
    "an",
    "this",
    "that",
    "value",
    "request",
    "it",
    "your",
    "parameter",
    "field",
    "task",
    "record",
}


def field_from_message(message: str | None, candidates: Iterable[str] = ()) -> str | None:
    """Best guess at the input field a validation message is about.

    Known input names (``candidates``) win when the message mentions one as a whole word; otherwise a few
    common phrasings are tried ("'aspect_ratio' must be…", "input.duration is invalid", "Invalid prompt").
    """
    if not message:
        return None
    names = sorted({c for c in candidates if c}, key=len, reverse=True)
    for name in names:
        if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", message):
            return name
    for pattern in _FIELD_PATTERNS:
        for match in pattern.finditer(message):
            value = match.group(1)
            if value.startswith("input."):
                value = value[len("input.") :]
            value = value.strip(".")
            if value and value.lower() not in _NOT_FIELDS:
                return value
    return None


class _Where(TypedDict):
    """Where a Kie answer came from: the keyword arguments every error takes."""

    http_status: int | None
    code: int | None


def error_for_code(
    code: int | None,
    message: str | None,
    *,
    http_status: int | None = None,
    field_candidates: Iterable[str] = (),
    retry_after: float | None = None,
) -> KieError:
    """Turn a non-success Kie code (body ``code``, or the HTTP status when that is all there is) into an error."""
    msg = message or ""
    kwargs: _Where = {"http_status": http_status, "code": code}
    match code:
        case 400 | 413 if looks_like_content_rejection(msg) or code == 413:
            return KieContentRejected(msg, **kwargs)
        case 400 | 422 if _NOT_READY.search(msg):
            # Veo: "1080P is processing…" (400) and "4k is processing. It should be ready in 5-10 minutes" (422).
            return KieNotReady(msg, **kwargs)
        case 400 | 405 | 409:
            return KieBadRequest(msg, **kwargs)
        case 401 | 403:
            return KieAuthError(msg, **kwargs)
        case 402:
            return KieInsufficientCredits(msg, **kwargs)
        case 404:
            return KieNotFound(msg, **kwargs)
        case 408:
            return KieTimeout(msg, **kwargs)
        case 422:
            if looks_like_content_rejection(msg):
                return KieContentRejected(msg, **kwargs)
            return KieValidationError(msg, field=field_from_message(msg, field_candidates), **kwargs)
        case 429:
            return KieRateLimited(msg, retry_after=retry_after, **kwargs)
        case 433:
            return KieKeyLimitExceeded(msg, **kwargs)
        case 451:
            return KieFetchFailed(msg, **kwargs)
        case 455 | 503:
            return KieUnavailable(msg, **kwargs)
        case 501 | 531:
            return KieGenerationFailed(msg, **kwargs)
        case 505:
            return KieFeatureDisabled(msg, **kwargs)
        case int() if 500 <= code <= 599 and _PAUSED.search(msg):
            return KieModelPaused(msg, **kwargs)
        case int() if 500 <= code <= 599 and _REFUSAL.search(msg):
            # Kie's body code 500 also carries validation refusals; only a real outage is worth a retry.
            return KieValidationError(msg, field=field_from_message(msg, field_candidates), **kwargs)
        case int() if 500 <= code <= 599:
            return KieServerError(msg, **kwargs)
        case _:
            return KieError(msg, **kwargs)


def error_for_task_failure(fail_code: str | int | None, fail_message: str | None) -> KieError:
    """The error a finished-but-failed task stands for (used for gallery cards)."""
    msg = fail_message or ""
    try:
        code = int(fail_code) if fail_code not in (None, "") else None
    except (TypeError, ValueError):
        code = None
    if looks_like_content_rejection(msg):
        return KieContentRejected(msg, code=code)
    if code in (422, 400):
        err = error_for_code(code, msg)
        if isinstance(err, KieValidationError | KieBadRequest | KieContentRejected):
            return err
    if code in (402, 451, 433, 505):
        return error_for_code(code, msg)
    return KieGenerationFailed(msg, code=code)
