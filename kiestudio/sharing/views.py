"""The sharer's side (the Share dialog, the workspace's list of links, Revoke) and the public page a link opens,
with its files. The public page has no application JavaScript and tells a visitor nothing about a link that
doesn't open (unknown, revoked, expired or trashed: one 404 page for all)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kiestudio.batches.models import Batch
from kiestudio.core.http import AuthedHttpRequest
from kiestudio.gallery.models import Collection
from kiestudio.sharing import services
from kiestudio.sharing.forms import ShareForm
from kiestudio.sharing.models import Share
from kiestudio.sharing.public import page_context, serve_asset
from kiestudio.studio.models import Generation
from kiestudio.workspaces.access import current_workspace, get_for_workspace, require_role, scoped
from kiestudio.workspaces.models import Role

UNLOCKED = "sharing_unlocked"  # session: ids of the password shares this visitor has opened
SEEN = "sharing_seen"  # session: ids of the shares whose view this visitor's session has logged
SESSION_MAX = 50


# --- The sharer's side ----------------------------------------------------------------------------------------


def _target(request: HttpRequest, kind: str, pk: int) -> Generation | Collection | Batch:
    if kind == Share.Kind.ITEM:
        return get_for_workspace(request, Generation, pk=pk)
    if kind == Share.Kind.COLLECTION:
        return get_for_workspace(request, Collection, pk=pk)
    return get_for_workspace(request, Batch, pk=pk)


def _what(target: object) -> str:
    if isinstance(target, Collection):
        return f"the collection “{target.name}”"
    if isinstance(target, Batch):
        return "this comparison"
    return "this item"


def _render_box(request: AuthedHttpRequest, context: dict, status: int = 200) -> HttpResponse:
    if context.get("target") is not None:
        context["what"] = _what(context["target"])
    template = "sharing/new.html#box" if request.htmx else "sharing/new.html"
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@require_role(Role.MEMBER)
def share_new(request: AuthedHttpRequest) -> HttpResponse:
    """The Share dialog (``?kind=item&id=42``), and making the link (POST; a refusal is a 422 that htmx swaps in,
    so the reason shows beside its field)."""
    if request.method == "GET":
        asked = {
            "kind": request.GET.get("kind", ""),
            "id": request.GET.get("id", ""),
            "access": "anyone",
            "expiry": "7",
        }
        form = ShareForm(asked)
        form.is_valid()  # only to check what is asked for: the dialog opens unbound
        target = (
            None if {"kind", "id"} & form.errors.keys() else _target(request, asked["kind"], form.cleaned_data["id"])
        )
        if target is None:
            return _render_box(request, {"form": form}, status=400)
        try:
            services.share_target_check(kind=asked["kind"], target=target)
        except services.ShareError as exc:
            form = ShareForm(initial=asked)
            return _render_box(request, {"form": form, "target": target, "refusal": exc.message}, status=400)
        return _render_box(request, {"form": ShareForm(initial=asked), "target": target})
    form = ShareForm(request.POST)
    form.is_valid()
    if {"kind", "id"} & form.errors.keys():
        return _render_box(request, {"form": form}, status=422)
    target = _target(request, form.cleaned_data["kind"], form.cleaned_data["id"])
    if form.errors:
        return _render_box(request, {"form": form, "target": target}, status=422)
    clean = form.cleaned_data
    try:
        expires_at = services.expiry_at(expiry=clean["expiry"], on=clean["expiry_date"])
        new = services.share_create(
            workspace=current_workspace(request),
            actor=request.user,
            kind=clean["kind"],
            target=target,
            password=clean["password"],
            expires_at=expires_at,
            allow_download=clean["allow_download"],
            show_prompt=clean["show_prompt"],
        )
    except services.ShareError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _render_box(request, {"form": form, "target": target}, status=422)
    link = request.build_absolute_uri(reverse("share-page", args=[new.token]))
    return _render_box(request, {"share": new.share, "link": link, "target": target})


@require_GET
@login_required
@require_role(Role.MEMBER)
def share_list(request: HttpRequest) -> HttpResponse:
    shares = list(services.shares_active(current_workspace(request))[:200])
    return render(request, "sharing/list.html", {"shares": shares})


@require_POST
@login_required
@require_role(Role.MEMBER)
def share_revoke(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    share = get_for_workspace(request, scoped(request, Share).select_related("collection", "batch"), pk=pk)
    if services.share_revoke(share=share, actor=request.user):
        messages.success(request, f"Revoked the link to {share.target_label}: it no longer opens.")
    return redirect("shares")


# --- The public side ------------------------------------------------------------------------------------------


def _gone(request: HttpRequest) -> HttpResponse:
    """The one answer for every link that doesn't open."""
    response = render(request, "sharing/gone.html", status=404)
    response["Cache-Control"] = "no-store"
    return response


def _remember(request: HttpRequest, key: str, share: Share) -> bool:
    """Note the share in the visitor's session under ``key``; False if it was there already."""
    ids = list(request.session.get(key, []))
    if share.pk in ids:
        return False
    request.session[key] = [*ids, share.pk][-SESSION_MAX:]
    return True


def _client(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


@require_http_methods(["GET", "POST"])
def share_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        share = services.share_open(token=token)
    except services.ShareGone:
        return _gone(request)
    if share.has_password and share.pk not in request.session.get(UNLOCKED, []):
        error, status = "", 200
        if request.method == "POST":
            try:
                if services.share_unlock(
                    share=share, password=request.POST.get("password", ""), client=_client(request)
                ):
                    _remember(request, UNLOCKED, share)
                    return redirect("share-page", token=token)
                error, status = "That password isn't right.", 403
            except services.PasswordThrottled as exc:
                error, status = str(exc), 429
        response = render(request, "sharing/locked.html", {"error": error}, status=status)
    else:
        if request.method == "POST":
            return redirect("share-page", token=token)
        context = page_context(request, share, token)
        services.share_record_view(share=share, first_in_session=_remember(request, SEEN, share))
        response = render(request, "sharing/public.html", context)
    response["Cache-Control"] = "private, no-cache"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _asset_response(request: HttpRequest, token: str, asset_id: int, how: str) -> HttpResponseBase:
    try:
        share = services.share_open(token=token)
        if share.has_password and share.pk not in request.session.get(UNLOCKED, []):
            raise services.ShareGone
        if how == "download" and not share.allow_download:
            raise services.ShareGone
        asset = services.share_asset(share=share, asset_id=asset_id)
    except services.ShareGone:
        return _gone(request)
    return serve_asset(share, asset, how=how)


@require_GET
def share_media(request: HttpRequest, token: str, asset_id: int) -> HttpResponseBase:
    return _asset_response(request, token, asset_id, "inline")


@require_GET
def share_thumb(request: HttpRequest, token: str, asset_id: int) -> HttpResponseBase:
    return _asset_response(request, token, asset_id, "thumb")


@require_GET
def share_download(request: HttpRequest, token: str, asset_id: int) -> HttpResponseBase:
    """Only when the sharer allowed downloads: otherwise this address doesn't exist (404)."""
    return _asset_response(request, token, asset_id, "download")
