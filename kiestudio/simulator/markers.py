"""Prompt markers: ``[sim:NAME ARGS]`` anywhere in a prompt (or any text input) steers the simulator.

See README.md for the grammar. Markers are case-insensitive; unknown names are ignored; when a name
appears twice the first one wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MARKER = re.compile(r"\[sim:([a-z0-9_-]+)(?:\s+([^\]]*))?\]", re.IGNORECASE)

PAUSED_MESSAGE = "This interface is temporarily paused"
CONTENT_POLICY_MESSAGE = (
    "Your prompt was flagged by the content moderation system as violating the content policy. Please revise it."
)


@dataclass
class Markers:
    fail: tuple[str, str] | None = None  # (failCode, failMsg)
    after: float | None = None  # task duration override (seconds)
    http_5xx: int | None = None
    slow: float | None = None
    malformed: bool = False
    hang: float | None = None
    chat_error: tuple[int, str | None] | None = None
    words: int | None = None
    tool: str | None = None  # "" = any tool
    chunk_delay: float | None = None  # chat: seconds between streamed chunks
    cut_after: int | None = None  # chat: an error event after this many text chunks
    drop_after: int | None = None  # chat: the connection drops after this many text chunks
    refuse: tuple[int, str] | None = None  # the create is refused with this body code and message
    variants: dict[str, str] = field(default_factory=dict)  # documented shapes to use: {"4k": "info"}
    raw: dict[str, str] = field(default_factory=dict)

    @property
    def any_create_fault(self) -> bool:
        return bool(self.http_5xx or self.slow or self.malformed or self.hang is not None)


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def parse(texts: Iterable[str]) -> Markers:
    found: dict[str, str] = {}
    for text in texts:
        for match in MARKER.finditer(text):
            name = match.group(1).lower()
            found.setdefault(name, (match.group(2) or "").strip())
    markers = Markers(raw=found)
    if "fail" in found:
        args = found["fail"]
        code, _, message = args.partition(" ")
        if code.isdigit():
            markers.fail = (code, message.strip() or "Internal server error")
        else:
            markers.fail = ("500", args or "Internal server error")
    elif "reject" in found:
        markers.fail = ("400", CONTENT_POLICY_MESSAGE)
    if "refuse" in found:
        code, _, message = found["refuse"].partition(" ")
        markers.refuse = (
            int(code) if code.isdigit() else 500,
            message.strip() or "The value of input.aspect_ratio is not within the range of allowed options",
        )
    elif "paused" in found:
        markers.refuse = (500, PAUSED_MESSAGE)
    for pair in found.get("variant", "").split():
        name, _, choice = pair.partition("=")
        if name and choice:
            markers.variants[name.lower()] = choice.lower()
    markers.after = _float(found.get("after"))
    if "5xx" in found:
        arg = found["5xx"]
        markers.http_5xx = int(arg) if arg.isdigit() and 500 <= int(arg) <= 599 else 500
    if "slow" in found:
        markers.slow = _float(found["slow"]) or -1.0  # -1: use config.slow_seconds
    markers.malformed = "malformed" in found
    if "hang" in found:
        markers.hang = _float(found["hang"]) or -1.0  # -1: use config.hang_seconds
    if "error" in found:
        code, _, message = found["error"].partition(" ")
        markers.chat_error = (int(code) if code.isdigit() else 500, message.strip() or None)
    words = found.get("words")
    if words and words.isdigit():
        markers.words = int(words)
    if "tool" in found:
        markers.tool = found["tool"]
    markers.chunk_delay = _float(found.get("delay"))
    for name, attr in (("cut", "cut_after"), ("drop", "drop_after")):
        if name in found:
            arg = found[name]
            setattr(markers, attr, int(arg) if arg.isdigit() else 5)
    return markers


def strings_in(value: Any) -> list[str]:
    """Every string inside a JSON value (dict values, list items), depth-first."""
    out: list[str] = []
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            out.extend(strings_in(item))
    elif isinstance(value, list | tuple):
        for item in value:
            out.extend(strings_in(item))
    return out


def strip(text: str) -> str:
    return re.sub(r"\s{2,}", " ", MARKER.sub("", text)).strip()
