"""Play on a voice, in Chromium, with a real MP3: the studio fetches the sample once (the fetch from Kie's CDN is
the one seam patched: these machines can't reach it), stores it, and the browser decodes and plays our copy."""

from __future__ import annotations

import array
import io
import math
import re

import av
import pytest
from playwright.sync_api import Page, expect

from kiestudio.core.fetch import Fetched, FetchError
from kiestudio.kie.catalog import get_model
from kiestudio.studio import samples

MODEL = "elevenlabs/text-to-speech-multilingual-v2"


def tone_mp3(seconds: float = 2.0, rate: int = 44100) -> bytes:
    """A real MP3 (a 440 Hz tone), encoded with PyAV's LAME, as the CDN would send."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate)
        stream.layout = "mono"
        count = int(seconds * rate)
        pcm = array.array("h", (int(9000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(count)))
        frame = av.AudioFrame(format="s16", layout="mono", samples=count)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


@pytest.mark.django_db(transaction=True)
def test_play_plays_a_real_voice_sample_then_stops(
    signed_in_page: Page, asgi_live_server: str, kie_sim, alice, monkeypatch
):
    mp3 = tone_mp3()
    fetched: list[str] = []
    down = {"now": False}

    def cdn(url, dest, *, max_bytes, timeout):
        fetched.append(url)
        if down["now"]:
            raise FetchError("unreachable")
        dest.write(mp3)
        return Fetched(url=url, content_type="audio/mpeg", size=len(mp3))

    monkeypatch.setattr(samples, "fetch_to_file", cdn)
    page = signed_in_page
    page.goto(f"{asgi_live_server}/generate/?model={MODEL}")
    voice = page.locator("#id_voice")
    first = get_model(MODEL).field("voice").choices[0]
    expect(voice).to_have_value(str(first))
    play = page.get_by_role("button", name="▶ Play")
    play.click()
    # play() resolves only for media the browser could decode: "Playing" means a real sample is sounding.
    status = page.locator("[data-sample-status]")
    expect(status).to_have_text(re.compile(r"^Playing \w+"))
    stop = page.get_by_role("button", name="■ Stop")
    expect(stop).to_have_attribute("aria-pressed", "true")
    assert fetched == [f"https://static.aiquickdraw.com/elevenlabs/voice/{first}.mp3"]
    stop.click()
    expect(page.get_by_role("button", name="▶ Play")).to_be_visible()

    # Another voice, then the first again: the first is played from our storage, not fetched twice.
    second = get_model(MODEL).field("voice").choices[1]
    voice.select_option(str(second))
    page.get_by_role("button", name="▶ Play").click()
    expect(status).to_have_text(re.compile(r"^Playing "))
    page.get_by_role("button", name="■ Stop").click()
    voice.select_option(str(first))
    page.get_by_role("button", name="▶ Play").click()
    expect(status).to_have_text(re.compile(r"^Playing "))
    assert len(fetched) == 2

    # A voice whose sample can't be fetched says so, and the form is untouched.
    page.get_by_role("button", name="■ Stop").click()
    down["now"] = True
    third = get_model(MODEL).field("voice").choices[2]
    voice.select_option(str(third))
    page.get_by_role("button", name="▶ Play").click()
    expect(status).to_have_text("The sample can't be played right now.")
    expect(voice).to_have_value(str(third))
