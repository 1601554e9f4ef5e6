"""Malformed input everywhere: no 500, no change in the database, and other workspaces' objects stay 404.

The test walks the project's URL configuration. Every URL name must have an entry in ``URLS`` (the method the
view answers, and each form or query parameter it reads with the kind of value it expects), or
``test_every_url_is_in_the_fuzz_table`` fails. Then, on SQLite as on PostgreSQL:

* every URL argument gets values no route should accept (beyond 64 bits, zero, another workspace's id, Unicode
  digits, oversized tokens): an object's URL answers 404, by the method it takes and by the other one;
* a member of another workspace gets a 404 from every URL that names this workspace's object (a 400 when one of
  the parameters sent with it is malformed, which says nothing about the object);
* every parameter gets every value of ``FUZZ`` (Unicode digits, huge and negative integers, deep JSON, far dates,
  empty and oversized strings) and, for ids, the id of another workspace's object; the generate and follow-up
  forms are fuzzed field by field for a set of models that covers every field type of the catalog;
* each request runs in a savepoint that is rolled back afterwards, so every request starts from the same rows.
  Where the value is malformed for its kind the rows must be exactly as before (every row of every table but
  sessions and rate-limit slots, compared in full on SQLite and by a digest per table on PostgreSQL); where it is
  a plausible value (free text, a flag, a blank optional field) or the view acts whatever it is sent (a pin
  toggle, a delete button) the answer must still not be a 500;
* no answer to a member of one workspace names another workspace's object.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from kiestudio.gallery.models import Collection
from kiestudio.kie.catalog import FIELD_TYPES, get_model, load_catalog
from kiestudio.kie.catalog.actions import get_action
from kiestudio.studio import services as studio_services
from kiestudio.studio.forms import FollowupForm, GenerateForm
from kiestudio.uploads.models import Reference
from kiestudio.workspaces.models import Membership
from tests.workspaces.test_url_tenancy import ID_URLS, make_objects

FUZZ: dict[str, str] = {
    "superscript two": "²",
    "Arabic-Indic digits": "١٢",
    "2**63": str(2**63),
    "2**70": str(2**70),
    "-2**70": str(-(2**70)),
    "negative": "-1",
    "deep JSON": "[" * 5000,
    "far future": "9999-12-31",
    "far past": "0001-01-01",
    "empty": "",
    "oversized": "x" * 100_000,
}

# Values for an ``<int:…>`` argument: the route matches them all, no object has them.
PATH_INTS = {
    "zero": "0",
    "int64 max": str(2**63 - 1),
    "2**63": str(2**63),
    "2**70": str(2**70),
    "400 digits": "9" * 400,
}
# Values for a ``<str:…>``/``<slug:…>`` argument (a token or an action), and non-digits in an ``<int:…>`` one.
PATH_STRINGS = {"superscript two": "²", "Arabic-Indic digits": "١٢", "negative": "-1", "oversized": "x" * 20_000}

# Kinds of parameter. A value of FUZZ is malformed for every kind but these: any text is text, any flag is a
# flag, any "next" is a place to go back to; an empty value means "none" or "default" for the optional ones.
ACCEPTS_ANYTHING = {"text", "flag", "next", "token"}
ACCEPTS_EMPTY = {"choice", "model", "email", "credits", "media"}

G, P = "get", "post"


@dataclass
class Entry:
    method: str
    params: dict[str, str] = field(default_factory=dict)
    base: dict[str, str | list[str]] = field(
        default_factory=dict
    )  # sent with every fuzzed value (so parsing gets that far)
    acts: bool = False  # changes something whatever its parameters (a toggle, a delete): no database check
    form: str = ""  # "generate" / "followup": the model's own fields are fuzzed too


GALLERY_FILTERS = {
    "q": "text",
    "kind": "choice",
    "model": "model",
    "status": "choice",
    "member": "id:user",
    "from": "date",
    "to": "date",
    "favorites": "flag",
    "trash": "flag",
    "collection": "id:collection",
    "origin": "choice",
    "lineage": "id:generation",
    "tag": "id:tag",
    "rating": "choice",
    "cursor": "cursor",
}
CHAT_SEND = {"text": "text", "token": "token", "attachments": "ids:reference", "model": "model", "thinking": "flag"}

COMPARE_FORM = {
    "prompt": "text",
    "models": "model",
    "aspect_ratio": "choice",
    "duration": "choice",
    "resolution": "choice",
}
# Two models (the second's ratio field is "aspectRatio"), so a fuzzed shared setting is what decides.
COMPARE_BASE: dict[str, str | list[str]] = {"prompt": "a fox", "models": ["nano-banana-pro", "flux-kontext/pro"]}

SHARE_FORM = {
    "kind": "choice",
    "id": "id:generation",
    "access": "choice",
    "password": "text",
    "expiry": "choice",
    "expiry_date": "date",
    "allow_download": "flag",
    "show_prompt": "flag",
}
# Until a date, so that a blank date is refused rather than read as "no date".
SHARE_BASE: dict[str, str | list[str]] = {
    "kind": "item",
    "id": "$generation",
    "access": "anyone",
    "expiry": "date",
    "expiry_date": "2099-12-31",
}

URLS: dict[str, Entry] = {
    # core
    "home": Entry(G),
    "healthz": Entry(G),
    # accounts (django-allauth); the signed-in member is redirected from most of them
    "account_login": Entry(P, {"login": "email", "password": "text", "remember": "flag", "next": "next"}),
    "account_logout": Entry(P, {"next": "next"}, acts=True),
    "account_inactive": Entry(G),
    "account_signup": Entry(P, {"email": "email", "password1": "text", "password2": "text"}),
    "account_reauthenticate": Entry(P, {"password": "text", "next": "next"}),
    "account_email": Entry(P, {"email": "email", "action_add": "flag", "action_remove": "flag"}),
    "account_email_verification_sent": Entry(G),
    "account_change_password": Entry(P, {"oldpassword": "text", "password1": "text", "password2": "text"}),
    "account_set_password": Entry(P, {"password1": "text", "password2": "text"}),
    "account_reset_password": Entry(P, {"email": "email"}),
    "account_confirm_login_code": Entry(P, {"code": "choice"}),
    "account_confirm_email": Entry(P),
    "account_reset_password_from_key_done": Entry(G),
    "account_reset_password_from_key": Entry(P, {"password1": "text", "password2": "text"}),
    "account_reset_password_done": Entry(G),
    # workspaces and team
    "workspace-switch": Entry(P, {"workspace": "id:workspace", "next": "next"}),
    "workspace-new": Entry(P, {"name": "text"}),
    "account-theme": Entry(P, {"theme": "text"}),
    "account-name": Entry(P, {"name": "text"}),
    "workspace-balance": Entry(G, {"fresh": "flag"}),
    "team": Entry(G),
    "member-role": Entry(P, {"role": "choice"}),
    "member-cap": Entry(P, {"cap": "credits"}),
    "member-remove": Entry(P, acts=True),
    "member-leave": Entry(P, acts=True),
    "invitation-create": Entry(P, {"role": "choice", "email": "email"}),
    "invitation-revoke": Entry(P, acts=True),
    "invitation": Entry(P),
    "settings": Entry(G),
    # API tokens (issue 22); the API itself answers a session with 401 (it takes a token: tests/api fuzzes it)
    "api-tokens": Entry(G),
    "api-token-new": Entry(
        P,
        {"name": "text", "scopes": "choice", "monthly_cap": "credits", "expires": "choice", "expires_on": "date"},
        base={"name": "CI", "scopes": "read", "expires": "date", "expires_on": "2099-01-01"},
    ),
    "api-token-revoke": Entry(P, acts=True),
    "api-root": Entry(G),
    "openapi-json": Entry(G),
    "api-models": Entry(G),
    "api-model": Entry(G),
    "api-estimate": Entry(P, {"body": "body"}),
    "api-generations": Entry(P, {"body": "body"}),
    "api-generation": Entry(G),
    "api-generation-file": Entry(G),
    "api-gallery": Entry(G, {"q": "text", "cursor": "cursor"}),
    "api-chat-messages": Entry(P, {"body": "body"}),
    "api-chat-message": Entry(G),
    "settings-name": Entry(P, {"name": "text"}),
    "settings-key": Entry(P, {"action": "choice", "key": "text"}),
    "settings-key-test": Entry(P, acts=True),
    "settings-webhook": Entry(P, {"webhook_key": "text"}),
    "settings-defaults": Entry(P, {"generate_model": "model", "chat_model": "model"}),
    "settings-chat-titles": Entry(P, {"chat_titles": "flag"}),
    "settings-budget": Entry(P, {"budget": "credits"}),
    "settings-transfer": Entry(P, {"member": "id:membership"}),
    "settings-delete": Entry(P, {"confirm": "choice"}),
    "usage": Entry(G, {"from": "date", "to": "date"}),
    "usage-csv": Entry(G, {"from": "date", "to": "date"}),
    "audit": Entry(G, {"page": "int"}),
    # generate
    "generate": Entry(G, {"model": "model", "remix": "id:generation"}),
    "generate-form": Entry(G, {"model": "model"}),
    "generate-estimate": Entry(P, {"model": "model"}, form="generate"),
    "generate-submit": Entry(P, {"model": "model", "form_token": "uuid", "variations": "choice"}, form="generate"),
    "generate-recent": Entry(G),
    "style-boost": Entry(
        P,
        {"model": "model", "boost_field": "choice", "style": "text"},
        base={"model": "suno/V5", "boost_field": "style"},
    ),
    "generation-card": Entry(G, {"live": "flag"}),
    "generation-cancel": Entry(P, acts=True),
    "generation-retry": Entry(P, acts=True),
    "generation-delete": Entry(P, acts=True),
    "queue": Entry(G),
    "queue-badge": Entry(G),
    "queue-pause": Entry(P, acts=True),
    "queue-resume": Entry(P, acts=True),
    "queue-move": Entry(P, {"direction": "choice"}),
    "queue-cancel": Entry(P, acts=True),
    "asset-file": Entry(G, {"download": "flag"}),
    "asset-thumb": Entry(G),
    "followup": Entry(G, {"model": "model"}),
    "followup-estimate": Entry(P, {"model": "model"}, form="followup"),
    "followup-submit": Entry(P, {"model": "model", "form_token": "uuid"}, form="followup"),
    "asset-lyrics": Entry(P, acts=True),
    "asset-persona": Entry(P, {"name": "text", "description": "text"}),
    "personas": Entry(G),
    "persona-delete": Entry(P, acts=True),
    "reference-file": Entry(G),
    "reference-poster": Entry(G),
    "reference-upload": Entry(P, {"kind": "choice", "model": "model", "field": "text", "file": "file"}),
    "reference-picker": Entry(G, {"kind": "choice", "model": "model", "field": "text"}),
    "reference-from-asset": Entry(P, {"kind": "choice", "model": "model", "field": "text"}, acts=True),
    "reference-chip": Entry(G, {"name": "choice", "n": "int"}, base={"name": "image_urls", "n": "1"}),
    "prompts": Entry(G),
    "prompt-detail": Entry(G),
    "prompt-save": Entry(P, {"name": "text"}),
    "kie-callback": Entry(P, {"body": "body"}),
    "choice-sample": Entry(G, {"value": "text"}),
    # gallery
    "gallery": Entry(G, GALLERY_FILTERS),
    "gallery-detail": Entry(G, GALLERY_FILTERS),
    "gallery-favorite": Entry(P, {"next": "next"}, acts=True),
    "gallery-tile": Entry(G, GALLERY_FILTERS),
    "gallery-rating": Entry(P, {"stars": "int"}),
    "gallery-tag-add": Entry(P, {"name": "text"}),
    "gallery-tag-remove": Entry(P, {"tag": "id:tag"}),
    "gallery-bulk-tag": Entry(P, {"ids": "ids:generation", "tag": "text", "next": "next"}, base={"ids": "$generation"}),
    "gallery-compare": Entry(G, {"ids": "ids:generation"}),
    "gallery-trash": Entry(P, {"ids": "ids:generation", "next": "next"}),
    "gallery-restore": Entry(P, {"ids": "ids:generation", "next": "next"}),
    "gallery-zip": Entry(P, {"ids": "ids:generation"}),
    "gallery-collect": Entry(
        P,
        {"ids": "ids:generation", "collection": "id:collection", "new_collection": "text"},
        base={"ids": "$generation"},
    ),
    "collections": Entry(G),
    "collection-create": Entry(P, {"name": "text"}),
    "collection": Entry(G, GALLERY_FILTERS),
    "collection-rename": Entry(P, {"name": "text"}),
    "collection-delete": Entry(P, acts=True),
    "collection-remove": Entry(P, {"ids": "ids:generation", "next": "next"}),
    "collection-cover": Entry(P, {"ids": "ids:generation", "next": "next"}, base={"ids": "$generation"}),
    # batches
    "batches": Entry(G, {"source": "choice"}),
    "batch-new": Entry(G, {"prompt": "id:prompt", "model": "model"}),
    "batch-check": Entry(
        P,
        {"name": "text", "template": "text", "prompts": "text", "models": "model", "csv": "file"},
        base={"prompts": "a fox", "models": "google/nano-banana"},
    ),
    "batch-start": Entry(
        P,
        {"name": "text", "template": "text", "prompts": "text", "models": "model", "request_key": "uuid"},
        base={"prompts": "a fox", "models": "google/nano-banana"},
    ),
    "compare-new": Entry(G, {"prompt": "text", "model": "model", "models": "model"}),
    "compare-check": Entry(P, COMPARE_FORM, base=COMPARE_BASE),
    "compare-start": Entry(P, {**COMPARE_FORM, "request_key": "uuid"}, base=COMPARE_BASE),
    "batch": Entry(G),
    "batch-pause": Entry(P, acts=True),
    "batch-resume": Entry(P, acts=True),
    "batch-retry": Entry(P, acts=True),
    "batch-zip": Entry(P),
    "comparison-judge": Entry(P, {"winner": "id:generation"}),
    "leaderboard": Entry(G, {"tag": "id:tag", "member": "id:user"}),
    # share links (the public page and its files take a token: unknown ones are a 404)
    "shares": Entry(G),
    "share-new": Entry(P, SHARE_FORM, base=SHARE_BASE),
    "share-revoke": Entry(P, acts=True),
    "share-page": Entry(P, {"password": "text"}),
    "share-media": Entry(G),
    "share-thumb": Entry(G),
    "share-download": Entry(G),
    # chat
    "chat": Entry(G, {"attach": "id:reference"}),
    "chat-list": Entry(G, {"current": "id:conversation", "q": "text"}),
    "chat-start": Entry(P, {**CHAT_SEND, "system_prompt": "text"}),
    "chat-conversation": Entry(G),
    "chat-send": Entry(P, CHAT_SEND),
    "chat-settings": Entry(P, {"title": "text", "system_prompt": "text", "is_shared": "flag", "sharing": "flag"}),
    "chat-pin": Entry(P, acts=True),
    "chat-delete": Entry(P, acts=True),
    "chat-usage": Entry(G),
    "chat-message": Entry(G),
    "chat-message-stream": Entry(G, {"after": "int", "header:Last-Event-ID": "int"}),
    "chat-message-stop": Entry(P, acts=True),
    "chat-message-regenerate": Entry(P, {"token": "token"}),
    "chat-message-edit": Entry(P, {"text": "text", "token": "token"}),
    "chat-message-show": Entry(P, acts=True),
    # chat tools (agent)
    "agent-cards": Entry(G),
    "agent-autorun": Entry(P, {"limit": "choice"}),
    "agent-autorun-settings": Entry(P, {"limit": "choice"}),
    "agent-run": Entry(P, acts=True),
    "agent-edit": Entry(P, {"prompt": "text", "aspect_ratio": "choice", "variations": "int"}),
    "agent-skip": Entry(P, acts=True),
    "agent-send-to-chat": Entry(P, acts=True),
    "agent-plan-approve": Entry(P, acts=True),
    "agent-plan-finish": Entry(P, acts=True),
    "agent-step-model": Entry(P, {"model": "model"}),
    "agent-step-prompt": Entry(P, {"prompt": "text"}),
    "agent-step-move": Entry(P, {"direction": "choice"}),
    "agent-step-leave-out": Entry(P, {"keep": "flag"}),
    "agent-step-retry": Entry(P, acts=True),
    # webhooks (settings)
    "webhooks": Entry(G),
    "webhook-create": Entry(
        P,
        {"url": "url", "events": "choice"},
        base={"url": "https://93.184.215.14/hooks/in", "events": "generation.succeeded"},
    ),
    "webhook-roll": Entry(P, acts=True),
    "webhook-active": Entry(P, {"action": "choice"}),
    "webhook-delete": Entry(P, acts=True),
    "webhook-ping": Entry(P, acts=True),
    "webhook-deliveries": Entry(G),
    "webhook-delivery-retry": Entry(P, acts=True),
}

# Which of the other workspace's objects an id parameter of each kind is tried with.
FOREIGN = {
    "workspace": lambda o: o["membership"].workspace_id,
    "membership": lambda o: o["membership"].pk,
    "user": lambda o: o["membership"].user_id,
    "generation": lambda o: o["generation"].pk,
    "collection": lambda o: o["collection"].pk,
    "conversation": lambda o: o["conversation"].pk,
    "reference": lambda o: o["reference"].pk,
}

# Pages that name an object link to it: an answer to one workspace must hold none of another's.
LINKS = {
    "generation": "gallery-detail",
    "conversation": "chat-conversation",
    "collection": "collection",
    "prompt": "prompt-detail",
    "asset": "asset-file",
    "reference": "reference-file",
    "message": "chat-message",
}

# Tables a request may write whatever its input: sessions, rate-limit slots, leases and heartbeats.
NOT_COMPARED = {"sessions", "core", "auth", "contenttypes"}


def _patterns(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _routes() -> dict[str, str]:
    return {pattern.name: route for route, pattern in _patterns(get_resolver().url_patterns)}


def test_every_url_is_in_the_fuzz_table():
    names = set(_routes())
    assert None not in names, "every URL pattern needs a name to be fuzzed"
    missing = names - URLS.keys()
    assert not missing, f"URL patterns missing from the fuzz table (add the parameters they read): {sorted(missing)}"
    assert not URLS.keys() - names, f"the fuzz table names URLs that no longer exist: {sorted(URLS.keys() - names)}"


# --- Building requests -----------------------------------------------------------------------------------------


# django-allauth's two regex routes, as templates.
REGEX_ROUTES = {
    "accounts/^confirm-email/(?P<key>[-:\\w]+)/$": "accounts/confirm-email/{}/",
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": "accounts/password/reset/key/{}-{}/",
}


def _fill(route: str, values: list[str]) -> str:
    """The route with its arguments replaced, in order, by ``values`` (URL-quoted, not checked by converters)."""
    quoted = [quote(str(value), safe="") for value in values]
    if route in REGEX_ROUTES:
        return "/" + REGEX_ROUTES[route].format(*quoted)
    parts = iter(quoted)
    return "/" + re.sub(r"<[^>]+>", lambda _: next(parts), route)


def _arguments(route: str) -> list[str]:
    """The converters of a route's arguments, in order: int, str, slug, or "re" for a regex route."""
    if route in REGEX_ROUTES:
        return ["re"] * route.count("(?P<")
    return [part.split(">", 1)[0].split(":")[0] for part in route.split("<")[1:]]


def _own_path(name: str, route: str, objects: dict, settings) -> list[str] | None:
    """Arguments naming the member's own objects, or None for a URL without any."""
    if name in ID_URLS:
        which, _, *extra = ID_URLS[name]
        return [str(objects[which].pk), *(extra[0] if extra else [])]
    if name == "kie-callback":
        return [settings.KIE_CALLBACK_TOKEN]
    kinds = _arguments(route)
    return ["nope"] * len(kinds) if kinds else None


@dataclass
class Case:
    label: str
    method: str
    path: str
    data: dict[str, object] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    unchanged: bool = True  # the rows must be exactly as before
    refused: bool = False  # must be a 4xx (another workspace's id in a form that changes something)
    statuses: tuple[int, ...] = ()  # if set, the status must be one of these


def _value_for(kind: str, value: str) -> object:
    if kind == "file":
        return SimpleUploadedFile("fuzz.png", value.encode(), content_type="image/png")
    return value


def _maybe_valid(kind: str, value: str) -> bool:
    base = kind.split(":")[0]
    return base in ACCEPTS_ANYTHING or (value == "" and base in ACCEPTS_EMPTY)


MEDIA_TYPES = {"image_url", "image_urls", "video_url", "video_urls", "audio_url", "audio_urls"}


def _kind(spec_field) -> str:
    if spec_field.type in MEDIA_TYPES:
        return "media"
    return {"boolean": "flag", "text": "text", "string": "text"}.get(spec_field.type, spec_field.type)


def _valid_data(spec, form, mine: dict, *, all_media: bool = False) -> dict[str, object]:
    """A complete form for ``spec``: its defaults, and a value for each required field without one (and for every
    media field with ``all_media``, for models that want "at least one of" several)."""
    data: dict[str, object] = {"model": spec.key}
    for spec_field in spec.fields:
        name = spec_field.name
        if name not in form.fields:
            continue
        initial = form.initial.get(name)
        if spec_field.type in MEDIA_TYPES:
            if spec_field.required or all_media:
                data[name] = str(mine[f"{spec_field.type.split('_')[0]} reference"].pk)
        elif spec_field.type == "boolean":
            if initial:
                data[name] = "on"
        elif initial not in (None, ""):
            data[name] = initial
        elif spec_field.required:
            if spec_field.type in ("integer", "number"):
                data[name] = str(spec_field.min if spec_field.min is not None else 1)
            elif spec_field.type == "enum":
                data[name] = str(spec_field.choice_pairs()[0][0])
            else:
                data[name] = "A quiet harbour at dawn"
    if "variations" in form.fields:
        data["variations"] = "1"
    return data


def _form_fields(name: str, mine: dict) -> Iterator[tuple[str, dict[str, str], dict[str, object]]]:
    """(model key, {field: kind}, a valid form) for the forms a generate or follow-up URL takes. An estimate
    gets a form token too, so each fuzzed field is checked by the whole form (JSON, media, the catalog's
    validator); a submit gets none, so that even a value the model accepts buys nothing."""
    workspace = mine["membership"].workspace
    if name in ("generate-estimate", "generate-submit"):
        forms = [(spec, GenerateForm(spec, workspace=workspace)) for spec in _covering_models(mine)]
    else:
        asset, generation = mine["asset"], mine["generation"]
        action = get_action(ID_URLS[name][2][0])
        parent = studio_services.followup_parent(generation=generation, asset=asset)
        forms = [
            (spec, FollowupForm(spec, generation=generation, asset=asset, action=action, workspace=workspace))
            for spec in action.models(parent)
        ]
    for spec, form in forms:
        data = _usable_data(spec, form, mine)
        if data is None:
            continue  # a follow-up model this source can't fill in simply (a generate model is never skipped)
        if name.endswith("estimate"):
            data["form_token"] = str(uuid.uuid4())
        yield spec.key, {f.name: _kind(f) for f in spec.fields if f.name in form.fields}, data


def _usable_data(spec, form, mine: dict) -> dict[str, object] | None:
    """Valid data for ``spec``'s form, or None."""
    for all_media in (False, True):
        data = _valid_data(spec, form, mine, all_media=all_media)
        payload = {**data, "form_token": str(uuid.uuid4())}
        if isinstance(form, FollowupForm):
            where = {"generation": form.parent, "asset": form.asset, "action": form.action}
            bound = FollowupForm(spec, payload, workspace=form.workspace, **where)
        else:
            bound = GenerateForm(spec, payload, workspace=form.workspace)
        if bound.is_valid():
            return data
    return None


def _covering_models(mine: dict | None = None):
    """Few models whose fields together have every field type of the catalog (the fewest fields first), among
    those a simple complete form is valid for when ``mine`` is given (worked out once, kept in ``mine``)."""
    if mine is not None and "covering models" in mine:
        return mine["covering models"]
    chosen, covered = [], set()
    candidates = [spec for spec in load_catalog().originals if not spec.followup_only]
    if mine is not None:
        workspace = mine["membership"].workspace
        candidates = [s for s in candidates if _usable_data(s, GenerateForm(s, workspace=workspace), mine) is not None]
    candidates = sorted(candidates, key=lambda spec: len(spec.fields))
    while covered != set(FIELD_TYPES):
        best = max(candidates, key=lambda spec: len({f.type for f in spec.fields} - covered))
        new = {f.type for f in best.fields} - covered
        if not new:
            break
        chosen.append(best)
        covered |= new
    if mine is not None:
        mine["covering models"] = chosen
    return chosen


def _cases_for(name: str, route: str, entry: Entry, mine: dict, theirs: dict, settings) -> Iterator[Case]:
    """What the member of the right workspace sends: malformed URL arguments, then every parameter fuzzed."""
    own = _own_path(name, route, mine, settings)
    other = entry.method == G and P or G
    # URL arguments. A route with an object id: beyond 64 bits, zero, absent, another workspace's object.
    for index, converter in enumerate(_arguments(route)):
        values = dict(PATH_STRINGS)
        if converter == "int":  # the route itself refuses non-digits: two of them are enough to show it
            values = {"superscript two": "²", "oversized": "x" * 20_000, **PATH_INTS}
            which = ID_URLS[name][0] if name in ID_URLS else None
            if which in theirs:
                values["another workspace's object"] = str(theirs[which].pk)
        for label, value in values.items():
            args = list(own or [])
            args[index] = value
            path = _fill(route, args)
            # An object's URL is a 404; a token's (invitation, callback, allauth keys) only must not be a 500.
            found = (404,) if name in ID_URLS else ()
            yield Case(f"{name} arg {index} {label}", entry.method, path, statuses=found)
            if label in ("2**70", "another workspace's object"):  # the other method too (405 or 404)
                yield Case(f"{name} arg {index} {label} ({other})", other, path, statuses=found and (404, 405))
    path = _fill(route, own or [])
    base = {k: (str(mine["generation"].pk) if v == "$generation" else v) for k, v in entry.base.items()}
    for param, kind in entry.params.items():
        values = dict(FUZZ)
        target = kind.split(":")[1] if ":" in kind else None
        if target in FOREIGN:
            values["another workspace's"] = str(FOREIGN[target](theirs))
        for label, value in values.items():
            case = Case(f"{name} {param}={label}", entry.method, path, data=dict(base))
            if param.startswith("header:"):
                case.headers[param.removeprefix("header:")] = value
            elif param == "body":
                case.body = value
            else:
                case.data[param] = _value_for(kind, value)
            foreign = label == "another workspace's"
            case.unchanged = entry.method == G or not (entry.acts or (not foreign and _maybe_valid(kind, value)))
            case.refused = foreign and entry.method == P
            yield case
    if entry.form:
        for model_key, fields, form_base in _form_fields(name, mine):
            for param, kind in fields.items():
                if name.endswith("submit") and kind != "media":
                    continue  # the estimate runs the same form to its end; a submit reads media ids up front
                values = dict(FUZZ)
                if kind == "media":
                    values["another workspace's"] = str(theirs["reference"].pk)
                for label, value in values.items():
                    # An estimate never writes and a submit without a token can't buy: the rows stay as they are.
                    yield Case(f"{name} {model_key} {param}={label}", P, path, data={**form_base, param: value})


def _foreign_cases(name: str, route: str, entry: Entry, theirs: dict) -> Iterator[Case]:
    """What a member of another workspace sends to a URL naming this workspace's object: always a 404 (or a 400
    when a parameter is malformed, which says nothing about the object), and nothing changes."""
    if name not in ID_URLS:
        return
    path = _fill(route, _own_path(name, route, theirs, None))
    yield Case(f"{name} from another workspace", entry.method, path, statuses=(404,))
    for param, kind in entry.params.items():
        for label in ("superscript two", "2**70", "deep JSON", "far future", "oversized"):
            case = Case(f"{name} {param}={label} from another workspace", entry.method, path, statuses=(400, 404))
            if param.startswith("header:"):
                case.headers[param.removeprefix("header:")] = FUZZ[label]
            else:
                case.data[param] = _value_for(kind, FUZZ[label])
            yield case


def _with_media(objects: dict) -> dict:
    """The objects, and a picture, a clip and a sound of the workspace to fill media fields with (ids, never
    links: a link is looked up in DNS)."""
    workspace, user = objects["membership"].workspace, objects["membership"].user
    objects["image reference"] = objects["reference"]
    for kind, mime in (("video", "video/mp4"), ("audio", "audio/mpeg")):
        reference = Reference(
            workspace=workspace, created_by=user, kind=kind, mime_type=mime, size=2000, width=640, height=360
        )
        reference.duration = 5.0
        reference.file.save(f"clip.{mime.split('/')[1]}", ContentFile(b"media"), save=True)
        objects[f"{kind} reference"] = reference
    return objects


# --- Running them ----------------------------------------------------------------------------------------------


class _Rollback(Exception):
    pass


def _tables() -> list[str]:
    tables = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label not in NOT_COMPARED and not model._meta.proxy and model._meta.managed
    }
    return sorted(tables)


def _snapshot() -> dict[str, object]:
    """Every row of every compared table: on PostgreSQL a digest of each table's rows, all in one round trip; on
    SQLite the rows themselves, one plain query per table (the ORM would double the test's run time)."""
    quote_name = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            digests = " UNION ALL ".join(
                f"SELECT '{table}', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                f"FROM {quote_name(table)} t)"
                for table in _tables()
            )
            cursor.execute(digests)
            return dict(cursor.fetchall())
        rows = {}
        for table in _tables():
            cursor.execute(f"SELECT * FROM {quote_name(table)} ORDER BY 1")  # noqa: S608
            rows[table] = cursor.fetchall()
        return rows


def _changed(before: dict[str, object], after: dict[str, object]) -> list[str]:
    return [label for label in before if before[label] != after[label]]


def _body(response) -> str:
    if getattr(response, "streaming", False):
        chunks, size = [], 0
        for chunk in response.streaming_content:
            chunks.append(chunk if isinstance(chunk, bytes) else chunk.encode())
            size += len(chunks[-1])
            if size > 2_000_000:
                break
        content = b"".join(chunks)
    else:
        content = response.content
    return content.decode("utf-8", "replace") if b"\0" not in content[:2000] else ""


def _links(objects: dict) -> list[str]:
    return [reverse(url_name, args=[objects[which].pk]) for which, url_name in LINKS.items()]


def _send(client: Client, case: Case):
    headers = {"HX-Request": "true", **case.headers}
    if case.body is not None:
        return client.post(case.path, case.body, content_type="application/json", headers=headers)
    if case.method == G:
        return client.get(case.path, case.data, headers=headers)
    return client.post(case.path, case.data, headers=headers)


@dataclass
class Run:
    failures: list[str] = field(default_factory=list)
    requests: int = 0
    compared: int = 0
    urls: set[str] = field(default_factory=set)
    params: set[tuple[str, str]] = field(default_factory=set)
    request_seconds: float = 0.0
    compare_seconds: float = 0.0


def _run(client: Client, cookies, cases: Iterator[Case], baseline, foreign_links: list[str], run: Run) -> None:
    for case in cases:
        run.requests += 1
        client.cookies = cookies.__class__(cookies)  # a logout or a switch is undone with the rows
        try:
            with transaction.atomic():
                started = time.perf_counter()
                try:
                    response = _send(client, case)
                    body = _body(response)
                except Exception as exc:
                    run.failures.append(f"{case.label}: raised {exc.__class__.__name__}: {str(exc)[:200]}")
                    raise _Rollback from None
                run.request_seconds += time.perf_counter() - started
                status = response.status_code
                if status >= 500:
                    run.failures.append(f"{case.label}: {status}")
                elif case.statuses and status not in case.statuses:
                    run.failures.append(f"{case.label}: {status}, expected one of {case.statuses}")
                elif case.refused and not 400 <= status < 500:
                    run.failures.append(f"{case.label}: {status}, another workspace's id must be refused")
                body = body.replace(case.path, "")  # a 404 page may show the address it was asked for
                if leaked := [link for link in foreign_links if link in body]:
                    run.failures.append(f"{case.label}: the answer links to another workspace's {leaked}")
                if case.unchanged:
                    run.compared += 1
                    started = time.perf_counter()
                    if changed := _changed(baseline, _snapshot()):
                        run.failures.append(f"{case.label}: changed {changed} (status {status})")
                    run.compare_seconds += time.perf_counter() - started
                raise _Rollback
        except _Rollback:
            pass


@pytest.mark.django_db
def test_malformed_input_never_answers_500_nor_changes_anything(kie_sim, alice, charlie, settings, capsys):
    started = time.monotonic()
    mine, theirs = _with_media(make_objects(alice)), make_objects(charlie)
    Membership.objects.filter(pk=mine["membership"].pk).update(monthly_cap=None)
    routes = _routes()
    clients = {}
    for user in (alice, charlie):
        client = Client()
        client.force_login(user)
        client.get("/")  # settles the session's workspace, so no request below writes it
        client.get("/accounts/email/")  # allauth records the sign-in address on its first visit
        clients[user] = (client, client.cookies.__class__(client.cookies))
    baseline = _snapshot()
    with transaction.atomic():  # the comparison sees a change where there is one
        Collection.objects.filter(pk=mine["collection"].pk).update(name="Changed")
        assert _changed(baseline, _snapshot()) == [Collection._meta.db_table]
        transaction.set_rollback(True)
    run = Run()
    logging.disable(logging.CRITICAL)  # thousands of 4xx lines (their redaction is tested in test_log_redaction)
    try:
        for name, entry in URLS.items():
            route = routes[name]
            own_cases = list(_cases_for(name, route, entry, mine, theirs, settings))
            foreign_cases = list(_foreign_cases(name, route, entry, mine))
            run.urls.add(name)
            run.params |= {(name, case.label.split("=")[0]) for case in own_cases if "=" in case.label}
            _run(*clients[alice], own_cases, baseline, _links(theirs), run)
            _run(*clients[charlie], foreign_cases, baseline, _links(mine), run)
    finally:
        logging.disable(logging.NOTSET)
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\nfuzzed {len(run.urls)} URLs and {len(run.params)} parameters with {run.requests} requests "
            f"({run.compared} compared row for row) in {elapsed:.1f}s "
            f"(requests {run.request_seconds:.1f}s, comparisons {run.compare_seconds:.1f}s)"
        )
    assert not run.failures, f"{len(run.failures)} of {run.requests} requests failed:\n" + "\n".join(run.failures[:80])


@pytest.mark.django_db
def test_the_fuzzed_forms_are_valid_but_for_the_fuzzed_field(kie_sim, alice):
    """Otherwise a form would stop at "this field is required" before reading the fuzzed value."""
    mine = _with_media(make_objects(alice))
    assert {f.type for spec in _covering_models(mine) for f in spec.fields} == set(FIELD_TYPES)
    for name in ("generate-estimate", "followup-estimate"):
        assert list(_form_fields(name, mine)), name
        for model_key, _, data in _form_fields(name, mine):
            if name == "generate-estimate":
                form = GenerateForm(get_model(model_key), data, workspace=mine["membership"].workspace)
            else:
                asset, generation = mine["asset"], mine["generation"]
                action = get_action(ID_URLS[name][2][0])
                form = FollowupForm(get_model(model_key), data, generation=generation, asset=asset, action=action)
            assert form.is_valid(), (model_key, form.errors)


def test_the_covering_models_cover_every_field_type():
    covered = {f.type for spec in _covering_models() for f in spec.fields}
    assert covered == set(FIELD_TYPES)
    assert get_model("suno/V5").has_field("style")  # style-boost's base above
