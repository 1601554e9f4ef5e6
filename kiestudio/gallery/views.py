from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from kiestudio.core.http import AuthedHttpRequest
from kiestudio.core.params import BadParameter, parse_id, parse_ids, parse_int
from kiestudio.gallery import selectors, services
from kiestudio.gallery.models import Collection, Favorite, Rating, Tag
from kiestudio.gallery.tiles import gallery_tiles
from kiestudio.kie.catalog import load_catalog
from kiestudio.studio.models import Generation
from kiestudio.workspaces.access import current_membership, current_workspace, get_for_workspace, require_role, scoped


def _members(request: HttpRequest):
    return current_workspace(request).memberships.select_related("user").order_by("user__email")


def _filters(request: HttpRequest, params=None, *, member_ids: set[int] | None = None) -> selectors.GalleryFilters:
    workspace = current_workspace(request)
    if member_ids is None:
        member_ids = set(workspace.memberships.values_list("user_id", flat=True))
    return selectors.parse_filters(params or request.GET, workspace=workspace, member_ids=member_ids)


def _query(filters: selectors.GalleryFilters, **extra: str) -> str:
    params = {**filters.query_params(), **extra}
    return urlencode({k: v for k, v in params.items() if v})


def _get_generation(request: HttpRequest, pk: object) -> Generation:
    return get_for_workspace(request, selectors.with_media(Generation.objects.all()), pk=pk)


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    """Back to the page the form was on (``next``: a path on this site), else to ``fallback`` (a URL)."""
    target = request.POST.get("next", "")
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = fallback
    return redirect(target)


def _selected(request: HttpRequest) -> list[Generation]:
    """The generations picked for a bulk action: every id must belong to this workspace, or the whole
    request is a 404 (nothing is half done)."""
    ids = set(parse_ids(request.POST.getlist("ids"), name="selected item"))
    if not ids:
        raise Http404("Nothing selected")
    found = list(selectors.with_media(scoped(request, Generation).filter(pk__in=ids)).order_by("-created_at", "-id"))
    if len(found) != len(ids):
        raise Http404("Not found")
    return found


@require_GET
@login_required
def gallery(request: AuthedHttpRequest, collection_id: int | None = None) -> HttpResponse:
    workspace = current_workspace(request)
    params = request.GET.copy()
    collection = None
    if collection_id is not None:
        collection = get_for_workspace(request, Collection, pk=collection_id)
        params["collection"] = str(collection.pk)
    members = list(_members(request))  # the member filter's choices, and the ids it may name
    filters = _filters(request, params, member_ids={m.user_id for m in members})
    cursor = request.GET.get("cursor", "")
    page = selectors.gallery_page(workspace=workspace, user=request.user, filters=filters, cursor=cursor)
    if cursor and selectors.decode_cursor(cursor) is None:
        filters.notices.append("That page link was malformed, so the gallery starts from the top.")
    query = _query(filters)
    context = {
        "page": page,
        "tiles": gallery_tiles(page.items, favorite_ids=page.favorite_ids, query=query),
        "filters": filters,
        "query": query,
        "next_query": _query(filters, cursor=page.next_cursor or ""),
        "collection": collection,
    }
    if request.htmx and cursor:
        return render(request, "gallery/gallery.html#items", context)
    for notice in filters.notices:
        messages.warning(request, notice)
    cards = selectors.collection_cards(workspace=workspace)
    context.update(
        {
            "kinds": selectors.KINDS,
            "statuses": selectors.STATUSES,
            "origins": selectors.ORIGINS,
            "members": [(m.user_id, m.user.display_name) for m in members],
            "models": [(m.key, m.name) for m in load_catalog().models],
            "collections": [(c.id, c.name) for c in cards],
            "collection_cards": cards,
            "can_collect": current_membership(request).has_role("member"),
            "tags": list(Tag.objects.filter(workspace=workspace).values_list("pk", "name")),
            "ratings": selectors.RATINGS,
        }
    )
    return render(request, "gallery/gallery.html", context)


@require_GET
@login_required
def detail(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    generation = _get_generation(request, pk)
    filters = _filters(request)
    filters.trash = generation.deleted_at is not None
    newer, older = selectors.neighbours(
        workspace=current_workspace(request), user=request.user, filters=filters, generation=generation
    )
    context = {
        "generation": generation,
        "filters": filters,
        "query": _query(filters),
        "newer": newer,
        "older": older,
        "is_favorite": Favorite.objects.filter(user=request.user, generation=generation).exists(),
        **_labels_context(request, generation),
        "collections": Collection.objects.filter(workspace=current_workspace(request)),
        "in_collections": set(generation.collection_memberships.values_list("collection_id", flat=True)),
        "events": generation.events.all(),
        "lineage": selectors.lineage_of(generation),
        "trash_days": services.TRASH_DAYS,
    }
    template = "gallery/_detail.html" if request.htmx else "gallery/detail.html"
    return render(request, template, context)


def _labels_context(request: AuthedHttpRequest, generation: Generation, error: str = "") -> dict[str, object]:
    rating = Rating.objects.filter(user=request.user, generation=generation).values_list("stars", flat=True).first()
    return {
        "generation": generation,
        "item_tags": Tag.objects.filter(links__generation=generation),
        "tag_names": Tag.objects.filter(workspace=current_workspace(request)).values_list("name", flat=True)[:500],
        "rating": rating or 0,
        "can_tag": current_membership(request).has_role("member") and generation.deleted_at is None,
        "tag_error": error,
    }


def _labels(request: AuthedHttpRequest, generation: Generation, error: str = "", status: int = 200) -> HttpResponse:
    if request.htmx:
        context = _labels_context(request, generation, error)
        # A refusal is a 400 that htmx still swaps in (base.html's htmx-config), so the reason shows by the field.
        return render(request, "gallery/_labels.html", context, status=status)
    if error:
        messages.error(request, error)
    return redirect("gallery-detail", pk=generation.pk)


@require_POST
@login_required
def rating(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    """Your stars for an item (personal, like a favourite, so viewers rate too)."""
    generation = _get_generation(request, pk)
    try:
        stars = parse_int(request.POST.get("stars"), name="rating", minimum=0, maximum=5)
        services.rating_set(generation=generation, user=request.user, stars=stars)
    except (BadParameter, services.GalleryError):
        return _labels(request, generation, "A rating is 1 to 5 stars.", status=400)
    return _labels(request, generation)


@require_POST
@login_required
@require_role("member")
def tag_add(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    generation = _get_generation(request, pk)
    if generation.deleted_at is not None:
        return _labels(request, generation, "Restore the item from the trash to tag it.", status=400)
    try:
        services.tags_add(generations=[generation], user=request.user, name=request.POST.get("name", ""))
    except services.GalleryError as exc:
        return _labels(request, generation, str(exc), status=400)
    return _labels(request, generation)


@require_POST
@login_required
@require_role("member")
def tag_remove(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    generation = _get_generation(request, pk)
    tag = get_for_workspace(request, Tag, pk=parse_id(request.POST.get("tag"), name="tag"))
    services.tag_remove(generation=generation, tag=tag)
    return _labels(request, generation)


@require_POST
@login_required
@require_role("member")
def bulk_tag(request: AuthedHttpRequest) -> HttpResponse:
    generations = _selected(request)
    try:
        tag, added = services.tags_add(generations=generations, user=request.user, name=request.POST.get("tag", ""))
    except services.GalleryError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Tagged {added} item{'s' if added != 1 else ''} “{tag.name}”.")
    return _back(request, reverse("gallery"))


@require_GET
@login_required
def tile(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    """One tile, for pending items that update live (the tile polls our database, never Kie)."""
    generation = _get_generation(request, pk)
    favorite_ids = set(
        Favorite.objects.filter(user=request.user, generation=generation).values_list("generation_id", flat=True)
    )
    [one] = gallery_tiles(
        [selectors.GalleryItem.of(generation)], favorite_ids=favorite_ids, query=_query(_filters(request))
    )
    return render(request, "gallery/gallery.html#tile", {"tile": one})


@require_POST
@login_required
def favorite(request: AuthedHttpRequest, pk: int) -> HttpResponse:
    generation = _get_generation(request, pk)
    is_favorite = services.favorite_toggle(generation=generation, user=request.user)
    if request.htmx:
        response = render(
            request, "gallery/_favorite_button.html", {"generation": generation, "is_favorite": is_favorite}
        )
        # The grid behind the detail dialog marks (or unmarks) this item's tile too (static/js/gallery.js).
        return trigger_client_event(response, "gallery:favorite", {"id": generation.pk, "favorite": is_favorite})
    return _back(request, reverse("gallery-detail", args=[pk]))


@require_POST
@login_required
@require_role("member")
def trash(request: HttpRequest) -> HttpResponse:
    count = services.generations_trash(generations=_selected(request), user=request.user)
    messages.success(
        request,
        f"Moved {count} item{'s' if count != 1 else ''} to the trash. "
        f"You can restore {'them' if count != 1 else 'it'} for {services.TRASH_DAYS} days.",
    )
    return _back(request, reverse("gallery"))


@require_POST
@login_required
@require_role("member")
def restore(request: HttpRequest) -> HttpResponse:
    count = services.generations_restore(generations=_selected(request), user=request.user)
    messages.success(request, f"Restored {count} item{'s' if count != 1 else ''}.")
    return _back(request, f"{reverse('gallery')}?trash=1")


@require_POST
@login_required
def download_zip(request: HttpRequest) -> StreamingHttpResponse:
    generations = _selected(request)
    response = StreamingHttpResponse(services.zip_stream(generations), content_type="application/zip")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="kiestudio-{stamp}.zip"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@login_required
@require_role("member")
def collect(request: AuthedHttpRequest) -> HttpResponse:
    generations = _selected(request)
    name = request.POST.get("new_collection", "").strip()
    if name:
        collection = services.collection_create(workspace=current_workspace(request), user=request.user, name=name)
    else:
        collection_id = parse_id(request.POST.get("collection"), name="collection")
        collection = get_for_workspace(request, Collection, pk=collection_id)
    added = services.collection_add(collection=collection, generations=generations, user=request.user)
    if request.htmx:  # dropped on the collection in the gallery (static/js/gallery.js): the page stays
        response = HttpResponse(status=204)
        count = collection.memberships.count()
        payload = {"id": collection.pk, "name": collection.name, "added": added, "count": count}
        return trigger_client_event(response, "gallery:collected", payload)
    messages.success(request, f"Added {added} item{'s' if added != 1 else ''} to “{collection.name}”.")
    return _back(request, reverse("collection", args=[collection.pk]))


@require_POST
@login_required
@require_role("member")
def uncollect(request: HttpRequest, collection_id: int) -> HttpResponse:
    collection = get_for_workspace(request, Collection, pk=collection_id)
    removed = services.collection_remove(collection=collection, generations=_selected(request))
    messages.success(request, f"Removed {removed} item{'s' if removed != 1 else ''} from “{collection.name}”.")
    return _back(request, reverse("collection", args=[collection.pk]))


@require_GET
@login_required
def collections(request: HttpRequest) -> HttpResponse:
    cards = selectors.collection_cards(workspace=current_workspace(request))
    return render(request, "gallery/collections.html", {"collections": cards})


@require_POST
@login_required
@require_role("member")
def collection_cover(request: HttpRequest, collection_id: int) -> HttpResponse:
    collection = get_for_workspace(request, Collection, pk=collection_id)
    [generation] = _selected(request)[:1]  # the detail view sends the one item shown
    services.collection_set_cover(collection=collection, generation=generation)
    messages.success(request, f"The cover of “{collection.name}” is set.")
    return _back(request, reverse("collections"))


COMPARE_MIN, COMPARE_MAX = 2, 4


@require_GET
@login_required
def compare(request: HttpRequest) -> HttpResponse:
    """Two to four items side by side (``?ids=1&ids=2`` or ``?ids=1,2``); two pictures also get a slider."""
    raw = [part for value in request.GET.getlist("ids") for part in value.split(",") if part.strip()]
    try:
        ids = parse_ids(raw, name="item", max_items=COMPARE_MAX)
    except BadParameter as exc:
        return render(request, "gallery/compare.html", {"error": exc.message}, status=400)
    if not COMPARE_MIN <= len(ids) <= COMPARE_MAX:
        error = f"Choose {COMPARE_MIN} to {COMPARE_MAX} items to compare ({len(ids)} chosen)."
        return render(request, "gallery/compare.html", {"error": error}, status=400)
    found = {g.pk: g for g in selectors.with_media(scoped(request, Generation).filter(pk__in=ids))}
    if len(found) != len(ids):
        raise Http404("Not found")
    items = [found[pk] for pk in ids]
    firsts = [next(iter(g.assets.all()), None) for g in items]
    slider = len(items) == 2 and all(a is not None and a.kind == "image" for a in firsts)
    return render(request, "gallery/compare.html", {"items": items, "slider": slider, "firsts": firsts})


@require_POST
@login_required
@require_role("member")
def collection_create(request: HttpRequest) -> HttpResponse:
    try:
        collection = services.collection_create(
            workspace=current_workspace(request), user=request.user, name=request.POST.get("name", "")
        )
    except services.GalleryError as exc:
        messages.error(request, str(exc))
        return redirect("collections")
    messages.success(request, f"Created “{collection.name}”.")
    return redirect("collection", collection_id=collection.pk)


@require_POST
@login_required
@require_role("member")
def collection_rename(request: HttpRequest, collection_id: int) -> HttpResponse:
    collection = get_for_workspace(request, Collection, pk=collection_id)
    try:
        services.collection_rename(collection=collection, name=request.POST.get("name", ""))
    except services.GalleryError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Renamed to “{collection.name}”.")
    return redirect("collection", collection_id=collection.pk)


@require_POST
@login_required
@require_role("member")
def collection_delete(request: HttpRequest, collection_id: int) -> HttpResponse:
    collection = get_for_workspace(request, Collection, pk=collection_id)
    name = collection.name
    services.collection_delete(collection=collection, user=request.user)
    messages.success(request, f"Deleted the collection “{name}”. Its items are still in the gallery.")
    return redirect("collections")
