"""A result with several files, in real Chromium: Suno's stems each get a row with their name, their own player,
their own Actions and Download (no "Actions 1 / Download 2" under one player)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.studio.test_followups import finished, follow, second_track, track_parent

STEMS = ["Vocal", "Backing vocals", "Drums", "Bass", "Guitar", "Keyboard", "Strings", "Synth"]


@pytest.mark.django_db(transaction=True)
def test_stems_show_as_labelled_players_each_with_its_own_actions_and_download(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice, tmp_path
):
    parent = track_parent(alice)
    child = finished(follow(alice, parent, "separate", "suno/separate", asset=second_track(parent), type="split_stem"))
    page = signed_in_page
    page.goto(f"{asgi_live_server}/generate/")
    card = page.locator(f"#generation-{child.pk}")
    rows = card.locator(".gen-file")
    expect(rows).to_have_count(len(STEMS))
    expect(card.locator(".gen-file-name")).to_have_text(STEMS)
    for name in STEMS:
        expect(card.get_by_label(name, exact=True)).to_have_attribute("src", _src(card, name))
        expect(card.get_by_role("link", name=f"Download {name}", exact=True)).to_be_visible()
    # No numbered buttons under one player.
    expect(card.get_by_text("Actions 1")).to_have_count(0)
    expect(card.get_by_text("Download 2")).to_have_count(0)
    # A stem's own player plays it: the browser reads its length.
    drums = card.get_by_label("Drums", exact=True)
    drums.evaluate("(a) => { a.preload = 'metadata'; a.load(); }")
    page.wait_for_function("(a) => a.readyState >= 1 && a.duration > 0", arg=drums.element_handle(), timeout=15000)
    card.screenshot(path=str(tmp_path / "stems.png"))


def _src(card, name: str) -> str:
    return card.locator(".gen-file", has_text=name).first.locator("audio").get_attribute("src")
