"""What people made of the demo's results: collections and favourites, of the results that succeeded and are not
in the trash."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from kiestudio.accounts.models import User
from kiestudio.gallery.demo.bulk import bulk
from kiestudio.gallery.models import Collection, CollectionItem, Favorite
from kiestudio.studio.models import Generation, Status
from kiestudio.workspaces.models import Workspace

COLLECTIONS = (
    ("Moodboard: neon nights", {"image"}, "neon"),
    ("Client: Aurora spring campaign", {"image", "video"}, ""),
    ("Storyboard: short film", {"video"}, ""),
    ("Podcast sound library", {"audio"}, ""),
    ("Best of the year", {"image", "video", "audio"}, ""),
    ("Characters", {"image"}, ""),
)


def live_results(rows: list[Generation], trash: list[Generation]) -> list[Generation]:
    """What collections and favourites are made of: the results that succeeded and are not in the trash."""
    trashed_ids = {g.pk for g in trash}
    return [g for g in rows if g.pk not in trashed_ids and g.status == Status.SUCCEEDED]


def seed_collections(
    rng: random.Random, workspace: Workspace, creators: list[User], live: list[Generation], now: datetime
) -> tuple[list[Collection], list[CollectionItem]]:
    """Three to five collections, each of visible results whose prompt has the collection's word."""
    items: list[CollectionItem] = []
    chosen = rng.sample(COLLECTIONS, min(len(COLLECTIONS), 3 + rng.randint(0, 2)))
    collections = [
        Collection(workspace=workspace, name=name, created_by=rng.choice(creators), created_at=now)
        for name, _, _ in chosen
    ]
    bulk(Collection, collections)
    for collection, (_, wanted, word) in zip(collections, chosen, strict=True):
        candidates = [g for g in live if g.output in wanted and word in g.prompt_text]
        picked = rng.sample(candidates, min(len(candidates), rng.randint(12, 240)))
        items.extend(
            CollectionItem(
                collection=collection,
                generation=g,
                added_by=rng.choice(creators),
                added_at=g.created_at + timedelta(hours=rng.uniform(0, 48)),
            )
            for g in picked
        )
    bulk(CollectionItem, items)
    return collections, items


def seed_favorites(
    rng: random.Random, workspace: Workspace, users: list[User], live: list[Generation]
) -> list[Favorite]:
    """Each person's favourites among the visible results."""
    favorites: list[Favorite] = []
    for user in users:
        picked = rng.sample(live, min(len(live), max(1, len(live) // 80), 1500)) if live else []
        favorites.extend(
            Favorite(
                workspace=workspace,
                user=user,
                generation=g,
                created_at=g.created_at,
                generation_created_at=g.created_at,
            )
            for g in picked
        )
    bulk(Favorite, favorites)
    return favorites
