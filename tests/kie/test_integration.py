"""The client against the Kie simulator over real HTTP (no mocks)."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from kiestudio.kie import (
    AsyncKieClient,
    ChatEventKind,
    InMemoryRateLimiter,
    KieAuthError,
    KieClient,
    KieContentRejected,
    KieGenerationFailed,
    KieInsufficientCredits,
    KieMalformedResponse,
    KieNotFound,
    KieNotReady,
    KieRateLimited,
    KieServerError,
    KieUnavailable,
    KieUnknownOutcome,
    KieValidationError,
    RetryPolicy,
    TaskState,
    callback_task_id,
    image_block,
    verify_signature,
)
from kiestudio.kie.catalog import get_model, validate_inputs
from kiestudio.simulator.app import SimulatorConfig
from kiestudio.simulator.testing import start_simulator

K = ChatEventKind
KEY = "sk-integration-key"
HMAC_KEY = "whk-integration"
WINDOW = 1.0
FAST_RETRIES = RetryPolicy(attempts=3, base=0.01, cap=0.05)


@pytest.fixture(scope="module")
def running():
    config = SimulatorConfig(
        time_scale=0.0,
        seed=7,
        rate_limit=20,
        rate_window=WINDOW,
        read_rate_limit=10,
        read_rate_window=1.0,
        callbacks=False,
        webhook_hmac_key=HMAC_KEY,
        veo_1080p_pending_calls=1,
        chat_chunk_delay=0.0,
        chat_reply_words=12,
        chat_thinking_words=6,
    )
    simulator = start_simulator(config)
    yield simulator
    simulator.stop()


@pytest.fixture(autouse=True)
def fresh(running):
    baseline = running.config.to_dict()
    running.reset()
    yield
    running.config.update(baseline)
    running.reset()


def make_client(running, **config) -> KieClient:
    config.setdefault("limiter", InMemoryRateLimiter())
    config.setdefault("create_window", WINDOW)
    config.setdefault("rate_margin", 0.1)
    config.setdefault("retries", FAST_RETRIES)
    config.setdefault("default_callback_url", "http://127.0.0.1:9/unused")
    return KieClient(config.pop("api_key", KEY), base_url=running.base_url, upload_base_url=running.base_url, **config)


@pytest.fixture
def client(running):
    with make_client(running) as kie:
        yield kie


def wait(client: KieClient, family: str, task_id: str, *, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        status = client.get_task(family, task_id)
        if status.is_terminal or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def logged(running, kind: str, expected: int | None = None, *, timeout: float = 2.0):
    """The simulator's log entries of ``kind``; it appends after the answer leaves, so wait for stragglers."""
    deadline = time.monotonic() + timeout
    while True:
        entries = running.log.of_kind(kind)
        if expected is None or len(entries) >= expected or time.monotonic() > deadline:
            if expected is not None:
                time.sleep(0.05)  # and make sure no extra one is still on its way
                entries = running.log.of_kind(kind)
            return entries
        time.sleep(0.01)


def fetch(url: str) -> httpx.Response:
    response = httpx.get(url, timeout=10)
    response.raise_for_status()
    return response


# -- Market, credits, download links ---------------------------------------------------------------------


def test_market_create_poll_download(running, client):
    before = client.get_credits()
    spec = get_model("google/nano-banana")
    task_id = client.create_task(spec, validate_inputs(spec, {"prompt": "a red fox"}), callback_url=None)
    status = wait(client, "market", task_id)
    assert status.state is TaskState.SUCCESS and status.task_id == task_id
    assert status.results and status.results[0].kind == "image"
    assert status.fail_code is None and status.fail_message is None
    assert fetch(status.results[0].url).content
    signed = client.download_url(status.results[0].url)
    assert "X-Amz-Expires=1200" in signed
    assert client.get_credits() < before
    create = logged(running, "create", 1)[0]
    assert create.path == "/api/v1/jobs/createTask" and create.status == 200


def test_market_states_progress_while_running(running, client):
    running.config.update({"state_seconds": {"waiting": 0.15, "queuing": 0.15, "generating": 0.3}})
    task_id = client.market_create("google/nano-banana", {"prompt": "slow fox"})
    seen = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = client.market_record(task_id)
        if not seen or seen[-1] is not status.state:
            seen.append(status.state)
        if status.is_terminal:
            break
        time.sleep(0.05)
    order = list(TaskState)
    assert seen[-1] is TaskState.SUCCESS and len(seen) >= 2  # at least one running state was seen
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen)  # never goes backwards


@pytest.mark.parametrize("empty", ["", None])
def test_market_failure_marker_and_empty_fail_fields(running, client, empty):
    running.config.update({"fail_code_empty": empty})
    ok_id = client.market_create("google/nano-banana", {"prompt": "fine"})
    assert wait(client, "market", ok_id).fail_code is None
    bad_id = client.market_create("google/nano-banana", {"prompt": "[sim:fail 500 Internal server error] x"})
    status = wait(client, "market", bad_id)
    assert status.state is TaskState.FAIL and status.fail_code == "500"
    assert isinstance(status.error(), KieGenerationFailed)
    rejected = wait(client, "market", client.market_create("google/nano-banana", {"prompt": "[sim:reject] x"}))
    assert isinstance(rejected.error(), KieContentRejected) and rejected.error().error_class == "content_rejected"


def test_credits_consumed_when_the_simulator_sends_it(running, client):
    running.config.update({"include_credits_consumed": True})
    status = wait(client, "market", client.market_create("google/nano-banana", {"prompt": "x"}))
    assert status.credits_consumed and status.credits_consumed > 0


def test_message_key_variant(running, client):
    running.config.update({"message_key": "message"})
    with pytest.raises(KieNotFound) as info:
        client.market_record("no-such-task")
    assert info.value.kie_message == "Task not found"


# -- Every family through the dispatching pair -------------------------------------------------------------

FAMILY_CASES = [
    ("veo/veo3_fast", {"prompt": "a cat surfing"}, "veo", "video"),
    ("suno/V5", {"prompt": "a happy song", "customMode": False, "instrumental": False}, "suno", "audio"),
    ("gpt4o-image", {"prompt": "a lighthouse", "size": "1:1"}, "gpt4o_image", "image"),
    ("flux-kontext/pro", {"prompt": "a castle"}, "flux_kontext", "image"),
    ("runway/gen", {"prompt": "a river"}, "runway", "video"),
]


@pytest.mark.parametrize(("key", "raw", "family", "kind"), FAMILY_CASES, ids=[c[0] for c in FAMILY_CASES])
def test_create_task_and_get_task_for_every_family(client, key, raw, family, kind):
    spec = get_model(key)
    assert spec.family == family
    task_id = client.create_task(spec, validate_inputs(spec, raw), callback_url=None)
    status = wait(client, family, task_id)
    assert status.state is TaskState.SUCCESS, status.raw
    assert status.results and all(r.kind == kind for r in status.results)
    assert fetch(status.results[0].url).content


def upload_png(client: KieClient) -> str:
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    return client.upload_file(png, upload_path="tests", file_name="pixel.png").url


def test_aleph_and_edit_models_with_uploaded_inputs(client):
    image_url = upload_png(client)
    video = wait(client, "veo", client.veo_generate("clip for aleph"))
    video_url = video.results[0].url
    cases = [
        ("runway/aleph", {"prompt": "make it snow", "videoUrl": video_url}, "aleph"),
        ("flux-kontext/pro-edit", {"prompt": "add a hat", "inputImage": image_url}, "flux_kontext"),
        ("gpt4o-image/edit", {"prompt": "add a hat", "filesUrl": [image_url], "size": "1:1"}, "gpt4o_image"),
        ("runway/gen-image", {"prompt": "animate", "imageUrl": image_url}, "runway"),
        ("veo/veo3_fast/image", {"prompt": "animate", "imageUrls": [image_url]}, "veo"),
    ]
    for key, raw, family in cases:
        spec = get_model(key)
        status = wait(client, family, client.create_task(spec, validate_inputs(spec, raw), callback_url=None))
        assert status.succeeded and status.results, (key, status.raw)


# -- Family-specific endpoints -------------------------------------------------------------------------------


def test_veo_extend_1080p_and_4k(client):
    parent = client.veo_generate("a dog", aspect_ratio="9:16")
    done = wait(client, "veo", parent)
    assert done.results[0].metadata["resolution"] == "720p"
    assert "origin_url" in done.results[0].metadata  # 9:16 has originUrls
    extended = wait(client, "veo", client.veo_extend(parent, "the dog jumps", model="fast"))
    assert extended.succeeded
    with pytest.raises(KieNotReady) as info:
        client.veo_1080p(parent)
    assert info.value.retryable and "1080P is processing" in info.value.kie_message
    url = client.veo_1080p(parent)
    assert fetch(url).content
    assert client.veo_4k(parent, index=0) == parent


def test_veo_1080p_before_the_video_is_done_is_a_validation_error(running, client):
    running.config.update({"state_seconds": {"waiting": 5.0, "queuing": 0.0, "generating": 0.0}})
    with pytest.raises(KieValidationError):
        client.veo_1080p(client.veo_generate("not yet"))


def test_suno_everything(client):
    task_id = client.suno_generate(model="V5", custom_mode=False, instrumental=False, prompt="song about tea")
    music = wait(client, "suno", task_id)
    assert music.succeeded and music.stage == "SUCCESS" and len(music.results) >= 1
    track = music.results[0]
    audio_id = track.metadata["audio_id"]
    assert track.kind == "audio" and track.metadata["title"] and track.metadata["duration"] > 0
    assert track.metadata["image_url"].startswith("http")

    extend = wait(client, "suno", client.suno_extend(audio_id, model="V5", default_param_flag=False))
    assert extend.succeeded

    upload = client.upload_file(fetch(track.url).content, upload_path="audio", file_name="tea.mp3").url
    cover = client.suno_upload_cover(upload, model="V5", custom_mode=False, instrumental=True, prompt="jazz cover")
    assert wait(client, "suno", cover).succeeded
    up_extend = client.suno_upload_extend(upload, model="V5", default_param_flag=False)
    assert wait(client, "suno", up_extend).succeeded
    vocals = client.suno_add_vocals(upload, prompt="la la", title="Tea", style="pop", negative_tags="metal")
    assert wait(client, "suno", vocals).succeeded
    instrumental = client.suno_add_instrumental(upload, title="Tea", tags="jazz", negative_tags="rock")
    assert wait(client, "suno", instrumental).succeeded

    lyrics = wait(client, "suno_lyrics", client.suno_lyrics("a song about rain"))
    assert lyrics.succeeded and lyrics.result_object["lyrics"][0]["text"]

    stamps = client.suno_timestamped_lyrics(task_id, audio_id)
    assert stamps.words and stamps.words[0].start is not None

    wav = wait(client, "suno_wav", client.suno_wav(task_id, audio_id))
    assert wav.succeeded and wav.results[0].metadata["name"] == "audioWav"
    vocal = wait(client, "suno_vocal_removal", client.suno_separate(task_id, audio_id))
    assert vocal.succeeded and {r.metadata["name"] for r in vocal.results} >= {"vocal", "instrumental"}
    stems = wait(client, "suno_vocal_removal", client.suno_separate(task_id, audio_id, type="split_stem"))
    assert stems.succeeded and len(stems.results) > 2
    midi = wait(client, "suno_midi", client.suno_midi(task_id, audio_id=audio_id))
    assert midi.succeeded and midi.result_object["midi"]["state"] == "complete"
    video = wait(client, "suno_mp4", client.suno_music_video(task_id, audio_id, author="Tester"))
    assert video.succeeded and video.results[0].kind == "video"
    for record, family in (
        (client.suno_record, "suno"),
        (client.suno_lyrics_record, "suno_lyrics"),
        (client.suno_wav_record, "suno_wav"),
        (client.suno_separation_record, "suno_vocal_removal"),
        (client.suno_midi_record, "suno_midi"),
        (client.suno_music_video_record, "suno_mp4"),
    ):
        task = {
            "suno": task_id,
            "suno_lyrics": lyrics.task_id,
            "suno_wav": wav.task_id,
            "suno_vocal_removal": vocal.task_id,
            "suno_midi": midi.task_id,
            "suno_mp4": video.task_id,
        }[family]
        assert record(task).succeeded


def test_suno_stages_are_reported(running, client):
    running.config.update({"state_seconds": {"waiting": 0.0, "queuing": 0.0, "generating": 0.6}})
    task_id = client.suno_generate(model="V5", custom_mode=False, instrumental=True, prompt="slow song")
    stages = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = client.suno_record(task_id)
        if not stages or stages[-1] != status.stage:
            stages.append(status.stage)
        if status.is_terminal:
            break
        time.sleep(0.03)
    assert stages[-1] == "SUCCESS"
    assert {"TEXT_SUCCESS", "FIRST_SUCCESS"} & set(stages)


def test_4o_flux_runway_specific_calls(client):
    image = wait(client, "gpt4o_image", client.gpt4o_generate(size="3:2", prompt="a boat", nVariants=2))
    assert image.succeeded and image.progress == 1.0
    assert "X-Amz" in client.gpt4o_download_url(image.task_id, image.results[0].url)
    flux = wait(client, "flux_kontext", client.flux_kontext_generate("a tree", model="flux-kontext-max"))
    assert flux.results[0].kind == "image"
    runway = wait(client, "runway", client.runway_generate("a bird", duration=5, quality="720p", aspect_ratio="16:9"))
    assert runway.results[0].metadata["video_id"]
    assert wait(client, "runway", client.runway_extend(runway.task_id, "it flies", quality="720p")).succeeded


def test_uploads_stream_base64_url(running, client, tmp_path):
    path = tmp_path / "note.txt"
    path.write_bytes(b"hello kie")
    streamed = client.upload_file(path, upload_path="docs")
    assert streamed.url.endswith("/docs/note.txt") and fetch(streamed.url).content == b"hello kie"
    encoded = client.upload_base64(b"\x89PNG\r\n\x1a\nrest", upload_path="images", file_name="b.png")
    assert fetch(encoded.url).content.startswith(b"\x89PNG")
    copied = client.upload_from_url(streamed.url, upload_path="copies", file_name="copy.txt")
    assert fetch(copied.url).content == b"hello kie"
    assert len(logged(running, "upload", 3)) == 3


# -- Every error class the simulator can produce ---------------------------------------------------------------


def test_bad_key_is_auth_error(running):
    with make_client(running, api_key="bad-key") as kie:
        with pytest.raises(KieAuthError) as info:
            kie.get_credits()
        assert info.value.http_status == 401 and "bad-key" not in str(info.value)


@pytest.mark.parametrize("style", ["body", "http"])
def test_insufficient_credits_in_both_styles(running, client, style):
    running.config.update({"error_style": style})
    running.sim.set_balance(0)
    with pytest.raises(KieInsufficientCredits) as info:
        client.market_create("google/nano-banana", {"prompt": "x"})
    assert info.value.http_status == (200 if style == "body" else 402)
    assert info.value.user_message == "Your Kie account is out of credits. Top up at kie.ai, then retry."


def test_validation_error_names_the_field(client):
    with pytest.raises(KieValidationError) as info:
        client.market_create("google/nano-banana", {"prompt": "x", "aspect_ratio": "7:7"})
    assert info.value.field == "aspect_ratio"
    with pytest.raises(KieValidationError) as info:
        client.runway_generate("x", duration=10, quality="1080p", aspect_ratio="16:9")
    assert info.value.field == "quality"


def test_unknown_task_is_not_found(client):
    with pytest.raises(KieNotFound):
        client.get_task("market", "nope")


def test_rate_limited_when_the_client_does_not_limit(running):
    running.config.update({"rate_limit": 2})
    with make_client(running, create_limit=1000) as kie:
        kie.market_create("google/nano-banana", {"prompt": "1"})
        kie.market_create("google/nano-banana", {"prompt": "2"})
        with pytest.raises(KieRateLimited) as info:
            kie.market_create("google/nano-banana", {"prompt": "3"})
    assert info.value.retryable and info.value.http_status == 429
    assert sum(1 for e in logged(running, "create", 5) if e.status == 429) == 3  # every attempt refused


@pytest.mark.parametrize(("marker", "error"), [("[sim:5xx]", KieServerError), ("[sim:5xx 503]", KieUnavailable)])
def test_5xx_on_create_is_retried_then_named(running, client, marker, error):
    with pytest.raises(error):
        client.market_create("google/nano-banana", {"prompt": f"{marker} x"})
    assert len(logged(running, "create", FAST_RETRIES.attempts)) == FAST_RETRIES.attempts


def test_malformed_create_answer_is_unknown_outcome_and_not_resent(running, client):
    with pytest.raises(KieUnknownOutcome):
        client.market_create("google/nano-banana", {"prompt": "[sim:malformed] x"})
    assert len(logged(running, "create", 1)) == 1


def test_create_that_times_out_after_sending_is_unknown_outcome(running):
    with make_client(running, timeout=httpx.Timeout(0.3)) as kie, pytest.raises(KieUnknownOutcome):
        kie.market_create("google/nano-banana", {"prompt": "[sim:hang 1] x"})
    assert len(logged(running, "create", 1, timeout=3)) == 1  # logged once the hang ends


def test_read_faults_are_retried(running):
    patient = RetryPolicy(attempts=10, base=0.001, cap=0.01)
    with make_client(running, retries=patient) as kie:
        task_id = kie.market_create("google/nano-banana", {"prompt": "x"})
        running.config.update({"fault_5xx_rate": 0.5, "fault_kinds": ["read"]})
        for _ in range(5):
            assert kie.market_record(task_id).task_id == task_id
    reads = logged(running, "read", 6)
    assert any(e.status >= 500 for e in reads) and len(reads) > 5


def test_malformed_reads_exhaust_into_malformed_response(running, client):
    task_id = client.market_create("google/nano-banana", {"prompt": "x"})
    running.config.update({"malformed_rate": 1.0, "fault_kinds": ["read"]})
    with pytest.raises(KieMalformedResponse):
        client.market_record(task_id)
    assert len(logged(running, "read", FAST_RETRIES.attempts)) == FAST_RETRIES.attempts


def test_connection_refused_is_named(running):
    kie = KieClient(KEY, base_url="http://127.0.0.1:9", retries=FAST_RETRIES, limiter=InMemoryRateLimiter())
    with kie, pytest.raises(Exception) as info:
        kie.market_create("google/nano-banana", {"prompt": "x"})
    assert info.value.error_class == "network_error"


# -- Rate limit: 100 creates from threads through one shared limiter ---------------------------------------------


def test_hundred_concurrent_creates_never_trip_the_rate_limit(running):
    shared = InMemoryRateLimiter()
    # Several clients of one account share one limiter; the default 0.25 s guard band absorbs the time
    # between reserving a slot and the request reaching Kie (without it, creates get 429s under load).
    clients = [make_client(running, limiter=shared, rate_margin=0.25) for _ in range(4)]
    try:
        with ThreadPoolExecutor(max_workers=100) as pool:
            futures = [
                pool.submit(clients[i % 4].market_create, "google/nano-banana", {"prompt": f"burst {i}"})
                for i in range(100)
            ]
            task_ids = [f.result(timeout=30) for f in futures]
    finally:
        for kie in clients:
            kie.close()
    assert len(set(task_ids)) == 100
    creates = logged(running, "create", 100)
    assert Counter(e.status for e in creates) == {200: 100}
    assert not any(e.code == 429 for e in creates)
    assert running.log.creates_in_window(WINDOW, include_rejected=True) <= 20
    span = creates[-1].t - creates[0].t
    assert span >= 4 * WINDOW  # 100 creates at 20 per window need at least four more windows


# -- Chat ------------------------------------------------------------------------------------------------------


def run_async(coro):
    return asyncio.run(coro)


def async_client(running, **config):
    config.setdefault("retries", FAST_RETRIES)
    return AsyncKieClient(config.pop("api_key", KEY), base_url=running.base_url, **config)


def test_claude_stream_through_the_parser(running):
    async def go():
        async with async_client(running) as kie:
            tools = [
                {
                    "name": "get_weather",
                    "description": "Weather",
                    "input_schema": {
                        "type": "object",
                        "properties": {"location": {"type": "string"}},
                        "required": ["location"],
                    },
                }
            ]
            messages = [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Use get_weather for Oslo"},
                        image_block("https://example.com/a.png"),
                    ],
                }
            ]
            return [e async for e in kie.stream_claude("claude-sonnet-4-6", messages, thinking=True, tools=tools)]

    events = run_async(go())
    kinds = [e.kind for e in events]
    assert kinds[0] is K.MESSAGE_START and kinds[-1] is K.MESSAGE_STOP
    assert K.THINKING_DELTA in kinds and K.TEXT_DELTA in kinds and K.PING in kinds
    start = next(e for e in events if e.kind is K.TOOL_USE_START)
    assert start.tool_name == "get_weather"
    arguments = "".join(e.text for e in events if e.kind is K.TOOL_INPUT_DELTA and e.index == start.index)
    assert json.loads(arguments) == {"location": "Oslo"}
    final = events[-1]
    assert final.stop_reason == "tool_use" and final.credits_consumed > 0
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0
    assert kinds.count(K.BLOCK_STOP) == 3


def test_openai_stream_through_the_parser(running):
    async def go():
        async with async_client(running) as kie:
            messages = [{"role": "user", "content": "Say hello"}]
            return [e async for e in kie.stream_openai_chat("gemini-3-flash", messages, include_thoughts=True)]

    events = run_async(go())
    kinds = [e.kind for e in events]
    assert kinds[0] is K.MESSAGE_START and kinds[-1] is K.MESSAGE_STOP
    assert K.THINKING_DELTA in kinds and K.TEXT_DELTA in kinds
    assert "".join(e.text for e in events if e.kind is K.TEXT_DELTA).strip()
    assert events[-1].stop_reason == "end_turn"
    assert events[-1].usage.output_tokens > 0


def test_non_streamed_chat_and_async_credits(running):
    async def go():
        async with async_client(running) as kie:
            claude = await kie.claude("claude-haiku-4-5-v1messages", [{"role": "user", "content": "hi"}])
            gpt = await kie.openai_chat("gpt-5-2", [{"role": "user", "content": "hi"}], reasoning_effort="low")
            return claude, gpt, await kie.get_credits()

    claude, gpt, credits = run_async(go())
    assert claude.text and claude.stop_reason == "end_turn" and claude.credits_consumed > 0
    assert gpt.text and gpt.stop_reason == "end_turn" and gpt.usage.input_tokens > 0
    assert credits > 0


@pytest.mark.parametrize(
    ("marker", "error", "requests"),
    [
        ("[sim:error 401]", KieAuthError, 1),
        ("[sim:error 429]", KieRateLimited, 3),
        ("[sim:error 400 bad]", Exception, 1),
    ],
)
def test_chat_errors(running, marker, error, requests):
    async def go():
        async with async_client(running) as kie:
            return [e async for e in kie.stream_claude("claude-sonnet-4-6", [{"role": "user", "content": marker}])]

    with pytest.raises(error):
        run_async(go())
    assert len(logged(running, "chat", requests)) == requests


def test_chat_insufficient_credits(running):
    running.sim.set_balance(0)

    async def go():
        async with async_client(running) as kie:
            return await kie.openai_chat("gemini-3-flash", [{"role": "user", "content": "hi"}])

    with pytest.raises(KieInsufficientCredits):
        run_async(go())


def test_cancelling_a_chat_stream_closes_it(running):
    running.config.update({"chat_chunk_delay": 0.05, "chat_reply_words": 400})

    async def go():
        async with async_client(running) as kie:
            count = 0
            stream = kie.stream_claude("claude-sonnet-4-6", [{"role": "user", "content": "tell me a long story"}])
            async with stream:
                async for event in stream:
                    count += event.kind is K.TEXT_DELTA
                    if count == 3:
                        break
            return count

    started = time.monotonic()
    assert run_async(go()) == 3
    assert time.monotonic() - started < 3  # the full reply would take far longer


@pytest.mark.parametrize("call", ["stream_claude", "stream_openai_chat"])
def test_replies_one_after_another_share_one_connection(running, call):
    """A finished stream is read to its end before it is closed, so its connection goes back to the pool: the next
    reply skips the TCP (against the real Kie, also the TLS) handshake that would sit before its first token."""

    async def go():
        async with async_client(running) as kie:
            model = "claude-sonnet-4-6" if call == "stream_claude" else "gpt-5-2"
            for _ in range(3):
                stream = getattr(kie, call)(model, [{"role": "user", "content": "hi [sim:words 5]"}])
                async with stream:
                    kinds = [event.kind async for event in stream]
                assert kinds[-1] is K.MESSAGE_STOP
            pool = kie._http._transport._pool  # httpx's connection pool (httpcore)
            return [connection.info() for connection in pool.connections]

    connections = run_async(go())
    assert len(connections) == 1 and "Request Count: 3" in connections[0], connections


# -- Webhooks from the simulator ---------------------------------------------------------------------------------


class Receiver:
    def __init__(self):
        self.received: list[tuple[dict[str, str], dict]] = []
        self.event = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                outer.event.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/kie/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_signed_callbacks_verify_for_every_shape(running, client):
    running.config.update({"callbacks": True})
    receiver = Receiver()
    try:
        market = client.market_create("google/nano-banana", {"prompt": "cb"}, callback_url=receiver.url)
        suno = client.suno_generate(
            model="V5", custom_mode=False, instrumental=True, prompt="cb", callback_url=receiver.url
        )
        aleph_source = wait(client, "veo", client.veo_generate("clip")).results[0].url
        aleph = client.aleph_generate("cb", aleph_source, callback_url=receiver.url)
        received = receiver.wait_for(5)  # market 1, aleph 1, suno up to 3 stages
    finally:
        receiver.close()
    ids = set()
    for headers, body in received:
        task_id = callback_task_id(body)
        ids.add(task_id)
        assert verify_signature(HMAC_KEY, task_id, headers["x-webhook-timestamp"], headers["x-webhook-signature"])
        assert not verify_signature("wrong", task_id, headers["x-webhook-timestamp"], headers["x-webhook-signature"])
    assert {market, suno, aleph} <= ids
