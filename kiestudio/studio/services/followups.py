"""Follow-ups: actions on a finished result (upscale, extend, separate, ...) become child generations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kiestudio.core.kie import callbacks_reachable, kie_client
from kiestudio.kie import errors as kie_errors
from kiestudio.kie.catalog import (
    ModelSpec,
    get_model,
)
from kiestudio.kie.catalog.actions import Action, Parent, actions_for
from kiestudio.studio.models import (
    Asset,
    Generation,
    Status,
)
from kiestudio.studio.services.create import generation_create
from kiestudio.studio.services.plan import MEDIA_PLACEHOLDER, GenerationError, PlannedGeneration, generation_plan
from kiestudio.studio.services.scheduler import callback_url_for
from kiestudio.usage.models import UsageEntry
from kiestudio.usage.services import usage_record
from kiestudio.workspaces.models import Membership
from kiestudio.workspaces.services import workspace_kie_key

# Kie deletes a task's record and files after 14 days; a follow-up that names the task must be sent before that
# (with an hour to spare for the queue).
KIE_TASK_RETENTION = timedelta(days=14) - timedelta(hours=1)


# --- Follow-ups -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowupChoice:
    action: Action
    unavailable: str = ""  # why it can't be used now ("" when it can)


def _task_expired(generation: Generation) -> bool:
    finished = generation.completed_at or generation.submitted_at or generation.created_at
    return timezone.now() - finished > KIE_TASK_RETENTION


def followup_parent(*, generation: Generation, asset: Asset) -> Parent:
    return Parent(
        output=generation.output,
        family=generation.family,
        kind=generation.kind,
        has_task=bool(generation.kie_task_id) and generation.status == Status.SUCCEEDED,
        media_kind=asset.kind,
        is_track=bool((asset.metadata or {}).get("audio_id")),
        model_key=generation.model_key,
    )


def followup_choices(*, generation: Generation, asset: Asset) -> list[FollowupChoice]:
    """The actions offered for one file of a finished generation. Those that name its Kie task are listed but
    unavailable once Kie has deleted the task (after 14 days), with the reason."""
    if generation.status != Status.SUCCEEDED or generation.deleted_at is not None:
        return []
    expired = _task_expired(generation)
    choices = []
    for action in actions_for(followup_parent(generation=generation, asset=asset)):
        reason = ""
        if action.needs_task and expired:
            made = timezone.localtime(generation.completed_at or generation.created_at)
            reason = (
                f"Kie keeps a task for 14 days and this one is from {made.day} {made:%B}, so {action.label.lower()} "
                "is no longer possible. Download the file and start from it instead."
            )
        choices.append(FollowupChoice(action, reason))
    return choices


def followup_check(*, generation: Generation, asset: Asset, action: Action, spec: ModelSpec) -> None:
    """Refuse, before anything is spent, a follow-up that can't work (GenerationError with the reason)."""
    choice = next((c for c in followup_choices(generation=generation, asset=asset) if c.action.key == action.key), None)
    if choice is None:
        raise GenerationError(f"“{action.label}” isn't available for this item.")
    if choice.unavailable:
        raise GenerationError(choice.unavailable)
    parent = followup_parent(generation=generation, asset=asset)
    if spec.key not in {s.key for s in action.models(parent)}:
        raise GenerationError(f"{spec.name} can't {action.label.lower()} this item.")
    if spec.operation == "veo_4k" and not callback_url_for(spec)[1]:
        raise GenerationError(f"Kie sends 4K videos only by callback. {callbacks_reachable()[1]}")


def followup_media_placeholder(asset: Asset, *, as_list: bool) -> str | list[str]:
    url = MEDIA_PLACEHOLDER.format(pk=asset.pk)
    return [url] if as_list else url


def followup_plan(
    *, generation: Generation, asset: Asset, action: Action, spec: ModelSpec, raw_inputs: dict[str, Any]
) -> PlannedGeneration:
    """Validate and price a follow-up: the user's inputs, the parent's file (a placeholder until the job is sent)
    and what the model takes from the parent's Kie task."""
    followup_check(generation=generation, asset=asset, action=action, spec=spec)
    media_input = action.media_input(spec, asset.kind)
    raw = dict(raw_inputs)
    if media_input and spec.has_field(media_input):
        raw[media_input] = followup_media_placeholder(asset, as_list=spec.field(media_input).is_list)
    plan = generation_plan(spec=spec, raw_inputs=raw, variations=1)
    taken = {}
    for wire, source in spec.from_parent.items():
        value = _parent_value(generation, asset, source)
        if value in (None, ""):
            raise GenerationError(f"This item has no {source.replace('_', ' ')} for Kie, so it can't be used here.")
        taken[wire] = value
    planned = PlannedGeneration(spec, {**plan.inputs, **taken}, plan.credits_each, 1)
    suno_followup_check(generation=generation, asset=asset, plan=planned)
    return planned


def _parent_value(generation: Generation, asset: Asset, source: str) -> Any:
    if source == "task_id":
        return generation.kie_task_id
    if source == "audio_id":
        return (asset.metadata or {}).get("audio_id")
    if source == "result_index":
        return int((asset.metadata or {}).get("index", asset.index))
    if source == "model":
        return generation.inputs.get("model") or get_model(generation.model_key).model
    raise ValueError(source)


def followup_create(
    *,
    generation: Generation,
    asset: Asset,
    action: Action,
    plan: PlannedGeneration,
    user,
    form_token: uuid.UUID,
    membership: Membership | None = None,
) -> Generation:
    """Buy the follow-up: an ordinary generation (same ledger, limiter, sweeper, storage and budgets) that
    records what it was made from."""
    [child] = generation_create(
        workspace=generation.workspace,
        user=user,
        plan=plan,
        form_token=form_token,
        membership=membership,
        parent=generation,
        parent_asset=asset,
        action=action.key,
        parent_media_field=action.media_input(plan.spec, asset.kind) or "",
    )
    return child


TIMESTAMPED_LYRICS_CREDITS = Decimal("0.5")  # Kie's table: "Suno, TimeStamped Lyrics", $0.0025 a request


def asset_timestamped_lyrics(*, asset: Asset, user=None) -> list[dict[str, Any]]:
    """Each sung word of a Suno track with its start and end, asked of Kie once and kept on the asset (shown
    karaoke-style under the player). Kie charges half a credit ($0.0025) a request, and answers only while it keeps
    the task (14 days)."""
    cached = (asset.metadata or {}).get("lyrics")
    if isinstance(cached, list):
        return cached
    generation = asset.generation
    audio_id = (asset.metadata or {}).get("audio_id")
    if not audio_id or not generation.kie_task_id or generation.family != "suno":
        raise GenerationError("Timestamped lyrics exist only for a Suno track.")
    if _task_expired(generation):
        raise GenerationError("Kie keeps a track's lyrics timing for 14 days, and this track is older than that.")
    try:
        with kie_client(api_key=workspace_kie_key(generation.workspace_id)) as client:
            aligned = client.suno_timestamped_lyrics(generation.kie_task_id, str(audio_id))
    except kie_errors.KieError as exc:
        raise GenerationError(f"Kie couldn't give the lyrics timing: {exc.user_message}") from exc
    words = [
        {"word": w.word, "start": w.start, "end": w.end}
        for w in aligned.words
        if w.word.strip() and w.start is not None and w.end is not None
    ]
    # Kie charged for the answer, words or not: the ledger has it (once per track, as the answer is kept).
    usage_record(
        workspace_id=generation.workspace_id,
        user_id=getattr(user, "pk", None),
        kind=UsageEntry.Kind.GENERATION,
        model_key="suno/timestamped-lyrics",
        credits=TIMESTAMPED_LYRICS_CREDITS,
        source=f"lyrics:{asset.pk}",
        estimated=False,
    )
    if not words:
        raise GenerationError("Kie found no sung words in this track (is it instrumental?).")
    metadata = {**(asset.metadata or {}), "lyrics": words}
    Asset.objects.filter(pk=asset.pk).update(metadata=metadata)
    asset.metadata = metadata
    return words


# --- Suno: personas, style boost and what Kie refuses of a follow-up -----------------------------------------

#: A replaced section is 6 to 60 seconds long (Kie's replace-section page).
SECTION_SECONDS = (6.0, 60.0)


def suno_followup_check(*, generation: Generation, asset: Asset, plan: PlannedGeneration) -> None:
    """Refuse, before anything is spent, what Kie would refuse of a Suno follow-up: a replaced section is 6 to 60
    seconds and ends within the song; Kie draws cover art once per song."""
    spec, inputs = plan.spec, plan.inputs
    if spec.family == "suno_section":
        start, end = float(inputs["infillStartS"]), float(inputs["infillEndS"])
        shortest, longest = SECTION_SECONDS
        length = asset.duration or _as_seconds((asset.metadata or {}).get("duration"))
        problem = ""
        if end <= start:
            problem = "End the section after it starts."
        elif not shortest <= end - start <= longest:
            problem = f"That section is {end - start:g} seconds long; Kie replaces 6 to 60 seconds at a time."
        elif length and end > length + 0.01:
            problem = f"The song is {length:.1f} seconds long: end the section by then."
        if problem:
            raise GenerationError(problem, {"infillEndS": [problem]})
    if spec.family == "suno_cover":
        earlier = (
            Generation.objects.filter(workspace_id=generation.workspace_id, parent=generation, model_key=spec.key)
            .exclude(status=Status.FAILED)
            .order_by("pk")
            .first()
        )
        if earlier is not None:
            where = "in the trash" if earlier.deleted_at else "among its follow-ups"
            raise GenerationError(f"Kie draws cover art once per song, and this song already has it ({where}).")


def _as_seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None
