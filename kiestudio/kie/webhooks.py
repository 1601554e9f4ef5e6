"""Kie callback helpers: find the task id in any family's callback body, and check the HMAC signature.

Kie signs ``f"{task_id}.{timestamp}"`` with the account's webhook HMAC key and sends
``X-Webhook-Timestamp`` (Unix seconds) and ``X-Webhook-Signature`` (base64 HMAC-SHA256). The signature does
not cover the body, so re-fetch the task's record before trusting any URL in it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Any

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "callback_task_id", "sign", "verify_signature"]

TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Webhook-Signature"


def callback_task_id(body: Any) -> str | None:
    """The first present of ``data.taskId``, ``data.task_id`` and top-level ``taskId`` (then ``task_id``)."""
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    candidates = []
    if isinstance(data, dict):
        candidates += [data.get("taskId"), data.get("task_id")]
    candidates += [body.get("taskId"), body.get("task_id")]
    for value in candidates:
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def _key_bytes(hmac_key: str | bytes) -> bytes:
    return hmac_key if isinstance(hmac_key, bytes) else hmac_key.encode()


def sign(hmac_key: str | bytes, task_id: str, timestamp: int | str) -> str:
    """The signature Kie would send for this task id and timestamp."""
    message = f"{task_id}.{timestamp}".encode()
    return base64.b64encode(hmac.new(_key_bytes(hmac_key), message, hashlib.sha256).digest()).decode()


def verify_signature(
    hmac_key: str | bytes,
    task_id: str | None,
    timestamp: str | int | None,
    signature: str | None,
    *,
    now: float | None = None,
    tolerance: float = 300,
) -> bool:
    """True only for a well-formed, correct signature whose timestamp is within ``tolerance`` seconds of now."""
    if not hmac_key or not task_id or timestamp in (None, "") or not signature:
        return False
    try:
        sent_at = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(_key_bytes(hmac_key), f"{task_id}.{str(timestamp).strip()}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)
