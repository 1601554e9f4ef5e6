"""Reading the gallery: filters from the URL, keyset pages (never OFFSET) and full-text search over prompts.

A page is a constant number of queries whatever the gallery's size: the page itself (an index walk over
``(workspace, [filter,] created_at, id)``), the assets of the page's items, and the user's favourites among them.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from kiestudio.core.params import (
    EARLIEST_DATE,
    LATEST_DATE,
    BadParameter,
    parse_id,
    parse_optional_date,
    parse_optional_id,
)
from kiestudio.gallery.models import Collection, CollectionItem, Favorite, Tag
from kiestudio.kie.catalog import UnknownModel, get_model
from kiestudio.studio.models import PENDING, Asset, Generation, Status
from kiestudio.workspaces.models import Workspace

PAGE_SIZE = 48
KINDS = {"image": "Images", "video": "Videos", "audio": "Audio"}
STATUSES = {
    "succeeded": "Done",
    "pending": "In progress",
    "failed": "Failed",
    "unknown": "Unknown",
    "canceled": "Canceled",
}
ORIGINS = {"originals": "Originals only", "derived": "Follow-ups only", "chat": "Made in chat"}
FILTER_KEYS = (
    "q",
    "kind",
    "model",
    "status",
    "member",
    "from",
    "to",
    "favorites",
    "collection",
    "origin",
    "lineage",
    "tag",
    "rating",
    "trash",
)
RATINGS = {str(n): f"{'★' * n} {'and up' if n < 5 else 'only'}" for n in range(1, 6)}


@dataclass
class GalleryFilters:
    q: str = ""
    kind: str = ""
    model: str = ""
    status: str = ""
    member: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    favorites: bool = False
    collection: Collection | None = None
    origin: str = ""  # "originals", "derived" or "chat"
    derived_from: Generation | None = None  # everything made from this item, at any depth
    tag: Tag | None = None
    rating: int = 0  # your rating at least this many stars
    trash: bool = False
    notices: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(
            self.q
            or self.kind
            or self.model
            or self.status
            or self.member
            or self.date_from
            or self.date_to
            or self.favorites
            or self.collection
            or self.origin
            or self.derived_from
            or self.tag
            or self.rating
        )

    @property
    def extra_count(self) -> int:
        """Filters set besides the search words (the phone's Filters button shows how many)."""
        return sum(
            bool(value)
            for value in (
                self.kind,
                self.model,
                self.status,
                self.member,
                self.date_from,
                self.date_to,
                self.favorites,
                self.collection,
                self.origin,
                self.tag,
                self.rating,
            )
        )

    def query_params(self) -> dict[str, str]:
        """The filters as URL parameters (for links that keep them, and for the cursor link)."""
        params = {
            "q": self.q,
            "kind": self.kind,
            "model": self.model,
            "status": self.status,
            "member": str(self.member or ""),
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "favorites": "1" if self.favorites else "",
            "collection": str(self.collection.pk) if self.collection else "",
            "origin": self.origin,
            "lineage": str(self.derived_from.pk) if self.derived_from else "",
            "tag": str(self.tag.pk) if self.tag else "",
            "rating": str(self.rating or ""),
            "trash": "1" if self.trash else "",
        }
        return {k: v for k, v in params.items() if v}


def _parse_date(value: str, label: str, notices: list[str]) -> date | None:
    try:
        return parse_optional_date(value, name=f"{label} date")
    except BadParameter:
        span = f"{EARLIEST_DATE.year} and {LATEST_DATE.year}"
        notices.append(f"Ignored the {label} date “{value[:20]}”: use YYYY-MM-DD, a day between {span}.")
        return None


def _parse_id(value: str, notices: list[str], notice: str) -> int | None:
    try:
        return parse_optional_id(value)
    except BadParameter:
        notices.append(notice)
        return None


def parse_filters(params: Any, *, workspace: Workspace, member_ids: set[int]) -> GalleryFilters:
    """Read filters from query parameters. Unknown or malformed values are ignored with a notice, never a 500."""
    f = GalleryFilters()
    notices = f.notices
    f.q = " ".join(params.get("q", "").split())[:200]
    kind = params.get("kind", "")
    if kind in KINDS:
        f.kind = kind
    elif kind:
        notices.append(f"Ignored the unknown kind “{kind[:30]}”.")
    model = params.get("model", "")
    if model:
        try:
            f.model = get_model(model).key
        except UnknownModel:
            notices.append(f"Ignored the unknown model “{model[:60]}”.")
    status = params.get("status", "")
    if status in STATUSES:
        f.status = status
    elif status:
        notices.append(f"Ignored the unknown status “{status[:30]}”.")
    member_notice = "Ignored the member filter: that person is not in this workspace."
    member = _parse_id(params.get("member", ""), notices, member_notice)
    if member in member_ids:
        f.member = member
    elif member is not None:
        notices.append(member_notice)
    f.date_from = _parse_date(params.get("from", ""), "from", notices)
    f.date_to = _parse_date(params.get("to", ""), "to", notices)
    if f.date_from and f.date_to and f.date_from > f.date_to:
        notices.append("The “from” date was after the “to” date, so they were swapped.")
        f.date_from, f.date_to = f.date_to, f.date_from
    f.favorites = params.get("favorites", "") in {"1", "on", "true"}
    f.trash = params.get("trash", "") in {"1", "on", "true"}
    collection_notice = "Ignored the collection filter: no such collection in this workspace."
    collection = _parse_id(params.get("collection", ""), notices, collection_notice)
    if collection is not None:
        found = Collection.objects.filter(workspace=workspace, pk=collection).first()
        if found is None:
            notices.append(collection_notice)
        f.collection = found
    origin = params.get("origin", "")
    if origin in ORIGINS:
        f.origin = origin
    elif origin:
        notices.append(f"Ignored the unknown origin “{origin[:30]}”.")
    lineage_notice = "Ignored the “made from” filter: no such item in this workspace."
    lineage = _parse_id(params.get("lineage", ""), notices, lineage_notice)
    if lineage is not None:
        source = Generation.objects.filter(workspace=workspace, pk=lineage).first()
        if source is None:
            notices.append(lineage_notice)
        f.derived_from = source
    tag_notice = "Ignored the tag filter: no such tag in this workspace."
    tag = _parse_id(params.get("tag", ""), notices, tag_notice)
    if tag is not None:
        f.tag = Tag.objects.filter(workspace=workspace, pk=tag).first()
        if f.tag is None:
            notices.append(tag_notice)
    rating = params.get("rating", "")
    if rating in RATINGS:
        f.rating = int(rating)
    elif rating:
        notices.append(f"Ignored the rating “{rating[:10]}”: choose 1 to 5 stars.")
    return f


# --- Search -------------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)


def _fts5_query(text: str) -> str:
    """User text as a safe FTS5 expression: every word must appear, the last as a prefix (search-as-you-type)."""
    words = _WORD.findall(text.lower())[:12]
    if not words:
        return ""
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


# A search that few prompts match is answered from the index's own list of rows (found by primary key, then
# sorted); one that many match walks the gallery newest first and stops at a page. Walking for a word no prompt
# contains read every row of the workspace (13 ms more at 100k than at 1k; issue 18), and SQLite's planner can't
# tell the two apart, so the index is asked first, for at most this many rows. The whole words are counted before
# the last one's prefix: a prefix of a common word has to merge many words' lists just to start.
FEW_MATCHES = 500


def _few_matches(expression: str) -> list[int] | None:
    """The rows matching an FTS5 expression when there are at most ``FEW_MATCHES``, else None."""
    probe = "SELECT rowid FROM gallery_prompt_fts WHERE gallery_prompt_fts MATCH %s LIMIT %s"
    with connection.cursor() as cursor:
        for candidate in (expression.removesuffix("*"), expression):
            cursor.execute(probe, [candidate, FEW_MATCHES + 1])
            found = [row[0] for row in cursor.fetchall()]
            if len(found) > FEW_MATCHES:
                return None
    return found


def search_filter(text: str) -> Q | None:
    """The condition for a prompt search. On SQLite this asks the index first (see ``FEW_MATCHES``)."""
    if connection.vendor == "sqlite":
        expression = _fts5_query(text)
        if not expression:
            return None
        few = _few_matches(expression)
        if few is not None:
            return Q(id__in=few)
        matches = "SELECT rowid FROM gallery_prompt_fts WHERE gallery_prompt_fts MATCH %s"
        return Q(id__in=RawSQL(matches, [expression]))
    if connection.vendor == "postgresql":
        if not _WORD.search(text):
            return None
        return Q(
            id__in=RawSQL(
                "SELECT id FROM studio_generation WHERE prompt_search @@ websearch_to_tsquery('english', %s)", [text]
            )
        )
    return Q(prompt_text__icontains=text)


# --- Queries ------------------------------------------------------------------------------------------------


def gallery_queryset(*, workspace: Workspace, user, filters: GalleryFilters) -> QuerySet[Generation]:
    qs = Generation.objects.filter(workspace=workspace)
    qs = qs.filter(deleted_at__isnull=not filters.trash)
    if filters.kind:
        qs = qs.filter(output=filters.kind)
    if filters.model:
        qs = qs.filter(model_key=filters.model)
    if filters.status == "pending":
        qs = qs.filter(status__in=PENDING)
    elif filters.status:
        qs = qs.filter(status=filters.status)
    if filters.member:
        qs = qs.filter(created_by_id=filters.member)
    tz = timezone.get_current_timezone()
    if filters.date_from:
        qs = qs.filter(created_at__gte=datetime.combine(filters.date_from, time.min, tzinfo=tz))
    if filters.date_to:
        qs = qs.filter(created_at__lt=datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=tz))
    if filters.favorites:
        # A join (one row per generation: a member favourites it once), so the page can follow the favourites'
        # own index in the gallery's order (see gallery_page).
        qs = qs.filter(favorites__user=user, favorites__workspace=workspace)
    if filters.collection:
        qs = qs.filter(collection_memberships__collection=filters.collection)
    if filters.origin == "originals":
        qs = qs.filter(lineage="")
    elif filters.origin == "derived":
        qs = qs.exclude(lineage="")
    elif filters.origin == "chat":  # launched by a chat model's tool call (the agent app's relation)
        qs = qs.filter(tool_calls__isnull=False)
    if filters.derived_from is not None:
        qs = qs.filter(descendants_of(filters.derived_from))
    if filters.tag is not None:
        qs = qs.filter(tag_links__tag=filters.tag)
    if filters.rating:
        qs = qs.filter(ratings__user=user, ratings__stars__gte=filters.rating)
    if filters.q:
        condition = search_filter(filters.q)
        if condition is not None:
            qs = qs.filter(condition)
    return qs


def descendants_of(generation: Generation) -> Q:
    """Everything made from ``generation``, at any depth: a prefix search on ``lineage`` (see the model)."""
    prefix = generation.descendant_prefix
    if connection.vendor == "postgresql":
        return Q(lineage__startswith=prefix)  # LIKE 'prefix%' on the varchar_pattern_ops index
    # SQLite compares bytes: every string starting with "12/" sorts in ["12/", "120"), and nothing else does
    # ("/" is the byte just before "0"). A range uses the index; SQLite's LIKE is case-insensitive and wouldn't.
    return Q(lineage__gte=prefix, lineage__lt=prefix[:-1] + "0")


def encode_cursor(generation: Generation | GalleryItem) -> str:
    raw = f"{generation.created_at.isoformat()}|{generation.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    """The (created_at, id) a page continues after; None for a malformed cursor (the page starts at the top)."""
    if not cursor or len(cursor) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, pk = raw.split("|", 1)
        created = datetime.fromisoformat(stamp)
        if created.tzinfo is None or not EARLIEST_DATE <= created.date() <= LATEST_DATE:
            return None
        return created, parse_id(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):  # BadParameter is a ValueError too
        return None


@dataclass
class GalleryPage:
    items: list[GalleryItem]
    next_cursor: str | None
    favorite_ids: set[int]


def with_media(qs: QuerySet[Generation]) -> QuerySet[Generation]:
    return qs.select_related("created_by").prefetch_related(
        Prefetch("assets", queryset=Asset.objects.order_by("index"))
    )


@dataclass(slots=True)
class TileAsset:
    id: int
    kind: str
    thumbnail: str  # the stored name, "" when there is none
    width: int | None = None
    height: int | None = None


@dataclass(slots=True)
class GalleryItem:
    """What a tile shows of a generation (templates/gallery/_tile.html), and nothing more. A page reads these
    columns as plain values: no JSON, audit or job columns, and no model instances to build (issue 18)."""

    id: int
    model_key: str
    output: str
    status: str
    prompt_text: str
    created_at: datetime
    assets: list[TileAsset] = field(default_factory=list)

    @property
    def pk(self) -> int:
        return self.id

    @classmethod
    def of(cls, generation: Generation) -> GalleryItem:
        """The tile of one generation already in hand (its assets prefetched, in order)."""
        assets = [TileAsset(a.pk, a.kind, a.thumbnail.name or "", a.width, a.height) for a in generation.assets.all()]
        fields = (generation.pk, generation.model_key, generation.output, generation.status)
        return cls(*fields, generation.prompt_text, generation.created_at, assets)


ITEM_FIELDS = ("id", "model_key", "output", "status", "prompt_text", "created_at")


def gallery_page(
    *, workspace: Workspace, user, filters: GalleryFilters, cursor: str = "", size: int | None = None
) -> GalleryPage:
    size = size or PAGE_SIZE
    qs = gallery_queryset(workspace=workspace, user=user, filters=filters)
    after = decode_cursor(cursor)
    if after is not None:
        created, pk = after
        # The leading created_at__lte lets the database seek straight to the cursor in the (…, created_at, id)
        # index; the bare OR form reads every row above it (a deep page at 100k was 1.7x a 1k one).
        qs = qs.filter(Q(created_at__lte=created) & (Q(created_at__lt=created) | Q(id__lt=pk)))
    # The same order either way: a favourite's generation_created_at is its generation's created_at.
    by_favorite = ("-favorites__generation_created_at", "-favorites__generation_id")
    order = by_favorite if filters.favorites else ("-created_at", "-id")
    rows = list(qs.order_by(*order).values_list(*ITEM_FIELDS)[: size + 1])
    items = [GalleryItem(*row) for row in rows[:size]]
    next_cursor = encode_cursor(items[-1]) if len(rows) > size else None
    if not items:
        return GalleryPage(items, next_cursor, set())
    by_id = {item.id: item for item in items}
    assets = Asset.objects.filter(generation_id__in=by_id).order_by("generation_id", "index")
    for generation_id, *asset in assets.values_list("generation_id", "id", "kind", "thumbnail", "width", "height"):
        by_id[generation_id].assets.append(TileAsset(*asset))
    favorites = Favorite.objects.filter(user=user, generation_id__in=by_id).values_list("generation_id", flat=True)
    return GalleryPage(items, next_cursor, set(favorites))


def neighbours(
    *, workspace: Workspace, user, filters: GalleryFilters, generation: Generation
) -> tuple[Generation | None, Generation | None]:
    """The items before and after this one in the gallery's order (newest first), within the same filters."""
    qs = gallery_queryset(workspace=workspace, user=user, filters=filters)
    newer = (
        qs.filter(
            Q(created_at__gte=generation.created_at)
            & (Q(created_at__gt=generation.created_at) | Q(id__gt=generation.pk))
        )
        .order_by("created_at", "id")
        .only("id")
        .first()
    )
    older = (
        qs.filter(
            Q(created_at__lte=generation.created_at)
            & (Q(created_at__lt=generation.created_at) | Q(id__lt=generation.pk))
        )
        .order_by("-created_at", "-id")
        .only("id")
        .first()
    )
    return newer, older


@dataclass
class Lineage:
    ancestors: list[Generation]  # from the original down to the parent (purged ones are skipped)
    children: list[Generation]  # made directly from this one, newest first (a few)
    descendant_count: int  # made from this one at any depth


LINEAGE_CHILDREN = 8


def lineage_of(generation: Generation) -> Lineage:
    """The family tree around one item, for its detail view: three small queries."""
    ids = generation.ancestor_ids
    found = {g.pk: g for g in with_media(Generation.objects.filter(workspace_id=generation.workspace_id, pk__in=ids))}
    ancestors = [found[pk] for pk in ids if pk in found]
    derived = Generation.objects.filter(workspace_id=generation.workspace_id, deleted_at__isnull=True)
    children = list(with_media(derived.filter(parent=generation)).order_by("-created_at", "-id")[:LINEAGE_CHILDREN])
    count = derived.filter(descendants_of(generation)).count() if children else 0
    return Lineage(ancestors, children, count)


@dataclass(slots=True)
class CollectionCard:
    id: int
    name: str
    item_count: int
    created_by: str
    cover_asset: int | None  # the asset whose thumbnail is the collection's cover


def collection_cards(*, workspace: Workspace) -> list[CollectionCard]:
    """The workspace's collections with their covers: the chosen item's picture, else the most recently added
    item's (one with a picture). Three queries whatever the number of collections."""
    latest = (
        CollectionItem.objects.filter(collection=OuterRef("pk"), generation__assets__thumbnail__gt="")
        .exclude(generation__deleted_at__isnull=False)
        .order_by("-added_at", "-pk")
        .values("generation_id")[:1]
    )
    boards = list(
        Collection.objects.filter(workspace=workspace)
        .select_related("created_by")
        .annotate(item_count=Count("memberships", distinct=True), latest_id=Subquery(latest))
    )
    shown = {b.pk: b.cover_id or b.latest_id for b in boards}
    covers: dict[int, int] = {}
    rows = Asset.objects.filter(generation_id__in={g for g in shown.values() if g}).exclude(thumbnail="")
    for generation_id, asset_id in rows.order_by("-index").values_list("generation_id", "id"):
        covers[generation_id] = asset_id  # the lowest index wins
    return [
        CollectionCard(
            b.pk,
            b.name,
            b.item_count,
            b.created_by.display_name if b.created_by else "a former member",
            covers.get(shown[b.pk] or 0),
        )
        for b in boards
    ]


def status_group(generation: Generation) -> str:
    return "pending" if generation.status in PENDING else generation.status


__all__ = [
    "FILTER_KEYS",
    "KINDS",
    "LINEAGE_CHILDREN",
    "ORIGINS",
    "Lineage",
    "PAGE_SIZE",
    "RATINGS",
    "STATUSES",
    "CollectionCard",
    "GalleryFilters",
    "GalleryItem",
    "GalleryPage",
    "Status",
    "TileAsset",
    "collection_cards",
    "decode_cursor",
    "descendants_of",
    "encode_cursor",
    "gallery_page",
    "gallery_queryset",
    "lineage_of",
    "neighbours",
    "parse_filters",
    "search_filter",
    "status_group",
    "with_media",
]
