from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html

from kiestudio.core.error_titles import kie_error_titles
from kiestudio.kie.catalog import KINDS, ModelSpec, PricingError, UnknownModel, estimate_credits, get_model
from kiestudio.kie.catalog.actions import action_label as label
from kiestudio.kie.catalog.chat import get_chat_model
from kiestudio.kie.catalog.loader import load_makers
from kiestudio.studio import files
from kiestudio.studio.models import STUDIO_MADE
from kiestudio.studio.services import followup_choices
from kiestudio.uploads.models import Reference
from kiestudio.uploads.services import clock as as_clock

register = template.Library()

# The Kie client's error classes are titled in kiestudio.core.error_titles; these are a generation's own.
FAILURE_TITLES = kie_error_titles("generation") | {
    "content_rejected": "Content rejected",
    "invalid_input": "Invalid input",
    "fetch_failed": "Kie couldn't fetch an input file",
    "generation_failed": "Generation failed",
    "feature_disabled": "Model unavailable",
}


@register.filter
def catalog_model(key: str) -> ModelSpec | None:
    try:
        return get_model(key)
    except UnknownModel:
        return None


@register.filter
def model_name(key: str) -> str:
    """A model's display name: the catalog's, the studio's own for what it makes itself, else the key."""
    spec = catalog_model(key)
    if spec:
        return spec.name
    if key in STUDIO_MADE:
        return STUDIO_MADE[key]
    try:
        return get_chat_model(key).name  # a chat model (in the usage table)
    except UnknownModel:
        return OTHER_NAMES.get(key, key)


OTHER_NAMES = {"suno/timestamped-lyrics": "Suno lyrics timing"}  # charged by Kie, not a catalog model


@register.filter
def kind_label(kind: str) -> str:
    return KINDS.get(kind, kind.replace("_", " ").capitalize())


@register.filter
def base_price(spec: ModelSpec) -> Decimal | None:
    try:
        return estimate_credits(spec, {})
    except PricingError:
        return None


MEASURES = {"chars": "characters", "seconds": "seconds", "words": "words"}


@register.filter
def price_label(spec: ModelSpec) -> str:
    """A model's price as the list shows it: "4 cr", "free", "12 cr per 1,000 characters", or "varies"."""
    price = base_price(spec)
    per = (spec.price or {}).get("per") if isinstance(spec.price, dict) else None
    if isinstance(per, dict) and per.get("measure") in MEASURES:
        unit = int(per.get("unit") or 1)
        amount = credits(spec.price.get("credits"))
        return (
            f"{amount} cr per {unit:,} {MEASURES[per['measure']]}"
            if unit > 1
            else f"{amount} cr a {MEASURES[per['measure']][:-1]}"
        )
    if price is None:
        return "varies"
    return "free" if price == 0 else f"{credits(price)} cr"


@register.filter
def credits(value) -> str:
    if value is None:
        return "—"
    value = Decimal(value)
    return f"{value:.0f}" if value == value.to_integral() else f"{value.normalize():f}"


@register.filter
def duration_label(seconds) -> str:
    if seconds is None:
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return f"~{round(seconds)} s"
    minutes = seconds / 60
    return f"~{minutes:.0f} min" if minutes >= 2 else f"~{minutes:.1f} min"


@register.filter
def clock(seconds) -> str:
    """A clip's length as a player shows it: 0:05, 3:20."""

    return as_clock(seconds)


@register.filter
def failure_title(failure_class: str) -> str:
    return FAILURE_TITLES.get(failure_class, "Failed")


@register.simple_tag
def progress_percent(generation) -> int:
    """Elapsed time against the model's typical duration, capped at 95% until the result lands."""
    spec = catalog_model(generation.model_key)
    typical = max(spec.typical_seconds if spec else 30, 1)
    start = generation.submitted_at or generation.created_at
    elapsed = (timezone.now() - start).total_seconds()
    if generation.status == "storing":
        return 97
    return max(3, min(95, int(elapsed / typical * 100)))


@register.simple_tag
def waiting_reason(generation) -> dict[str, object] | None:
    """Why a job not yet sent is waiting, when Kie turned it away (maintenance, an internal error, too many
    requests, no answer): the reason in words and the seconds until the studio tries again. None otherwise."""
    if generation.status != "queued" or not generation.failure_class:
        return None
    message = (generation.failure_message or "").strip()
    # The first sentence is the reason; the rest tells a creator what to do once it has failed for good.
    if message:
        reason = message.split(". ", 1)[0].rstrip(".")
    elif generation.failure_class == "rate_limited":
        reason = "Kie is busy with this account's other jobs"
    else:
        reason = FAILURE_TITLES.get(generation.failure_class, "")
    retry_in = None
    if generation.next_check_at:
        retry_in = max(0, round((generation.next_check_at - timezone.now()).total_seconds()))
    return {"reason": reason or "Kie turned the job away", "retry_in": retry_in, "tries": generation.submit_attempts}


@register.simple_tag
def elapsed_seconds(generation) -> int:
    start = generation.submitted_at or generation.created_at
    end = generation.completed_at or timezone.now()
    return max(0, int((end - start).total_seconds()))


@register.filter
def action_label(action: str) -> str:
    """How a follow-up is named on a card ("Upscale", "Extend", …)."""

    return label(action)


@register.simple_tag
def followups(generation, asset) -> list:
    """The follow-up actions offered for one file (with why any is unavailable), for its Actions menu."""

    return followup_choices(generation=generation, asset=asset)


STAGE_LABELS = {
    "TEXT_SUCCESS": "Lyrics written",
    "FIRST_SUCCESS": "First track ready",
    "1080P_PROCESSING": "Kie is making the 1080p version",
    "PENDING": "Waiting at Kie",
    "GENERATING": "Generating",
}


@register.filter
def stage_label(stage: str) -> str:
    """Kie's intermediate stage, in words (Suno writes lyrics, then finishes one track, then both)."""
    return STAGE_LABELS.get(stage or "", "")


@register.filter
def asset_label(asset) -> str:
    """A file's own name, readable (``studio.files.asset_label``)."""
    return files.asset_label(asset)


@register.filter
def shown_when(field) -> str:
    """The attribute that lets app.js show a field only while its conditions hold (``FieldSpec.shown_when``).
    Without JavaScript every field shows, and the server ignores those whose conditions don't hold."""
    spec = getattr(field.field, "spec", None)
    if spec is None or not spec.shown_when:
        return ""
    return format_html(' data-shown-when="{}"', json.dumps(dict(spec.shown_when)))


@register.simple_tag
def input_references(generation, spec: ModelSpec | None) -> list[dict[str, Any]]:
    """The files a generation was given, as thumbnails: per input, its label and the references (each with the
    gallery item it was picked from, when it was), all of this workspace."""
    wanted = {name: ids for name, ids in (generation.references or {}).items() if isinstance(ids, list) and ids}
    if not wanted:
        return []
    found = {
        r.pk: r
        for r in Reference.objects.filter(
            workspace_id=generation.workspace_id, pk__in=[i for ids in wanted.values() for i in ids]
        ).select_related("source_asset")
    }
    rows = []
    for name, ids in wanted.items():
        field = spec.field(name) if spec is not None and spec.has_field(name) else None
        items = [found[i] for i in ids if i in found]
        if items:
            rows.append({"label": field.label if field else name, "items": items})
    return rows


@register.filter
def input_facts(generation, spec: ModelSpec | None) -> list[tuple[str, str]]:
    """The settings a generation was made with, as people read them: the catalog's labels and choice names, Yes or
    No, and a count for files (their Kie addresses are temporary and mean nothing to a reader)."""
    # The prompt has its own place; what a follow-up took from its source (a task id, a file) shows as its family.
    skip = {
        spec.prompt_field if spec else None,
        generation.parent_media_field or None,
        *(spec.from_parent if spec else ()),
        *(generation.references or {}),  # shown as pictures (input_references)
    }
    rows = []
    for name, value in (generation.inputs or {}).items():
        if name in skip:
            continue
        field = spec.field(name) if spec is not None and spec.has_field(name) else None
        if field is not None and field.type.endswith(("_url", "_urls")):
            count = len(value) if isinstance(value, list) else 1
            shown = f"{count} file" if count == 1 else f"{count} files"
        elif field is not None and field.item_fields and isinstance(value, list):
            if not value:
                continue  # Kling sends its empty lists of shots and elements: nothing to tell
            count, noun = len(value), field.item_label.lower()  # "2 shots": the entries are in the form (Remix)
            shown = f"{count} {noun}" if count == 1 else f"{count} {noun}s"
        elif field is not None and field.type == "enum":
            shown = str(dict(field.choice_pairs()).get(value, value))
        elif isinstance(value, bool):
            shown = "Yes" if value else "No"
        elif isinstance(value, list):
            shown = ", ".join(str(item) for item in value)
        elif isinstance(value, dict):
            shown = json.dumps(value)
        else:
            shown = str(value)
        rows.append((field.label if field is not None else name, shown))
    return rows


@register.filter
def maker_label(maker: str) -> str:
    """A maker's display name ("google" → "Google"); "" for none."""
    return next((name for key, name, _ in load_makers() if key == maker), "")
