"""Plain-Python client for the Kie.ai API (no Django in here)."""

from __future__ import annotations

from . import errors
from .aio import AsyncKieClient
from .chat import ChatStream, image_block, openai_image_part, responses_image_part, responses_text_part
from .client import CREATE_PATHS, RECORD_PATHS, KieClient
from .errors import *  # noqa: F403 (the Kie* error classes, listed once: in errors.__all__)
from .http import DEFAULT_USER_AGENT, RetryPolicy, account_id
from .limiter import InMemoryRateLimiter, RateLimiter, RedisRateLimiter
from .records import normalise_record
from .types import (
    AlignedWord,
    ChatEvent,
    ChatEventKind,
    ChatReply,
    ChatUsage,
    PersonaResult,
    ResultFile,
    StyleBoost,
    TaskState,
    TaskStatus,
    TimestampedLyrics,
    ToolCall,
    UploadedFile,
)
from .webhooks import callback_task_id, sign, verify_signature

__all__ = [
    "CREATE_PATHS",
    "DEFAULT_USER_AGENT",
    "RECORD_PATHS",
    "AlignedWord",
    "AsyncKieClient",
    "ChatEvent",
    "ChatEventKind",
    "ChatReply",
    "ChatStream",
    "ChatUsage",
    "InMemoryRateLimiter",
    "KieClient",
    "PersonaResult",
    "RateLimiter",
    "RedisRateLimiter",
    "ResultFile",
    "RetryPolicy",
    "StyleBoost",
    "TaskState",
    "TaskStatus",
    "TimestampedLyrics",
    "ToolCall",
    "UploadedFile",
    "account_id",
    "callback_task_id",
    "image_block",
    "normalise_record",
    "openai_image_part",
    "responses_image_part",
    "responses_text_part",
    "sign",
    "verify_signature",
]
__all__ += [name for name in errors.__all__ if name.startswith("Kie")]
