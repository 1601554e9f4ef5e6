"""Reading Kie's answers: the task id of a create, an uploaded file, lyrics, a persona, a style, a link, a balance.

Pure functions of a parsed body, shared by the sync and async clients.
"""

from __future__ import annotations

from typing import Any

from .errors import KieGenerationFailed, KieMalformedResponse, KieUnknownOutcome
from .records import as_number, first_of
from .types import AlignedWord, PersonaResult, StyleBoost, TimestampedLyrics, UploadedFile

__all__ = [
    "credits_from",
    "persona_from",
    "signed_url_from",
    "style_boost_from",
    "task_id_from",
    "timestamped_lyrics_from",
    "uploaded_file_from",
]


def _data(body: dict[str, Any]) -> dict[str, Any]:
    data = body.get("data")
    return data if isinstance(data, dict) else {}


def task_id_from(body: dict[str, Any]) -> str:
    data = body.get("data")
    task_id = data if isinstance(data, str) else first_of(data, "taskId", "task_id", "id")
    task_id = task_id or first_of(body, "taskId", "task_id")
    if not task_id:
        raise KieUnknownOutcome("Kie accepted the request but its answer carried no task id")
    return str(task_id)


def uploaded_file_from(body: dict[str, Any]) -> UploadedFile:
    data = _data(body)
    url = first_of(data, "downloadUrl", "fileUrl", "url")
    if not url:
        raise KieMalformedResponse("Kie's upload answer carried no file URL")
    size = as_number(data.get("fileSize"))
    return UploadedFile(
        url=str(url),
        file_name=first_of(data, "fileName", "originalName"),
        file_path=first_of(data, "filePath", "uploadPath"),
        size=int(size) if size is not None else None,
        mime_type=data.get("mimeType"),
        uploaded_at=first_of(data, "uploadedAt", "uploadTime"),
        expires_at=data.get("expiresAt"),
        raw=data,
    )


def timestamped_lyrics_from(body: dict[str, Any]) -> TimestampedLyrics:
    data = _data(body)
    words = []
    for item in first_of(data, "alignedWords", "aligned_words") or ():
        if not isinstance(item, dict):
            continue
        words.append(
            AlignedWord(
                word=str(item.get("word") or ""),
                start=as_number(first_of(item, "startS", "start_s", "start")),
                end=as_number(first_of(item, "endS", "end_s", "end")),
                success=item.get("success") if isinstance(item.get("success"), bool) else None,
                p_align=as_number(first_of(item, "palign", "p_align")),
            )
        )
    wave = first_of(data, "waveformData", "waveform_data") or ()
    return TimestampedLyrics(
        words=tuple(words),
        waveform=tuple(v for v in (as_number(x) for x in wave) if v is not None),
        hoot_cer=as_number(first_of(data, "hootCer", "hoot_cer")),
        is_streamed=data.get("isStreamed") if isinstance(data.get("isStreamed"), bool) else None,
        raw=data,
    )


def persona_from(body: dict[str, Any]) -> PersonaResult:
    data = _data(body)
    persona_id = first_of(data, "personaId", "persona_id", "id")
    if not persona_id:
        raise KieMalformedResponse("Kie's persona answer carried no persona id")
    return PersonaResult(
        persona_id=str(persona_id),
        name=str(data.get("name") or ""),
        description=str(data.get("description") or ""),
        raw=data,
    )


def style_boost_from(body: dict[str, Any]) -> StyleBoost:
    data = _data(body)
    text = data.get("result")
    if not isinstance(text, str) or not text.strip():
        # successFlag 2 ("failed") comes with an errorMessage; anything else without a result is unreadable.
        message = _text_of(data.get("errorMessage"))
        if message:
            raise KieGenerationFailed(message, code=_as_int(data.get("errorCode")))
        raise KieMalformedResponse("Kie's style answer carried no text")
    return StyleBoost(
        text=text.strip(),
        credits_consumed=as_number(data.get("creditsConsumed")),
        task_id=first_of(data, "taskId", "task_id"),
        raw=data,
    )


def _text_of(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _as_int(value: Any) -> int | None:
    number = as_number(value)
    return int(number) if number is not None and number.is_integer() else None


def signed_url_from(body: dict[str, Any]) -> str:
    data = body.get("data")
    url = data if isinstance(data, str) else first_of(data, "url", "downloadUrl")
    if not url:
        raise KieMalformedResponse("Kie's answer carried no download link")
    return str(url)


def credits_from(body: dict[str, Any] | None) -> float:
    credits = as_number((body or {}).get("data"))
    if credits is None:
        raise KieMalformedResponse("Kie's credit answer carried no number")
    return credits
