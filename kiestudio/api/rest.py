"""The REST API at /api/v1/ (django-ninja): Bearer tokens, thin endpoints over the studio's and gallery's services.

Every answer that isn't a success has one shape: ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import reverse
from ninja import Field, NinjaAPI, Path, Query, Schema
from ninja import Status as Answer
from ninja.errors import HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer

from kiestudio.api.models import ApiToken, Scope
from kiestudio.api.services import IdempotencyConflict, api_generation_create, api_message_send, api_plan
from kiestudio.api.tokens import (
    ScopeMissing,
    TokenCapExceeded,
    TokenError,
    token_authenticate,
    token_membership,
)
from kiestudio.chat.models import Conversation, Message
from kiestudio.chat.reply_stream import event_stream, stream_events
from kiestudio.chat.services import ChatError, message_check_alive
from kiestudio.core.params import BadJSON, parse_json
from kiestudio.core.ratelimit import shared_limiter
from kiestudio.gallery import selectors as gallery
from kiestudio.kie.catalog import KINDS, UnknownModel, credits_to_usd, get_model, load_catalog
from kiestudio.kie.catalog.schema import input_schema
from kiestudio.kie.catalog.specs import ModelSpec
from kiestudio.studio.files import download_name
from kiestudio.studio.media_views import _serve as serve_stored_file
from kiestudio.studio.models import Asset, Generation, Status
from kiestudio.studio.services.plan import MAX_VARIATIONS, GenerationError
from kiestudio.studio.templatetags.studio import base_price, price_label
from kiestudio.usage.services import BudgetExceeded
from kiestudio.workspaces.models import Membership

DB_ID = {"ge": 1, "le": 2**63 - 1}
STREAM_ACCESS_CHECK_SECONDS = 2.0  # as the chat page's streams: a maker removed meanwhile stops receiving


class RateLimited(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__("Too many requests for this token.")
        self.wait = wait


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.field = status, code, field


class BoundedJSON(Parser):
    """Request bodies through the studio's one JSON reader (size and depth checked before decoding)."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        try:
            data = parse_json(request.body, name="request body")
        except BadJSON as exc:
            raise ApiError(400, "malformed_body", str(exc.args[-1] if exc.args else exc), "body") from None
        if not isinstance(data, dict):
            raise ApiError(400, "malformed_body", "The request body must be a JSON object.", "body")
        return data


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        api_token = token_authenticate(token)  # TokenError: a 401 from the handler below
        wait = shared_limiter().try_acquire(f"api:{api_token.pk}", limit=settings.API_RATE_LIMIT, window=60.0)
        if wait:
            raise RateLimited(wait)
        return api_token


api = NinjaAPI(
    title="Kie Studio API",
    version="1",
    urls_namespace="api",
    docs_url=None,  # the spec only: a docs page would load its scripts from a CDN
    auth=TokenAuth(),
    parser=BoundedJSON(),
)


# --- Errors ----------------------------------------------------------------------------------------------------


class ErrorDetail(Schema):
    code: str
    message: str
    field: str | None = None


class ErrorOut(Schema):
    error: ErrorDetail


def _error(request: HttpRequest, status: int, code: str, message: str, field: str | None = None) -> HttpResponse:
    response = api.create_response(
        request, {"error": {"code": code, "message": message, "field": field}}, status=status
    )
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="kiestudio"'
    return response


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _error(request, exc.status, exc.code, str(exc), exc.field)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "payload", "query", "path", "header")]
    field = ".".join(loc) or None
    message = str(first.get("msg", "Invalid request."))
    return _error(request, 400, "validation_error", f"{field}: {message}" if field else message, field)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 401:
        return _error(request, 401, "unauthorized", "Send an API token as “Authorization: Bearer ks_…”.")
    if exc.status_code == 400:
        return _error(request, 400, "malformed_body", "The request body isn't valid JSON.", "body")
    return _error(request, exc.status_code, "error", str(exc))


@api.exception_handler(TokenError)
def _token_error(request: HttpRequest, exc: TokenError) -> HttpResponse:
    return _error(request, 401, "invalid_token", str(exc))


@api.exception_handler(ScopeMissing)
def _scope_missing(request: HttpRequest, exc: ScopeMissing) -> HttpResponse:
    return _error(request, 403, "forbidden", str(exc))


@api.exception_handler(RateLimited)
def _rate_limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    response = _error(request, 429, "rate_limited", f"At most {settings.API_RATE_LIMIT} requests a minute per token.")
    response["Retry-After"] = str(max(1, math.ceil(exc.wait)))
    return response


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", "Not found.")


@api.exception_handler(GenerationError)
def _generation_error(request: HttpRequest, exc: GenerationError) -> HttpResponse:
    name, messages = next(iter(exc.errors.items()), (None, [str(exc)]))
    field = (name if name in ("model", "variations") else f"inputs.{name}") if name and name != "__all__" else None
    message = f"{field}: {messages[0]}" if field else str(exc)
    return _error(request, 400, "validation_error", message, field)


@api.exception_handler(BudgetExceeded)
def _over_budget(request: HttpRequest, exc: BudgetExceeded) -> HttpResponse:
    return _error(request, 402, "over_budget", str(exc))


@api.exception_handler(TokenCapExceeded)
def _over_token_cap(request: HttpRequest, exc: TokenCapExceeded) -> HttpResponse:
    return _error(request, 402, "over_token_cap", str(exc))


@api.exception_handler(IdempotencyConflict)
def _idempotency_conflict(request: HttpRequest, exc: IdempotencyConflict) -> HttpResponse:
    return _error(request, 409, "idempotency_conflict", str(exc), "Idempotency-Key")


IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "The same key and body again return the same generations (200) and buy nothing more.",
    "schema": {"type": "string", "maxLength": 200, "pattern": "^[A-Za-z0-9._:-]*$"},
}
READ_ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 429: ErrorOut}
SPEND_ERRORS: dict[int, Any] = {**READ_ERRORS, 402: ErrorOut, 409: ErrorOut}


def _member(request: HttpRequest, scope: Scope) -> Membership:
    token: ApiToken = request.auth  # type: ignore[attr-defined]
    return token_membership(token=token, scope=scope)


def _token(request: HttpRequest) -> ApiToken:
    return request.auth  # type: ignore[attr-defined]


# --- Models ----------------------------------------------------------------------------------------------------


class ModelOut(Schema):
    key: str
    name: str
    kind: str
    kind_label: str
    output: str
    description: str
    price: str
    base_credits: Decimal | None
    inputs: dict[str, Any]


class ModelList(Schema):
    kinds: dict[str, str]
    models: list[ModelOut]


def _model_out(spec: ModelSpec) -> dict[str, Any]:
    return {
        "key": spec.key,
        "name": spec.name,
        "kind": spec.kind,
        "kind_label": KINDS.get(spec.kind, spec.kind),
        "output": spec.output,
        "description": spec.description,
        "price": price_label(spec),
        "base_credits": base_price(spec),
        "inputs": input_schema(spec, media="url"),
    }


@api.get(
    "/models", response={200: ModelList, **READ_ERRORS}, url_name="api-models", summary="The models and their inputs"
)
def models_list(request: HttpRequest) -> dict[str, Any]:
    _member(request, Scope.READ)
    specs = load_catalog().originals
    return {"kinds": dict(KINDS), "models": [_model_out(spec) for spec in specs]}


@api.get("/models/{path:key}", response={200: ModelOut, **READ_ERRORS}, url_name="api-model", summary="One model")
def model_detail(request: HttpRequest, key: str) -> dict[str, Any]:
    _member(request, Scope.READ)
    try:
        spec = get_model(key)
    except UnknownModel:
        raise Http404("No such model") from None
    if spec.followup_only:
        raise Http404("No such model")
    return _model_out(spec)


# --- Estimate and create ---------------------------------------------------------------------------------------


class GenerationIn(Schema):
    model: str = Field(..., max_length=120)
    inputs: dict[str, Any] = Field(default_factory=dict)
    variations: int = Field(1, ge=1, le=MAX_VARIATIONS)


class EstimateOut(Schema):
    model: str
    variations: int
    credits_each: Decimal
    credits: Decimal
    usd: Decimal


@api.post(
    "/estimate", response={200: EstimateOut, **READ_ERRORS}, url_name="api-estimate", summary="Price a generation"
)
def estimate(request: HttpRequest, payload: GenerationIn) -> dict[str, Any]:
    _member(request, Scope.READ)
    plan = api_plan(model=payload.model, inputs=payload.inputs, variations=payload.variations)
    return {
        "model": plan.spec.key,
        "variations": plan.variations,
        "credits_each": plan.credits_each,
        "credits": plan.credits_total,
        "usd": credits_to_usd(plan.credits_total),
    }


class ResultOut(Schema):
    id: int
    kind: str
    mime_type: str
    size: int
    width: int | None
    height: int | None
    duration: float | None
    download_url: str


class GenerationOut(Schema):
    id: int
    model: str
    status: str
    variation: int
    prompt: str
    inputs: dict[str, Any]
    credits_estimated: Decimal
    credits_charged: Decimal | None
    failure_message: str
    created_at: datetime
    completed_at: datetime | None
    url: str
    results: list[ResultOut]


class GenerationsCreated(Schema):
    generations: list[GenerationOut]


def _generation_out(request: HttpRequest, generation: Generation) -> dict[str, Any]:
    results = [
        {
            "id": asset.pk,
            "kind": asset.kind,
            "mime_type": asset.mime_type,
            "size": asset.size,
            "width": asset.width,
            "height": asset.height,
            "duration": asset.duration,
            "download_url": request.build_absolute_uri(
                reverse("api:api-generation-file", args=[generation.pk, asset.pk])
            ),
        }
        for asset in sorted(generation.assets.all(), key=lambda a: a.index)
    ]
    return {
        "id": generation.pk,
        "model": generation.model_key,
        "status": generation.status,
        "variation": generation.variation,
        "prompt": generation.prompt_text,
        "inputs": generation.inputs,
        "credits_estimated": generation.credits_estimated,
        "credits_charged": generation.credits_charged,
        "failure_message": generation.failure_message,
        "created_at": generation.created_at,
        "completed_at": generation.completed_at,
        "url": request.build_absolute_uri(reverse("api:api-generation", args=[generation.pk])),
        "results": results,
    }


@api.post(
    "/generations",
    response={200: GenerationsCreated, 201: GenerationsCreated, **SPEND_ERRORS},
    url_name="api-generations",
    summary="Buy a generation (201; a replayed Idempotency-Key answers 200 with the same rows)",
    openapi_extra={"parameters": [IDEMPOTENCY_HEADER]},
)
def generations_create(request: HttpRequest, payload: GenerationIn) -> Answer[dict[str, Any]]:
    membership = _member(request, Scope.GENERATE)
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 200:
        raise ApiError(
            400, "validation_error", "The Idempotency-Key is too long (at most 200 characters).", "Idempotency-Key"
        )
    result = api_generation_create(
        token=_token(request),
        membership=membership,
        model=payload.model,
        inputs=payload.inputs,
        variations=payload.variations,
        idempotency_key=key,
    )
    rows = Generation.objects.filter(pk__in=[g.pk for g in result.generations]).prefetch_related("assets")
    body = {"generations": [_generation_out(request, g) for g in rows.order_by("variation")]}
    return Answer(201 if result.created else 200, body)


# --- Reading ---------------------------------------------------------------------------------------------------


class GenerationPage(Schema):
    generations: list[GenerationOut]
    next_cursor: str | None


class GenerationFilters(Schema):
    status: Status | None = None
    model: str | None = Field(None, max_length=120)
    cursor: str = Field("", max_length=200)
    limit: int = Field(20, ge=1, le=100)


def _workspace_generations(membership: Membership):
    """The token's workspace's generations, never another's (the trash is not listed)."""
    return Generation.objects.filter(workspace=membership.workspace, deleted_at=None)


@api.get(
    "/generations", response={200: GenerationPage, **READ_ERRORS}, url_name="api-generations", summary="Generations"
)
def generations_list(request: HttpRequest, filters: Query[GenerationFilters]) -> dict[str, Any]:
    membership = _member(request, Scope.READ)
    rows = _workspace_generations(membership)
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.model:
        rows = rows.filter(model_key=filters.model)
    after = gallery.decode_cursor(filters.cursor)  # as in the gallery, a malformed cursor starts from the top
    if after is not None:
        created, pk = after
        rows = rows.filter(Q(created_at__lte=created) & (Q(created_at__lt=created) | Q(id__lt=pk)))
    page = list(rows.order_by("-created_at", "-id").prefetch_related("assets")[: filters.limit + 1])
    more = len(page) > filters.limit
    page = page[: filters.limit]
    return {
        "generations": [_generation_out(request, g) for g in page],
        "next_cursor": gallery.encode_cursor(page[-1]) if more else None,
    }


@api.get(
    "/generations/{int:generation_id}",
    response={200: GenerationOut, **READ_ERRORS},
    url_name="api-generation",
    summary="One generation",
)
def generation_detail(request: HttpRequest, generation_id: int = Path(..., **DB_ID)) -> dict[str, Any]:
    membership = _member(request, Scope.READ)
    try:
        generation = _workspace_generations(membership).prefetch_related("assets").get(pk=generation_id)
    except ObjectDoesNotExist:
        raise Http404("Not found") from None
    return _generation_out(request, generation)


@api.get(
    "/generations/{int:generation_id}/files/{int:asset_id}",
    response={200: None, **READ_ERRORS},
    url_name="api-generation-file",
    summary="A result's file",
    openapi_extra={"responses": {200: {"description": "The file", "content": {"application/octet-stream": {}}}}},
)
def generation_file(
    request: HttpRequest, generation_id: int = Path(..., **DB_ID), asset_id: int = Path(..., **DB_ID)
) -> HttpResponseBase:
    membership = _member(request, Scope.READ)
    asset = (
        Asset.objects.select_related("generation")
        .filter(
            workspace=membership.workspace,
            generation__workspace=membership.workspace,
            generation_id=generation_id,
            generation__deleted_at=None,
            pk=asset_id,
        )
        .first()
    )
    if asset is None:
        raise Http404("Not found")
    return serve_stored_file(
        asset.file, asset.mime_type, download=True, filename=download_name(asset.generation, asset)
    )


# --- Gallery ---------------------------------------------------------------------------------------------------


class GalleryItemOut(Schema):
    id: int
    model: str
    output: str
    status: str
    prompt: str
    created_at: datetime
    url: str


class GalleryPageOut(Schema):
    items: list[GalleryItemOut]
    next_cursor: str | None


class GalleryQuery(Schema):
    q: str = Field("", max_length=200)
    cursor: str = Field("", max_length=200)
    limit: int = Field(24, ge=1, le=100)


@api.get(
    "/gallery", response={200: GalleryPageOut, **READ_ERRORS}, url_name="api-gallery", summary="Search the gallery"
)
def gallery_search(request: HttpRequest, params: Query[GalleryQuery]) -> dict[str, Any]:
    membership = _member(request, Scope.READ)
    workspace = membership.workspace
    filters = gallery.parse_filters({"q": params.q}, workspace=workspace, member_ids=set())
    page = gallery.gallery_page(
        workspace=workspace, user=membership.user, filters=filters, cursor=params.cursor, size=params.limit
    )
    items = [
        {
            "id": item.id,
            "model": item.model_key,
            "output": item.output,
            "status": item.status,
            "prompt": item.prompt_text,
            "created_at": item.created_at,
            "url": request.build_absolute_uri(reverse("api:api-generation", args=[item.id])),
        }
        for item in page.items
    ]
    return {"items": items, "next_cursor": page.next_cursor}


# --- Chat ------------------------------------------------------------------------------------------------------


class MessageIn(Schema):
    conversation: int | None = Field(None, ge=1, le=2**63 - 1)
    model: str | None = Field(None, max_length=60)
    text: str = Field(..., min_length=1, max_length=100_000)


class MessageSent(Schema):
    conversation: int
    message: int
    reply: int
    status: str
    poll_url: str


class MessageOut(Schema):
    id: int
    conversation: int
    status: str
    text: str
    credits: Decimal | None


@api.post(
    "/chat/messages",
    response={202: MessageSent, **SPEND_ERRORS},
    url_name="api-chat-messages",
    summary="Send a message; with Accept: text/event-stream the reply streams (the chat's own SSE events)",
    openapi_extra={
        "responses": {202: {"description": "Sent", "content": {"text/event-stream": {"schema": {"type": "string"}}}}}
    },
)
def chat_message_send(request: HttpRequest, payload: MessageIn) -> HttpResponseBase | Answer[dict[str, Any]]:
    membership = _member(request, Scope.CHAT)
    try:
        reply = api_message_send(
            token=_token(request),
            membership=membership,
            conversation_id=payload.conversation,
            model=payload.model,
            text=payload.text,
        )
    except Conversation.DoesNotExist:
        raise Http404("Not found") from None
    except ChatError as exc:
        if isinstance(exc.__context__, BudgetExceeded):
            raise ApiError(402, "over_budget", str(exc)) from None
        raise ApiError(400, "validation_error", str(exc), "text") from None
    if "text/event-stream" in request.headers.get("Accept", ""):
        # The chat's own stream: the reply's events, then "done". The reply runs on the process's loop, not in
        # this response, so a client that goes away loses only its reader.
        request.user = membership.user
        return event_stream(stream_events(request, reply, 0, check_every=STREAM_ACCESS_CHECK_SECONDS))  # type: ignore[arg-type]
    poll = request.build_absolute_uri(reverse("api:api-chat-message", args=[reply.pk]))
    body = {
        "conversation": reply.conversation_id,
        "message": reply.parent_id,
        "reply": reply.pk,
        "status": reply.status,
        "poll_url": poll,
    }
    return Answer(202, body)


@api.get(
    "/chat/messages/{int:message_id}",
    response={200: MessageOut, **READ_ERRORS},
    url_name="api-chat-message",
    summary="A chat reply (poll it until its status is no longer streaming)",
)
def chat_message(request: HttpRequest, message_id: int = Path(..., **DB_ID)) -> dict[str, Any]:
    membership = _member(request, Scope.CHAT)
    message = (
        Message.objects.select_related("conversation")
        .filter(workspace=membership.workspace, conversation__owner=membership.user, pk=message_id)
        .first()
    )
    if message is None:
        raise Http404("Not found")
    message = message_check_alive(message=message)  # a reply whose process died is marked interrupted
    return {
        "id": message.pk,
        "conversation": message.conversation_id,
        "status": message.status,
        "text": message.text,
        "credits": message.credits,
    }
