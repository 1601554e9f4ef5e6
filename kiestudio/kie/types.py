"""Typed results returned by the Kie client. All frozen dataclasses; ``raw`` keeps Kie's own payload."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .errors import KieError, error_for_task_failure

__all__ = [
    "AlignedWord",
    "ChatEvent",
    "ChatEventKind",
    "ChatReply",
    "ChatUsage",
    "PersonaResult",
    "ResultFile",
    "StyleBoost",
    "TaskState",
    "TaskStatus",
    "TimestampedLyrics",
    "ToolCall",
    "UploadedFile",
]


class TaskState(StrEnum):
    WAITING = "waiting"
    QUEUING = "queuing"
    GENERATING = "generating"
    SUCCESS = "success"
    FAIL = "fail"

    @property
    def is_terminal(self) -> bool:
        return self in (TaskState.SUCCESS, TaskState.FAIL)


@dataclass(frozen=True)
class ResultFile:
    """One output file. ``kind`` is a hint (image|video|audio) or None when the URL says nothing."""

    url: str
    kind: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskStatus:
    """Any family's task record, normalised. ``stage`` keeps finer family states (Suno TEXT_SUCCESS, …)."""

    task_id: str
    state: TaskState
    stage: str | None = None
    results: tuple[ResultFile, ...] = ()
    fail_code: str | None = None
    fail_message: str | None = None
    credits_consumed: float | None = None
    progress: float | None = None
    result_object: dict[str, Any] | None = None  # non-file results: Market resultObject, Suno lyrics, MIDI notes
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal

    @property
    def succeeded(self) -> bool:
        return self.state is TaskState.SUCCESS

    @property
    def failed(self) -> bool:
        return self.state is TaskState.FAIL

    def error(self) -> KieError | None:
        """The named error a failed task stands for (for cards); None unless the task failed."""
        if not self.failed:
            return None
        return error_for_task_failure(self.fail_code, self.fail_message)


@dataclass(frozen=True)
class UploadedFile:
    url: str
    file_name: str | None = None
    file_path: str | None = None
    size: int | None = None
    mime_type: str | None = None
    uploaded_at: str | None = None
    expires_at: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlignedWord:
    word: str
    start: float | None
    end: float | None
    success: bool | None = None
    p_align: float | None = None


@dataclass(frozen=True)
class TimestampedLyrics:
    words: tuple[AlignedWord, ...]
    waveform: tuple[float, ...] = ()
    hoot_cer: float | None = None
    is_streamed: bool | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PersonaResult:
    """A Suno persona Kie made from a track: ``persona_id`` is what a new song's ``personaId`` takes."""

    persona_id: str
    name: str = ""
    description: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StyleBoost:
    """Kie's richer rewording of a Suno style (answered at once)."""

    text: str
    credits_consumed: float | None = None
    task_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class ChatEventKind(StrEnum):
    MESSAGE_START = "message_start"
    BLOCK_START = "block_start"  # a text or thinking block opens (tool blocks use TOOL_USE_START)
    TEXT_DELTA = "text_delta"
    THINKING_DELTA = "thinking_delta"
    TOOL_USE_START = "tool_use_start"
    TOOL_INPUT_DELTA = "tool_input_delta"
    BLOCK_STOP = "block_stop"
    USAGE = "usage"
    MESSAGE_STOP = "message_stop"
    ERROR = "error"
    PING = "ping"


@dataclass(frozen=True)
class ChatUsage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class ChatEvent:
    """One event of a chat stream, whichever wire format (Anthropic Messages or OpenAI chunks) it came from.

    ``stop_reason`` uses Anthropic's words (end_turn, max_tokens, tool_use, stop_sequence, refusal) for both
    formats. ``usage`` is cumulative for the message so far.
    """

    kind: ChatEventKind
    index: int | None = None
    text: str = ""
    block_type: str | None = None
    tool_id: str | None = None
    tool_name: str | None = None
    usage: ChatUsage | None = None
    stop_reason: str | None = None
    credits_consumed: float | None = None
    message_id: str | None = None
    model: str | None = None
    error_class: str | None = None
    error_message: str | None = None
    raw: dict[str, Any] | None = None


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    input: dict[str, Any] | str


@dataclass(frozen=True)
class ChatReply:
    """A complete (non-streamed) chat answer."""

    id: str | None
    model: str | None
    text: str
    thinking: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    stop_reason: str | None = None
    usage: ChatUsage = field(default_factory=ChatUsage)
    credits_consumed: float | None = None
    raw: dict[str, Any] = field(default_factory=dict)
