"""Step 1 of a generation's life: a model's form values become a priced, validated plan (nothing is bought)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kiestudio.kie.catalog import (
    InputValidationError,
    ModelSpec,
    estimate_credits,
    validate_inputs,
)

log = logging.getLogger("kiestudio.studio")
MAX_VARIATIONS = 4
MEDIA_PLACEHOLDER = "https://studio.local/files/assets/{pk}/"  # validated in place of the Kie upload made at submit


class GenerationError(Exception):
    """A generation could not be created; ``errors`` maps field names to messages."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


# --- Creating generations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedGeneration:
    spec: ModelSpec
    inputs: dict[str, Any]
    credits_each: Decimal
    variations: int

    @property
    def credits_total(self) -> Decimal:
        return self.credits_each * self.variations


def generation_plan(*, spec: ModelSpec, raw_inputs: dict[str, Any], variations: int) -> PlannedGeneration:
    """Validate inputs against the catalog and price them, before anything is spent."""
    if not 1 <= variations <= MAX_VARIATIONS:
        raise GenerationError(f"Variations must be between 1 and {MAX_VARIATIONS}.", {"variations": ["Choose 1 to 4."]})
    try:
        inputs = validate_inputs(spec, raw_inputs)
    except InputValidationError as exc:
        raise GenerationError(str(exc), dict(exc.errors)) from exc
    return PlannedGeneration(spec, inputs, estimate_credits(spec, inputs), variations)
