"""What every Suno endpoint uses: the models and operations, the stems, and the checks of a request body."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.responses import Response

from kiestudio.kie.catalog import load_catalog

from .. import registry
from ..common import error
from ..state import SimState, Task

__all__ = [
    "ADD_MODELS",
    "ALL_STEM_KEYS",
    "DEFAULT_SECONDS",
    "FIRST_AT",
    "MODELS",
    "MUSIC_OPS",
    "PERSONA_SOURCES",
    "SECTION_SECONDS",
    "STEMS",
    "STYLE_BOOST_CREDITS",
    "TEXT_AT",
    "catalog_entry",
    "check_model",
    "finished_music",
    "generation_rules",
    "music_credits",
    "require",
    "require_bools",
    "simple_status",
    "snake_case",
]

MODELS = ("V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5")
ADD_MODELS = ("V4_5PLUS", "V5", "V5_5")
MUSIC_OPS = (
    "generate",
    "extend",
    "upload_cover",
    "upload_extend",
    "add_vocals",
    "add_instrumental",
    "mashup",
    "replace_section",
)
#: Music a persona can be made from (Kie's persona page: the task ids of generate and extend).
PERSONA_SOURCES = ("generate", "extend")
#: Suno, Boost Music Style Boost: $0.002 per request in Kie's table.
STYLE_BOOST_CREDITS = Decimal("0.4")
#: A replaced section is 6 to 60 seconds long (Kie's replace-section page).
SECTION_SECONDS = (6.0, 60.0)
DEFAULT_SECONDS = 120
# Fractions of the task's duration at which the staged states / callbacks happen (contract 3.3).
TEXT_AT, FIRST_AT = 0.3, 0.6
STEMS = (
    ("vocalUrl", "Vocals"),
    ("backingVocalsUrl", "Backing Vocals"),
    ("drumsUrl", "Drums"),
    ("bassUrl", "Bass"),
    ("guitarUrl", "Guitar"),
    ("keyboardUrl", "Keyboard"),
    ("stringsUrl", "Strings"),
    ("synthUrl", "Synth"),
)
ALL_STEM_KEYS = (
    "instrumentalUrl",
    "vocalUrl",
    "backingVocalsUrl",
    "drumsUrl",
    "bassUrl",
    "guitarUrl",
    "pianoUrl",
    "keyboardUrl",
    "percussionUrl",
    "stringsUrl",
    "synthUrl",
    "fxUrl",
    "brassUrl",
    "woodwindsUrl",
)


def snake_case(name: str) -> str:
    """A camelCase field as the snake_case callbacks use."""
    if name == "createTime":  # the callback items keep this one camelCase (contract 3.3)
        return name
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def require(sim: SimState, body: dict[str, Any], *names: str) -> Response | None:
    """A 422 naming the first of ``names`` that is missing or blank."""
    for name in names:
        value = body.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return error(sim, 422, f"Invalid parameter '{name}': {name} is required")
    return None


def require_bools(sim: SimState, body: dict[str, Any], *names: str) -> Response | None:
    for name in names:
        if not isinstance(body.get(name), bool):
            return error(sim, 422, f"Invalid parameter '{name}': must be true or false")
    return None


def check_model(sim: SimState, model: Any, allowed: tuple[str, ...] = MODELS) -> Response | None:
    if not isinstance(model, str) or not model:
        return error(sim, 422, "Invalid parameter 'model': model is required")
    if model not in allowed:
        return error(sim, 422, f"Invalid parameter 'model': choose one of {', '.join(allowed)}")
    return None


def generation_rules(sim: SimState, body: dict[str, Any]) -> Response | None:
    """customMode rules and length limits of contract 5.2."""
    model = body.get("model")
    prompt = body.get("prompt") or ""
    style = body.get("style") or ""
    title = body.get("title") or ""
    if not all(isinstance(v, str) for v in (prompt, style, title)):
        return error(sim, 422, "Invalid parameter 'prompt': prompt, style and title must be strings")
    if body.get("customMode"):
        if missing := require(sim, body, "style", "title"):
            return missing
        if not body.get("instrumental") and (missing := require(sim, body, "prompt")):
            return missing
    else:
        if missing := require(sim, body, "prompt"):
            return missing
        if len(prompt) > 500:
            return error(sim, 422, "Invalid parameter 'prompt': at most 500 characters when customMode is false")
    prompt_limit = 3000 if model == "V4" else 5000
    style_limit = 200 if model == "V4" else 1000
    if len(prompt) > prompt_limit:
        return error(sim, 422, f"Invalid parameter 'prompt': at most {prompt_limit} characters for {model}")
    if len(style) > style_limit:
        return error(sim, 422, f"Invalid parameter 'style': at most {style_limit} characters for {model}")
    if len(title) > 80:
        return error(sim, 422, "Invalid parameter 'title': at most 80 characters")
    for name in ("styleWeight", "weirdnessConstraint", "audioWeight"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1):
            return error(sim, 422, f"Invalid parameter '{name}': must be a number from 0 to 1")
    if body.get("vocalGender") not in (None, "m", "f"):
        return error(sim, 422, "Invalid parameter 'vocalGender': choose one of m, f")
    return None


def music_credits(sim: SimState, model: str, body: dict[str, Any]) -> Decimal:
    """The catalog price of a music request (its defaults' price when the body does not validate)."""
    spec = registry.family_spec("suno", model)
    if spec is None:
        return Decimal(0)
    try:
        inputs = registry.validate(spec, {k: v for k, v in body.items() if spec.has_field(k)}, strict_unknown=False)
    except registry.InputValidationError:
        inputs = spec.defaults()
    return registry.credits_for(spec, inputs)


def simple_status(task: Task, now: float, failed_status: str) -> str:
    """``PENDING``, ``SUCCESS`` or ``failed_status``: the status of the records that have no stages."""
    state = task.state(now)
    return {"success": "SUCCESS", "fail": failed_status}.get(state, "PENDING")


def catalog_entry(key: str) -> registry.ModelSpec:
    """Our catalog's entry for an operation (its typical duration and Kie's price)."""
    return load_catalog().get(key)


def finished_music(sim: SimState, task_id: Any) -> Task | Response:
    """The finished music task ``task_id``, or the answer refusing it (404 unknown, 422 not finished)."""
    source = sim.get_task(str(task_id), "suno")
    if source is None or source.op not in MUSIC_OPS:
        return error(sim, 404, "Task not found")
    if source.state(sim.now()) != "success":
        return error(sim, 422, "record status is not success")
    return source
