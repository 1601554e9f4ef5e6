"""Normalise every family's task record into one :class:`TaskStatus`.

Each Kie family reports progress its own way (Market ``state``, Veo/4o/Flux/Aleph ``successFlag``,
Runway ``state`` with ``wait``/``queueing``, Suno ``status`` strings, the Suno side APIs string or
integer flags). Nothing here does I/O, so the same code can read callbacks' ``data`` too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from .types import ResultFile, TaskState, TaskStatus


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


__all__ = ["FAMILIES", "as_number", "first_of", "kind_from_url", "normalise_record", "parse_url_list"]

_EXTENSIONS = {
    "image": {"png", "jpg", "jpeg", "webp", "gif", "bmp", "jfif", "avif", "heic", "tif", "tiff", "svg"},
    "video": {"mp4", "mov", "webm", "mkv", "avi", "m4v"},
    "audio": {"mp3", "wav", "m4a", "aac", "flac", "ogg", "opus", "mid", "midi"},
}


def kind_from_url(url: str | None) -> str | None:
    if not url:
        return None
    path = urlparse(url).path.lower()
    ext = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
    for kind, exts in _EXTENSIONS.items():
        if ext in exts:
            return kind
    return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str | None:
    """``""``/``None`` → None; anything else as a string (failCode may be a number)."""
    if _blank(value):
        return None
    return str(value)


def _loads(value: Any) -> Any:
    """Parse a JSON-encoded string field (``resultJson``, ``param``); dicts pass through; blank → None."""
    if _blank(value):
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def parse_url_list(value: Any) -> list[str]:
    """URLs from an array, a JSON-stringified array, a bare ``"[http://a, http://b]"`` string or one URL."""
    if _blank(value):
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if not _blank(v)]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                decoded = json.loads(text)
            except ValueError:
                inner = text[1:-1] if text.endswith("]") else text[1:]
                return [part.strip().strip("'\"") for part in inner.split(",") if part.strip().strip("'\"")]
            return parse_url_list(decoded)
        return [text]
    return []


def first_of(mapping: Any, *keys: str) -> Any:
    if not isinstance(mapping, dict):
        return None
    for key in keys:
        value = mapping.get(key)
        if not _blank(value):
            return value
    return None


def as_number(value: Any) -> float | None:
    if _blank(value) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _credits(data: dict[str, Any]) -> float | None:
    return as_number(first_of(data, "creditsConsumed", "credits_consumed", "consumeCredits"))


_STATE_WORDS = {
    "waiting": TaskState.WAITING,
    "wait": TaskState.WAITING,
    "pending": TaskState.WAITING,
    "queuing": TaskState.QUEUING,
    "queueing": TaskState.QUEUING,
    "queued": TaskState.QUEUING,
    "generating": TaskState.GENERATING,
    "processing": TaskState.GENERATING,
    "running": TaskState.GENERATING,
    "success": TaskState.SUCCESS,
    "succeeded": TaskState.SUCCESS,
    "complete": TaskState.SUCCESS,
    "completed": TaskState.SUCCESS,
    "fail": TaskState.FAIL,
    "failed": TaskState.FAIL,
    "error": TaskState.FAIL,
}


def _state_word(value: Any) -> TaskState:
    # Anything we do not recognise is treated as "still running": the caller keeps polling.
    return _STATE_WORDS.get(str(value or "").strip().lower(), TaskState.GENERATING)


def _flag_state(flag: Any) -> TaskState:
    """successFlag: 0 generating, 1 success, 2/3 failed; the Suno side APIs also use words."""
    if isinstance(flag, bool):
        return TaskState.SUCCESS if flag else TaskState.GENERATING
    if isinstance(flag, int | float) or (isinstance(flag, str) and flag.strip().lstrip("-").isdigit()):
        number = int(flag)
        if number == 1:
            return TaskState.SUCCESS
        if number in (2, 3) or number < 0:
            return TaskState.FAIL
        return TaskState.GENERATING
    word = str(flag or "").strip().upper()
    if word == "SUCCESS":
        return TaskState.SUCCESS
    if word.endswith(("FAILED", "_ERROR", "EXCEPTION")) or word in ("FAIL", "ERROR"):
        return TaskState.FAIL
    if word in ("PENDING", "WAITING"):
        return TaskState.WAITING
    return TaskState.GENERATING


def _files(urls: list[str], kind: str | None, **shared: Any) -> list[ResultFile]:
    return [
        ResultFile(url=u, kind=kind_from_url(u) or kind, metadata={"index": i, **shared}) for i, u in enumerate(urls)
    ]


def _market(data: dict[str, Any]) -> dict[str, Any]:
    result = _loads(data.get("resultJson"))
    files: list[ResultFile] = []
    result_object = None
    if isinstance(result, dict):
        urls = parse_url_list(result.get("resultUrls"))
        marked = parse_url_list(result.get("resultWaterMarkUrls"))
        for i, url in enumerate(urls):
            meta: dict[str, Any] = {"index": i}
            if i < len(marked):
                meta["watermark_url"] = marked[i]
            files.append(ResultFile(url=url, kind=kind_from_url(url), metadata=meta))
        if isinstance(result.get("resultObject"), dict):
            result_object = result["resultObject"]
    return {
        "state": _state_word(data.get("state")),
        "results": files,
        "fail_code": _text(data.get("failCode")),
        "fail_message": _text(data.get("failMsg")),
        "result_object": result_object,
    }


def _veo(data: dict[str, Any]) -> dict[str, Any]:
    response = data.get("response") if isinstance(data.get("response"), dict) else data.get("info")
    response = response if isinstance(response, dict) else {}
    urls = parse_url_list(first_of(response, "resultUrls", "result_urls"))
    origins = parse_url_list(first_of(response, "originUrls", "origin_urls"))
    resolution = first_of(response, "resolution")
    files = []
    for i, url in enumerate(urls):
        meta: dict[str, Any] = {"index": i}
        if resolution:
            meta["resolution"] = resolution
        if i < len(origins):
            meta["origin_url"] = origins[i]
        files.append(ResultFile(url=url, kind=kind_from_url(url) or "video", metadata=meta))
    return {
        "state": _flag_state(data.get("successFlag")),
        "results": files,
        "fail_code": _text(data.get("errorCode")),
        "fail_message": _text(data.get("errorMessage")),
    }


def _gpt4o(data: dict[str, Any]) -> dict[str, Any]:
    response = _dict(data.get("response"))
    state = _flag_state(data["successFlag"]) if "successFlag" in data else _flag_state(data.get("status"))
    return {
        "state": state,
        "stage": _text(data.get("status")),
        "results": _files(parse_url_list(first_of(response, "resultUrls", "result_urls")), "image"),
        "fail_code": _text(data.get("errorCode")),
        "fail_message": _text(data.get("errorMessage")),
        "progress": as_number(data.get("progress")),
    }


def _flux(data: dict[str, Any]) -> dict[str, Any]:
    response = _dict(data.get("response"))
    url = first_of(response, "resultImageUrl", "result_image_url")
    files = []
    if url:
        meta = {"index": 0}
        if origin := first_of(response, "originImageUrl", "origin_image_url"):
            meta["origin_image_url"] = origin
        files.append(ResultFile(url=str(url), kind=kind_from_url(str(url)) or "image", metadata=meta))
    return {
        "state": _flag_state(data.get("successFlag")),
        "results": files,
        "fail_code": _text(data.get("errorCode")),
        "fail_message": _text(data.get("errorMessage")),
    }


def _error_set(value: Any) -> bool:
    """Whether an ``errorCode``/``errorMessage`` says something: not blank, not 0 (a running Aleph task's code)."""
    return not _blank(value) and str(value).strip() not in ("0", "200")


def _aleph(data: dict[str, Any]) -> dict[str, Any]:
    """Aleph's details page: ``successFlag`` 1 is success and 0 is "failed *or* still running"; a failure shows only
    in ``errorCode``/``errorMessage`` being set."""
    response = _dict(data.get("response"))
    url = first_of(response, "resultVideoUrl", "result_video_url")
    files = []
    if url:
        meta = {"index": 0}
        if image := first_of(response, "resultImageUrl", "result_image_url"):
            meta["image_url"] = image
        files.append(ResultFile(url=str(url), kind=kind_from_url(str(url)) or "video", metadata=meta))
    state = _flag_state(data.get("successFlag"))
    if state is not TaskState.SUCCESS and (_error_set(data.get("errorCode")) or _error_set(data.get("errorMessage"))):
        state = TaskState.FAIL
    return {
        "state": state,
        "results": files,
        "fail_code": _text(data.get("errorCode")),
        "fail_message": _text(data.get("errorMessage")),
    }


def _runway(data: dict[str, Any]) -> dict[str, Any]:
    info = _dict(data.get("videoInfo"))
    url = first_of(info, "videoUrl", "video_url") or first_of(data, "videoUrl", "video_url")
    files = []
    if url:
        meta: dict[str, Any] = {"index": 0}
        if image := first_of(info, "imageUrl", "image_url"):
            meta["image_url"] = image
        if video_id := first_of(info, "videoId", "video_id"):
            meta["video_id"] = video_id
        if data.get("expireFlag") is not None:
            meta["expired"] = str(data.get("expireFlag")) == "1"
        files.append(ResultFile(url=str(url), kind=kind_from_url(str(url)) or "video", metadata=meta))
    return {
        "state": _state_word(data.get("state")),
        "stage": _text(data.get("state")),
        "results": files,
        "fail_code": _text(data.get("failCode")),
        "fail_message": _text(data.get("failMsg")),
    }


_SUNO_RUNNING = {
    "PENDING": TaskState.WAITING,
    "TEXT_SUCCESS": TaskState.GENERATING,
    "FIRST_SUCCESS": TaskState.GENERATING,
}


def _suno_tracks(response: Any) -> list[dict[str, Any]]:
    if not isinstance(response, dict):
        return []
    tracks = first_of(response, "sunoData", "suno_data", "data")
    return [t for t in tracks if isinstance(t, dict)] if isinstance(tracks, list) else []


def _suno(data: dict[str, Any]) -> dict[str, Any]:
    status = str(data.get("status") or "").strip().upper()
    files = []
    for track in _suno_tracks(data.get("response")):
        audio = first_of(track, "audioUrl", "audio_url")
        stream = first_of(track, "streamAudioUrl", "stream_audio_url")
        url = audio or stream
        if not url:
            continue
        meta: dict[str, Any] = {
            "audio_id": first_of(track, "id", "audioId", "audio_id"),
            "title": track.get("title"),
            "duration": as_number(track.get("duration")),
            "image_url": first_of(track, "imageUrl", "image_url"),
            "stream_audio_url": stream,
            "tags": track.get("tags"),
            "prompt": track.get("prompt"),
            "model_name": first_of(track, "modelName", "model_name"),
        }
        if not audio:
            meta["streaming_only"] = True
        files.append(ResultFile(url=str(url), kind="audio", metadata={k: v for k, v in meta.items() if v is not None}))

    if status in _SUNO_RUNNING:
        state = _SUNO_RUNNING[status]
    elif status == "SUCCESS":
        state = TaskState.SUCCESS
    elif status == "CALLBACK_EXCEPTION":
        # Kie could not deliver the callback; the music itself may be complete.
        complete = bool(files) and all(not f.metadata.get("streaming_only") for f in files)
        state = TaskState.SUCCESS if complete else TaskState.FAIL
    elif status.endswith(("FAILED", "_ERROR", "EXCEPTION")):
        state = TaskState.FAIL
    else:
        state = _state_word(status)
    fail_message = _text(data.get("errorMessage"))
    if state is TaskState.FAIL and not fail_message and status:
        fail_message = {
            "SENSITIVE_WORD_ERROR": "The prompt contains sensitive words (SENSITIVE_WORD_ERROR).",
            "CREATE_TASK_FAILED": "Kie could not start the task (CREATE_TASK_FAILED).",
            "GENERATE_AUDIO_FAILED": "Kie could not generate the audio (GENERATE_AUDIO_FAILED).",
        }.get(status, status)
    return {
        "state": state,
        "stage": status or None,
        "results": files if state is not TaskState.FAIL else [],
        "fail_code": _text(data.get("errorCode")),
        "fail_message": fail_message,
    }


def _suno_lyrics(data: dict[str, Any]) -> dict[str, Any]:
    base = _suno({**data, "response": None})
    response = _dict(data.get("response"))
    items = _list(response.get("data"))
    lyrics = [
        {
            "text": item.get("text"),
            "title": item.get("title"),
            "status": item.get("status"),
            "error_message": _text(first_of(item, "errorMessage", "error_message")),
        }
        for item in items
        if isinstance(item, dict)
    ]
    base["result_object"] = {"lyrics": lyrics} if lyrics else None
    return base


def _suno_side(kind: str | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """WAV, vocal/stem separation, MIDI and music-video records: flag + a response with ``…Url`` fields."""

    def parse(data: dict[str, Any]) -> dict[str, Any]:
        flag = data.get("successFlag", data.get("status"))
        state = _flag_state(flag)
        response = _dict(data.get("response"))
        files: list[ResultFile] = []
        for key, value in response.items():
            if not key.lower().endswith("url") or _blank(value) or not isinstance(value, str):
                continue
            if key in ("originUrl", "origin_url"):
                continue
            name = key[:-3] if key.endswith(("Url", "url")) else key
            guess = kind_from_url(value) or ("video" if "video" in key.lower() else kind)
            files.append(ResultFile(url=value, kind=guess, metadata={"index": len(files), "name": name}))
        result_object = None
        if isinstance(data.get("midiData"), dict):
            result_object = {"midi": data["midiData"]}
        return {
            "state": state,
            "stage": _text(flag),
            "results": files,
            "fail_code": _text(data.get("errorCode")),
            "fail_message": _text(data.get("errorMessage")),
            "result_object": result_object,
        }

    return parse


# Suno cover art's successFlag: 0 waiting, 1 done, 2 still drawing, 3 failed (2 means *running* here, unlike the
# other families' flags); the status words of its docs page are read too.
_COVER_FLAGS = {0: TaskState.WAITING, 1: TaskState.SUCCESS, 2: TaskState.GENERATING, 3: TaskState.FAIL}


def _suno_cover(data: dict[str, Any]) -> dict[str, Any]:
    """Suno cover art: ``response.images`` (usually two pictures) once ``successFlag`` is 1."""
    flag = data.get("successFlag", data.get("status"))
    number = as_number(flag)
    if number is not None and number.is_integer() and int(number) in _COVER_FLAGS:
        state = _COVER_FLAGS[int(number)]
    else:
        state = _flag_state(flag)
    response = _dict(data.get("response"))
    urls = parse_url_list(first_of(response, "images", "imageUrls", "image_urls"))
    files = [
        ResultFile(url=url, kind=kind_from_url(url) or "image", metadata={"index": i, "name": f"Cover {i + 1}"})
        for i, url in enumerate(urls)
    ]
    fail_code = _text(data.get("errorCode"))
    return {
        "state": state,
        "stage": _text(flag),
        "results": files,
        "fail_code": None if fail_code == "200" else fail_code,
        "fail_message": _text(data.get("errorMessage")) or "Kie couldn't draw the cover art.",
    }


FAMILIES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "market": _market,
    "veo": _veo,
    "suno": _suno,
    "suno_lyrics": _suno_lyrics,
    "suno_wav": _suno_side("audio"),
    "suno_vocal_removal": _suno_side("audio"),
    "suno_midi": _suno_side(None),
    "suno_mp4": _suno_side("video"),
    # Mashups and replaced sections are Suno music tasks: the same record, the same tracks.
    "suno_mashup": _suno,
    "suno_section": _suno,
    "suno_cover": _suno_cover,
    "gpt4o_image": _gpt4o,
    "flux_kontext": _flux,
    "runway": _runway,
    "aleph": _aleph,
}


def normalise_record(family: str, data: Any, *, task_id: str) -> TaskStatus:
    """``data`` is the ``data`` object of a record-info answer for ``family``."""
    if family not in FAMILIES:
        raise ValueError(f"Unknown Kie family {family!r}")
    record = data if isinstance(data, dict) else {}
    fields = FAMILIES[family](record)
    state: TaskState = fields["state"]
    return TaskStatus(
        task_id=str(first_of(record, "taskId", "task_id") or task_id),
        state=state,
        stage=fields.get("stage"),
        results=tuple(fields.get("results") or ()),
        fail_code=fields.get("fail_code") if state is TaskState.FAIL else None,
        fail_message=fields.get("fail_message") if state is TaskState.FAIL else None,
        credits_consumed=_credits(record),
        progress=fields.get("progress"),
        result_object=fields.get("result_object"),
        raw=record,
    )
