"""The follow-up menu, form and submit views: offered only where they apply, prefilled, priced, refused with a
reason (before spending) when they can't work, and the child linked to its parent both ways."""

from __future__ import annotations

import html
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kiestudio.studio.models import Asset, Generation, Status
from kiestudio.workspaces.models import Membership, Role
from tests.studio.helpers import create, drain, made, workspace_of

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def image(kie_sim, alice) -> Generation:
    return made(alice, prompt="A lighthouse at dusk")


def test_the_card_and_detail_offer_only_actions_that_apply(client, alice, image):
    client.force_login(alice)
    asset = image.assets.get()
    card = client.get(reverse("generation-card", args=[image.pk])).content.decode()
    for key in ("upscale", "remove_background", "edit", "reframe", "animate"):
        assert reverse("followup", args=[asset.pk, key]) in card, key
    for key in ("veo_extend", "separate", "suno_extend", "veo_1080p"):
        assert reverse("followup", args=[asset.pk, key]) not in card, key
    detail = client.get(reverse("gallery-detail", args=[image.pk])).content.decode()
    assert reverse("followup", args=[asset.pk, "upscale"]) in detail


def test_the_form_is_prefilled_priced_and_hides_the_source_file_input(client, alice, image):
    client.force_login(alice)
    asset = image.assets.get()
    page = client.get(reverse("followup", args=[asset.pk, "animate"]), **HTMX).content.decode()
    assert 'id="followup-title"' in page and "Animate" in page
    assert "A lighthouse at dusk" in page  # the source's prompt, to start from
    assert "credits" in page
    assert 'name="image_url"' not in page and 'name="image_urls"' not in page and 'name="variations"' not in page
    # Choosing another model re-renders the form for it.
    models = page.split('name="model"')[1].split("</select>")[0].split('value="')[1:]
    other = models[1].split('"')[0]
    again = client.get(reverse("followup", args=[asset.pk, "animate"]), {"model": other}, **HTMX).content.decode()
    assert f'value="{other}" selected' in again


def test_submitting_starts_a_child_linked_both_ways(client, alice, image, kie_sim):
    client.force_login(alice)
    asset = image.assets.get()
    url = reverse("followup-submit", args=[asset.pk, "upscale"])
    token = str(uuid.uuid4())
    response = client.post(url, {"model": "topaz/image-upscale", "upscale_factor": "2", "form_token": token}, **HTMX)
    assert response.status_code == 200, response.content.decode()[:500]
    child = Generation.objects.get(parent=image)
    assert child.action == "upscale" and child.parent_asset == asset and child.lineage == f"{image.pk}/"
    assert f'id="live-card-{child.pk}"' in response.content.decode()
    # The same click again (same form token) buys nothing more.
    client.post(url, {"model": "topaz/image-upscale", "upscale_factor": "2", "form_token": token}, **HTMX)
    assert Generation.objects.filter(parent=image).count() == 1
    drain()
    child.refresh_from_db()
    assert child.status == Status.SUCCEEDED and child.assets.get().kind == "image"
    parent_page = client.get(reverse("gallery-detail", args=[image.pk])).content.decode()
    child_page = client.get(reverse("gallery-detail", args=[child.pk])).content.decode()
    assert reverse("gallery-detail", args=[child.pk]) in parent_page and "Used in" in parent_page
    assert reverse("gallery-detail", args=[image.pk]) in child_page and "Made from" in child_page
    gallery = client.get(reverse("gallery"), {"lineage": image.pk}).content.decode()
    assert reverse("gallery-detail", args=[child.pk]) in gallery
    originals = client.get(reverse("gallery"), {"origin": "originals"}).content.decode()
    assert reverse("gallery-detail", args=[image.pk]) in originals
    assert reverse("gallery-detail", args=[child.pk]) not in originals


def test_a_non_htmx_submit_lands_on_the_childs_page(client, alice, image):
    client.force_login(alice)
    asset = image.assets.get()
    url = reverse("followup-submit", args=[asset.pk, "remove_background"])
    response = client.post(url, {"model": "recraft/remove-background", "form_token": str(uuid.uuid4())})
    child = Generation.objects.get(parent=image)
    assert response.status_code == 302 and response.url == reverse("gallery-detail", args=[child.pk])


def test_invalid_values_come_back_beside_their_field_and_spend_nothing(client, alice, image, kie_sim):
    client.force_login(alice)
    asset = image.assets.get()
    url = reverse("followup-submit", args=[asset.pk, "upscale"])
    response = client.post(
        url, {"model": "topaz/image-upscale", "upscale_factor": "3", "form_token": str(uuid.uuid4())}, **HTMX
    )
    assert response.status_code == 422
    assert "field-errors" in response.content.decode()
    assert not Generation.objects.filter(parent=image).exists()


def test_an_action_that_does_not_apply_or_an_unknown_one_is_refused(client, alice, image, kie_sim):
    client.force_login(alice)
    asset = image.assets.get()
    refused = client.get(reverse("followup", args=[asset.pk, "veo_extend"]), **HTMX)
    assert refused.status_code == 409 and "isn't available for this item" in text(refused)
    assert client.get(reverse("followup", args=[asset.pk, "no-such-action"]), **HTMX).status_code == 404
    creates = len(kie_sim.log.of_kind("create"))
    post = client.post(
        reverse("followup-submit", args=[asset.pk, "veo_extend"]),
        {"model": "veo/extend", "prompt": "more", "form_token": str(uuid.uuid4())},
        **HTMX,
    )
    assert post.status_code == 422 and "isn't available" in text(post)
    assert len(kie_sim.log.of_kind("create")) == creates and not Generation.objects.filter(parent=image).exists()


def test_after_14_days_task_actions_say_why_before_spending(client, alice, kie_sim):
    video = made(alice, "veo/veo3_fast", prompt="A drone flight over hills")
    Generation.objects.filter(pk=video.pk).update(completed_at=timezone.now() - timedelta(days=15))
    client.force_login(alice)
    asset = video.assets.first()
    card = client.get(reverse("generation-card", args=[video.pk])).content.decode()
    assert "Kie no longer keeps this task" in card
    page = client.get(reverse("followup", args=[asset.pk, "veo_extend"]), **HTMX)
    assert page.status_code == 409 and "14 days" in page.content.decode()
    creates = len(kie_sim.log.of_kind("create"))
    post = client.post(
        reverse("followup-submit", args=[asset.pk, "veo_extend"]),
        {"model": "veo/extend", "prompt": "Further", "form_token": str(uuid.uuid4())},
        **HTMX,
    )
    assert post.status_code == 422 and "14 days" in post.content.decode()
    assert len(kie_sim.log.of_kind("create")) == creates
    # A follow-up that works from the stored file still does.
    assert client.get(reverse("followup", args=[asset.pk, "aleph"]), **HTMX).status_code == 200


def test_a_viewer_sees_no_actions_and_cannot_submit(client, alice, charlie, image):
    Membership.objects.create(workspace=workspace_of(alice), user=charlie, role=Role.VIEWER)
    client.force_login(charlie)
    client.post(reverse("workspace-switch"), {"workspace": workspace_of(alice).pk})
    asset = image.assets.get()
    card = client.get(reverse("generation-card", args=[image.pk])).content.decode()
    assert reverse("followup", args=[asset.pk, "upscale"]) not in card
    response = client.post(
        reverse("followup-submit", args=[asset.pk, "upscale"]),
        {"model": "topaz/image-upscale", "upscale_factor": "2", "form_token": str(uuid.uuid4())},
        **HTMX,
    )
    assert response.status_code == 403 and not Generation.objects.filter(parent=image).exists()


def test_a_budget_refuses_a_follow_up_before_spending(client, alice, image):
    workspace = workspace_of(alice)
    workspace.monthly_budget = 1
    workspace.save(update_fields=["monthly_budget"])
    client.force_login(alice)
    asset = image.assets.get()
    response = client.post(
        reverse("followup-submit", args=[asset.pk, "upscale"]),
        {"model": "topaz/image-upscale", "upscale_factor": "8", "form_token": str(uuid.uuid4())},
        **HTMX,
    )
    assert response.status_code == 422 and "budget" in response.content.decode().lower()
    assert not Generation.objects.filter(parent=image).exists()


def test_multi_file_results_each_get_their_own_actions(client, alice, kie_sim):
    song = made(alice, "suno/V5", prompt="A calm piano piece", customMode=False, instrumental=False)
    client.force_login(alice)
    tracks = list(song.assets.order_by("index"))
    assert len(tracks) == 2
    detail = client.get(reverse("gallery-detail", args=[song.pk])).content.decode()
    for track in tracks:
        assert reverse("followup", args=[track.pk, "separate"]) in detail
        assert reverse("followup", args=[track.pk, "lyrics"]) in detail
    assert "Download all 2 (zip)" in detail


def test_timestamped_lyrics_show_under_the_player(client, alice, kie_sim):
    song = made(alice, "suno/V5", prompt="A song about the sea", customMode=False, instrumental=False)
    client.force_login(alice)
    track = song.assets.order_by("index").first()
    page = client.get(reverse("followup", args=[track.pk, "lyrics"]), **HTMX).content.decode()
    assert reverse("asset-lyrics", args=[track.pk]) in page
    shown = client.post(reverse("asset-lyrics", args=[track.pk]), **HTMX)
    assert shown.status_code == 200
    html = shown.content.decode()
    assert "data-karaoke" in html and html.count('class="karaoke-word"') == len(
        Asset.objects.get(pk=track.pk).metadata["lyrics"]
    )
    detail = client.get(reverse("gallery-detail", args=[song.pk])).content.decode()
    assert "data-karaoke" in detail


def test_the_price_follows_the_form(client, alice, image):
    client.force_login(alice)
    asset = image.assets.get()
    url = reverse("followup-estimate", args=[asset.pk, "upscale"])
    token = str(uuid.uuid4())
    two = client.post(url, {"model": "topaz/image-upscale", "upscale_factor": "2", "form_token": token}, **HTMX)
    eight = client.post(url, {"model": "topaz/image-upscale", "upscale_factor": "8", "form_token": token}, **HTMX)
    assert "<strong>10</strong> credits" in two.content.decode()
    assert "<strong>40</strong> credits" in eight.content.decode()


def test_stem_names_read_as_words():
    from kiestudio.studio.templatetags.studio import asset_label

    assert asset_label(Asset(metadata={"name": "backingVocals"})) == "Backing vocals"
    assert asset_label(Asset(metadata={"name": "vocal"})) == "Vocal"
    assert asset_label(Asset(metadata={"title": "Sea Song", "name": "x"})) == "Sea Song"
    assert asset_label(Asset(metadata={})) == ""


def test_the_card_names_each_suno_stage_as_it_arrives(client, alice, kie_sim):
    [song] = create(alice, "suno/V5", prompt="A song about the sea", customMode=False, instrumental=False)
    client.force_login(alice)
    for stage, words in (("TEXT_SUCCESS", "Lyrics written"), ("FIRST_SUCCESS", "First track ready")):
        Generation.objects.filter(pk=song.pk).update(status=Status.SUBMITTED, kie_stage=stage)
        card = client.get(reverse("generation-card", args=[song.pk]), {"live": "1"}).content.decode()
        assert words in card and 'hx-trigger="every 2s"' in card  # and it keeps polling until done


def test_download_names_and_zips_use_the_readable_label():
    from kiestudio.studio.files import download_name
    from kiestudio.studio.models import Generation

    generation = Generation(pk=57, prompt_text="Rainy day song", model_key="suno/V5")
    stem = Asset(generation=generation, index=1, metadata={"name": "backingVocals"})
    stem.file.name = "results/x.mp3"
    assert download_name(generation, stem) == "rainy-day-song-57-2-backing-vocals.mp3"
