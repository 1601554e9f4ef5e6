"""One-line structured log records, with secrets redacted before they are written."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "request", "server_time"}

# Bearer tokens, key=value pairs naming a secret, secrets in query strings, and invitation / reset / email
# confirmation / callback / share-link (``/s/<token>/``) tokens in URL paths (as Django's request log, runserver and uvicorn's access log print
# them for every 4xx answer).
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(
        r"(?i)((?:api[_-]?key|secret|token|password|authorization|hmac[_-]?key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',&]+"
    ),
    re.compile(r"(?i)([?&;](?:[a-z0-9_.-]*(?:key|token|secret|signature|sig)|code)=)[^\s&;#\"']+"),
    re.compile(r"(/(?:invite|invitations|password/reset/key|confirm-email|kie/callback|s)/)[^\s/?#\"']+"),
]

#: Loggers that print request paths. Each gets the filter itself, so a record is redacted before any handler
#: sees it, including handlers added after start-up (uvicorn and gunicorn set up their own).
PATH_LOGGERS = (
    "django.request",
    "django.server",
    "django.security.csrf",
    "uvicorn.access",
    "uvicorn.error",
    "gunicorn.access",
    "gunicorn.error",
)


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    from django.conf import settings

    for secret in _configured_secrets(settings):
        text = text.replace(secret, "[redacted]")
    return text


def _configured_secrets(settings) -> list[str]:
    values = [
        getattr(settings, "KIE_API_KEY", None),
        getattr(settings, "KIE_WEBHOOK_HMAC_KEY", None),
        getattr(settings, "MAILERS", {}).get("default", {}).get("OPTIONS", {}).get("password"),
        getattr(settings, "AWS_S3_SECRET_ACCESS_KEY", None),
        getattr(settings, "SECRET_KEY", None),
    ]
    return [v for v in values if v and len(v) >= 8 and v != "simulator-key"]


def _redact_arg(value: object) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    clean = redact(text)
    return value if clean == text else clean


class RedactSecretsFilter(logging.Filter):
    """Redacts secrets from a record's message, arguments, extra fields and traceback.

    Where only the arguments hold a secret (a path in an access log line), each argument is redacted in place, so
    formatters that read ``record.args`` (uvicorn's access log, runserver's) still work; otherwise the message is
    rendered and redacted whole."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            args = record.args
            if isinstance(args, Mapping):
                redacted: tuple[object, ...] | Mapping[str, object] | None = {
                    key: _redact_arg(value) for key, value in args.items()
                }
            elif isinstance(args, tuple):
                redacted = tuple(_redact_arg(value) for value in args)
            else:
                redacted = None
            msg_clean = isinstance(record.msg, str) and redact(record.msg) == record.msg
            try:
                kept = msg_clean and redacted is not None and (record.msg % redacted) == clean
            except (TypeError, ValueError, KeyError):
                kept = False
            if kept:
                record.args = redacted
            else:
                record.msg, record.args = clean, ()
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_redaction() -> None:
    """Put ``RedactSecretsFilter`` on every handler configured so far (Django's own console handler, django-q2's,
    uvicorn's and gunicorn's included) and on the loggers that print request paths."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in PATH_LOGGERS)]
    loggers += [item for item in logging.Logger.manager.loggerDict.values() if isinstance(item, logging.Logger)]
    for logger in loggers:
        targets = [*logger.handlers, logger] if logger.name in PATH_LOGGERS else logger.handlers
        for target in targets:
            if not any(isinstance(existing, RedactSecretsFilter) for existing in target.filters):
                target.addFilter(RedactSecretsFilter())


class KeyValueFormatter(logging.Formatter):
    """``ts=… level=… logger=… msg="…" key=value`` on one line; tracebacks are folded into ``exc=``."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        parts = [f"ts={ts}", f"level={record.levelname}", f"logger={record.name}", f"msg={_quote(record.getMessage())}"]
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                parts.append(f"{key}={_quote(str(value))}")
        exc_text = record.exc_text
        if not exc_text and record.exc_info:
            exc_text = self.formatException(record.exc_info)
        if exc_text:
            parts.append(f"exc={_quote(exc_text)}")
        return " ".join(parts)


def _quote(value: str) -> str:
    if value and not any(ch in value for ch in ' "=\n\t'):
        return value
    return json.dumps(value)
