"""The Generate page's model picker with ~130 models: family chips, "new" and "popular" marks, one model count."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from django.utils.html import escape

from kiestudio.kie.catalog import load_catalog
from kiestudio.studio.models import Generation
from kiestudio.studio.selectors import NEW_FOR_DAYS, is_new, popular_model_keys
from kiestudio.workspaces.services import workspace_create
from tests.studio.helpers import workspace_of

pytestmark = pytest.mark.django_db


def used(workspace, user, key, times, *, days_ago=1):
    when = timezone.now() - timedelta(days=days_ago)
    for _ in range(times):
        generation = Generation.objects.create(
            workspace=workspace, created_by=user, model_key=key, family="market", kind="text_to_image", output="image"
        )
        Generation.objects.filter(pk=generation.pk).update(created_at=when)


def test_popular_is_the_teams_own_most_used_models(alice, charlie):
    cache.clear()
    mine, theirs = workspace_of(alice), workspace_of(charlie)
    keys = set(load_catalog().keys())
    used(mine, alice, "z-image", 5)
    used(mine, alice, "google/nano-banana", 3)
    used(mine, alice, "nano-banana-2", 2)
    used(mine, alice, "gpt-image/1.5-text-to-image", 1)  # once is not a habit
    used(mine, alice, "flux-2/pro-text-to-image", 9, days_ago=45)  # too long ago
    used(theirs, charlie, "kling-2.6/text-to-video", 20)
    assert popular_model_keys(workspace=mine, keys=keys) == ["z-image", "google/nano-banana", "nano-banana-2"]


def test_a_new_team_sees_what_the_studio_uses_most(alice, charlie):
    cache.clear()
    used(workspace_of(charlie), charlie, "kling-2.6/text-to-video", 4)
    used(workspace_of(charlie), charlie, "z-image", 2)  # below the studio-wide minimum of 3
    fresh = workspace_create(name="Fresh", owner=alice)
    assert popular_model_keys(workspace=fresh, keys=set(load_catalog().keys())) == ["kling-2.6/text-to-video"]


def test_new_means_added_in_the_last_two_months():
    spec = next(s for s in load_catalog() if s.added)
    added = date.fromisoformat(spec.added)
    assert is_new(spec, today=added + timedelta(days=NEW_FOR_DAYS))
    assert not is_new(spec, today=added + timedelta(days=NEW_FOR_DAYS + 1))
    assert not is_new(next(s for s in load_catalog() if not s.added))


def test_the_picker_has_family_chips_marks_and_every_model(client, alice):
    cache.clear()
    used(workspace_of(alice), alice, "z-image", 3)
    used(workspace_of(alice), alice, "google/nano-banana", 3)
    used(workspace_of(alice), alice, "kling-2.6/text-to-video", 3)
    client.force_login(alice)
    html = client.get("/generate/").content.decode()
    catalog = load_catalog()
    assert html.count('data-maker-filter="') == len(catalog.makers()) + 1
    for key, name in catalog.makers():
        assert f'data-maker-filter="{key}">{escape(name)}</button>' in html
    items = re.findall(r'<li data-kind="[^"]+" data-maker="([^"]+)"', html)
    assert len(items) == len(catalog.originals) >= 120 and "" not in items
    assert f"Search {len(catalog.originals)} models" in html
    assert html.count('class="mark mark-popular"') == 3 and 'data-kind-filter="popular"' in html
    new = [spec for spec in catalog.originals if spec.added and is_new(spec)]
    assert html.count('class="mark mark-new"') == len(new) and 'data-kind-filter="new"' in html
    # Home counts the same models the picker shows.
    assert f"from {len(catalog.originals)} models" in client.get("/").content.decode()
