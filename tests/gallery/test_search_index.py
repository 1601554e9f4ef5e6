"""SQLite's prompt index keeps working after migrations that rebuild ``studio_generation`` (which drops triggers)."""

from __future__ import annotations

import pytest
from django.db import connection

from kiestudio.gallery.search_index import TRIGGERS, ensure_prompt_search
from kiestudio.gallery.selectors import gallery_queryset, parse_filters
from tests.studio.helpers import create, workspace_of

pytestmark = pytest.mark.django_db


def _triggers() -> set[str]:
    if connection.vendor != "sqlite":
        return set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'gallery_prompt_fts%'")
        return {row[0] for row in cursor.fetchall()}


def _search(user, text: str) -> list[str]:
    ws = workspace_of(user)
    filters = parse_filters({"q": text}, workspace=ws, member_ids={user.pk})
    found = gallery_queryset(workspace=ws, user=user, filters=filters).order_by("-created_at", "-id")
    return [g.prompt_text for g in found]


def test_search_is_wired_up_after_all_migrations(kie_sim, alice):
    if connection.vendor == "sqlite":
        assert _triggers() == set(TRIGGERS)
    else:  # PostgreSQL keeps a generated tsvector column, which no migration drops
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM information_schema.columns WHERE column_name = 'prompt_search'")
            assert cursor.fetchone()
    assert ensure_prompt_search() == []
    create(alice, prompt="A lighthouse at dusk")
    assert _search(alice, "lighthouses") == ["A lighthouse at dusk"]


def test_a_dropped_trigger_comes_back_and_the_index_catches_up(kie_sim, alice):
    if connection.vendor != "sqlite":
        assert ensure_prompt_search() == []  # nothing to repair: there are no triggers
        return
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER gallery_prompt_fts_ai")  # what a table rebuild does
    create(alice, prompt="A lighthouse at dusk")
    assert _search(alice, "lighthouse") == []

    assert ensure_prompt_search() == ["gallery_prompt_fts_ai"]
    assert _triggers() == set(TRIGGERS)
    assert _search(alice, "lighthouse") == ["A lighthouse at dusk"]
    create(alice, prompt="A second lighthouse")
    assert sorted(_search(alice, "lighthouse")) == ["A lighthouse at dusk", "A second lighthouse"]


def test_few_and_many_matches_find_the_same_items_newest_first(kie_sim, alice, monkeypatch):
    """A search that few prompts match is answered from the index's list (by primary key, then sorted); one that
    many match walks the gallery newest first. Both give the same items in the same order, and a word no prompt
    contains gives none."""
    from kiestudio.gallery import selectors

    for prompt in ("A lighthouse at dusk", "Foggy lighthouse", "A red fox", "Lights of the harbour"):
        create(alice, prompt=prompt)
    searches = {
        "lighthouse": ["Foggy lighthouse", "A lighthouse at dusk"],
        "fox": ["A red fox"],
        "quetzalcoatlus": [],
    }
    if connection.vendor == "sqlite":  # search as you type: the last word is a prefix
        searches["ligh"] = ["Lights of the harbour", "Foggy lighthouse", "A lighthouse at dusk"]
    answers = {}
    for few in (500, 0):  # 0: every search counts as "many"
        monkeypatch.setattr(selectors, "FEW_MATCHES", few)
        answers[few] = [_search(alice, text) for text in searches]
    expected = list(searches.values())
    assert answers[500] == answers[0] == expected
