"""The simulator's view of the pure-Python model catalog (``kiestudio.kie.catalog``).

Market models are found by ``spec.model`` (family ``market``), family endpoints by family + ``model`` body
param. Validation runs the catalog's own validator, after a strict JSON type check so that the simulator
does not silently accept what the validator would coerce (``"true"`` for a boolean, ``5`` for ``"5"``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kiestudio.kie.catalog import (
    Catalog,
    InputValidationError,
    ModelSpec,
    estimate_credits,
    load_catalog,
    validate_inputs,
)

__all__ = ["InputValidationError", "ModelSpec", "credits_for", "family_spec", "market_specs", "validate"]

#: Typical seconds for operations the catalog does not describe (Suno extras, Veo upgrades).
EXTRA_SECONDS = {
    "lyrics": 15,
    "wav": 20,
    "vocal_removal": 45,
    "midi": 30,
    "mp4": 60,
    "4k": 120,
}
#: Credits for those operations, from Kie's price table (2026-06-30) at 200 credits per dollar.
EXTRA_CREDITS = {
    "lyrics": Decimal("0.4"),  # Suno, Generate Lyrics: $0.002
    "timestamped_lyrics": Decimal("0.5"),  # Suno, TimeStamped Lyrics: $0.0025
    "wav": Decimal("0.4"),  # Suno, convert-to-wav-format: $0.002
    "separate_vocal": Decimal("10"),  # Suno, Vocal Separation: $0.05
    "split_stem": Decimal("50"),  # Suno, Multi-Stem Separation: $0.25
    "midi": Decimal("0"),  # Suno, Generate Midi From Audio: $0
    "mp4": Decimal("2"),  # Suno, create-music-video: $0.01
    "1080p": Decimal("5"),  # Google veo 3.1, Get 1080P Video: $0.025
    "4k": Decimal("120"),  # Google veo 3.1, Get 4K Video: $0.6
}


@functools.cache
def _catalog() -> Catalog:
    return load_catalog()


def all_specs() -> tuple[ModelSpec, ...]:
    """Models a create endpoint validates against (follow-up-only entries describe our side of a follow-up)."""
    return tuple(spec for spec in _catalog() if not spec.followup_only)


def market_specs(model: str) -> list[ModelSpec]:
    return [spec for spec in all_specs() if spec.family == "market" and spec.model == model]


def family_spec(family: str, model: str | None = None) -> ModelSpec | None:
    """The spec for a family endpoint; ``model`` is the body's model param (None when the family has none)."""
    specs = [spec for spec in all_specs() if spec.family == family]
    if model is not None:
        exact = [spec for spec in specs if spec.model == model]
        return exact[0] if exact else None
    return specs[0] if specs else None


def family_specs(family: str, model: str | None = None) -> list[ModelSpec]:
    """Every catalog variant of a family endpoint (``model`` None: the family has no model param)."""
    specs = [spec for spec in all_specs() if spec.family == family]
    if model is not None:
        return [spec for spec in specs if spec.model == model]
    return specs


def family_models(family: str) -> list[str]:
    return sorted({spec.model for spec in all_specs() if spec.family == family and spec.model})


def _strict_errors(spec: ModelSpec, raw: Mapping[str, Any]) -> dict[str, list[str]]:
    """Type mismatches in raw JSON that the catalog validator would quietly coerce."""
    errors: dict[str, list[str]] = {}
    for field in spec.fields:
        if field.name not in raw or raw[field.name] is None:
            continue
        value = raw[field.name]
        kind = field.type
        problem = None
        if kind == "boolean" and not isinstance(value, bool):
            problem = "must be a JSON boolean (true or false)"
        elif kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
            if not (isinstance(value, float) and value.is_integer()):
                problem = "must be a JSON integer"
        elif kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
            problem = "must be a JSON number"
        elif kind in ("text", "string") and not isinstance(value, str):
            problem = "must be a string"
        elif kind in ("image_url", "video_url", "audio_url") and not isinstance(value, str):
            problem = "must be a URL string"
        elif kind in ("image_urls", "video_urls", "audio_urls") and not (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        ):
            problem = "must be a JSON array of URL strings"
        elif kind == "json" and not isinstance(value, list | dict):
            problem = "must be a JSON array or object"
        elif kind == "enum" and field.choices:
            same_type = [
                c
                for c in field.choices
                if c == value
                and isinstance(c, bool) == isinstance(value, bool)
                and isinstance(c, str) == isinstance(value, str)
            ]
            if not same_type:
                shown = ", ".join(repr(c) for c in field.choices[:12])
                problem = f"must be one of {shown}"
        if problem:
            errors[field.name] = [problem]
    return errors


def validate(spec: ModelSpec, raw: Mapping[str, Any], *, strict_unknown: bool = True) -> dict[str, Any]:
    """Clean inputs for ``spec`` or ``InputValidationError``; unknown keys are dropped unless ``strict_unknown``."""
    if not strict_unknown:
        raw = {k: v for k, v in raw.items() if spec.has_field(k)}
    errors = _strict_errors(spec, raw)
    if errors:
        raise InputValidationError(errors)
    return validate_inputs(spec, dict(raw))


def credits_for(spec: ModelSpec, inputs: Mapping[str, Any]) -> Decimal:
    try:
        return Decimal(estimate_credits(spec, inputs))
    except Exception:  # a price rule that cannot be evaluated must not break the simulator
        return Decimal(0)


def first_error(exc: InputValidationError, prefix: str = "") -> str:
    """``Invalid parameter 'input.aspect_ratio': …`` naming the first failing field."""
    if not exc.errors:
        return "Invalid parameters"
    name, messages = next(iter(exc.errors.items()))
    message = messages[0] if messages else "is invalid"
    return f"Invalid parameter '{prefix}{name}': {message}"


def first_field(exc: InputValidationError, prefix: str = "") -> str | None:
    """The wire name of the first failing field (``input.voice``), for Kie's own wording of a refusal."""
    return f"{prefix}{next(iter(exc.errors))}" if exc.errors else None
