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
from dataclasses import dataclass
from typing import Any

from .records import first_of, parse_url_list


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "FourKAnswer",
    "callback_shape",
    "callback_task_id",
    "four_k_answer",
    "key_paths",
    "sign",
    "verify_signature",
]

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


@dataclass(frozen=True)
class FourKAnswer:
    """Veo's 4K result, which Kie delivers only by callback (or in the answer to a repeated request)."""

    ok: bool
    urls: tuple[str, ...] = ()
    image_urls: tuple[str, ...] = ()
    message: str = ""


_VEO_GENERATE_KEYS = ("promptJson", "fallbackFlag")
_VEO_GENERATE_INFO_KEYS = ("originUrls", "origin_urls", "resolution")
_FOUR_K_KEYS = ("result_urls", "media_ids", "image_urls", "imageUrls")


def four_k_answer(body: Any) -> FourKAnswer | None:
    """Read a body that names a Veo task as its 4K answer, in every documented shape, or None when it is the
    task's own generate/extend callback (which names the same task id).

    Kie documents the 4K answer three ways: snake_case ``data.{task_id, result_urls, media_ids, image_urls}``,
    camelCase ``data.info.{resultUrls, imageUrls}`` and camelCase ``data.{resultUrls, imageUrls}``; a failure is a
    non-200 ``code`` with only the task id. The generate callback carries ``promptJson``/``fallbackFlag`` and
    ``info.originUrls``/``info.resolution``; a bare ``info.resultUrls`` without image URLs is taken as that too.
    """
    if not isinstance(body, dict):
        return None
    data = _dict(body.get("data"))
    info = _dict(data.get("info"))
    if any(key in data for key in _VEO_GENERATE_KEYS) or any(key in info for key in _VEO_GENERATE_INFO_KEYS):
        return None
    code = body.get("code")
    message = body.get("msg") or body.get("message") or ""
    message = message if isinstance(message, str) else ""
    if code not in (200, "200", None):
        return FourKAnswer(ok=False, message=message)
    marked = any(key in data or key in info for key in _FOUR_K_KEYS) or "resultUrls" in data
    if not marked and "4k" not in message.lower():
        return None
    urls = parse_url_list(first_of(data, "result_urls", "resultUrls") or first_of(info, "result_urls", "resultUrls"))
    images = parse_url_list(first_of(data, "image_urls", "imageUrls") or first_of(info, "image_urls", "imageUrls"))
    web = tuple(u for u in urls if u.startswith(("http://", "https://")))
    return FourKAnswer(ok=bool(web), urls=web, image_urls=tuple(images), message=message)


#: What each family's callback carries in ``data`` (or at the top, for Aleph), to tell a known shape from a new one.
_SHAPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("market", ("state", "resultJson", "param")),
    ("suno", ("callbackType",)),
    ("veo", ("promptJson", "fallbackFlag")),
    ("veo_4k", ("result_urls", "resultUrls", "imageUrls", "image_urls", "media_ids")),
    ("info", ("info",)),  # 4o Image, Flux Kontext, Veo
    ("runway", ("video_url", "video_id", "videoUrl")),
    ("aleph", ("result_video_url", "resultVideoUrl")),
)


def callback_shape(body: Any) -> str | None:
    """The family shape a callback body has, or None for one no family documents (log it and read the status)."""
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    if isinstance(data, dict):
        for name, keys in _SHAPES:
            if any(key in data for key in keys):
                return name
        if set(data) <= {"taskId", "task_id", "fallbackFlag"} and body.get("code") not in (200, "200"):
            return "failure"
    if data is None and "taskId" in body:
        return "aleph" if body.get("code") not in (200, "200") else None
    return None


def key_paths(value: Any, prefix: str = "", depth: int = 0) -> list[str]:
    """The key paths of a JSON value (``data.info.resultUrls``), never its values: safe to log."""
    if depth > 4 or not isinstance(value, dict):
        return []
    paths = []
    for key in sorted(value)[:40]:
        path = f"{prefix}{key}"
        paths.append(path)
        paths += key_paths(value[key], f"{path}.", depth + 1)
    return paths
