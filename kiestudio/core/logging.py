"""One-line structured log records, with secrets redacted before they are written."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "request", "server_time"}

# Bearer tokens, key=value pairs naming a secret, and invitation / reset / callback tokens in URLs.
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(
        r"(?i)((?:api[_-]?key|secret|token|password|authorization|hmac[_-]?key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',&]+"
    ),
    re.compile(r"(/(?:invite|invitations|password/reset/key|kie/callback)/)[^\s/\"']+"),
]


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


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


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
