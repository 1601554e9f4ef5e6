"""A realistic demo gallery, fast (``manage.py seed_demo``, ``make run``'s demo data and the benchmarks).

One workspace with a small team, N generations spread over the last year across the catalog's models, de-duplicated
prompts, collections, favourites and a few trashed items. Succeeded generations get real files: a small pool of
PNG images with WebP thumbnails, MP4 videos with posters and WAV audio is rendered once into the default storage,
and many ``Asset`` rows point at the same stored names (the trash purge deletes only files no row still uses). The
big tables are written in batches of 2,000 straight to the database (``executemany`` on SQLite, ``COPY`` on
PostgreSQL; no signals, no services): 100,000 generations take about 25 s on SQLite and 20 s on PostgreSQL. The
prompt search index is kept in sync by the database itself (FTS5 triggers on SQLite, a generated column on
PostgreSQL).

Run it again to add another batch: without ``workspace_name`` it makes a new workspace, with it it adds to the
workspace of that name (creating it when missing). The demo people are shared between runs.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from kiestudio.accounts.models import User
from kiestudio.gallery.demo.curation import live_results, seed_collections, seed_favorites
from kiestudio.gallery.demo.generations import Clicks, insert_clicks, trash_some
from kiestudio.gallery.demo.people import DEMO_PASSWORD, creators_of, demo_people, demo_workspace
from kiestudio.gallery.demo.pool import PoolFile, build_pool
from kiestudio.studio.models import Generation
from kiestudio.workspaces.models import Workspace


@dataclass
class SeedResult:
    workspace: Workspace
    users: list[User]
    generations: int = 0
    by_output: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    assets: int = 0
    prompts: int = 0
    collections: int = 0
    collection_items: int = 0
    favorites: int = 0
    trashed: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        kinds = ", ".join(f"{self.by_output.get(k, 0):,} {k}" for k in ("image", "video", "audio"))
        return (
            f"Seeded {self.generations:,} generations ({kinds}; {self.assets:,} assets, {self.prompts:,} new prompts, "
            f"{self.collections} collections with {self.collection_items:,} items, {self.favorites:,} favourites, "
            f"{self.trashed} in trash) into workspace “{self.workspace.name}” (#{self.workspace.pk}) with "
            f"{len(self.users)} members in {self.seconds:.1f} s; sign in as {self.users[0].email} / {DEMO_PASSWORD}"
        )


def _tally(result: SeedResult, rows: list[Generation]) -> None:
    for g in rows:
        result.by_output[g.output] = result.by_output.get(g.output, 0) + 1
        result.by_status[g.status] = result.by_status.get(g.status, 0) + 1
    result.generations = len(rows)


def seed_demo(
    *,
    generations: int,
    workspace_name: str | None = None,
    members: int = 5,
    seed: int = 1,
    pool: dict[str, list[PoolFile]] | None = None,
    now: datetime | None = None,
) -> SeedResult:
    """Create the demo workspace (or add to the named one) with ``generations`` generations. See the module doc."""
    started = time.monotonic()
    if generations < 0 or members < 1:
        raise ValueError("generations must be >= 0 and members >= 1")
    rng = random.Random(seed)
    now = now or timezone.now()
    pool = pool or build_pool()
    with transaction.atomic():
        users = demo_people(members)
        workspace = demo_workspace(workspace_name, users)
        result = SeedResult(workspace=workspace, users=users)
        creators = creators_of(users)
        clicks = Clicks(rng, now=now, workspace=workspace, pool=pool, creators=creators, total=generations)
        rows = clicks.run()
        assets = insert_clicks(clicks)
        trash = trash_some(rng, rows, now, generations)
        live = live_results(rows, trash)
        collections, items = seed_collections(rng, workspace, creators, live, now)
        favorites = seed_favorites(rng, workspace, users, live)
    _analyze()

    _tally(result, rows)
    result.assets = len(assets)
    result.prompts = len(clicks.new_prompts)
    result.collections = len(collections)
    result.collection_items = len(items)
    result.favorites = len(favorites)
    result.trashed = len(trash)
    result.seconds = time.monotonic() - started
    return result


def _analyze() -> None:
    """Tell the query planner about the rows just written. PostgreSQL gathers statistics only when autovacuum gets
    round to it, and until then plans a gallery page over a million bulk-loaded rows as if the tables were empty (a
    first page took 490 ms instead of a few; issue 18). SQLite's planner does well without statistics."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE studio_generation, studio_asset, studio_prompt, gallery_favorite")


def search_works(result: SeedResult) -> bool:
    """The prompt search index found what was seeded (FTS5 triggers on SQLite, a generated column on PostgreSQL)."""
    from kiestudio.gallery.selectors import search_filter

    sample = (
        Generation.objects.filter(workspace=result.workspace)
        .exclude(prompt_text="")
        .order_by("-id")
        .values_list("prompt_text", flat=True)
        .first()
    )
    if sample is None:
        return True
    word = max(re.findall(r"[A-Za-z]{4,}", sample) or ["demo"], key=len)
    condition = search_filter(word)
    return condition is not None and Generation.objects.filter(workspace=result.workspace).filter(condition).exists()
