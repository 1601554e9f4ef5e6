"""Follow-up actions: what can be made from a finished result, as data (``actions.json``).

An action names the models that can carry it out (explicitly, or every model of some kinds) and which parents
it applies to. Plain Python, no Django: the studio asks :func:`actions_for` with a :class:`Parent` description.

``parent`` filters (all given must hold):

* ``outputs`` / ``families`` / ``kinds``: the parent generation's output, API family and kind;
* ``models``: the parent generation's catalog key is one of these (Kie's Grok Imagine extend and upscale take
  only a Grok Imagine video's task);
* ``task: true``: the action calls Kie with the parent's task id, so the parent must have one that Kie still
  keeps (14 days);
* ``track: true``: the chosen file must be a Suno track (it has an ``audio_id``).

A model used by an action gets the parent's file in its first input of the parent's media type (``image_url``,
``image_urls``, …) unless the action names ``media_field``; follow-up-only models say what they take from the
parent themselves (``from_parent``, ``parent_media``). ``prefill`` gives initial values for the form (only
fields the model has are used). ``sync`` names an action answered at once rather than by a task.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .errors import CatalogError
from .loader import load_catalog
from .specs import KINDS, OUTPUTS, ModelSpec

MEDIA_FIELD_TYPES = {
    "image": ("image_url", "image_urls"),
    "video": ("video_url", "video_urls"),
    "audio": ("audio_url", "audio_urls"),
}
SYNC_ACTIONS = ("timestamped_lyrics", "persona")
PARENT_KEYS = {"outputs", "families", "kinds", "models", "task", "track"}


@dataclass(frozen=True)
class Parent:
    """What an action needs to know about the item it starts from (one file of one generation)."""

    output: str
    family: str
    kind: str
    has_task: bool  # a Kie task id Kie still keeps
    media_kind: str  # the chosen file's kind: image, video or audio
    is_track: bool = False  # the chosen file is a Suno track
    model_key: str = ""  # the parent generation's catalog key


@dataclass(frozen=True)
class Action:
    key: str
    label: str
    summary: str
    parent: dict[str, Any]
    model_keys: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    media_field: str | None = None
    prefill: dict[str, Any] = field(default_factory=dict)
    sync: str | None = None

    @property
    def needs_task(self) -> bool:
        return bool(self.parent.get("task"))

    def applies_to(self, parent: Parent) -> bool:
        rules = self.parent
        if "outputs" in rules and parent.output not in rules["outputs"]:
            return False
        if "families" in rules and parent.family not in rules["families"]:
            return False
        if "kinds" in rules and parent.kind not in rules["kinds"]:
            return False
        if "models" in rules and parent.model_key not in rules["models"]:
            return False
        return parent.is_track or not rules.get("track")

    def models(self, parent: Parent | None = None) -> tuple[ModelSpec, ...]:
        """The models that can carry it out (for ``parent``: those with an input for its file)."""
        catalog = load_catalog()
        specs = [catalog.get(key) for key in self.model_keys]
        specs += [spec for spec in catalog.originals if spec.kind in self.kinds and spec.key not in self.model_keys]
        if parent is not None:
            specs = [spec for spec in specs if spec.followup_only or self.media_input(spec, parent.media_kind)]
        return tuple(specs)

    def media_input(self, spec: ModelSpec, media_kind: str) -> str | None:
        """The input of ``spec`` that gets the parent's file (None: the model takes none of that kind)."""
        if spec.followup_only:
            return spec.parent_media
        if self.media_field and spec.has_field(self.media_field):
            return self.media_field
        for spec_field in spec.fields:
            if spec_field.type in MEDIA_FIELD_TYPES.get(media_kind, ()):
                return spec_field.name
        return None


@functools.cache
def load_actions() -> dict[str, Action]:
    text = resources.files(__package__).joinpath("actions.json").read_text(encoding="utf-8")
    return parse_actions(text)


def parse_actions(text: str) -> dict[str, Action]:
    """Read and check actions; raises :class:`CatalogError` listing every problem."""
    catalog = load_catalog()
    problems: list[str] = []
    actions: dict[str, Action] = {}
    try:
        raw_actions = json.loads(text)["actions"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CatalogError([f"actions.json: expected an object with an 'actions' list ({exc})"]) from None
    for position, raw in enumerate(raw_actions):
        where = f"actions[{position}] ({raw.get('key') if isinstance(raw, dict) else '?'})"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be an object")
            continue
        key, label = raw.get("key"), raw.get("label")
        if not isinstance(key, str) or not key or key in actions:
            problems.append(f"{where}: key must be a unique string")
            continue
        if not isinstance(label, str) or not label.strip():
            problems.append(f"{where}: label must be text")
        parent = raw.get("parent", {})
        if not isinstance(parent, dict) or set(parent) - PARENT_KEYS:
            problems.append(f"{where}: parent may only use {sorted(PARENT_KEYS)}")
            parent = {}
        for output in parent.get("outputs", []):
            if output not in OUTPUTS:
                problems.append(f"{where}: unknown output {output!r}")
        for kind in [*parent.get("kinds", []), *raw.get("kinds", [])]:
            if kind not in KINDS:
                problems.append(f"{where}: unknown kind {kind!r}")
        for parent_model in parent.get("models", []):
            if parent_model not in catalog:
                problems.append(f"{where}: unknown parent model {parent_model!r}")
        model_keys = tuple(raw.get("models", []))
        for model_key in model_keys:
            if model_key not in catalog:
                problems.append(f"{where}: unknown model {model_key!r}")
        sync = raw.get("sync")
        if sync is not None and sync not in SYNC_ACTIONS:
            problems.append(f"{where}: sync must be one of {SYNC_ACTIONS}")
        if not (model_keys or raw.get("kinds") or sync):
            problems.append(f"{where}: give models, kinds or sync")
        actions[key] = Action(
            key=key,
            label=(label or key).strip(),
            summary=str(raw.get("summary", "")),
            parent=parent,
            model_keys=model_keys,
            kinds=tuple(raw.get("kinds", [])),
            media_field=raw.get("media_field"),
            prefill=dict(raw.get("prefill", {})),
            sync=sync,
        )
    if problems:
        raise CatalogError(problems)
    return actions


def actions_for(parent: Parent) -> list[Action]:
    """Actions offered for ``parent`` (those it needs a Kie task for are offered only while Kie keeps it)."""
    found = []
    for action in load_actions().values():
        if not action.applies_to(parent):
            continue
        if action.needs_task and not parent.has_task:
            continue
        if action.sync or action.models(parent):
            found.append(action)
    return found


def get_action(key: str) -> Action:
    try:
        return load_actions()[key]
    except KeyError:
        raise KeyError(f"Unknown follow-up action {key!r}") from None


def action_label(key: str) -> str:
    """The label of an action key ("" for none); an unknown key is shown as itself, tidied."""
    if not key:
        return ""
    action = load_actions().get(key)
    return action.label if action else key.replace("_", " ").capitalize()
