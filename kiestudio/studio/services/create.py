"""Step 2: a plan becomes rows. Budgets are checked, the form token makes a resent click return the same rows, and
each new row is nudged to a worker once the transaction commits."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from kiestudio.kie.catalog import (
    get_model,
)
from kiestudio.studio.models import Asset, Generation, GenerationEvent, Status, SunoPersona
from kiestudio.studio.services.plan import GenerationError, PlannedGeneration
from kiestudio.studio.services.prompts import prompt_record
from kiestudio.studio.services.scheduler import dispatch_due
from kiestudio.studio.services.trash import generations_trash
from kiestudio.uploads.models import Reference
from kiestudio.uploads.services import NOUNS, UploadRejected, reference_from_asset_file
from kiestudio.usage.services import budget_check, usage_hold
from kiestudio.workspaces.models import Membership, Workspace

REQUEST_NAMESPACE = uuid.UUID("6f1c1b8e-3d5e-4f0a-9d7e-6b8f2a1c9e01")


def generation_create(
    *,
    workspace: Workspace,
    user,
    plan: PlannedGeneration,
    form_token: uuid.UUID,
    references: dict[str, list[int]] | None = None,
    retry_of: Generation | None = None,
    membership: Membership | None = None,
    parent: Generation | None = None,
    parent_asset: Asset | None = None,
    action: str = "",
    parent_media_field: str = "",
    dispatch: bool = True,
) -> list[Generation]:
    """Create one generation per variation. Idempotent: the same form token returns the same rows, so a double
    click or a resent POST never buys a second task.

    With the ``membership`` of who asks, the workspace's monthly budget and their own cap are checked first
    (BudgetExceeded, before anything is spent); the check and the new rows share one transaction, with the
    workspace row locked, so two clicks at once can't both squeeze under a limit. ``dispatch=False`` leaves the
    hand-out to the caller (a batch creates hundreds of rows, then hands them out once)."""
    spec = plan.spec
    prompt_text = str(plan.inputs.get(spec.prompt_field, "")) if spec.prompt_field else ""
    keys = [uuid.uuid5(REQUEST_NAMESPACE, f"{form_token}:{i}") for i in range(plan.variations)]
    existing = list(Generation.objects.filter(request_key__in=keys, workspace=workspace).order_by("variation"))
    if existing:
        return existing
    persona_check(workspace=workspace, inputs=plan.inputs)
    created: list[Generation] = []
    # A retry keeps its place in the family tree even if its parent has since been purged.
    lineage = parent.descendant_prefix if parent is not None else (retry_of.lineage if retry_of else "")
    with transaction.atomic():
        if membership is not None and (workspace.monthly_budget is not None or membership.monthly_cap is not None):
            Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
            budget_check(workspace=workspace, membership=membership, cost=plan.credits_total)
        prompt = prompt_record(workspace=workspace, user=user, text=prompt_text) if prompt_text else None
        now = timezone.now()
        for index, key in enumerate(keys):
            generation = Generation(
                workspace=workspace,
                created_by=user,
                request_key=key,
                model_key=spec.key,
                family=spec.family,
                kind=spec.kind,
                output=spec.output,
                inputs=plan.inputs,
                references=references or {},
                prompt=prompt,
                prompt_text=prompt_text,
                variation=index + 1,
                retry_of=retry_of,
                parent=parent,
                parent_asset=parent_asset,
                action=action,
                parent_media_field=parent_media_field,
                lineage=lineage,
                credits_estimated=plan.credits_each,
                next_check_at=now,
                created_at=now,
            )
            try:
                with transaction.atomic():
                    generation.save()
            except IntegrityError:
                # A concurrent identical POST in this workspace won the race; return its rows (never another
                # workspace's: the key is unique per workspace, so a token replayed elsewhere can't collide here).
                return list(Generation.objects.filter(request_key__in=keys, workspace=workspace).order_by("variation"))
            GenerationEvent.objects.create(generation=generation, to_status=Status.QUEUED, note="Created")
            # Held until Kie charges it (worker) or it ends without a charge (lifecycle.transition).
            usage_hold(
                workspace_id=workspace.pk,
                user_id=getattr(user, "pk", None),
                credits=plan.credits_each,
                source=generation.usage_source,
                created_at=now,
            )
            created.append(generation)
        # Start at once if create slots are free; otherwise the dispatcher hands them out as slots free up.
        if dispatch:  # a batch hands its rows out once, after all of them exist
            transaction.on_commit(lambda: dispatch_due(limit=len(created)))
    return created


def generation_retry(*, generation: Generation, user, membership: Membership | None = None) -> Generation:
    """A failed, canceled or unknown generation is retried as a new, explicit task (a new Kie charge)."""
    if generation.is_pending:
        raise GenerationError("This generation is still running.")
    spec = get_model(generation.model_key)
    plan = PlannedGeneration(spec, generation.inputs, generation.credits_estimated, 1)
    [retry] = generation_create(
        workspace=generation.workspace,
        user=user,
        plan=plan,
        form_token=uuid.uuid4(),
        references=generation.references,
        retry_of=generation,
        membership=membership,
        parent=generation.parent,
        parent_asset=generation.parent_asset,
        action=generation.action,
        parent_media_field=generation.parent_media_field,
    )
    return retry


# --- Deleting and reusing -----------------------------------------------------------------------------------


def generation_delete(*, generation: Generation, user=None) -> None:
    """Move a finished generation to the trash; its files are purged after 30 days (gallery.services)."""

    generations_trash(generations=[generation], user=user)


def reference_from_asset(*, asset: Asset, user, kind: str = "image", rules=None) -> Reference:
    """Use one of the workspace's results (a picture, a clip, a sound) as a reference, checked against ``rules`` (the
    input's, see uploads.rules_for) or the studio's limits. Picking the same result again reuses the copy made the
    first time, and with it Kie's upload of it while Kie keeps it."""

    if asset.kind != kind or kind not in NOUNS:
        raise UploadRejected(f"Only {NOUNS.get(kind, NOUNS['image'])[1]} can be used here.")
    existing = Reference.objects.filter(workspace_id=asset.workspace_id, source_asset=asset).order_by("-pk")
    return existing.first() or reference_from_asset_file(asset=asset, user=user, rules=rules)


def persona_check(*, workspace: Workspace, inputs: dict[str, Any]) -> None:
    """A song may only use a persona of its own workspace (the form offers no other; this guards every way in)."""
    persona_id = inputs.get("personaId")
    if persona_id and not SunoPersona.objects.filter(workspace=workspace, persona_id=str(persona_id)).exists():
        message = "Choose one of this workspace's personas."
        raise GenerationError(message, {"personaId": [message]})
