"""Reads for the Generate page that are not one model's own: which models the team uses most, which are new."""

from __future__ import annotations

from datetime import date, timedelta
from typing import cast

from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone

from kiestudio.kie.catalog import ModelSpec
from kiestudio.studio.models import Generation
from kiestudio.workspaces.models import Workspace

#: A model is "new" for this many days after it joined the catalog.
NEW_FOR_DAYS = 60
#: How far back "popular" looks, how many models it marks, and the fewest uses that count.
POPULAR_DAYS = 30
POPULAR_LIMIT = 6
POPULAR_MIN_USES = 2


def is_new(spec: ModelSpec, *, today: date | None = None) -> bool:
    if not spec.added:
        return False
    today = today or timezone.localdate()
    return date.fromisoformat(spec.added) >= today - timedelta(days=NEW_FOR_DAYS)


def popular_model_keys(*, workspace: Workspace, keys: set[str], limit: int = POPULAR_LIMIT) -> list[str]:
    """The models this workspace generated with most in the last month (at least twice each), most used first.
    A team too new to have favourites sees what the whole studio uses most (counts only, no one's work)."""
    since = timezone.now() - timedelta(days=POPULAR_DAYS)
    recent = Generation.objects.filter(created_at__gte=since, model_key__in=keys, parent__isnull=True)

    def ranked(queryset, minimum: int) -> list[str]:
        rows = (
            queryset.values("model_key")
            .annotate(uses=Count("pk"))
            .filter(uses__gte=minimum)
            .order_by("-uses", "model_key")[:limit]
        )
        return [row["model_key"] for row in rows]

    own = ranked(recent.filter(workspace=workspace), POPULAR_MIN_USES)
    if len(own) >= 3:
        return own
    # Across every workspace the query scans a month of rows: computed at most every ten minutes.
    # get_or_set answers what ``ranked`` returned, now or up to ten minutes ago.
    studio = cast(
        list[str], cache.get_or_set("studio:popular-models", lambda: ranked(recent, POPULAR_MIN_USES + 1), 600)
    )
    return own + [key for key in studio if key not in own][: limit - len(own)]
