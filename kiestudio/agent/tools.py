"""The studio's tools as a chat model sees them, generated from the catalog (never written per model).

``definitions`` is what goes out with each request. Each description says when to use the tool and when not to.
Checking a call's input is in ``services``; nothing here touches the database.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from kiestudio.kie.catalog import KINDS, estimate_credits, load_catalog
from kiestudio.kie.catalog.actions import load_actions
from kiestudio.kie.catalog.schema import input_schema

GENERATE, DESCRIBE, SEARCH, VIEW, PLAN = "generate", "describe_model", "search_gallery", "view_item", "propose_plan"
FOLLOW_UP = "follow_up"
SPENDING = frozenset({GENERATE, FOLLOW_UP, PLAN})
MAX_TAKES = 4
SEARCH_LIMIT = 12


def creatable_models():
    """The models a call may use: those offered on the Generate page (follow-up-only models need a source file)."""
    return [spec for spec in load_catalog().originals if not spec.followup_only]


def _model_lines() -> str:
    lines = []
    for kind, label in KINDS.items():
        specs = [s for s in creatable_models() if s.kind == kind]
        if specs:
            entries = ", ".join(f"{s.key} ({s.name}, {_price(s)})" for s in specs)
            lines.append(f"- {label}: {entries}")
    return "\n".join(lines)


def _price(spec) -> str:
    try:
        credits = estimate_credits(spec, {})
    except Exception:  # a price that depends on settings with no default: describe_model gives it
        return "price by settings"
    return "free" if not credits else f"{credits.normalize():f} credits"


def followup_actions():
    """The follow-up actions a call may ask for: those that make a new file (not the ones answered at once)."""
    return [action for action in load_actions().values() if not action.sync]


def _action_lines() -> str:
    lines = []
    for action in followup_actions():
        applies = action.parent.get("outputs") or action.parent.get("families") or action.parent.get("models") or []
        on = f" (on {', '.join(applies)})" if applies else ""
        models = ", ".join(spec.key for spec in action.models())
        lines.append(f"- {action.key}: {action.label}{on}. {action.summary} Models: {models}.")
    return "\n".join(lines)


@cache
def definitions() -> tuple[dict[str, Any], ...]:
    """The tools, in the neutral form ``chat.toolbox`` takes (name, description, JSON Schema)."""
    keys = [s.key for s in creatable_models()]
    action_keys = [action.key for action in followup_actions()]
    action_models = sorted({spec.key for action in followup_actions() for spec in action.models()})
    generate = {
        "name": GENERATE,
        "description": (
            "Make images, video, music or speech with one of the studio's models. It spends the team's credits, so "
            "the creator sees a card with the model, the settings, the full prompt and the price, and decides: "
            "nothing runs until they press Run. Use it when the creator asks for media to be made, with one call "
            "per distinct model or prompt (for several takes of the same thing, set `takes`). Don't use it to "
            "answer a question, to show something already made (search_gallery, view_item) or before you know "
            "what the creator wants. The result comes back when the files are ready, with their gallery item ids.\n"
            "Models (key, name, price of one take with default settings):\n" + _model_lines()
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "model": {"enum": keys, "description": "The model's key, from the list above."},
                "prompt": {"type": "string", "description": "The prompt, in full, as the model should get it."},
                "settings": {
                    "type": "object",
                    "description": (
                        "The model's other inputs by name (describe_model lists them with their choices and "
                        "ranges); leave out what should keep its default. Pictures, clips and sounds are given "
                        "as gallery item ids."
                    ),
                },
                "takes": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_TAKES,
                    "default": 1,
                    "description": "How many separate takes to make (each is charged).",
                },
            },
            "required": ["model"],
            "additionalProperties": False,
        },
    }
    describe = {
        "name": DESCRIBE,
        "description": (
            "The inputs of one studio model as a JSON Schema (names, choices, ranges, defaults) and the price of "
            "one take with default settings. Free, and runs at once. Use it before generate or follow_up when you "
            "need a setting other than the prompt; not needed for a plain prompt."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "model": {"enum": list(dict.fromkeys(keys + action_models)), "description": "The model's key."}
            },
            "required": ["model"],
            "additionalProperties": False,
        },
    }
    search = {
        "name": SEARCH,
        "description": (
            "Search the team's gallery by words in the prompt, newest first; returns item ids with their model, "
            "kind and prompt. Free, and runs at once. Use it to find earlier work the creator mentions or to pick "
            "a file to build on; not to make anything."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "Words from the prompt; empty lists the newest."},
                "output": {"enum": ["image", "video", "audio"], "description": "Only this kind of file."},
                "limit": {"type": "integer", "minimum": 1, "maximum": SEARCH_LIMIT, "default": 6},
            },
            "additionalProperties": False,
        },
    }
    view = {
        "name": VIEW,
        "description": (
            "Look at one gallery item: its prompt, model and settings, and its pictures as images you can see "
            "(for video and audio, their length and size). Free, and runs at once. Use it to judge a result, "
            "before suggesting changes or building on it."
        ),
        "input_schema": {
            "type": "object",
            "properties": {"item": {"type": "integer", "minimum": 1, "description": "The gallery item id."}},
            "required": ["item"],
            "additionalProperties": False,
        },
    }
    step = {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "A short id other steps use to take this step's file."},
            "title": {"type": "string", "description": "What the step makes, in a few words."},
            "model": {"enum": keys, "description": "The model's key (as for generate)."},
            "prompt": {"type": "string"},
            "settings": {"type": "object", "description": "The model's other inputs by name (as for generate)."},
            "from": {
                "type": "object",
                "description": 'Files this step takes from earlier steps, by kind: {"image": "shot1"}.',
                "properties": {k: {"type": "string"} for k in ("image", "video", "audio")},
                "additionalProperties": False,
            },
            "assemble": {
                "type": "object",
                "description": "Instead of a model: join earlier steps' clips, in order, with a music or voice track.",
                "properties": {
                    "clips": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "track": {"type": "string"},
                },
                "required": ["clips"],
                "additionalProperties": False,
            },
        },
        "required": ["id"],
        "additionalProperties": False,
    }
    plan = {
        "name": PLAN,
        "description": (
            'Propose a plan for a brief that takes several steps ("a teaser: four shots, animate them, add '
            'music"): each step is one take with a studio model, taking pictures, clips or sounds from earlier '
            "steps, and a plan may end by assembling the clips and a track into one video. The creator sees every "
            "step with its model and price and the total, may change models, reorder or leave steps out, and "
            "approves once; steps then run as their inputs become ready, and the result comes back when the plan "
            "ends. Use it instead of several generate calls when steps depend on each other; not for one image."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "steps": {"type": "array", "items": step, "minItems": 1, "maxItems": 12},
            },
            "required": ["title", "steps"],
            "additionalProperties": False,
        },
    }
    follow_up = {
        "name": FOLLOW_UP,
        "description": (
            "Run a follow-up action on a file already in the gallery: upscale or edit a picture, animate it, extend "
            "or restyle a video, separate a song's stems, and so on. It spends credits, so like generate it waits "
            "as a priced card for the creator's Run. view_item lists the actions an item can take and their models. "
            "Use it to build on an existing result; don't use it for something new from a prompt (generate) or "
            "for several dependent steps (propose_plan). The result comes back as a new gallery item, linked to "
            "the one it was made from.\nActions (key: label, what it applies to, models):\n" + _action_lines()
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "item": {"type": "integer", "minimum": 1, "description": "The gallery item id to build on."},
                "file": {
                    "type": "integer",
                    "minimum": 1,
                    "default": 1,
                    "description": "Which of the item's files, counting from 1 (an item may hold several).",
                },
                "action": {"enum": action_keys, "description": "The action's key, from the list above."},
                "model": {
                    "enum": action_models,
                    "description": "The model that carries it out; leave out for the action's first model.",
                },
                "prompt": {"type": "string", "description": "What to change or make, for actions that take words."},
                "settings": {
                    "type": "object",
                    "description": "The model's other inputs by name (describe_model lists them); the file is given.",
                },
            },
            "required": ["item", "action"],
            "additionalProperties": False,
        },
    }
    return (generate, describe, search, view, plan, follow_up)


def model_description(spec) -> dict[str, Any]:
    """What describe_model answers."""
    return {
        "model": spec.key,
        "name": spec.name,
        "kind": KINDS.get(spec.kind, spec.kind),
        "prompt_field": spec.prompt_field,
        "price_of_one_take": _price(spec),
        "settings": input_schema(spec, exclude=frozenset({spec.prompt_field} if spec.prompt_field else ())),
    }
