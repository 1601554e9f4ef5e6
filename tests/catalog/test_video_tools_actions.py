"""The follow-up actions for the video tools: Grok Imagine extend / 720p on a Grok Imagine video only, "Make it
talk" on a picture, lip sync on a video and voice isolation on audio, each with the parent's file in the right
input."""

from __future__ import annotations

import json

import pytest

from kiestudio.kie.catalog import CatalogError, load_catalog
from kiestudio.kie.catalog.actions import Parent, actions_for, get_action, parse_actions

GROK_VIDEOS = ("grok-imagine/image-to-video", "grok-imagine-video-1-5-preview", "grok-imagine/extend")


def parent_of(model_key: str, *, has_task: bool = True, is_track: bool = False) -> Parent:
    spec = load_catalog().get(model_key)
    return Parent(
        output=spec.output,
        family=spec.family,
        kind=spec.kind,
        has_task=has_task,
        media_kind=spec.output,
        is_track=is_track,
        model_key=spec.key,
    )


def offered(parent: Parent) -> dict[str, list[str]]:
    return {action.key: [spec.key for spec in action.models(parent)] for action in actions_for(parent)}


@pytest.mark.parametrize("model_key", GROK_VIDEOS)
def test_grok_extend_and_720p_are_offered_on_a_grok_imagine_video(model_key):
    found = offered(parent_of(model_key))
    assert found["grok_extend"] == ["grok-imagine/extend"]
    assert found["grok_upscale"] == ["grok-imagine/upscale"]
    for key in ("grok_extend", "grok_upscale"):
        action = get_action(key)
        [spec] = action.models(parent_of(model_key))
        assert action.needs_task and spec.from_parent == {"task_id": "task_id"}
        assert action.media_input(spec, "video") is None  # Kie takes the task, not our copy of the file


@pytest.mark.parametrize(
    "model_key",
    ["veo/veo3_fast", "kling-2.6/text-to-video", "grok-imagine/text-to-image", "grok-imagine/upscale", "runway/gen"],
)
def test_grok_extend_and_720p_are_not_offered_on_other_results(model_key):
    found = offered(parent_of(model_key))
    assert "grok_extend" not in found and "grok_upscale" not in found


def test_grok_actions_need_the_task_kie_still_keeps():
    found = offered(parent_of("grok-imagine-video-1-5-preview", has_task=False))
    assert "grok_extend" not in found and "grok_upscale" not in found
    assert "video_upscale" in found and "lip_sync" in found  # these send our copy of the file


def test_make_it_talk_offers_every_talking_video_model_that_takes_a_picture():
    catalog = load_catalog()
    with_picture = {spec.key for spec in catalog.by_kind("talking_video") if spec.has_field("image_url")}
    assert {"omnihuman-1-5", "infinitalk/from-audio"} <= with_picture
    for model_key in ("google/nano-banana", "grok-imagine/text-to-image", "flux-kontext/pro"):
        parent = parent_of(model_key)
        found = offered(parent)
        assert set(found["talk"]) == with_picture, model_key
        assert "volcengine/video-to-video-lip-sync" not in found["talk"]  # it needs a video
        assert "lip_sync" not in found and "isolate_voice" not in found
        talk = get_action("talk")
        for spec in talk.models(parent):
            assert talk.media_input(spec, "image") == "image_url"
    for model_key in ("omnihuman-1-5", "infinitalk/from-audio"):
        assert load_catalog().get(model_key).field("audio_url").required  # what is left to add: the voice


@pytest.mark.parametrize("model_key", ["veo/veo3_fast", "grok-imagine/image-to-video", "gemini-omni-video"])
def test_lip_sync_puts_the_video_in_volcengine_and_nothing_else_talks_over_a_video(model_key):
    parent = parent_of(model_key)
    found = offered(parent)
    assert found["lip_sync"] == ["volcengine/video-to-video-lip-sync"]
    assert "talk" not in found
    lip_sync = get_action("lip_sync")
    assert lip_sync.media_input(load_catalog().get("volcengine/video-to-video-lip-sync"), "video") == "video_url"


@pytest.mark.parametrize(
    ("model_key", "is_track"),
    [("elevenlabs/text-to-speech-turbo-2-5", False), ("elevenlabs/text-to-dialogue-v3", False), ("suno/V5", True)],
)
def test_voice_isolation_is_offered_on_speech_and_songs(model_key, is_track):
    parent = parent_of(model_key, is_track=is_track)
    assert offered(parent)["isolate_voice"] == ["elevenlabs/audio-isolation"]
    isolate = get_action("isolate_voice")
    assert isolate.media_input(load_catalog().get("elevenlabs/audio-isolation"), "audio") == "audio_url"


@pytest.mark.parametrize("model_key", ["elevenlabs/sound-effect-v2", "elevenlabs/audio-isolation", "suno/midi"])
def test_voice_isolation_is_not_offered_where_there_is_no_voice_to_lift(model_key):
    assert "isolate_voice" not in offered(parent_of(model_key))


def test_new_models_are_reached_only_through_their_actions_where_they_need_a_parent():
    catalog = load_catalog()
    originals = {spec.key for spec in catalog.originals}
    assert "grok-imagine/extend" not in originals and "grok-imagine/upscale" not in originals
    assert {"omnihuman-1-5", "infinitalk/from-audio", "volcengine/video-to-video-lip-sync"} <= originals
    assert {"gemini-omni-video", "grok-imagine-video-1-5-preview", "elevenlabs/audio-isolation"} <= originals


def test_an_unknown_parent_model_is_refused():
    text = json.dumps(
        {
            "actions": [
                {"key": "x", "label": "X", "parent": {"models": ["no/such-model"]}, "models": ["grok-imagine/upscale"]}
            ]
        }
    )
    with pytest.raises(CatalogError, match="unknown parent model 'no/such-model'"):
        parse_actions(text)
