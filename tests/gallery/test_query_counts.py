"""A gallery page costs the same number of queries at 1,000 items as at 100,000: first page, a filtered page, a
search page and a page 90% of the way down (keyset cursor, never OFFSET), at the selector and through the view.

Both galleries are seeded once for the module inside a transaction that is rolled back at the end, so the rest of
the suite never sees them; each test runs in a savepoint inside it.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from kiestudio.gallery.management.commands.seed_demo import build_pool, seed_demo
from kiestudio.gallery.selectors import PAGE_SIZE, encode_cursor, gallery_page, parse_filters
from kiestudio.gallery.tiles import gallery_tiles
from kiestudio.studio.models import Generation
from kiestudio.workspaces.middleware import SESSION_KEY

SIZES = {"1k": 1_000, "100k": 100_000}
CASES = {
    "first": {},
    "filtered": {"kind": "video", "status": "succeeded"},
    "search": {"q": "light"},
    "deep": {},
}


@pytest.fixture(scope="module")
def galleries(django_db_setup, django_db_blocker, tmp_path_factory):
    media = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=str(media)):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            pool = build_pool(images=6, videos=1, audios=1)
            seeded = {
                label: seed_demo(generations=n, workspace_name=f"Gallery {label}", pool=pool, seed=i)
                for i, (label, n) in enumerate(SIZES.items(), start=1)
            }
            # Fire PostgreSQL's deferred foreign-key checks for the seed now, once, rather than in every test's
            # teardown (which checks constraints inside its savepoint).
            connection.check_constraints()
            yield seeded
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _params(seeded, case: str) -> dict[str, str]:
    params = dict(CASES[case])
    if case == "deep":
        visible = Generation.objects.filter(workspace=seeded.workspace, deleted_at__isnull=True)
        position = int(visible.count() * 0.9)
        params["cursor"] = encode_cursor(visible.order_by("-created_at", "-id")[position])
    return params


def _sql(context: CaptureQueriesContext) -> str:
    return "\n".join(q["sql"] for q in context.captured_queries)


@pytest.mark.parametrize("case", CASES)
def test_selector_queries_do_not_grow_with_the_gallery(db, galleries, case):
    counts = {}
    for label, seeded in galleries.items():
        ws, user = seeded.workspace, seeded.users[0]
        params = _params(seeded, case)
        filters = parse_filters(params, workspace=ws, member_ids={u.pk for u in seeded.users})
        with CaptureQueriesContext(connection) as ctx:
            page = gallery_page(workspace=ws, user=user, filters=filters, cursor=params.get("cursor", ""))
            # Everything a tile shows (model, prompt, thumbnail, favourite star) comes from the page's own queries.
            tiles = gallery_tiles(page.items, favorite_ids=page.favorite_ids, query="")
        assert all(t["thumb_url"] for t in tiles if t["media"] == "image") and any(t["thumb_url"] for t in tiles)
        counts[label] = len(ctx.captured_queries)
        assert len(page.items) == PAGE_SIZE and page.next_cursor, (label, case)
        assert "OFFSET" not in _sql(ctx).upper(), _sql(ctx)
        if case == "filtered":
            assert {(g.output, g.status) for g in page.items} == {("video", "succeeded")}
        if case == "search":
            assert all("light" in g.prompt_text.lower() for g in page.items)
    assert counts["1k"] == counts["100k"], counts
    # The page, its assets and the user's favourites among them; a SQLite search first asks its index whether few
    # prompts match (one or two small queries, see selectors.FEW_MATCHES).
    assert counts["100k"] <= (5 if case == "search" and connection.vendor == "sqlite" else 3), counts


def _gallery_url() -> str | None:
    try:
        return reverse("gallery")
    except NoReverseMatch:
        return None


@pytest.mark.parametrize("case", CASES)
def test_view_queries_do_not_grow_with_the_gallery(db, client, galleries, case):
    url = _gallery_url()
    if url is None:
        pytest.skip("GET /gallery/ does not exist yet")
    user = galleries["1k"].users[0]  # the same demo people are in both workspaces
    client.force_login(user)
    counts, bodies = {}, {}
    for label, seeded in galleries.items():
        session = client.session
        session[SESSION_KEY] = seeded.workspace.pk
        session.save()
        params = _params(seeded, case)
        headers = {"HX-Request": "true"} if case == "deep" else {}
        client.get(url, params, headers=headers)  # warm-up: one-off caches are not the gallery's cost
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url, params, headers=headers)
        assert response.status_code == 200, (label, case)
        counts[label] = len(ctx.captured_queries)
        bodies[label] = response.content.decode()
        assert "OFFSET" not in _sql(ctx).upper(), _sql(ctx)
    assert counts["1k"] == counts["100k"], counts
    # A fixed handful (session, user, workspace, members, the page's three, switcher, filter lists, the nav's queue
    # count); one query per tile would add 48.
    assert counts["100k"] <= 13, counts
    for label, body in bodies.items():
        assert body.count('class="tile-item ') == PAGE_SIZE, (label, case)
        assert "grid-sentinel" in body  # there is a next page
        if case == "deep":
            assert "<html" not in body.lower()  # the htmx partial: just the next tiles
