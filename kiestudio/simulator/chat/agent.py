"""The simulator playing an agent, when a request offers the studio's tools (``generate``, ``search_gallery``,
``view_item``, ``describe_model``): it reads intent the way a model would, roughly, and calls them.

- "three takes of a lighthouse at dusk", "make a picture of …", "a 5 second video of …", "a song about …": one
  ``generate`` call with the first model of that kind offered, the subject as the prompt and the number of takes.
- "find …" / "search …" in the gallery: ``search_gallery``; "look at item 12": ``view_item``.
- "upscale item 12", "animate item 12: a slow push in", "remove the background of item 12", "edit item 12: make it
  night": ``follow_up`` with that action (and the words after the colon as the prompt).
- Markers steer it (in the creator's last message): ``[sim:tool NAME]`` picks the tool, ``[sim:tool-input {…}]``
  gives its input as JSON (out-of-schema values included), ``[sim:tool-malformed]`` streams input that is not
  JSON, and ``[sim:loop]`` keeps calling the same tool after every result (a model that loops).
After a tool's results (and without ``[sim:loop]``) it answers in words, commenting on what came back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..markers import MARKER, parse, strip

STUDIO_TOOLS = frozenset({"generate", "search_gallery", "view_item"})
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "couple": 2, "pair": 2, "few": 3}
KIND_WORDS = (
    ("video", r"\b(video|clip|animation|animate|footage|film)\b"),
    ("music", r"\b(song|music|track|tune|jingle|soundtrack)\b"),
    ("speech", r"\b(voice ?over|narrat\w*|say|speech|read aloud)\b"),
    ("image", r"\b(takes?|images?|pictures?|photos?|shots?|illustrations?|posters?|portraits?|draw|paint|render)\b"),
)
MAKE = re.compile(r"\b(make|create|generate|draw|paint|render|give me|takes?|design|produce|animate|compose)\b", re.I)
KIND_PREFIX = {"image": "text_to_image", "video": "text_to_video", "music": "music", "speech": "speech"}
FOLLOW_UPS = (
    ("upscale", r"\bupscale\b"),
    ("remove_background", r"\bremove (?:the )?background\b"),
    ("animate", r"\banimate\b"),
    ("veo_extend", r"\bextend\b"),
    ("reframe", r"\breframe\b"),
    ("edit", r"\bedit\b"),
)
MALFORMED = '{"model": "google/nano-banana", "prompt": "unterminated'


def is_studio(tools: list[dict[str, Any]]) -> bool:
    return {str(t.get("name")) for t in tools} >= STUDIO_TOOLS


def _creator_text(messages: list[dict[str, Any]], content_text: Callable[[Any], str]) -> str:
    """The creator's last own message (skipping turns that only carry tool results)."""
    for message in reversed(messages):
        content = message.get("content")
        if message.get("role") != "user":
            continue
        if (
            isinstance(content, list)
            and content
            and all(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
        ):
            continue
        return content_text(content)
    return ""


def _models_of(tools: list[dict[str, Any]], kind: str) -> str | None:
    generate = next(t for t in tools if t.get("name") == "generate")
    schema = generate.get("input_schema") or generate.get("parameters") or {}
    keys = ((schema.get("properties") or {}).get("model") or {}).get("enum") or []
    description = str(generate.get("description") or "")
    wanted = {
        "image": "Text to image",
        "video": "Text to video",
        "animate": "Image to video",
        "music": "Music",
        "speech": "Speech",
    }[kind]
    line = next((ln for ln in description.splitlines() if ln.startswith(f"- {wanted}:")), "")
    first = re.match(rf"- {wanted}: (\S+) \(", line)
    if first and first.group(1) in keys:
        return str(first.group(1))
    return str(keys[0]) if keys else None


def _subject(text: str) -> str:
    text = strip(text).strip().rstrip(".!?")
    match = re.search(r"\b(?:of|about|showing|with)\s+(.+)$", text, re.I)
    subject = match.group(1) if match else text
    return subject.strip() or "a quiet landscape"


def _takes(text: str) -> int:
    match = re.search(
        r"\b(\d+|a|an|one|two|three|four|couple|pair|few)\s+(?:takes?|versions?|variations?|images?|pictures?|shots?|options?)\b",
        text,
        re.I,
    )
    if not match:
        return 1
    word = match.group(1).lower()
    value = int(word) if word.isdigit() else NUMBERS.get(word, 1)
    return max(1, min(4, value))


def agent_call(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]], content_text: Callable[[Any], str], has_results: bool
) -> tuple[str, dict[str, Any] | str] | None:
    """(tool name, input) for this turn, or None to answer in words. The input is a JSON string when the marker
    asks for a malformed one."""
    text = _creator_text(messages, content_text)
    markers = parse([text])
    if has_results and "loop" not in markers.raw:
        return None
    names = {str(t.get("name")) for t in tools}
    raw = _raw_marker(text, "tool-input")
    if "tool-malformed" in markers.raw:
        return (markers.tool or "generate"), MALFORMED
    if markers.tool:
        name = markers.tool if markers.tool in names else "generate"
        return name, (json.loads(raw) if raw else _input_for(name, text, tools))
    lowered = strip(text).lower()
    if re.search(r"\b(find|search|look for)\b", lowered) and re.search(r"\b(gallery|earlier|made|before)\b", lowered):
        return "search_gallery", {"query": " ".join(re.findall(r"[a-z]{4,}", lowered)[-2:])}
    if "follow_up" in names and (found := _follow_up(strip(text))):
        return "follow_up", found
    if match := re.search(r"\b(?:look at|view|judge|check) (?:gallery )?item (\d+)", lowered):
        return "view_item", {"item": int(match.group(1))}
    if "propose_plan" in names and re.search(r"\b(teaser|trailer|storyboard)\b", lowered):
        return "propose_plan", _plan_for(text, tools)
    if MAKE.search(lowered) and any(re.search(pattern, lowered) for _, pattern in KIND_WORDS):
        return "generate", _input_for("generate", text, tools)
    return None


def _follow_up(text: str) -> dict[str, Any] | None:
    lowered = text.lower()
    item = re.search(r"\bitem #?(\d+)", lowered)
    action = next((key for key, pattern in FOLLOW_UPS if re.search(pattern, lowered)), None)
    if not item or not action:
        return None
    call: dict[str, Any] = {"item": int(item.group(1)), "action": action}
    if ":" in lowered:
        call["prompt"] = text.split(":", 1)[1].strip()
    return call


def _plan_for(text: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
    """Shots, each animated, a music track, and the assembly: the steps of a teaser brief."""
    lowered = strip(text).lower()
    found = re.search(r"\b(\d+|two|three|four)\s+(?:shots?|scenes?|images?)\b", lowered)
    shots = (int(found.group(1)) if found.group(1).isdigit() else NUMBERS[found.group(1)]) if found else 4
    shots = max(1, min(4, shots))
    subject = _subject(re.sub(r"[:;,].*$", "", strip(text))) or "a lighthouse at dusk"
    image, animate, music = (_models_of(tools, kind) for kind in ("image", "animate", "music"))
    steps: list[dict[str, Any]] = []
    for n in range(1, shots + 1):
        steps.append({"id": f"shot{n}", "title": f"Shot {n}", "model": image, "prompt": f"{subject}, shot {n}"})
    for n in range(1, shots + 1):
        steps.append(
            {
                "id": f"clip{n}",
                "title": f"Animate shot {n}",
                "model": animate,
                "prompt": f"slow push in on {subject}",
                "from": {"image": f"shot{n}"},
            }
        )
    steps.append({"id": "music", "title": "Music", "model": music, "prompt": f"a calm cinematic theme for {subject}"})
    clips = [f"clip{n}" for n in range(1, shots + 1)]
    steps.append({"id": "final", "title": "Put it together", "assemble": {"clips": clips, "track": "music"}})
    return {"title": f"Teaser: {subject}", "steps": steps}


def _raw_marker(text: str, name: str) -> str:
    for match in MARKER.finditer(text):
        if match.group(1).lower() == name:
            return (match.group(2) or "").strip()
    return ""


def _input_for(name: str, text: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
    if name == "search_gallery":
        return {"query": _subject(text)}
    if name == "view_item":
        found = re.search(r"\b(\d+)\b", strip(text))
        return {"item": int(found.group(1)) if found else 1}
    if name == "describe_model":
        return {"model": _models_of(tools, "image")}
    lowered = strip(text).lower()
    kind = next((k for k, pattern in KIND_WORDS if re.search(pattern, lowered)), "image")
    call: dict[str, Any] = {"model": _models_of(tools, kind), "prompt": _subject(text)}
    if (takes := _takes(text)) > 1:
        call["takes"] = takes
    return call
