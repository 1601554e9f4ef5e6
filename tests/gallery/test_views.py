from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from kiestudio.gallery import services
from kiestudio.gallery.models import Collection, Favorite
from kiestudio.kie.catalog import get_model
from kiestudio.studio import services as studio_services
from kiestudio.studio.files import download_name
from kiestudio.studio.models import Asset, Generation
from kiestudio.workspaces.models import AuditEvent, Membership, Role
from kiestudio.workspaces.services import workspace_create
from tests.studio.helpers import create, drain, workspace_of
from tests.studio.helpers import made as helpers_made

pytestmark = pytest.mark.django_db


@pytest.fixture
def made(kie_sim, alice):
    create(alice, prompt="A lighthouse at dusk")
    create(alice, prompt="A red fox in deep snow")
    create(alice, "veo/veo3_fast", prompt="A drone flight over hills")
    drain()
    return list(Generation.objects.order_by("-created_at", "-id"))


def test_grid_lists_newest_first_with_thumbnails(client, alice, made):
    client.force_login(alice)
    html = client.get("/gallery/").content.decode()
    positions = [html.index(f'data-id="{g.pk}"') for g in made]
    assert positions == sorted(positions)
    assert html.count("/thumb/") >= 3


def test_search_and_filters_narrow_the_grid_and_stay_in_the_url(client, alice, made):
    client.force_login(alice)
    fox = client.get("/gallery/?q=fox").content.decode()
    assert "A red fox" in fox and "lighthouse" not in fox.lower().split("search prompts")[1]
    videos = client.get("/gallery/?kind=video").content.decode()
    assert videos.count('class="gallery-tile') == 1 and 'value="video" selected' in videos


def test_unknown_filter_values_are_ignored_with_a_notice(client, alice, made):
    client.force_login(alice)
    response = client.get("/gallery/?kind=hologram&status=zzz&model=nope&member=99999&from=yesterday")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ignored the unknown kind" in html and "Ignored the unknown status" in html
    assert "Ignored the unknown model" in html and "Use YYYY-MM-DD" in html.replace("use YYYY", "Use YYYY")
    assert html.count('class="gallery-tile') == 3


def test_malformed_cursor_starts_from_the_top(client, alice, made):
    client.force_login(alice)
    response = client.get("/gallery/?cursor=%%%not-a-cursor")
    assert response.status_code == 200
    assert response.content.decode().count('class="gallery-tile') == 3


def test_keyset_pages_cover_everything_once(client, alice, made, monkeypatch):
    from kiestudio.gallery import selectors

    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    client.force_login(alice)
    first = client.get("/gallery/").content.decode()
    assert first.count('class="gallery-tile') == 2 and 'hx-trigger="intersect once"' in first
    next_url = first.split('class="grid-sentinel" hx-get="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(next_url, headers={"HX-Request": "true"}).content.decode()
    assert second.count('class="gallery-tile') == 1 and "intersect once" not in second
    ids = [g.pk for g in made]
    assert f'data-id="{ids[2]}"' in second


def test_favourites_page_in_gallery_order_by_keyset(client, alice, charlie, made, monkeypatch):
    """Favourites are read from their own index (their generation's created_at), in the gallery's order, page by
    page; another member's favourites don't show or repeat rows."""
    from kiestudio.gallery import selectors

    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    client.force_login(alice)
    for generation in made:
        client.post(f"/gallery/{generation.pk}/favorite/")
        services.favorite_toggle(generation=generation, user=charlie)  # someone else's, same items
    assert {f.generation_created_at for f in Favorite.objects.filter(user=alice)} == {g.created_at for g in made}
    first = client.get("/gallery/?favorites=1").content.decode()
    next_url = first.split('class="grid-sentinel" hx-get="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(next_url, headers={"HX-Request": "true"}).content.decode()
    html = first + second
    positions = [html.index(f'data-id="{g.pk}"') for g in made]  # made is newest first
    assert positions == sorted(positions) and html.count('class="gallery-tile') == 3


def test_detail_has_permalink_and_neighbours(client, alice, made):
    client.force_login(alice)
    middle = made[1]
    html = client.get(f"/gallery/{middle.pk}/").content.decode()
    assert middle.prompt_text in html
    assert f"/gallery/{made[0].pk}/" in html and f"/gallery/{made[2].pk}/" in html
    partial = client.get(f"/gallery/{middle.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial and "data-detail-root" in partial


def test_detail_lists_the_settings_by_their_names_in_the_form(client, alice, kie_sim):
    [image] = create(alice, prompt="A lighthouse", aspect_ratio="16:9")
    [song] = create(
        alice,
        "suno/V4",
        prompt="La la",
        customMode=True,
        instrumental=False,
        style="soul",
        title="Hum",
        vocalGender="f",
    )
    drain()
    client.force_login(alice)
    html = client.get(f"/gallery/{image.pk}/").content.decode()
    assert "<dt>Aspect ratio</dt><dd>16:9</dd>" in html and "<dt>aspect_ratio</dt>" not in html
    html = client.get(f"/gallery/{song.pk}/").content.decode()
    for row in (
        "<dt>Custom mode</dt><dd>Yes</dd>",
        "<dt>Instrumental (no vocals)</dt><dd>No</dd>",
        "<dt>Voice</dt><dd>Female</dd>",
    ):
        assert row in html
    assert "<dt>Song idea or lyrics</dt>" not in html  # the prompt has its own place


def test_favourite_sticks_and_filters(client, alice, made):
    client.force_login(alice)
    target = made[2]
    client.post(f"/gallery/{target.pk}/favorite/")
    assert Favorite.objects.filter(user=alice, generation=target).exists()
    html = client.get("/gallery/?favorites=1").content.decode()
    assert html.count('class="gallery-tile') == 1 and f'data-id="{target.pk}"' in html
    client.post(f"/gallery/{target.pk}/favorite/")
    assert not Favorite.objects.exists()


def test_zip_has_every_file_and_metadata(client, alice, made):
    client.force_login(alice)
    response = client.post("/gallery/bulk/zip/", {"ids": [g.pk for g in made]})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = archive.namelist()
    assert "metadata.json" in names
    metadata = json.loads(archive.read("metadata.json"))
    assert {item["id"] for item in metadata["items"]} == {g.pk for g in made}
    for item in metadata["items"]:
        for f in item["files"]:
            assert f["name"] in names
    asset = Asset.objects.filter(generation=made[0]).first()
    with default_storage.open(asset.file.name) as fh:
        assert archive.read(f"{made[0].pk}/{download_name(made[0], asset)}") == fh.read()
    # Names a person can read: the prompt's words, the item and file number.
    words = slugify(made[0].prompt_text)[:48].rstrip("-")
    assert download_name(made[0], asset) == f"{words}-{made[0].pk}-1.{asset.file.name.rsplit('.', 1)[-1]}"
    response = client.get(reverse("asset-file", args=[asset.pk]), {"download": "1"})
    assert f'filename="{download_name(made[0], asset)}"' in response["Content-Disposition"] and words


def test_other_workspaces_items_are_404_everywhere(client, alice, charlie, made):
    client.force_login(charlie)
    own = workspace_of(charlie)
    board = Collection.objects.create(workspace=own, name="Mine")
    target = made[0]
    assert client.get(f"/gallery/{target.pk}/").status_code == 404
    assert client.post(f"/gallery/{target.pk}/favorite/").status_code == 404
    assert client.post("/gallery/bulk/zip/", {"ids": [target.pk]}).status_code == 404
    assert client.post("/gallery/bulk/collect/", {"ids": [target.pk], "collection": board.pk}).status_code == 404
    assert client.post("/gallery/bulk/trash/", {"ids": [target.pk]}).status_code == 404
    alice_board = Collection.objects.create(workspace=workspace_of(alice), name="Alice's")
    assert client.get(f"/collections/{alice_board.pk}/").status_code == 404
    assert not board.items.exists()


def test_collections_create_add_rename_remove_delete(client, alice, made):
    client.force_login(alice)
    response = client.post("/gallery/bulk/collect/", {"ids": [made[0].pk, made[1].pk], "new_collection": "Moodboard"})
    board = Collection.objects.get(name="Moodboard")
    assert response.status_code == 302 and board.items.count() == 2
    page = client.get(f"/collections/{board.pk}/").content.decode()
    assert page.count('class="gallery-tile') == 2 and "<h1>Moodboard</h1>" in page
    client.post(f"/collections/{board.pk}/rename/", {"name": "Final picks"})
    board.refresh_from_db()
    assert board.name == "Final picks"
    client.post(f"/collections/{board.pk}/remove/", {"ids": [made[0].pk]})
    assert list(board.items.all()) == [made[1]]
    client.post(f"/collections/{board.pk}/delete/")
    assert not Collection.objects.exists() and Generation.objects.count() == 3


def test_viewer_cannot_change_the_gallery(client, alice, charlie, made):
    team = workspace_of(alice)
    Membership.objects.create(workspace=team, user=charlie, role=Role.VIEWER)
    client.force_login(charlie)
    client.post("/workspaces/switch/", {"workspace": team.pk})
    assert client.post("/gallery/bulk/trash/", {"ids": [made[0].pk]}).status_code == 403
    assert client.post("/gallery/bulk/zip/", {"ids": [made[0].pk]}).status_code == 200  # viewers may download


def test_trash_restore_and_purge_files_included(client, alice, made):
    client.force_login(alice)
    target = made[0]
    files = [a.file.name for a in target.assets.all()] + [a.thumbnail.name for a in target.assets.all() if a.thumbnail]
    client.post("/gallery/bulk/trash/", {"ids": [target.pk]})
    assert f'data-id="{target.pk}"' not in client.get("/gallery/").content.decode()
    assert f'data-id="{target.pk}"' in client.get("/gallery/?trash=1").content.decode()
    client.post("/gallery/bulk/restore/", {"ids": [target.pk]})
    assert f'data-id="{target.pk}"' in client.get("/gallery/").content.decode()
    # The audit log says what happened in words: moved to the trash, then restored, and by whom.
    log = client.get("/audit/").content.decode()
    assert "Moved to the trash" in log and "Restored from the trash" in log and "Deleted a generation" not in log
    restored = AuditEvent.objects.get(action=AuditEvent.Action.GENERATION_RESTORED)
    assert restored.actor == alice and restored.target == target.prompt_text[:80]
    client.post("/gallery/bulk/trash/", {"ids": [target.pk]})
    assert services.trash_purge() == 0  # not 30 days yet
    Generation.objects.filter(pk=target.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    assert services.trash_purge() == 1
    assert not Generation.objects.filter(pk=target.pk).exists()
    assert files and not any(default_storage.exists(name) for name in files)


def test_empty_gallery_links_to_generate(client, alice):
    client.force_login(alice)
    html = client.get("/gallery/").content.decode()
    assert "Generate something" in html and 'href="/generate/"' in html


def test_team_members_see_the_shared_gallery(client, alice, charlie, made):
    team = workspace_create(name="Shared", owner=alice)
    Generation.objects.update(workspace=team)
    Asset.objects.update(workspace=team)
    Membership.objects.create(workspace=team, user=charlie, role=Role.MEMBER)
    client.force_login(charlie)
    client.post("/workspaces/switch/", {"workspace": team.pk})
    assert client.get("/gallery/").content.decode().count('class="gallery-tile') == 3


def test_pending_tiles_poll_until_done(client, alice, kie_sim):
    [generation] = create(alice)
    client.force_login(alice)
    pending = client.get(f"/gallery/{generation.pk}/tile/").content.decode()
    assert 'hx-trigger="every 3s"' in pending and "Queued" in pending
    drain()
    done = client.get(f"/gallery/{generation.pk}/tile/").content.decode()
    assert "every 3s" not in done and "/thumb/" in done


def test_the_detail_shows_inputs_as_thumbnails_linking_to_the_items_they_came_from(client, alice, kie_sim):
    source = helpers_made(alice)
    reference = studio_services.reference_from_asset(asset=source.assets.get(), user=alice, kind="image")
    plan = studio_services.generation_plan(
        spec=get_model("google/nano-banana-edit"),
        raw_inputs={"prompt": "Make it night", "image_urls": [reference.placeholder]},
        variations=1,
    )
    [edit] = studio_services.generation_create(
        workspace=source.workspace,
        user=alice,
        plan=plan,
        form_token=uuid.uuid4(),
        references={"image_urls": [reference.pk]},
    )
    client.force_login(alice)
    html = client.get(f"/gallery/{edit.pk}/").content.decode()
    assert f'src="{reverse("reference-file", args=[reference.pk])}"' in html
    assert f'href="/gallery/{source.pk}/"' in html.split('class="detail-inputs"')[1].split("</ul>")[0]
    assert "1 file" not in html  # the count that said nothing
