"""Tags, ratings, collection covers, dropping on a collection, comparing, and the gallery's aspect-true tiles."""

from __future__ import annotations

import html
import json

import pytest

from kiestudio.gallery import services
from kiestudio.gallery.models import Collection, CollectionItem, ItemTag, Rating, Tag
from kiestudio.gallery.selectors import collection_cards
from kiestudio.gallery.tiles import tile_shape
from kiestudio.studio.models import Asset, Generation
from kiestudio.workspaces.models import Membership, Role
from tests.studio.helpers import create, drain, workspace_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def made(kie_sim, alice):
    create(alice, prompt="A lighthouse at dusk", aspect_ratio="16:9")
    create(alice, prompt="A red fox in deep snow", aspect_ratio="9:16")
    create(alice, prompt="A bowl of ripe cherries", aspect_ratio="1:1")
    drain()
    return list(Generation.objects.order_by("-created_at", "-id"))  # cherries, fox, lighthouse


def _tiles(html: str) -> int:
    return html.count('class="gallery-tile ')


@pytest.mark.parametrize(
    ("width", "height", "shape"),
    [
        (1920, 1080, "16-9"),
        (1080, 1920, "9-16"),
        (1024, 1024, "1-1"),
        (2520, 1080, "21-9"),
        (1000, 1490, "2-3"),
        (1200, 1000, "5-4"),
        (5000, 1000, "21-9"),  # wider than any shape: the widest
        (None, None, "1-1"),  # audio, or a pending item
    ],
)
def test_a_tile_takes_the_nearest_shape(width, height, shape):
    assert tile_shape(width, height) == shape


def test_tiles_carry_their_pictures_shapes(client, alice, made):
    client.force_login(alice)
    page = client.get("/gallery/").content.decode()
    for generation, shape in zip(made, ("1-1", "9-16", "16-9"), strict=True):
        asset = Asset.objects.get(generation=generation)
        assert tile_shape(asset.width, asset.height) == shape  # the simulator drew it at the asked ratio
        tile = page.split(f'data-id="{generation.pk}"')[0].rsplit("<li", 1)[1]
        assert f"ar-{shape}" in tile


def test_tags_are_shared_case_insensitive_and_filter_the_gallery(client, alice, made):
    client.force_login(alice)
    cherries, fox, lighthouse = made
    assert client.post(f"/gallery/{fox.pk}/tags/", {"name": "  #Winter   mood "}).status_code == 302
    client.post(f"/gallery/{lighthouse.pk}/tags/", {"name": "winter MOOD"}, HTTP_HX_REQUEST="true")
    [tag] = Tag.objects.all()
    assert tag.name == "Winter mood" and tag.links.count() == 2  # one tag, spelled as it was first typed
    page = client.get(f"/gallery/?tag={tag.pk}").content.decode()
    assert _tiles(page) == 2 and f'data-id="{cherries.pk}"' not in page
    assert f'<option value="{tag.pk}" selected>Winter mood</option>' in page
    # The detail shows the tag as a link to that filter.
    detail = client.get(f"/gallery/{fox.pk}/").content.decode()
    assert f'href="/gallery/?tag={tag.pk}">#Winter mood</a>' in detail


def test_bad_tags_are_refused_with_the_reason(client, alice, made):
    client.force_login(alice)
    fox = made[1]
    cases = {
        "": "Type a tag first.",
        "x" * 41: "at most 40 characters (41 given)",
        "red, blue": "can't contain commas",
    }
    for name, reason in cases.items():
        response = client.post(f"/gallery/{fox.pk}/tags/", {"name": name}, HTTP_HX_REQUEST="true")
        assert response.status_code == 400 and reason in html.unescape(response.content.decode())
        assert 'aria-invalid="true"' in response.content.decode()
    assert not Tag.objects.exists()


def test_an_item_holds_at_most_twenty_tags(client, alice, made, monkeypatch):
    monkeypatch.setattr(services, "TAGS_PER_ITEM", 2)
    client.force_login(alice)
    fox = made[1]
    for name in ("one", "two"):
        client.post(f"/gallery/{fox.pk}/tags/", {"name": name})
    response = client.post(f"/gallery/{fox.pk}/tags/", {"name": "three"}, HTTP_HX_REQUEST="true")
    assert "at most 2 tags" in response.content.decode()
    assert fox.tags.count() == 2


def test_removing_the_last_use_of_a_tag_removes_it(client, alice, made):
    client.force_login(alice)
    fox, lighthouse = made[1], made[2]
    tag, _ = services.tags_add(generations=[fox, lighthouse], user=alice, name="dusk")
    client.post(f"/gallery/{fox.pk}/tags/remove/", {"tag": tag.pk})
    assert Tag.objects.filter(pk=tag.pk).exists() and list(tag.items.all()) == [lighthouse]
    client.post(f"/gallery/{lighthouse.pk}/tags/remove/", {"tag": tag.pk})
    assert not Tag.objects.exists()


def test_bulk_tag_tags_every_selected_item(client, alice, made):
    client.force_login(alice)
    response = client.post("/gallery/bulk/tag/", {"ids": [g.pk for g in made], "tag": "Series A"}, follow=True)
    assert "Tagged 3 items “Series A”." in response.content.decode()
    assert ItemTag.objects.count() == 3


def test_ratings_are_each_members_own_and_filter_the_gallery(client, alice, charlie, made):
    team = workspace_of(alice)
    Membership.objects.create(workspace=team, user=charlie, role=Role.VIEWER)
    cherries, fox, lighthouse = made
    client.force_login(alice)
    response = client.post(f"/gallery/{fox.pk}/rating/", {"stars": "4"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'aria-label="4 stars (press again to clear)"' in response.content.decode()
    client.post(f"/gallery/{lighthouse.pk}/rating/", {"stars": "2"})
    # A viewer rates for themselves (a rating is personal, like a favourite), and it doesn't count as Alice's.
    client.force_login(charlie)
    client.post("/workspaces/switch/", {"workspace": team.pk})
    assert client.post(f"/gallery/{cherries.pk}/rating/", {"stars": "5"}).status_code == 302
    client.force_login(alice)
    assert _tiles(client.get("/gallery/?rating=4").content.decode()) == 1
    assert _tiles(client.get("/gallery/?rating=2").content.decode()) == 2
    assert _tiles(client.get("/gallery/?rating=5").content.decode()) == 0
    # Pressing the current rating again clears it; values out of range are refused and change nothing.
    client.post(f"/gallery/{fox.pk}/rating/", {"stars": "0"})
    assert not Rating.objects.filter(user=alice, generation=fox).exists()
    for bad in ("6", "-1", "three", ""):
        assert client.post(f"/gallery/{lighthouse.pk}/rating/", {"stars": bad}).status_code in (302, 400)
    assert Rating.objects.get(user=alice, generation=lighthouse).stars == 2
    page = client.get("/gallery/?rating=9").content.decode()
    assert "Ignored the rating “9”: choose 1 to 5 stars." in page


def test_a_viewer_cannot_tag(client, alice, charlie, made):
    team = workspace_of(alice)
    Membership.objects.create(workspace=team, user=charlie, role=Role.VIEWER)
    client.force_login(charlie)
    client.post("/workspaces/switch/", {"workspace": team.pk})
    assert client.post(f"/gallery/{made[0].pk}/tags/", {"name": "mine"}).status_code == 403
    assert 'placeholder="Add a tag"' not in client.get(f"/gallery/{made[0].pk}/").content.decode()
    assert not Tag.objects.exists()


def test_a_tag_of_another_workspace_is_not_found(client, alice, charlie, made, kie_sim):
    [theirs] = create(charlie, prompt="Charlie's own")
    drain()
    tag, _ = services.tags_add(generations=[theirs], user=charlie, name="private")
    client.force_login(alice)
    assert client.post(f"/gallery/{made[0].pk}/tags/remove/", {"tag": tag.pk}).status_code == 404
    assert "Ignored the tag filter" in client.get(f"/gallery/?tag={tag.pk}").content.decode()
    assert tag.links.count() == 1


def test_collection_covers_the_latest_item_or_the_chosen_one(client, alice, made):
    client.force_login(alice)
    cherries, fox, lighthouse = made
    board = Collection.objects.create(workspace=workspace_of(alice), name="Moodboard")
    empty = Collection.objects.create(workspace=workspace_of(alice), name="Empty")
    services.collection_add(collection=board, generations=[lighthouse], user=alice)
    services.collection_add(collection=board, generations=[fox], user=alice)
    cards = {c.name: c for c in collection_cards(workspace=workspace_of(alice))}
    assert cards["Moodboard"].cover_asset == Asset.objects.get(generation=fox).pk  # the last one added
    assert cards["Moodboard"].item_count == 2 and cards["Empty"].cover_asset is None
    response = client.post(f"/collections/{board.pk}/cover/", {"ids": [lighthouse.pk]})
    assert response.status_code == 302
    board.refresh_from_db()
    assert board.cover == lighthouse
    page = client.get("/collections/").content.decode()
    assert f"/assets/{Asset.objects.get(generation=lighthouse).pk}/thumb/" in page
    assert page.count("/thumb/") == 1  # the empty collection shows a placeholder
    # The detail, opened from the collection, shows that it is the cover; another item offers to be it.
    detail = html.unescape(client.get(f"/gallery/{lighthouse.pk}/?collection={board.pk}").content.decode())
    assert "The collection's cover</button>" in detail
    other = html.unescape(client.get(f"/gallery/{fox.pk}/?collection={board.pk}").content.decode())
    assert "Use as the collection's cover" in other
    assert empty.memberships.count() == 0


def test_a_cover_from_another_workspace_is_not_found(client, alice, charlie, made, kie_sim):
    [theirs] = create(charlie, prompt="Charlie's own")
    drain()
    board = Collection.objects.create(workspace=workspace_of(alice), name="Moodboard")
    client.force_login(alice)
    assert client.post(f"/collections/{board.pk}/cover/", {"ids": [theirs.pk]}).status_code == 404
    board.refresh_from_db()
    assert board.cover is None and not CollectionItem.objects.exists()


def test_dropping_on_a_collection_answers_without_a_page(client, alice, made):
    client.force_login(alice)
    board = Collection.objects.create(workspace=workspace_of(alice), name="Moodboard")
    ids = [made[0].pk, made[1].pk]
    response = client.post("/gallery/bulk/collect/", {"ids": ids, "collection": board.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    event = json.loads(response["HX-Trigger"])["gallery:collected"]
    assert event == {"id": board.pk, "name": "Moodboard", "added": 2, "count": 2}
    again = client.post("/gallery/bulk/collect/", {"ids": ids, "collection": board.pk}, HTTP_HX_REQUEST="true")
    assert json.loads(again["HX-Trigger"])["gallery:collected"]["added"] == 0
    # The gallery offers every collection as a place to drop onto, with its count.
    page = client.get("/gallery/").content.decode()
    assert f'data-drop-collection="{board.pk}"' in page


def test_compare_shows_two_to_four_items_and_a_slider_for_two_pictures(client, alice, made):
    client.force_login(alice)
    cherries, fox, lighthouse = made
    two = client.get(f"/gallery/compare/?ids={fox.pk}&ids={cherries.pk}").content.decode()
    assert "data-compare-slider" in two and "Compare 2 items" in two
    assert two.index(f"/gallery/{fox.pk}/") < two.index(f"/gallery/{cherries.pk}/")  # in the order chosen
    three = client.get(f"/gallery/compare/?ids={fox.pk},{cherries.pk},{lighthouse.pk}")
    assert three.status_code == 200 and "data-compare-slider" not in three.content.decode()
    one = client.get(f"/gallery/compare/?ids={fox.pk}")
    assert one.status_code == 400 and "Choose 2 to 4 items to compare (1 chosen)." in one.content.decode()
    five = client.get("/gallery/compare/?ids=1,2,3,4,5")
    assert five.status_code == 400 and "Choose at most 4" in five.content.decode()
    junk = client.get("/gallery/compare/?ids=abc,2")
    assert junk.status_code == 400


def test_compare_with_another_workspaces_item_is_not_found(client, alice, charlie, made, kie_sim):
    [theirs] = create(charlie, prompt="Charlie's own")
    drain()
    client.force_login(alice)
    assert client.get(f"/gallery/compare/?ids={made[0].pk}&ids={theirs.pk}").status_code == 404


def test_a_form_goes_back_only_to_a_page_of_this_site(client, alice, made):
    client.force_login(alice)
    ids = [made[0].pk]
    for target in ("https://evil.example/", "//evil.example/x", "²", "javascript:alert(1)"):
        response = client.post("/gallery/bulk/tag/", {"ids": ids, "tag": "x", "next": target})
        assert response.status_code == 302 and response["Location"] == "/gallery/", target
    response = client.post("/gallery/bulk/tag/", {"ids": ids, "tag": "x", "next": "/collections/"})
    assert response["Location"] == "/collections/"
