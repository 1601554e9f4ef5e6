"""Every endpoint sends the right method, path and body, and reads the answer into the right type."""

from __future__ import annotations

import base64
import io
import json

import httpx
import pytest

from kiestudio.kie import KieNotReady, TaskState, UploadedFile
from kiestudio.kie.catalog import get_model

from .conftest import ok

CREATED = ok({"taskId": "task_9"})


def sent(rec, index=-1):
    request = rec.requests[index]
    body = (
        json.loads(request.content)
        if request.content and request.headers.get("content-type") == "application/json"
        else None
    )
    return request.method, request.url.path, dict(request.url.params), body


def test_create_task_market(make_client):
    client, rec = make_client(CREATED)
    spec = get_model("google/nano-banana")
    assert client.create_task(spec, {"prompt": "cat"}, callback_url="https://studio/cb") == "task_9"
    assert sent(rec) == (
        "POST",
        "/api/v1/jobs/createTask",
        {},
        {"model": spec.model, "input": {"prompt": "cat"}, "callBackUrl": "https://studio/cb"},
    )


def test_create_task_market_without_callback(make_client):
    client, rec = make_client(CREATED)
    client.create_task(get_model("google/nano-banana"), {"prompt": "cat"}, callback_url=None)
    assert "callBackUrl" not in sent(rec)[3]


@pytest.mark.parametrize(
    ("key", "inputs", "path", "expected_extra"),
    [
        ("veo/veo3_fast", {"prompt": "p", "aspect_ratio": "16:9"}, "/api/v1/veo/generate", {"model": "veo3_fast"}),
        ("suno/V5", {"prompt": "p", "customMode": False, "instrumental": True}, "/api/v1/generate", {"model": "V5"}),
        ("gpt4o-image", {"prompt": "p", "size": "1:1"}, "/api/v1/gpt4o-image/generate", {}),
        (
            "flux-kontext/pro",
            {"prompt": "p", "aspectRatio": "16:9"},
            "/api/v1/flux/kontext/generate",
            {"model": "flux-kontext-pro"},
        ),
        (
            "runway/gen",
            {"prompt": "p", "duration": 5, "quality": "720p", "aspectRatio": "16:9"},
            "/api/v1/runway/generate",
            {},
        ),
        ("runway/aleph", {"prompt": "p", "videoUrl": "https://x/v.mp4"}, "/api/v1/aleph/generate", {}),
    ],
)
def test_create_task_families(make_client, key, inputs, path, expected_extra):
    client, rec = make_client(CREATED)
    spec = get_model(key)
    assert client.create_task(spec, inputs, callback_url="https://studio/cb") == "task_9"
    method, got_path, _, body = sent(rec)
    assert (method, got_path) == ("POST", path)
    assert body == {**inputs, **expected_extra, "callBackUrl": "https://studio/cb"}


def test_create_task_veo_renames_camel_aspect_ratio(make_client):
    client, rec = make_client(CREATED)
    client.create_task(get_model("veo/veo3"), {"prompt": "p", "aspectRatio": "9:16"}, callback_url=None)
    body = sent(rec)[3]
    assert body["aspect_ratio"] == "9:16" and "aspectRatio" not in body


def test_suno_callback_falls_back_to_default(make_client):
    client, rec = make_client(CREATED, default_callback_url="https://studio/kie/cb")
    client.create_task(
        get_model("suno/V5"), {"prompt": "p", "customMode": False, "instrumental": False}, callback_url=None
    )
    assert sent(rec)[3]["callBackUrl"] == "https://studio/kie/cb"


@pytest.mark.parametrize(
    ("family", "path"),
    [
        ("market", "/api/v1/jobs/recordInfo"),
        ("veo", "/api/v1/veo/record-info"),
        ("suno", "/api/v1/generate/record-info"),
        ("suno_lyrics", "/api/v1/lyrics/record-info"),
        ("suno_wav", "/api/v1/wav/record-info"),
        ("suno_vocal_removal", "/api/v1/vocal-removal/record-info"),
        ("suno_midi", "/api/v1/midi/record-info"),
        ("suno_mp4", "/api/v1/mp4/record-info"),
        ("gpt4o_image", "/api/v1/gpt4o-image/record-info"),
        ("flux_kontext", "/api/v1/flux/kontext/record-info"),
        ("runway", "/api/v1/runway/record-detail"),
        ("aleph", "/api/v1/aleph/record-info"),
    ],
)
def test_get_task_paths(make_client, limiter, family, path):
    client, rec = make_client(ok({"taskId": "abc"}))
    status = client.get_task(family, "abc")
    assert status.task_id == "abc"
    assert sent(rec)[:3] == ("GET", path, {"taskId": "abc"})
    assert limiter.calls == [(f"read:{client.account}", 10, 1.0)]


def test_get_task_unknown_family(make_client):
    client, _ = make_client(CREATED)
    with pytest.raises(ValueError):
        client.get_task("nope", "x")


FAMILY_CALLS = [
    (
        "veo_generate",
        ("a cat",),
        {"model": "veo3", "image_urls": ["https://i"], "aspect_ratio": "9:16", "seeds": 12345},
        "/api/v1/veo/generate",
        {"prompt": "a cat", "model": "veo3", "imageUrls": ["https://i"], "aspect_ratio": "9:16", "seeds": 12345},
    ),
    (
        "veo_extend",
        ("veo_1", "more"),
        {"model": "fast"},
        "/api/v1/veo/extend",
        {"taskId": "veo_1", "prompt": "more", "model": "fast"},
    ),
    (
        "suno_generate",
        (),
        {"model": "V5", "custom_mode": True, "instrumental": False, "prompt": "la", "style": "rock", "title": "T"},
        "/api/v1/generate",
        {
            "prompt": "la",
            "customMode": True,
            "instrumental": False,
            "model": "V5",
            "style": "rock",
            "title": "T",
            "callBackUrl": "https://cb",
        },
    ),
    (
        "suno_extend",
        ("a1",),
        {"model": "V5", "default_param_flag": False, "continueAt": 30},
        "/api/v1/generate/extend",
        {"audioId": "a1", "model": "V5", "defaultParamFlag": False, "continueAt": 30, "callBackUrl": "https://cb"},
    ),
    (
        "suno_upload_cover",
        ("https://u/a.mp3",),
        {"model": "V5", "custom_mode": False, "instrumental": True},
        "/api/v1/generate/upload-cover",
        {
            "uploadUrl": "https://u/a.mp3",
            "model": "V5",
            "customMode": False,
            "instrumental": True,
            "callBackUrl": "https://cb",
        },
    ),
    (
        "suno_upload_extend",
        ("https://u/a.mp3",),
        {"model": "V5", "default_param_flag": True},
        "/api/v1/generate/upload-extend",
        {"uploadUrl": "https://u/a.mp3", "model": "V5", "defaultParamFlag": True, "callBackUrl": "https://cb"},
    ),
    (
        "suno_add_vocals",
        ("https://u/a.mp3",),
        {"prompt": "sing", "title": "T", "style": "pop", "negative_tags": "metal"},
        "/api/v1/generate/add-vocals",
        {
            "uploadUrl": "https://u/a.mp3",
            "prompt": "sing",
            "title": "T",
            "style": "pop",
            "negativeTags": "metal",
            "callBackUrl": "https://cb",
        },
    ),
    (
        "suno_add_instrumental",
        ("https://u/a.mp3",),
        {"title": "T", "tags": "jazz", "negative_tags": "rock", "model": "V5"},
        "/api/v1/generate/add-instrumental",
        {
            "uploadUrl": "https://u/a.mp3",
            "title": "T",
            "tags": "jazz",
            "negativeTags": "rock",
            "model": "V5",
            "callBackUrl": "https://cb",
        },
    ),
    ("suno_lyrics", ("a song about rain",), {}, "/api/v1/lyrics", {"prompt": "a song about rain"}),
    (
        "suno_wav",
        ("s1", "a1"),
        {},
        "/api/v1/wav/generate",
        {"taskId": "s1", "audioId": "a1", "callBackUrl": "https://cb"},
    ),
    (
        "suno_separate",
        ("s1", "a1"),
        {"type": "split_stem"},
        "/api/v1/vocal-removal/generate",
        {"taskId": "s1", "audioId": "a1", "type": "split_stem", "callBackUrl": "https://cb"},
    ),
    (
        "suno_midi",
        ("s1",),
        {"audio_id": "a1"},
        "/api/v1/midi/generate",
        {"taskId": "s1", "audioId": "a1", "callBackUrl": "https://cb"},
    ),
    (
        "suno_music_video",
        ("s1", "a1"),
        {"author": "Me"},
        "/api/v1/mp4/generate",
        {"taskId": "s1", "audioId": "a1", "author": "Me"},
    ),
    (
        "gpt4o_generate",
        (),
        {"size": "1:1", "prompt": "p", "files_url": ["https://i"], "nVariants": 2},
        "/api/v1/gpt4o-image/generate",
        {"prompt": "p", "size": "1:1", "filesUrl": ["https://i"], "nVariants": 2},
    ),
    (
        "flux_kontext_generate",
        ("p",),
        {"model": "flux-kontext-max", "input_image": "https://i", "aspect_ratio": "1:1"},
        "/api/v1/flux/kontext/generate",
        {"prompt": "p", "model": "flux-kontext-max", "inputImage": "https://i", "aspectRatio": "1:1"},
    ),
    (
        "runway_generate",
        ("p",),
        {"duration": 5, "quality": "720p", "aspect_ratio": "16:9", "waterMark": ""},
        "/api/v1/runway/generate",
        {"prompt": "p", "duration": 5, "quality": "720p", "aspectRatio": "16:9", "waterMark": ""},
    ),
    (
        "runway_extend",
        ("r1", "more"),
        {"quality": "720p"},
        "/api/v1/runway/extend",
        {"taskId": "r1", "prompt": "more", "quality": "720p"},
    ),
    (
        "aleph_generate",
        ("p", "https://v.mp4"),
        {"seed": 3},
        "/api/v1/aleph/generate",
        {"prompt": "p", "videoUrl": "https://v.mp4", "seed": 3},
    ),
]


@pytest.mark.parametrize(("method", "args", "kwargs", "path", "body"), FAMILY_CALLS, ids=[c[0] for c in FAMILY_CALLS])
def test_family_creates(make_client, limiter, method, args, kwargs, path, body):
    client, rec = make_client(CREATED, default_callback_url="https://cb")
    assert getattr(client, method)(*args, **kwargs) == "task_9"
    assert sent(rec) == ("POST", path, {}, body)
    assert limiter.calls == [(f"create:{client.account}", 20, 10.0)]


def test_explicit_callback_wins(make_client):
    client, rec = make_client(CREATED, default_callback_url="https://default")
    client.runway_generate("p", duration=5, quality="720p", callback_url="https://mine")
    assert sent(rec)[3]["callBackUrl"] == "https://mine"


RECORD_CALLS = [
    ("market_record", "/api/v1/jobs/recordInfo"),
    ("veo_record", "/api/v1/veo/record-info"),
    ("suno_record", "/api/v1/generate/record-info"),
    ("suno_lyrics_record", "/api/v1/lyrics/record-info"),
    ("suno_wav_record", "/api/v1/wav/record-info"),
    ("suno_separation_record", "/api/v1/vocal-removal/record-info"),
    ("suno_midi_record", "/api/v1/midi/record-info"),
    ("suno_music_video_record", "/api/v1/mp4/record-info"),
    ("gpt4o_record", "/api/v1/gpt4o-image/record-info"),
    ("flux_kontext_record", "/api/v1/flux/kontext/record-info"),
    ("runway_record", "/api/v1/runway/record-detail"),
    ("aleph_record", "/api/v1/aleph/record-info"),
]


@pytest.mark.parametrize(("method", "path"), RECORD_CALLS)
def test_family_records(make_client, method, path):
    client, rec = make_client(ok({"taskId": "r1"}))
    status = getattr(client, method)("r1")
    assert status.task_id == "r1" and status.state in TaskState
    assert sent(rec)[:3] == ("GET", path, {"taskId": "r1"})


def test_credits_and_download_urls(make_client):
    client, rec = make_client(ok(1234.5), ok("https://signed/1"), ok("https://signed/2"))
    assert client.get_credits() == 1234.5
    assert sent(rec) == ("GET", "/api/v1/chat/credit", {}, None)
    assert client.download_url("https://tempfile.aiquickdraw.com/a.png") == "https://signed/1"
    assert sent(rec) == ("POST", "/api/v1/common/download-url", {}, {"url": "https://tempfile.aiquickdraw.com/a.png"})
    assert client.gpt4o_download_url("t1", "https://x/1.png") == "https://signed/2"
    assert sent(rec) == ("POST", "/api/v1/gpt4o-image/download-url", {}, {"taskId": "t1", "url": "https://x/1.png"})


def test_veo_1080p(make_client):
    client, rec = make_client(
        {"code": 400, "msg": "1080P is processing. It should be ready in 1-2 minutes. Please check back shortly."},
        ok({"resultUrl": None}),
        ok({"resultUrl": "https://x/1080.mp4"}),
    )
    with pytest.raises(KieNotReady) as info:
        client.veo_1080p("veo_1", index=1)
    assert info.value.retryable and info.value.error_class == "not_ready"
    assert sent(rec)[:3] == ("GET", "/api/v1/veo/get-1080p-video", {"taskId": "veo_1", "index": "1"})
    with pytest.raises(KieNotReady):
        client.veo_1080p("veo_1")
    assert client.veo_1080p("veo_1") == "https://x/1080.mp4"
    assert rec.count == 3


def test_veo_4k(make_client, limiter):
    client, rec = make_client(ok({"taskId": "k4"}), ok(None))
    assert client.veo_4k("veo_1", callback_url="https://cb") == "k4"
    assert sent(rec) == (
        "POST",
        "/api/v1/veo/get-4k-video",
        {},
        {"taskId": "veo_1", "index": 0, "callBackUrl": "https://cb"},
    )
    assert client.veo_4k("veo_1") is None
    assert limiter.calls[0][0].startswith("create:")


def test_timestamped_lyrics(make_client):
    data = {
        "alignedWords": [{"word": "[Verse]\nHello", "success": True, "startS": 1.2, "endS": 1.8, "palign": 0}],
        "waveformData": [0, 1, 0.5],
        "hootCer": 0.38,
        "isStreamed": False,
    }
    client, rec = make_client(ok(data))
    lyrics = client.suno_timestamped_lyrics("s1", "a1")
    assert sent(rec) == ("POST", "/api/v1/generate/get-timestamped-lyrics", {}, {"taskId": "s1", "audioId": "a1"})
    assert lyrics.words[0].word == "[Verse]\nHello" and lyrics.words[0].start == 1.2 and lyrics.words[0].end == 1.8
    assert lyrics.waveform == (0.0, 1.0, 0.5) and lyrics.hoot_cer == 0.38 and lyrics.is_streamed is False


UPLOAD_OK = {
    "success": True,
    "code": 200,
    "msg": "File uploaded successfully",
    "data": {
        "fileName": "cat.png",
        "filePath": "images/cat.png",
        "downloadUrl": "https://tempfile.redpandaai.co/x/images/cat.png",
        "fileSize": 3,
        "mimeType": "image/png",
        "uploadedAt": "2025-01-01T12:00:00.000Z",
    },
}


def test_upload_stream_multipart(make_client, limiter):
    client, rec = make_client(UPLOAD_OK)
    result = client.upload_file(b"PNG", upload_path="images", file_name="cat.png")
    assert result == UploadedFile(
        url="https://tempfile.redpandaai.co/x/images/cat.png",
        file_name="cat.png",
        file_path="images/cat.png",
        size=3,
        mime_type="image/png",
        uploaded_at="2025-01-01T12:00:00.000Z",
        raw=UPLOAD_OK["data"],
    )
    request = rec.requests[0]
    assert (request.method, request.url.host, request.url.path) == ("POST", "upload.test", "/api/file-stream-upload")
    assert request.headers["content-type"].startswith("multipart/form-data")
    content = request.content
    assert b'name="file"; filename="cat.png"' in content and b"PNG" in content
    assert b'name="uploadPath"' in content and b"images" in content
    assert limiter.calls == []  # uploads are not generation requests


def test_upload_stream_file_object_is_rewound_on_retry(make_client):
    client, rec = make_client(httpx.ConnectError("down"), UPLOAD_OK)
    stream = io.BytesIO(b"DATA")
    client.upload_file(stream, file_name="a.bin")
    assert rec.count == 2
    assert b"\r\n\r\nDATA\r\n" in rec.requests[1].content


class OneShot(io.RawIOBase):
    def readable(self):
        return True

    def seekable(self):
        return False

    def readinto(self, buffer):
        return 0


def test_upload_of_unrewindable_stream_is_not_retried(make_client):
    client, rec = make_client(httpx.ConnectError("down"), UPLOAD_OK)
    with pytest.raises(Exception) as info:
        client.upload_file(OneShot(), file_name="a.bin")
    assert info.value.error_class == "network_error"
    assert rec.count == 1


def test_upload_from_path(make_client, tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"MP4DATA")
    client, rec = make_client(UPLOAD_OK)
    client.upload_file(path, upload_path="videos")
    assert b'filename="clip.mp4"' in rec.requests[0].content
    assert b"video/mp4" in rec.requests[0].content


def test_upload_base64_and_file_url_fallback(make_client):
    quickstart_shape = {
        "success": True,
        "code": 200,
        "msg": "ok",
        "data": {"fileId": "f", "fileUrl": "https://tmp/f.png", "expiresAt": "x"},
    }
    client, rec = make_client(quickstart_shape)
    result = client.upload_base64(b"\x89PNG", upload_path="images", file_name="a.png")
    assert result.url == "https://tmp/f.png" and result.expires_at == "x"
    # A data URL handed in is sent as bare base64 too, its type kept in the file name's extension.
    client.upload_base64("data:image/png;base64,iVBORw==", upload_path="images", file_name="b")
    assert json.loads(rec.requests[1].content) == {
        "base64Data": "iVBORw==",
        "uploadPath": "images",
        "fileName": "b.png",
    }
    body = json.loads(rec.requests[0].content)
    assert rec.requests[0].url.path == "/api/file-base64-upload"
    assert body == {
        "base64Data": base64.b64encode(b"\x89PNG").decode(),  # bare: the live endpoint refuses data: URLs
        "uploadPath": "images",
        "fileName": "a.png",
    }


def test_upload_url(make_client):
    client, rec = make_client(UPLOAD_OK)
    client.upload_from_url("https://example.com/cat.png", upload_path="images", file_name="cat.png")
    assert rec.requests[0].url.path == "/api/file-url-upload"
    assert json.loads(rec.requests[0].content) == {
        "fileUrl": "https://example.com/cat.png",
        "uploadPath": "images",
        "fileName": "cat.png",
    }


def test_upload_failure_with_success_false(make_client):
    client, _ = make_client(httpx.Response(400, json={"success": False, "code": 400, "msg": "File URL unreachable"}))
    with pytest.raises(Exception) as info:
        client.upload_from_url("https://nowhere/x.png")
    assert info.value.error_class == "bad_request"
