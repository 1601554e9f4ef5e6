"""What the MCP server's tools do, as plain Django code: each takes the API token the call came with, acts as the
token's maker within the token's scopes, the workspace's budget, the maker's cap and the token's own monthly cap
(the same services as the Generate page and the REST API), and records the call in the workspace's audit log.

``server`` wraps these for the MCP SDK; nothing here knows about MCP."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.urls import reverse

from kiestudio.agent.tools import creatable_models, model_description
from kiestudio.api.models import ApiSpend, ApiToken, Scope
from kiestudio.api.services import IdempotencyConflict, api_generation_create, api_plan
from kiestudio.api.tokens import ScopeMissing, TokenCapExceeded, token_cap_check, token_membership
from kiestudio.core.credits import format_credits
from kiestudio.core.links import public_url
from kiestudio.gallery.selectors import gallery_queryset, parse_filters
from kiestudio.kie.catalog import KINDS, UnknownModel, estimate_credits, get_model
from kiestudio.kie.catalog.actions import get_action
from kiestudio.studio.models import Generation, Status
from kiestudio.studio.services import followup_choices, followup_create, followup_parent, followup_plan
from kiestudio.studio.services.plan import GenerationError
from kiestudio.usage.services import BudgetExceeded
from kiestudio.workspaces.audit import audit_record
from kiestudio.workspaces.models import Membership

MAX_VARIATIONS = 4
SEARCH_LIMIT = 24
FOLLOWUP_NAMESPACE = uuid.UUID("5d0f3c9a-4c2b-4a51-9d7e-6f1c2b8e0a41")


class McpToolError(Exception):
    """A call the studio refuses, with a message the assistant can act on."""


def _member(token: ApiToken, scope: str) -> Membership:
    try:
        return token_membership(token=token, scope=scope)
    except ScopeMissing as exc:
        raise McpToolError(str(exc)) from None


def _audit(token: ApiToken, membership: Membership, tool: str, **details: object) -> None:
    audit_record(
        workspace=token.workspace,
        actor=membership.user,
        action="mcp.tool_called",
        target=f"{tool} through {token.label}"[:200],
        tool=tool,
        token=token.prefix,
        **details,
    )


def _credits(value: Decimal) -> str:
    return format_credits(value)


def models_list(*, token: ApiToken, kind: str = "") -> list[dict[str, Any]]:
    """The models a call can start from, with their kind and the price of one take at default settings."""
    membership = _member(token, Scope.READ)
    if kind and kind not in KINDS:
        raise McpToolError(f"There is no kind “{kind[:40]}”; use one of: {', '.join(KINDS)}.")
    rows = []
    for spec in creatable_models():
        if kind and spec.kind != kind:
            continue
        try:
            price: str = _credits(estimate_credits(spec, {}))
        except Exception:  # a price that depends on settings with no default: describe_model gives it
            price = "depends on the settings (see describe_model)"
        rows.append({"model": spec.key, "name": spec.name, "kind": spec.kind, "credits_per_take": price})
    _audit(token, membership, "list_models", kind=kind or "all", count=len(rows))
    return rows


def model_describe(*, token: ApiToken, model: str) -> dict[str, Any]:
    membership = _member(token, Scope.READ)
    try:
        spec = get_model(model)
    except UnknownModel:
        raise McpToolError(f"There is no model “{model[:120]}”; list_models names them.") from None
    _audit(token, membership, "describe_model", model=spec.key)
    return model_description(spec)


def _variations(value: int) -> int:
    if not 1 <= value <= MAX_VARIATIONS:
        raise McpToolError(f"`variations` must be from 1 to {MAX_VARIATIONS}.")
    return value


def _plan_error(exc: GenerationError) -> McpToolError:
    """The plan's refusal with each field's reasons ("Check the settings. (prompt: This field is required.)")."""
    if not exc.errors:
        return McpToolError(str(exc))
    detail = "; ".join(f"{name}: {' '.join(str(m) for m in messages)}" for name, messages in exc.errors.items())
    return McpToolError(f"{exc} ({detail})")


def estimate(*, token: ApiToken, model: str, inputs: dict[str, Any], variations: int = 1) -> dict[str, Any]:
    """What a generation would cost, checked by the model's own rules; nothing is bought."""
    membership = _member(token, Scope.READ)
    try:
        plan = api_plan(model=model, inputs=inputs, variations=_variations(variations))
    except GenerationError as exc:
        raise _plan_error(exc) from None
    _audit(token, membership, "estimate", model=plan.spec.key, credits=str(plan.credits_total))
    return {
        "model": plan.spec.key,
        "variations": plan.variations,
        "credits_each": _credits(plan.credits_each),
        "credits_total": _credits(plan.credits_total),
        "inputs": plan.inputs,
    }


def generation_view(generation: Generation) -> dict[str, Any]:
    """A generation as a tool answers it: status, price, and the studio's links to it and its files."""
    files = [
        {"file": n, "kind": asset.kind, "url": public_url(reverse("asset-file", args=[asset.pk]))}
        for n, asset in enumerate(generation.assets.order_by("index", "pk"), start=1)
    ]
    return {
        "item": generation.pk,
        "model": generation.model_key,
        "status": generation.status,
        "prompt": generation.prompt_text[:500],
        "credits": _credits(generation.credits_charged or generation.credits_estimated or Decimal(0)),
        "failure": generation.failure_message or None,
        "gallery_url": public_url(reverse("gallery-detail", args=[generation.pk])),
        "files": files,
    }


def generate(
    *, token: ApiToken, model: str, inputs: dict[str, Any], variations: int = 1, idempotency_key: str = ""
) -> dict[str, Any]:
    """Buy a generation as the token's maker (once per ``idempotency_key``); the workers do the rest."""
    membership = _member(token, Scope.GENERATE)
    try:
        created = api_generation_create(
            token=token,
            membership=membership,
            model=model,
            inputs=inputs,
            variations=_variations(variations),
            idempotency_key=idempotency_key[:200],
        )
    except GenerationError as exc:
        raise _plan_error(exc) from None
    except (BudgetExceeded, TokenCapExceeded, IdempotencyConflict) as exc:
        raise McpToolError(str(exc)) from None
    _audit(
        token,
        membership,
        "generate",
        model=model[:120],
        items=[g.pk for g in created.generations],
        replay=not created.created,
    )
    return {
        "started": created.created,
        "items": [generation_view(g) for g in created.generations],
        "note": "The studio's workers send it to Kie and store the results; get_item shows the status and files.",
    }


def _item(token: ApiToken, item: int) -> Generation:
    generation = Generation.objects.filter(workspace=token.workspace, pk=item, deleted_at__isnull=True).first()
    if generation is None:
        raise McpToolError(f"There is no gallery item {item} in this workspace.")
    return generation


def item_get(*, token: ApiToken, item: int) -> dict[str, Any]:
    membership = _member(token, Scope.READ)
    view = generation_view(_item(token, item))
    _audit(token, membership, "get_item", item=item)
    return view


def gallery_search(*, token: ApiToken, query: str = "", kind: str = "", limit: int = 12) -> list[dict[str, Any]]:
    """Finished items of the workspace whose prompt, model or tags match, newest first (the gallery's own search)."""
    membership = _member(token, Scope.READ)
    filters = parse_filters({"q": query[:200]}, workspace=token.workspace, member_ids=set())
    found = gallery_queryset(workspace=token.workspace, user=membership.user, filters=filters)
    if kind in ("image", "video", "audio"):
        found = found.filter(output=kind)
    limit = max(1, min(SEARCH_LIMIT, limit))
    rows = [
        {"item": g.pk, "model": g.model_key, "kind": g.output, "prompt": g.prompt_text[:300]}
        for g in found.filter(status=Status.SUCCEEDED)[:limit]
    ]
    _audit(token, membership, "search_gallery", query=query[:200], found=len(rows))
    return rows


def follow_up(
    *,
    token: ApiToken,
    item: int,
    action: str,
    file: int = 1,
    model: str = "",
    settings: dict[str, Any] | None = None,
    idempotency_key: str = "",
) -> dict[str, Any]:
    """Build on a finished item (upscale, extend, make a video of a picture…): an ordinary generation that records
    what it was made from, bought once per ``idempotency_key``."""
    membership = _member(token, Scope.GENERATE)
    generation = _item(token, item)
    if generation.status != Status.SUCCEEDED:
        raise McpToolError(f"Gallery item {item} has no finished file to build on ({generation.get_status_display()}).")
    assets = list(generation.assets.order_by("index", "pk"))
    if not 1 <= file <= len(assets):
        raise McpToolError(f"Gallery item {item} has {len(assets)} file(s): `file` must be from 1 to {len(assets)}.")
    asset = assets[file - 1]
    choices = {c.action.key: c for c in followup_choices(generation=generation, asset=asset) if not c.action.sync}
    if action not in choices:
        names = ", ".join(choices) or "none"
        raise McpToolError(f"“{action[:60]}” can't be done on item {item}; it can take: {names}.")
    if choices[action].unavailable:
        raise McpToolError(choices[action].unavailable)
    chosen = get_action(action)
    models = chosen.models(followup_parent(generation=generation, asset=asset))
    spec = next((m for m in models if m.key == model), None) if model else models[0]
    if spec is None:
        raise McpToolError(f"“{model[:120]}” can't do this; these can: {', '.join(m.key for m in models)}.")
    try:
        plan = followup_plan(
            generation=generation, asset=asset, action=chosen, spec=spec, raw_inputs=dict(settings or {})
        )
        token_cap_check(token=token, cost=plan.credits_total)
    except GenerationError as exc:
        raise _plan_error(exc) from None
    except TokenCapExceeded as exc:
        raise McpToolError(str(exc)) from None
    key = idempotency_key[:200] or uuid.uuid4().hex
    form_token = uuid.uuid5(FOLLOWUP_NAMESPACE, f"{token.pk}:{item}:{action}:{key}")
    try:
        with transaction.atomic():
            child = followup_create(
                generation=generation,
                asset=asset,
                action=chosen,
                plan=plan,
                user=membership.user,
                form_token=form_token,
                membership=membership,
            )
            ApiSpend.objects.get_or_create(token=token, source=child.usage_source)
            _audit(token, membership, "follow_up", item=item, follow_up=action, model=spec.key, made=child.pk)
    except BudgetExceeded as exc:
        raise McpToolError(str(exc)) from None
    return {"item": generation_view(child), "note": "get_item shows its status and files."}
