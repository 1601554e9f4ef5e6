from __future__ import annotations

import io
import json
import wave

import av
import pytest
from PIL import Image

from kiestudio.simulator.media import MediaItem, aspect_size, render

from .helpers import client_for, create_market


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [
        ("1:1", (512, 512)),
        ("16:9", (512, 288)),
        ("9:16", (288, 512)),
        ("portrait_4_3", (384, 512)),
        ("auto", (512, 512)),
    ],
)
def test_aspect_sizes(ratio, expected):
    assert aspect_size(ratio, 512) == expected


@pytest.mark.parametrize(("ext", "fmt"), [("png", "PNG"), ("jpeg", "JPEG"), ("jpg", "JPEG"), ("webp", "WEBP")])
def test_images_decode_in_every_format(ext, fmt):
    data = render(MediaItem(f"0.{ext}", "image", 320, 180, text="a fox", subtitle="s", key="k"))
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == fmt and image.size == (320, 180)


def test_image_shows_the_prompt():
    plain = render(MediaItem("0.png", "image", 256, 256, text="", subtitle="", key="k"))
    with_text = render(MediaItem("0.png", "image", 256, 256, text="a very long prompt " * 4, subtitle="", key="k"))
    assert plain != with_text


def test_audio_is_real_wav_of_the_reported_length():
    data = render(MediaItem("0.wav", "audio", seconds=2.5, key="tune"))
    with wave.open(io.BytesIO(data)) as audio:
        assert audio.getnchannels() == 1 and audio.getsampwidth() == 2
        assert audio.getnframes() / audio.getframerate() == pytest.approx(2.5, abs=0.01)
        frames = audio.readframes(audio.getnframes())
    assert len(set(frames[::200])) > 10  # not silence


def test_video_is_playable_h264():
    data = render(MediaItem("0.mp4", "video", 320, 180, seconds=2.0, text="a fox", subtitle="s", key="k"), fps=12)
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = list(container.decode(video=0))
    assert len(frames) == 24 and (frames[0].width, frames[0].height) == (320, 180)
    assert frames[0].to_image().tobytes() != frames[-1].to_image().tobytes()  # the frames move


def test_media_is_cached(client, kie):
    task_id = create_market(client, "google/nano-banana", prompt="x")
    url = f"/_sim/media/{task_id}/0.png"
    assert client.get(url).content == client.get(url).content
    assert f"{task_id}/0.png" in kie.sim.media_cache
    assert client.get(f"/_sim/media/{task_id}/9.png").status_code == 404


def run_session(kie) -> list:
    with client_for(kie) as client:
        ids = [create_market(client, "google/nano-banana", prompt=f"fox {n}") for n in range(3)]
        results = [
            json.loads(client.get("/api/v1/jobs/recordInfo", params={"taskId": i}).json()["data"]["resultJson"])
            for i in ids
        ]
        image = client.get(results[0]["resultUrls"][0]).content
        chat = client.post(
            "/claude/v1/messages",
            json={"model": "claude-sonnet-4-6", "stream": False, "messages": [{"role": "user", "content": "hi"}]},
        ).json()
        music = client.post(
            "/api/v1/generate",
            json={"prompt": "x", "customMode": False, "instrumental": False, "model": "V5", "callBackUrl": "http://x/"},
        ).json()["data"]["taskId"]
        tracks = client.get("/api/v1/generate/record-info", params={"taskId": music}).json()["data"]["response"]
        for track in tracks["sunoData"]:
            del track["createTime"]  # wall-clock time: the one thing a seed cannot fix
    base = kie.base_url
    strip = json.loads(json.dumps([ids, results, chat["content"], chat["id"], tracks]).replace(base, "BASE"))
    return [strip, image]


def test_same_seed_same_everything(make_sim):
    first = run_session(make_sim(seed=42))
    second = run_session(make_sim(seed=42))
    other = run_session(make_sim(seed=43))
    assert first == second
    assert first[0][0] != other[0][0]  # task ids differ with the seed


def test_reset_replays_the_same_ids(make_sim):
    kie = make_sim(seed=5)
    first = run_session(kie)
    kie.reset()
    assert not kie.sim.tasks and len(kie.sim.log) == 0
    assert run_session(kie) == first
