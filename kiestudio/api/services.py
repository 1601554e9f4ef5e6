"""What the API does that spends credits: through the studio's own plan and create, with the token's cap on top."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from kiestudio.api.models import ApiSpend, ApiToken, IdempotencyKey
from kiestudio.api.tokens import token_cap_check
from kiestudio.chat.models import Conversation, Message
from kiestudio.chat.services import TYPICAL_REPLY_TOKENS, ChatError, conversation_start, message_send
from kiestudio.kie.catalog import UnknownModel, get_model
from kiestudio.kie.catalog.chat import get_chat_model
from kiestudio.studio.models import Generation
from kiestudio.studio.services.create import generation_create
from kiestudio.studio.services.plan import GenerationError, PlannedGeneration, generation_plan
from kiestudio.workspaces.audit import audit_record
from kiestudio.workspaces.models import Membership

IDEMPOTENCY_NAMESPACE = uuid.UUID("0b5c7e0e-9f1f-4f62-8d0e-2a7c3f6a1d22")


class IdempotencyConflict(Exception):
    """The key was used before with another body."""


def api_plan(*, model: str, inputs: dict[str, Any], variations: int) -> PlannedGeneration:
    """Validated and priced, nothing spent (GenerationError names the field)."""
    try:
        spec = get_model(model)
    except UnknownModel:
        raise GenerationError(f"Unknown model “{model[:120]}”.", {"model": ["Unknown model."]}) from None
    if spec.followup_only:
        raise GenerationError("This model is only made from an earlier result.", {"model": ["Not a starting model."]})
    return generation_plan(spec=spec, raw_inputs=inputs, variations=variations)


@dataclass(frozen=True)
class ApiCreated:
    generations: list[Generation]
    created: bool  # False: a replay of an earlier request, nothing bought


def _body_hash(model: str, inputs: dict[str, Any], variations: int) -> str:
    body = json.dumps({"model": model, "inputs": inputs, "variations": variations}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def api_generation_create(
    *,
    token: ApiToken,
    membership: Membership,
    model: str,
    inputs: dict[str, Any],
    variations: int,
    idempotency_key: str = "",
) -> ApiCreated:
    """Buy a generation for a token, as its maker would on Generate. The same ``idempotency_key`` with the same
    body returns the same rows (nothing bought); with another body, IdempotencyConflict. The token's monthly cap
    is checked beside the workspace's budget and the maker's cap (TokenCapExceeded, BudgetExceeded)."""
    workspace = token.workspace
    body_hash = _body_hash(model, inputs, variations)
    with transaction.atomic():
        # One create per token at a time: the cap check and the idempotency lookup see every earlier purchase.
        ApiToken.objects.select_for_update().filter(pk=token.pk).first()
        if idempotency_key:
            seen = IdempotencyKey.objects.filter(token=token, key=idempotency_key).first()
            if seen is not None:
                if seen.body_hash != body_hash:
                    raise IdempotencyConflict("This Idempotency-Key was used with a different request body.")
                rows = Generation.objects.filter(workspace=workspace, pk__in=seen.generation_ids).order_by("variation")
                return ApiCreated(list(rows), created=False)
            form_token = uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{token.pk}:{idempotency_key}")
        else:
            form_token = uuid.uuid4()
        plan = api_plan(model=model, inputs=inputs, variations=variations)
        token_cap_check(token=token, cost=plan.credits_total)
        generations = generation_create(
            workspace=workspace, user=membership.user, plan=plan, form_token=form_token, membership=membership
        )
        ApiSpend.objects.bulk_create(
            [ApiSpend(token=token, source=g.usage_source) for g in generations], ignore_conflicts=True
        )
        for generation in generations:
            audit_record(
                workspace=workspace,
                actor=membership.user,
                action="api.generation_created",
                target=f"{plan.spec.name} #{generation.pk} through {token.label}",
                token=token.prefix,
                credits=str(plan.credits_each),
            )
        if idempotency_key:
            IdempotencyKey.objects.create(
                token=token, key=idempotency_key, body_hash=body_hash, generation_ids=[g.pk for g in generations]
            )
    return ApiCreated(generations, created=True)


# --- Chat ------------------------------------------------------------------------------------------------------


def api_message_send(
    *, token: ApiToken, membership: Membership, conversation_id: int | None, model: str | None, text: str
) -> Message:
    """Ask a question for a token, as its maker would in Chat: a new conversation, or one of the maker's own
    (another's, or another workspace's, is Conversation.DoesNotExist). The reply runs detached from the request
    (chat.relay), so it is kept and charged even if the client goes away. ChatError when refused (its context is
    the BudgetExceeded of an over-budget refusal); TokenCapExceeded over the token's own cap."""
    workspace = membership.workspace
    conversation = None
    if conversation_id is not None:
        conversation = Conversation.objects.get(workspace=workspace, owner=membership.user, pk=conversation_id)
    try:
        spec = get_chat_model(model or (conversation.model_key if conversation else None))
    except UnknownModel:
        raise ChatError(f"There is no chat model called “{(model or '')[:60]}”.") from None
    with transaction.atomic():
        ApiToken.objects.select_for_update().filter(pk=token.pk).first()
        token_cap_check(token=token, cost=spec.estimate_credits(len(text) // 4 + 1, TYPICAL_REPLY_TOKENS))
        if conversation is None:
            conversation, reply = conversation_start(
                workspace=workspace,
                user=membership.user,
                text=text,
                token=uuid.uuid4(),
                model_key=spec.key,
                membership=membership,
            )
        else:
            reply = message_send(
                conversation=conversation,
                user=membership.user,
                text=text,
                token=uuid.uuid4(),
                model_key=spec.key,
                membership=membership,
            )
        ApiSpend.objects.create(token=token, source=f"message:{reply.pk}")
        audit_record(
            workspace=workspace,
            actor=membership.user,
            action="api.message_sent",
            target=f"{spec.name} in “{conversation.title or 'a new chat'}” through {token.label}"[:200],
            token=token.prefix,
            message=reply.parent_id,
            conversation=conversation.pk,
        )
    return reply
