"""Suno's extras: section replacement checks, personas and style boost."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from kiestudio.core.kie import kie_client
from kiestudio.kie import errors as kie_errors
from kiestudio.studio.models import (
    Asset,
    Generation,
    SunoPersona,
)
from kiestudio.studio.services.followups import followup_choices
from kiestudio.studio.services.plan import GenerationError, log
from kiestudio.usage.models import UsageEntry
from kiestudio.usage.services import budget_check, usage_record
from kiestudio.workspaces.models import Membership, Workspace
from kiestudio.workspaces.services import workspace_kie_key

#: Kie's table: "Suno, Boost Music Style Boost", $0.002 a request.
STYLE_BOOST_CREDITS = Decimal("0.4")
PERSONA_ACTION = "persona"


def persona_create(*, generation: Generation, asset: Asset, user, name: str, description: str) -> SunoPersona:
    """Ask Kie for a persona of one track (answered at once, free) and keep it for the workspace's new songs. Kie
    makes one persona per track, from a generated or extended song it still keeps (14 days)."""
    name, description = " ".join(name.split()), description.strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Give the persona a name."]
    elif len(name) > 80:
        errors["name"] = [f"Keep the name to 80 characters (it has {len(name)})."]
    if not description:
        errors["description"] = ["Describe the voice and style it carries, e.g. “warm, breathy female pop vocals”."]
    if errors:
        raise GenerationError("Check the persona's name and description.", errors)
    audio_id = str((asset.metadata or {}).get("audio_id") or "")
    choices = followup_choices(generation=generation, asset=asset) if audio_id else []
    choice = next((c for c in choices if c.action.key == PERSONA_ACTION), None)
    if choice is None:
        raise GenerationError("A persona can only be made from a finished Suno song, generated or extended.")
    if choice.unavailable:
        raise GenerationError(choice.unavailable)
    existing = SunoPersona.objects.filter(workspace_id=generation.workspace_id, audio_id=audio_id).first()
    if existing is not None:
        raise GenerationError(f"This track already has a persona: “{existing.name}”. Kie makes one per track.")
    try:
        with kie_client(api_key=workspace_kie_key(generation.workspace_id)) as client:
            made = client.suno_generate_persona(generation.kie_task_id, audio_id, name=name, description=description)
    except kie_errors.KieBadRequest as exc:
        if exc.code == 409:
            raise GenerationError("Kie already has a persona for this track, and it makes only one per track.") from exc
        raise GenerationError(f"Kie couldn't make the persona: {exc.user_message}") from exc
    except kie_errors.KieError as exc:
        raise GenerationError(f"Kie couldn't make the persona: {exc.user_message}") from exc
    persona = SunoPersona(
        workspace_id=generation.workspace_id,
        created_by=user,
        persona_id=made.persona_id,
        name=name,
        description=description,
        source_asset=asset,
        audio_id=audio_id,
    )
    try:
        persona.full_clean(exclude=["workspace", "created_by", "source_asset"])
        with transaction.atomic():
            persona.save()
    except ValidationError as exc:
        raise GenerationError("Kie's persona couldn't be kept here.", exc.message_dict) from exc
    except IntegrityError as exc:  # a second click that got here first
        raise GenerationError("This track already has a persona. Kie makes one per track.") from exc
    log.info("persona %s made from asset %s", persona.pk, asset.pk)
    return persona


def persona_delete(*, persona: SunoPersona) -> None:
    """Forget a persona here. Kie has no call to delete one, so songs already made with it are unchanged."""
    persona.delete()


def style_boost(*, workspace: Workspace, user, style: str, membership: Membership | None = None) -> str:
    """Kie's richer wording of a Suno style, answered at once. Charged per request, so it goes in the ledger (and
    counts against the budget like any generation)."""
    text = style.strip()
    if not text:
        raise GenerationError("Write a few words of style first (e.g. “dreamy synth-pop, female vocals”), then boost.")
    if membership is not None:
        budget_check(workspace=workspace, membership=membership, cost=STYLE_BOOST_CREDITS)
    try:
        with kie_client(api_key=workspace_kie_key(workspace.pk)) as client:
            boosted = client.suno_boost_style(text)
    except kie_errors.KieError as exc:
        raise GenerationError(f"Kie couldn't boost the style: {exc.user_message}") from exc
    charged = boosted.credits_consumed
    usage_record(
        workspace_id=workspace.pk,
        user_id=getattr(user, "pk", None),
        kind=UsageEntry.Kind.GENERATION,
        model_key="suno/style-boost",
        credits=Decimal(str(charged)) if charged is not None else STYLE_BOOST_CREDITS,
        source=f"style-boost:{(boosted.task_id or uuid.uuid4().hex)[:28]}",
        estimated=charged is None,
    )
    return boosted.text
