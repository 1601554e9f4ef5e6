"""Comparisons: one prompt on two to four models, priced before anything is bought, kept together as a batch.

The shared settings (aspect ratio, duration, resolution) are concepts: each model takes them under its own field
name (``aspect_ratio``, ``aspectRatio``, ``ratio``, ``image_size``…), found through the tables below, never by
code for one model. A shared value a model doesn't offer leaves that model on its default, with a note. Each job
then goes through the model's own form, like a batch row, so a comparison buys ordinary generations."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiestudio.batches.models import Batch
from kiestudio.batches.services import (
    MAX_MODELS,
    BatchError,
    Preview,
    batch_create,
    checked_job,
    form_data,
    known_models,
)
from kiestudio.kie.catalog import FieldSpec, ModelSpec, UnknownModel, get_model, load_catalog
from kiestudio.studio.forms import GenerateForm
from kiestudio.workspaces.models import Membership, Workspace

MIN_MODELS = 2

# What a model starts from, by kind: models compare when they make the same output from the same inputs.
KIND_INPUTS: dict[str, str] = {
    "text_to_image": "text",
    "text_to_video": "text",
    "speech": "text",
    "sound_effect": "text",
    "music": "text",
    "image_edit": "image",
    "image_to_video": "image",
    "video_to_video": "video",
    "talking_video": "picture and sound",
}
OUTPUT_NOUNS = {"image": "pictures", "video": "videos", "audio": "sound"}


@dataclass(frozen=True)
class Concept:
    """A setting the compared models share, and the field names it goes by in the catalog, in order of preference."""

    key: str
    label: str
    fields: tuple[str, ...]
    # Another way some models write a value ("16:9" as "landscape_16_9"): concept value -> the model's values.
    spellings: tuple[tuple[str, tuple[str, ...]], ...] = ()


CONCEPTS: tuple[Concept, ...] = (
    Concept(
        "aspect_ratio",
        "Aspect ratio",
        ("aspect_ratio", "aspectRatio", "ratio", "image_size", "size"),
        spellings=(
            ("1:1", ("square_hd", "square")),
            ("16:9", ("landscape_16_9",)),
            ("9:16", ("portrait_16_9",)),
            ("4:3", ("landscape_4_3",)),
            ("3:4", ("portrait_4_3",)),
            ("3:2", ("landscape_3_2",)),
            ("2:3", ("portrait_3_2",)),
        ),
    ),
    Concept("duration", "Duration", ("duration", "durationSeconds", "seconds")),
    Concept("resolution", "Resolution", ("resolution",)),
)
CONCEPT_KEYS = tuple(concept.key for concept in CONCEPTS)
MAX_RANGE_CHOICES = 20  # an integer duration (3 to 15 s) is offered as its whole numbers, if no more than this


def concept_field(spec: ModelSpec, concept: Concept) -> FieldSpec | None:
    """The model's own field for a shared setting (not an alias: one control per setting), or None."""
    for name in concept.fields:
        spec_field = spec.field(name) if spec.has_field(name) else None
        if spec_field is not None and not spec_field.alias_of and spec_field.type in ("enum", "integer", "number"):
            return spec_field
    return None


def _spelled(concept: Concept, value: str) -> tuple[str, ...]:
    """``value`` and its other spellings, as a model's choices may hold them."""
    return (value, *dict(concept.spellings).get(value, ()))


def _plain(concept: Concept, model_value: str) -> str:
    """A model's choice as the shared value it stands for ("landscape_16_9" is "16:9")."""
    return next((value for value, others in concept.spellings if model_value in others), model_value)


def _model_value(spec_field: FieldSpec, concept: Concept, value: str) -> str | None:
    """The value the model's field takes for a shared one, or None when it has no such value."""
    if spec_field.choices:
        offered = [str(choice) for choice in spec_field.choices]
        return next((v for v in _spelled(concept, value) if v in offered), None)
    try:
        number = float(value)
    except ValueError:
        return None
    if (spec_field.min is not None and number < spec_field.min) or (
        spec_field.max is not None and number > spec_field.max
    ):
        return None
    return value if spec_field.type == "number" or number.is_integer() else None


def _field_choices(spec_field: FieldSpec, concept: Concept) -> list[str]:
    if spec_field.choices:
        return [_plain(concept, str(choice)) for choice in spec_field.choices]
    if (
        spec_field.min is not None
        and spec_field.max is not None
        and spec_field.max - spec_field.min < MAX_RANGE_CHOICES
    ):
        return [str(n) for n in range(int(spec_field.min), int(spec_field.max) + 1)]
    return []


def shared_choices(specs: Iterable[ModelSpec]) -> dict[str, list[str]]:
    """For each shared setting, the values any of the models offers, in the order the models list them."""
    choices: dict[str, list[str]] = {}
    for concept in CONCEPTS:
        values: dict[str, None] = {}
        for spec in specs:
            spec_field = concept_field(spec, concept)
            if spec_field is not None:
                values.update(dict.fromkeys(_field_choices(spec_field, concept)))
        found = list(values)
        numeric = all(v.replace(".", "", 1).isdigit() for v in found)
        choices[concept.key] = sorted(found, key=float) if numeric else found
    return choices


def comparable_models() -> list[tuple[str, list[tuple[str, str]]]]:
    """The models a comparison may use, by kind: (kind label, [(key, name)]) for models that take a prompt."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for spec in load_catalog().originals:
        if spec.prompt_field and spec.kind in KIND_INPUTS:
            groups.setdefault(spec.kind_label, []).append((spec.key, spec.name))
    return list(groups.items())


def _family(spec: ModelSpec) -> tuple[str, str]:
    return spec.output, KIND_INPUTS.get(spec.kind, spec.kind)


def compare_models(keys: Iterable[str]) -> list[ModelSpec]:
    """The compared models, checked: known, each once, two to four, each taking a prompt, all alike (the same
    output from the same inputs; the odd one out is named)."""
    specs = known_models(keys)
    if not MIN_MODELS <= len(specs) <= MAX_MODELS:
        raise BatchError(f"Choose {MIN_MODELS} to {MAX_MODELS} different models to compare ({len(specs)} chosen).")
    for spec in specs:
        if not spec.prompt_field or spec.kind not in KIND_INPUTS:
            raise BatchError(f"{spec.name} doesn't take a prompt, so it can't be compared on one.")
    # The family most of the models share (the first model's on a tie) is the comparison's; the first model
    # outside it is the odd one.
    counts = Counter(_family(spec) for spec in specs)
    ours = max(counts, key=lambda family: (counts[family], -[_family(s) for s in specs].index(family)))
    odd = next((spec for spec in specs if _family(spec) != ours), None)
    if odd is not None:
        other = next(spec for spec in specs if _family(spec) == ours)
        if odd.output != other.output:
            raise BatchError(
                f"{odd.name} makes {OUTPUT_NOUNS.get(odd.output, odd.output)}, but {other.name} makes "
                f"{OUTPUT_NOUNS.get(other.output, other.output)}: compare models that make the same kind of result."
            )
        raise BatchError(
            f"{odd.name} is {odd.kind_label.lower()}, but {other.name} is {other.kind_label.lower()}: "
            "compare models that start from the same inputs."
        )
    return specs


def _check_shared(specs: Sequence[ModelSpec], shared: dict[str, str]) -> None:
    """A shared value must be one that at least one of the models offers (else it is a mistake, not a note)."""
    offered = shared_choices(specs)
    for concept in CONCEPTS:
        value = shared.get(concept.key, "")
        if not value:
            continue
        fields = [f for f in (concept_field(spec, concept) for spec in specs) if f is not None]
        if not any(_model_value(f, concept, value) is not None for f in fields):
            choices = ", ".join(offered[concept.key]) or "none"
            raise BatchError(
                f"None of these models offers the {concept.label.lower()} “{value[:40]}” (they offer: {choices})."
            )


def _shared_for(spec: ModelSpec, shared: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The shared values under the model's own field names, and a note for each it can't take."""
    values: dict[str, str] = {}
    notes: list[str] = []
    for concept in CONCEPTS:
        value = shared.get(concept.key, "")
        spec_field = concept_field(spec, concept)
        if not value:
            continue
        if spec_field is None:
            notes.append(f"{spec.name} has no {concept.label.lower()} setting, so {value} doesn't apply.")
            continue
        own = _model_value(spec_field, concept, value)
        if own is None:
            default = spec_field.default_value() if spec_field.has_default else None
            uses = f"it uses {_plain(concept, str(default))}" if default not in (None, "") else "Kie chooses"
            notes.append(f"{spec.name} has no {concept.label.lower()} {value}; {uses}.")
        else:
            values[spec_field.name] = own
    return values, notes


def _settings_used(spec: ModelSpec, inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Each shared setting as the model will run it: (its own label and field name, the value)."""
    used: list[tuple[str, str]] = []
    for concept in CONCEPTS:
        spec_field = concept_field(spec, concept)
        if spec_field is None:
            continue
        value = inputs.get(spec_field.name)
        shown = _plain(concept, str(value)) if value not in (None, "") else "Kie's choice"
        used.append((f"{spec_field.label} ({spec_field.name})", shown))
    return used


@dataclass(frozen=True)
class OwnSetting:
    """One of a model's own settings in the comparison form (not the prompt, not a shared one): a choice, a yes/no or a
    number, named ``o:<model key>:<field>`` so a value follows its model whichever slot it is in."""

    name: str
    label: str
    help: str
    choices: tuple[tuple[str, str], ...]  # (value, words); empty for a number
    value: str  # "" keeps the model's default
    minimum: float | int | None = None
    maximum: float | int | None = None
    step: str = "1"


OWN_PREFIX = "o:"


def own_settings(spec: ModelSpec, chosen: Mapping[str, str]) -> list[OwnSetting]:
    """The settings of ``spec`` a comparison lets each model keep for itself, with the values ``chosen`` for it.
    Text, files, lists and settings that depend on others' values stay on the model's defaults."""
    shared = {f.name for concept in CONCEPTS if (f := concept_field(spec, concept)) is not None}
    own = []
    for f in spec.fields:
        if f.alias_of or f.shown_when or f.name == spec.prompt_field or f.name in shared:
            continue
        if f.choices:
            labels = f.choice_labels or tuple(str(c) for c in f.choices)
            choices = tuple((str(c), str(label)) for c, label in zip(f.choices, labels, strict=False))
        elif f.type == "boolean":
            choices = (("true", "On"), ("false", "Off"))
        elif f.type not in ("integer", "number"):
            continue
        else:
            choices = ()
        default = "" if f.default is None else str(f.default).lower() if f.type == "boolean" else str(f.default)
        own.append(
            OwnSetting(
                name=f"{OWN_PREFIX}{spec.key}:{f.name}",
                label=f.label,
                help=f"Default: {dict(choices).get(default, default)}" if default else "Default: the model's choice",
                choices=choices,
                value=str(chosen.get(f.name, "")),
                minimum=f.min,
                maximum=f.max,
                step="1" if f.type == "integer" else "any",
            )
        )
    return own


def overrides_from(data: Mapping[str, str], model_keys: Iterable[str]) -> dict[str, dict[str, str]]:
    """Each chosen model's own settings from a posted form (``o:<model key>:<field>``); empty ones keep the default,
    and names that aren't one of that model's own settings are ignored."""
    wanted = set(model_keys)
    overrides: dict[str, dict[str, str]] = {}
    for name, value in data.items():
        if not name.startswith(OWN_PREFIX) or not str(value).strip():
            continue
        key, _, field_name = name[len(OWN_PREFIX) :].rpartition(":")
        if key in wanted:
            overrides.setdefault(key, {})[field_name] = str(value).strip()[:40]
    for key in list(overrides):
        try:
            allowed = {o.name.rpartition(":")[2] for o in own_settings(get_model(key), {})}
        except UnknownModel:
            allowed = set()  # the form refuses the unknown model itself
        overrides[key] = {name: value for name, value in overrides[key].items() if name in allowed}
    return overrides


def compare_preview(
    *,
    workspace: Workspace,
    prompt: str,
    model_keys: Iterable[str],
    shared: dict[str, str],
    overrides: dict[str, dict[str, str]] | None = None,
) -> Preview:
    """One job per model (lines 1 to n in the models' order), each with the shared settings under its own field
    names (plus its ``overrides``, by its own names), checked by its model's form and priced."""
    specs = compare_models(model_keys)
    prompt = " ".join(prompt.split())
    if not prompt:
        raise BatchError("Write the prompt the models should compare on.")
    _check_shared(specs, shared)
    jobs = []
    for line, spec in enumerate(specs, start=1):
        values, notes = _shared_for(spec, shared)
        values.update((overrides or {}).get(spec.key, {}))
        form = GenerateForm(spec, workspace=workspace)
        job = checked_job(workspace, spec, line, prompt, form_data(spec, form, values, prompt))
        job.notes = notes
        job.settings = _settings_used(spec, job.plan.inputs if job.plan else values)
        job.own = own_settings(spec, (overrides or {}).get(spec.key, {}))
        jobs.append(job)
    return Preview(jobs)


def compare_create(
    *,
    workspace: Workspace,
    membership: Membership,
    preview: Preview,
    prompt: str,
    request_key: uuid.UUID,
    blind: bool = False,
) -> Batch:
    """Buy the comparison: every model's job or none (a comparison with a model missing isn't one), within the
    budget and cap, once per ``request_key``; named after the prompt."""
    existing = Batch.objects.filter(workspace=workspace, request_key=request_key).first()
    if existing is not None:
        return existing
    for job in preview.refused:
        name = job.spec.name if job.spec else "A model"
        raise BatchError(f"{name} can't run this: {job.reason} Nothing was started.")
    prompt = " ".join(prompt.split())
    return batch_create(
        workspace=workspace,
        membership=membership,
        preview=preview,
        name=f"{prompt[:80]}…" if len(prompt) > 80 else prompt,
        source=Batch.Source.COMPARE,
        template=prompt,
        model_keys=[job.spec.key for job in preview.jobs if job.spec],
        request_key=request_key,
        blind=blind,
    )
