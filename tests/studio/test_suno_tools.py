"""Suno's mashup, replace section, cover art, personas and style boost, end to end against the simulator over real
HTTP: create → record → stored result, the refusals that come before anything is spent, and persona tenancy."""

from __future__ import annotations

import html
import json
import uuid
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from kiestudio.kie.catalog import get_model
from kiestudio.kie.catalog.actions import get_action
from kiestudio.simulator.media import MediaItem, render_audio
from kiestudio.studio import services
from kiestudio.studio.forms import FollowupForm, GenerateForm
from kiestudio.studio.models import Generation, Status, SunoPersona
from kiestudio.uploads.models import Reference
from kiestudio.usage.models import UsageEntry
from kiestudio.workspaces.models import Membership, Role
from tests.studio.helpers import create, drain, made, workspace_of
from tests.studio.test_followups import (
    creates_to,
    file_bytes,
    finished,
    follow,
    ledger,
    sent_body,
    step,
    track_parent,
    upload_bytes,
    uploaded,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def text(response) -> str:
    return html.unescape(response.content.decode())


def audio_reference(user, index: int) -> Reference:
    """A sound the creator uploaded (a real WAV file), as the Generate page keeps it."""
    data = render_audio(MediaItem("0.wav", "audio", seconds=1.0, key=f"upload-{index}"))
    reference = Reference(
        workspace=workspace_of(user),
        created_by=user,
        kind="audio",
        mime_type="audio/wav",
        size=len(data),
        duration=1.0,
        label=f"song-{index}.wav",
    )
    reference.file.save(f"song-{index}.wav", ContentFile(data), save=True)
    return reference


def persona_creates(kie_sim) -> list:
    return creates_to(kie_sim, "/api/v1/generate/generate-persona")


# --- Mashup -----------------------------------------------------------------------------------------------------


def test_the_generate_page_offers_the_mashup_with_two_song_inputs(client, alice, kie_sim):
    client.force_login(alice)
    page = text(client.get(reverse("generate"), {"model": "suno/mashup"}))
    assert "Suno V5 Mashup" in page and 'name="uploadUrlList"' in page and "Songs to blend" in page
    assert "URL" not in page.split("Songs to blend", 1)[1].split("</div>", 1)[0]


def test_a_mashup_uploads_both_songs_to_kie_and_stores_two_new_tracks(kie_sim, alice):
    first, second = audio_reference(alice, 1), audio_reference(alice, 2)
    spec = get_model("suno/mashup")
    stand_ins = [f"https://studio.local/files/references/{r.pk}/" for r in (first, second)]
    plan = services.generation_plan(
        spec=spec,
        raw_inputs={"uploadUrlList": stand_ins, "prompt": "The two songs as one summer anthem", "customMode": False},
        variations=1,
    )
    [mashup] = services.generation_create(
        workspace=workspace_of(alice),
        user=alice,
        plan=plan,
        form_token=uuid.uuid4(),
        references={"uploadUrlList": [first.pk, second.pk]},
    )
    mashup = finished(mashup)
    [_] = creates_to(kie_sim, "/api/v1/generate/mashup")
    sent = sent_body(kie_sim, mashup, "suno")
    assert sent["model"] == "V5" and sent["customMode"] is False and sent["callBackUrl"]
    assert sent["prompt"] == "The two songs as one summer anthem" and "style" not in sent
    # Each song went to Kie's file upload once, in order, and Kie got its own copies.
    assert len(uploaded(kie_sim)) == 2
    assert [upload_bytes(kie_sim, url) for url in sent["uploadUrlList"]] == [file_bytes(first), file_bytes(second)]
    tracks = list(mashup.assets.order_by("index"))
    assert [a.kind for a in tracks] == ["audio", "audio"] and all(a.metadata["audio_id"] for a in tracks)
    assert mashup.family == "suno_mashup" and mashup.kind == "music"
    # Suno's own record was read for it.
    assert any(e.path == "/api/v1/generate/record-info" and e.task_id == mashup.kie_task_id for e in kie_sim.log)
    assert ledger(mashup).credits == 12  # Suno, Mashup: $0.06


def test_a_mashup_needs_exactly_two_songs(kie_sim, alice):
    with pytest.raises(services.GenerationError) as refused:
        services.generation_plan(
            spec=get_model("suno/mashup"),
            raw_inputs={"uploadUrlList": ["https://example.com/a.mp3"], "prompt": "One song", "customMode": False},
            variations=1,
        )
    assert "uploadUrlList" in refused.value.errors
    assert creates_to(kie_sim, "/api/v1/generate/mashup") == []


# --- Replace section --------------------------------------------------------------------------------------------


@pytest.fixture
def long_track(kie_sim, alice) -> Generation:
    kie_sim.sim.config.audio_seconds = 16.0  # room for a 6–60 s section
    return track_parent(alice)


def test_replace_section_is_prefilled_from_the_track(long_track, alice):
    second = long_track.assets.get(index=1)
    spec = get_model("suno/replace-section")
    form = FollowupForm(
        spec, generation=long_track, asset=second, action=get_action("replace_section"), workspace=workspace_of(alice)
    )
    assert form.initial["fullLyrics"] == second.metadata["prompt"]
    assert form.initial["tags"] == second.metadata["tags"] and form.initial["title"] == second.metadata["title"]
    assert form.initial["prompt"] == ""  # the new lines are the creator's to write


def test_replace_section_sends_the_track_and_stores_the_new_version(kie_sim, long_track, alice):
    second = long_track.assets.get(index=1)
    child = follow(
        alice,
        long_track,
        "replace_section",
        "suno/replace-section",
        asset=second,
        infillStartS=4.0,
        infillEndS=12.5,
        prompt="A brand new bridge, sung softly",
        fullLyrics="[Verse]\nRain on the window\n[Bridge]\nA brand new bridge, sung softly",
        tags="lo-fi piano, soft vocals",
        title="Rain (new bridge)",
    )
    child = finished(child)
    [_] = creates_to(kie_sim, "/api/v1/generate/replace-section")
    sent = sent_body(kie_sim, child, "suno")
    assert sent["taskId"] == long_track.kie_task_id and sent["audioId"] == second.metadata["audio_id"]
    assert sent["infillStartS"] == 4.0 and sent["infillEndS"] == 12.5 and "model" not in sent
    assert sent["tags"] == "lo-fi piano, soft vocals" and sent["title"] == "Rain (new bridge)"
    assert uploaded(kie_sim) == []  # Kie works from its own copy of the track
    [asset] = child.assets.all()
    assert asset.kind == "audio" and asset.size > 0
    assert asset.duration == pytest.approx(second.duration, abs=0.05)
    assert asset.metadata["audio_id"] != second.metadata["audio_id"]
    assert asset.metadata["prompt"] == sent["fullLyrics"] and asset.metadata["title"] == "Rain (new bridge)"
    assert child.family == "suno_section" and child.kind == "music_remix"
    assert child.parent == long_track and child.parent_asset == second and child.action == "replace_section"
    assert ledger(child).credits == 5  # Suno, Replace Music Section: $0.025
    # The new version is a Suno track too: its own sections can be replaced in turn.
    assert "replace_section" in [c.action.key for c in services.followup_choices(generation=child, asset=asset)]


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [(4.0, 8.0, "6 to 60 seconds"), (0.0, 61.0, "6 to 60 seconds"), (9.0, 9.0, "after it starts"), (5.0, None, "long")],
)
def test_a_section_kie_would_refuse_is_refused_before_anything_is_spent(kie_sim, long_track, alice, start, end, says):
    second = long_track.assets.get(index=1)
    inputs = {"prompt": "New", "fullLyrics": "All", "tags": "pop", "title": "T"}
    end = second.duration + 1 if end is None else end  # None: past the end of the song
    with pytest.raises(services.GenerationError) as refused:
        follow(
            alice,
            long_track,
            "replace_section",
            "suno/replace-section",
            second,
            **inputs,
            infillStartS=start,
            infillEndS=end,
        )
    assert says in refused.value.errors["infillEndS"][0]
    assert creates_to(kie_sim, "/api/v1/generate/replace-section") == []
    assert Generation.objects.filter(parent=long_track).count() == 0


# --- Cover art --------------------------------------------------------------------------------------------------


def test_cover_art_is_read_from_its_own_record_and_stored_as_two_pictures(kie_sim, alice):
    parent = track_parent(alice)
    child = finished(follow(alice, parent, "cover_art", "suno/cover-art"))
    [_] = creates_to(kie_sim, "/api/v1/suno/cover/generate")
    sent = sent_body(kie_sim, child, "suno")
    assert sent["taskId"] == parent.kie_task_id and set(sent) <= {"taskId", "callBackUrl"}
    reads = [e for e in kie_sim.log.entries if e.path == "/api/v1/suno/cover/record-info"]
    assert reads and all(e.task_id == child.kie_task_id for e in reads)
    pictures = list(child.assets.order_by("index"))
    assert [p.kind for p in pictures] == ["image", "image"] and all(p.mime_type == "image/png" for p in pictures)
    assert all(p.width and p.thumbnail for p in pictures)
    assert child.output == "image" and child.kind == "cover_art" and child.family == "suno_cover"
    assert ledger(child).credits == 0  # Suno, Cover Generate: $0
    # Kie draws cover art once per song: asking again (from the other track) is refused before anything is sent.
    with pytest.raises(services.GenerationError, match="once per song"):
        follow(alice, parent, "cover_art", "suno/cover-art", asset=parent.assets.get(index=1))
    assert len(creates_to(kie_sim, "/api/v1/suno/cover/generate")) == 1


def test_a_failed_cover_art_tells_why_and_can_be_asked_again(kie_sim, alice):
    parent = track_parent(alice)
    child = step(follow(alice, parent, "cover_art", "suno/cover-art"))
    assert child.status == Status.SUBMITTED
    kie_sim.sim.tasks[child.kie_task_id].fail = ("500", "Cover drawing failed")
    drain()
    child.refresh_from_db()
    assert child.status == Status.FAILED and "Cover drawing failed" in child.failure_message
    assert not child.assets.exists()
    # A failed cover doesn't count as the song's one cover.
    services.followup_plan(
        generation=parent,
        asset=parent.assets.first(),
        action=get_action("cover_art"),
        spec=get_model("suno/cover-art"),
        raw_inputs={},
    )


def test_kie_s_cover_art_callback_brings_the_read_at_once(kie_sim, alice, client, settings):
    parent = track_parent(alice)
    settings.KIE_CALLBACKS = True
    kie_sim.sim.config.state_seconds = {"generating": 3600.0}  # still drawing when the create is answered
    child = step(follow(alice, parent, "cover_art", "suno/cover-art"))
    assert child.status == Status.SUBMITTED and child.next_check_at is not None
    task = kie_sim.sim.tasks[child.kie_task_id]
    assert task.callback_url and task.callback_url.endswith(f"/kie/callback/{settings.KIE_CALLBACK_TOKEN}/")
    kie_sim.sim.config.state_seconds = {}
    task.phases = (0.0, 0.0, 0.0)  # Kie finished drawing
    body = {"code": 200, "msg": "success", "data": {"taskId": child.kie_task_id, "images": ["https://x/1.png"]}}
    url = f"/kie/callback/{settings.KIE_CALLBACK_TOKEN}/"
    assert client.post(url, data=json.dumps(body), content_type="application/json").status_code == 200
    child.refresh_from_db()
    assert child.status == Status.SUCCEEDED, (child.status, child.failure_message)
    # The pictures stored are the ones Kie's record names, not the callback's.
    assert [a.source_url for a in child.assets.order_by("index")] == [task.url(item) for item in task.outputs]


# --- Personas ---------------------------------------------------------------------------------------------------


def test_a_persona_made_from_a_track_is_kept_and_offered_by_name_on_suno_v5(kie_sim, alice, client):
    parent = track_parent(alice)
    first = parent.assets.order_by("index").first()
    client.force_login(alice)
    card = client.get(reverse("generation-card", args=[parent.pk])).content.decode()
    assert reverse("followup", args=[first.pk, "persona"]) in card
    page = text(client.get(reverse("followup", args=[first.pk, "persona"]), **HTMX))
    assert "Make the persona" in page and f'value="{first.metadata["title"]}"' in page

    url = reverse("asset-persona", args=[first.pk])
    response = client.post(url, {"name": "Rainy crooner", "description": "Soft male pop vocals, piano"}, **HTMX)
    assert response.status_code == 200, text(response)[:500]
    assert "Saved the persona “Rainy crooner”" in text(response)
    persona = SunoPersona.objects.get()
    made_at_kie = kie_sim.sim.tasks[parent.kie_task_id].extra["personas"][first.metadata["audio_id"]]
    assert persona.persona_id == made_at_kie["personaId"] and persona.workspace == workspace_of(alice)
    assert persona.audio_id == first.metadata["audio_id"] and persona.source_asset == first
    assert persona.name == made_at_kie["name"] == "Rainy crooner" and persona.created_by == alice
    [asked] = persona_creates(kie_sim)
    assert asked.status == 200 and asked.task_id == parent.kie_task_id

    # Kie makes one per track: asking again is refused here, without a second request.
    again = client.post(url, {"name": "Again", "description": "Same track"}, **HTMX)
    assert again.status_code == 422 and "already has a persona" in text(again)
    assert len(persona_creates(kie_sim)) == 1 and SunoPersona.objects.count() == 1

    # Generate offers it by name, for V5 (not for V4, which takes none).
    form = text(client.get(reverse("generate-form"), {"model": "suno/V5"}))
    assert f'<option value="{persona.persona_id}">Rainy crooner</option>' in form
    assert reverse("personas") in form
    assert "Rainy crooner" not in text(client.get(reverse("generate-form"), {"model": "suno/V4"}))
    listing = text(client.get(reverse("personas")))
    assert "Rainy crooner" in listing and "Soft male pop vocals, piano" in listing

    # A song made with it sends Kie the persona's id.
    [song] = create(
        alice,
        "suno/V5",
        prompt="Rain on the window",
        customMode=True,
        instrumental=False,
        style="lo-fi piano",
        title="Window",
        personaId=persona.persona_id,
        personaModel="style_persona",
    )
    song = finished(song)
    sent = sent_body(kie_sim, song, "suno")
    assert sent["personaId"] == persona.persona_id and sent["personaModel"] == "style_persona"


def test_personas_are_offered_only_for_generated_or_extended_songs(kie_sim, alice):
    parent = track_parent(alice)
    cover = finished(
        follow(alice, parent, "cover", "suno/cover", customMode=False, instrumental=False, prompt="As jazz")
    )
    keys = [c.action.key for c in services.followup_choices(generation=cover, asset=cover.assets.first())]
    assert "persona" not in keys and "cover_art" in keys and "replace_section" in keys
    with pytest.raises(services.GenerationError, match="generated or extended"):
        services.persona_create(generation=cover, asset=cover.assets.first(), user=alice, name="X", description="Y")
    assert persona_creates(kie_sim) == []


def test_kie_refusing_a_persona_is_told_clearly(kie_sim, alice):
    parent = track_parent(alice)
    first = parent.assets.order_by("index").first()
    # Made at Kie already (from outside this studio): Kie answers 409.
    kie_sim.sim.tasks[parent.kie_task_id].extra["personas"] = {first.metadata["audio_id"]: {"personaId": "x"}}
    with pytest.raises(services.GenerationError, match="makes only one per track"):
        services.persona_create(generation=parent, asset=first, user=alice, name="Crooner", description="Soft")
    with pytest.raises(services.GenerationError) as unnamed:
        services.persona_create(generation=parent, asset=first, user=alice, name="  ", description="")
    assert set(unnamed.value.errors) == {"name", "description"}
    assert len(persona_creates(kie_sim)) == 1 and not SunoPersona.objects.exists()


def test_another_workspaces_persona_is_a_404_and_cannot_be_used(kie_sim, alice, charlie, client):
    persona = SunoPersona.objects.create(
        workspace=workspace_of(alice),
        created_by=alice,
        persona_id="alice-voice",
        name="Alice's voice",
        description="Warm alto",
        audio_id="a1",
    )
    client.force_login(charlie)
    assert client.post(reverse("persona-delete", args=[persona.pk])).status_code == 404
    assert "Alice's voice" not in text(client.get(reverse("personas")))
    page = text(client.get(reverse("generate-form"), {"model": "suno/V5_5"}))
    assert "alice-voice" not in page and "None yet" in page
    # Typing its id in is refused by the form, and by the service behind every way in.
    data = {
        "model": "suno/V5_5",
        "form_token": str(uuid.uuid4()),
        "variations": "1",
        "prompt": "A song",
        "customMode": "on",
        "style": "pop",
        "title": "T",
        "personaId": "alice-voice",
    }
    form = GenerateForm(get_model("suno/V5_5"), data, workspace=workspace_of(charlie))
    assert not form.is_valid() and form.errors["personaId"] == ["Choose one of this workspace's personas."]
    response = client.post(reverse("generate-submit"), data, **HTMX)
    assert response.status_code == 422 and "Choose one of this workspace's personas." in text(response)
    with pytest.raises(services.GenerationError) as refused:
        create(
            charlie,
            "suno/V5_5",
            prompt="A song",
            customMode=True,
            instrumental=False,
            style="pop",
            title="T",
            personaId="alice-voice",
        )
    assert "personaId" in refused.value.errors
    assert not Generation.objects.exists() and creates_to(kie_sim, "/api/v1/generate") == []
    # Alice removes her own; it goes from the list (Kie keeps it: songs made with it are unchanged).
    client.force_login(alice)
    response = client.post(reverse("persona-delete", args=[persona.pk]))
    assert response.status_code == 302 and not SunoPersona.objects.exists()


# --- Style boost ------------------------------------------------------------------------------------------------


def boost(client, style: str, **extra):
    data = {"model": "suno/V5", "boost_field": "style", "style": style, "customMode": "on", **extra}
    return client.post(reverse("style-boost"), data, **HTMX)


def boosts(kie_sim) -> list:
    return creates_to(kie_sim, "/api/v1/style/generate")


def test_boost_replaces_the_style_with_kies_richer_text(kie_sim, alice, client):
    client.force_login(alice)
    page = text(client.get(reverse("generate-form"), {"model": "suno/V5"}))
    assert reverse("style-boost") in page and 'hx-include="closest form"' in page
    response = boost(client, "dreamy synth-pop")
    assert response.status_code == 200
    answer = text(response)
    [asked] = boosts(kie_sim)
    assert asked.status == 200
    task_id = asked.task_id
    richer = answer.split('name="style" value="', 1)[1].split('"', 1)[0]
    assert richer.startswith("Dreamy synth-pop") and len(richer) > 40
    assert 'id="id_style"' in answer and "data-shown-when=" in answer and "Boosted" in answer
    entry = UsageEntry.objects.get(model_key="suno/style-boost")
    assert entry.credits == Decimal("0.4") and not entry.estimated and entry.source == f"style-boost:{task_id[:28]}"
    # Boost is beside the style of Suno's follow-ups too (tags is the style of a replaced section).
    assert boost(client, "jazz", model="suno/replace-section", boost_field="tags", tags="jazz").status_code == 200


def test_boost_tells_kies_error_and_keeps_the_words(kie_sim, alice, client):
    client.force_login(alice)
    kie_sim.sim.set_balance(0)
    response = boost(client, "dreamy synth-pop")
    assert response.status_code == 422
    answer = text(response)
    assert 'role="alert">Kie couldn\'t boost the style: Your Kie account is out of credits' in answer
    assert 'value="dreamy synth-pop"' in answer
    kie_sim.sim.set_balance(100)
    failed = text(boost(client, "rock [sim:fail 500 Style model busy]"))
    assert "Kie couldn't boost the style" in failed and "Style model busy" in failed
    assert not UsageEntry.objects.exists()
    # Nothing to boost: nothing is sent.
    sent = len(boosts(kie_sim))
    empty = boost(client, "  ")
    assert empty.status_code == 422 and "Write a few words of style first" in text(empty)
    assert len(boosts(kie_sim)) == sent


def test_boost_is_a_csrf_protected_post_for_members_of_suno_style_fields(kie_sim, alice, client):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(reverse("style-boost"), {"model": "suno/V5", "style": "pop"}, **HTMX).status_code == 403
    client.force_login(alice)
    assert client.get(reverse("style-boost")).status_code == 405
    assert boost(client, "pop", model="google/nano-banana").status_code == 404
    assert boost(client, "pop", boost_field="title").status_code == 404
    Membership.objects.filter(user=alice).update(role=Role.VIEWER)
    assert boost(client, "pop").status_code == 403
    assert boosts(kie_sim) == []


def test_a_finished_suno_song_offers_the_new_actions(kie_sim, alice, client):
    parent = made(alice, "suno/V5", prompt="A calm piano piece", customMode=False, instrumental=False)
    asset = parent.assets.first()
    keys = [c.action.key for c in services.followup_choices(generation=parent, asset=asset)]
    assert {"replace_section", "cover_art", "persona"} <= set(keys)
    client.force_login(alice)
    form = text(client.get(reverse("followup", args=[asset.pk, "replace_section"]), **HTMX))
    assert "Replace from (seconds)" in form and "Whole song's lyrics" in form and "<strong>5</strong> credits" in form
    assert 'name="taskId"' not in form and 'name="audioId"' not in form
    cover = text(client.get(reverse("followup", args=[asset.pk, "cover_art"]), **HTMX))
    assert "Make cover art" in cover and "<strong>Free</strong>" in cover  # free models say so, not "0 credits"
