"""Every knob of the simulator, with dev-friendly defaults, plus env-var and CLI plumbing."""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any

ENV_PREFIX = "KIE_SIM_"
ERROR_STYLES = ("body", "http")
MESSAGE_KEYS = ("msg", "message")
COST_TIME_UNITS = ("ms", "s")
STATE_NAMES = ("waiting", "queuing", "generating")


@dataclass
class SimulatorConfig:
    """Knobs of the simulator. Every field can be changed at run time (``PATCH /_sim/config``)."""

    # Determinism: task ids, chat text, media and the fault RNG all derive from this.
    seed: int = 0
    # Task timing: a task runs for its model's ``typical_seconds`` x ``time_scale`` (0 = done at once),
    # split into waiting 10 % / queuing 10 % / generating 80 %. ``state_seconds`` overrides that with fixed
    # seconds per state, e.g. {"waiting": 0.1, "queuing": 0.1, "generating": 0.5}.
    time_scale: float = 0.2
    state_seconds: dict[str, float] | None = None
    # Auth: None accepts any non-empty key that does not start with "bad".
    api_keys: list[str] | None = None
    # Credits (the starting balance; ``POST /_sim/credits`` sets the live one).
    balance: float = 10000.0
    refund_on_fail: bool = False
    # Rate limits (contract 1.5): creates per sliding window, and status reads per window.
    rate_limit: int = 20
    rate_window: float = 10.0
    read_rate_limit_enabled: bool = True
    read_rate_limit: int = 10
    read_rate_window: float = 1.0
    # Random faults (seeded), applied to the request kinds in ``fault_kinds``.
    fault_5xx_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 3.0
    malformed_rate: float = 0.0
    fault_kinds: list[str] = field(default_factory=lambda: ["create", "read"])
    hang_seconds: float = 600.0
    # Contract conflicts (section 8).
    error_style: str = "body"
    message_key: str = "msg"
    fail_code_empty: str | None = ""
    cost_time_unit: str = "ms"
    include_credits_consumed: bool = False
    strict_unknown_inputs: bool = True
    # Documented variants (field reports and Kie's newer pages). Where Kie documents several shapes for one
    # answer, each task gets one by a seeded coin unless ``variants`` pins it (or a [sim:variant NAME=CHOICE]
    # marker does): {"4k": "snake"|"info"|"flat", "aleph_running": "zero"|"null"}.
    variants: dict[str, str] | None = None
    # Kie answers some validation refusals with body code 500 instead of 422; this share of them does.
    validation_500_rate: float = 0.0
    # Models whose create Kie refuses with code 500 "This interface is temporarily paused".
    paused_models: list[str] = field(default_factory=list)
    # Callbacks (contract section 3).
    callbacks: bool = True
    webhook_hmac_key: str | None = None
    callback_timeout: float = 15.0
    # Veo extras: get-1080p-video answers "processing" for the first N calls and the first T seconds.
    veo_1080p_pending_calls: int = 1
    veo_1080p_pending_seconds: float = 0.0
    # Chat replies.
    chat_reply_words: int = 60
    chat_thinking_words: int = 30
    chat_tokens_per_chunk: int = 3
    chat_chunk_delay: float = 0.02
    chat_stream_default: bool | None = None
    # Benchmarks: record when each streamed text chunk was handed to the server (GET /_sim/chat-timings).
    chat_timings: bool = False
    # Generated media.
    image_long_side: int = 512
    video_long_side: int = 320
    video_seconds: float = 2.0
    video_fps: int = 12
    audio_seconds: float = 3.0
    media_cache_size: int = 256
    # Result URLs are built from the request's base URL unless this is set.
    public_base_url: str | None = None
    log_limit: int = 20000

    def validate(self) -> None:
        if self.error_style not in ERROR_STYLES:
            raise ValueError(f"error_style must be one of {ERROR_STYLES}")
        if self.message_key not in MESSAGE_KEYS:
            raise ValueError(f"message_key must be one of {MESSAGE_KEYS}")
        if self.cost_time_unit not in COST_TIME_UNITS:
            raise ValueError(f"cost_time_unit must be one of {COST_TIME_UNITS}")
        if self.fail_code_empty not in ("", None):
            raise ValueError('fail_code_empty must be "" or null')
        if self.state_seconds is not None:
            unknown = set(self.state_seconds) - set(STATE_NAMES)
            if unknown:
                raise ValueError(f"state_seconds keys must be among {STATE_NAMES}")
        for name in ("time_scale", "rate_window", "read_rate_window", "slow_seconds", "hang_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.rate_limit < 1 or self.read_rate_limit < 1:
            raise ValueError("rate limits must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` (JSON values) after type checks; raises ``ValueError`` on a bad name or value."""
        hints = _hints()
        candidate = dataclasses.replace(self)
        for name, value in changes.items():
            if name not in hints:
                raise ValueError(f"unknown config field {name!r}")
            setattr(candidate, name, _check_type(name, hints[name], value))
        candidate.validate()
        for name in changes:
            setattr(self, name, getattr(candidate, name))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> SimulatorConfig:
        """Defaults, then ``KIE_SIM_<FIELD>`` variables, then ``overrides``."""
        environ = dict(os.environ if environ is None else environ)
        config = cls()
        changes: dict[str, Any] = {}
        hints = _hints()
        for name, hint in hints.items():
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is not None:
                changes[name] = parse_text_value(name, hint, raw)
        changes.update(overrides)
        config.update(changes)
        return config


def _hints() -> dict[str, Any]:
    return typing.get_type_hints(SimulatorConfig)


def _base_types(hint: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return tuple(typing.get_args(hint))
    return (hint,)


def _check_type(name: str, hint: Any, value: Any) -> Any:
    for option in _base_types(hint):
        if option is type(None) and value is None:
            return None
        origin = typing.get_origin(option) or option
        if origin is bool and isinstance(value, bool):
            return value
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if origin is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if origin is str and isinstance(value, str):
            return value
        if origin is list and isinstance(value, list | tuple):
            return list(value)
        if origin is dict and isinstance(value, dict):
            try:
                return {str(k): float(v) for k, v in value.items()}
            except (TypeError, ValueError):
                raise ValueError(f"config field {name!r}: values must be numbers") from None
    raise ValueError(f"config field {name!r}: {value!r} does not fit {hint}")


def parse_text_value(name: str, hint: Any, raw: str) -> Any:
    """Parse a string from an env var or CLI flag into a JSON-ish value for ``update``."""
    text = raw.strip()
    options = _base_types(hint)
    if text.lower() in ("none", "null") and type(None) in options:
        return None
    for option in options:
        origin = typing.get_origin(option) or option
        if origin is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
        elif origin is int:
            try:
                return int(text)
            except ValueError:
                continue
        elif origin is float:
            try:
                return float(text)
            except ValueError:
                continue
        elif origin is list:
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        elif origin is dict:
            return json.loads(text)
        elif origin is str:
            return raw
    raise ValueError(f"cannot parse {raw!r} for {name}")


def config_fields() -> dict[str, Any]:
    """Field name -> type hint, in declaration order (used by the CLI)."""
    hints = _hints()
    return {f.name: hints[f.name] for f in dataclasses.fields(SimulatorConfig)}
