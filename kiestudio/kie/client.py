"""The synchronous Kie client used by the workers: Market jobs, every family API, uploads, credits.

Every request goes through :meth:`KieClient._send` (one HTTP seam over an injectable
``httpx.BaseTransport``); :meth:`KieClient._call` wraps it with rate limiting, retries and error mapping.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx

from .errors import KieError, KieGenerationFailed, KieMalformedResponse, KieNotReady, KieUnknownOutcome
from .http import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    DEFAULT_UPLOAD_BASE_URL,
    DEFAULT_USER_AGENT,
    Op,
    RetryPolicy,
    account_id,
    error_from_transport,
    interpret_response,
    may_retry,
)
from .limiter import InMemoryRateLimiter, RateLimiter
from .records import as_number, first_of, normalise_record
from .types import AlignedWord, PersonaResult, StyleBoost, TaskStatus, TimestampedLyrics, UploadedFile

if TYPE_CHECKING:
    from .catalog import ModelSpec

__all__ = ["CREATE_PATHS", "RECORD_PATHS", "KieClient"]

log = logging.getLogger("kiestudio.kie")

CREATE_PATHS = {
    "market": "/api/v1/jobs/createTask",
    "veo": "/api/v1/veo/generate",
    "suno": "/api/v1/generate",
    "gpt4o_image": "/api/v1/gpt4o-image/generate",
    "flux_kontext": "/api/v1/flux/kontext/generate",
    "runway": "/api/v1/runway/generate",
    "aleph": "/api/v1/aleph/generate",
    "suno_wav": "/api/v1/wav/generate",
    "suno_vocal_removal": "/api/v1/vocal-removal/generate",
    "suno_midi": "/api/v1/midi/generate",
    "suno_mp4": "/api/v1/mp4/generate",
    "suno_mashup": "/api/v1/generate/mashup",
    "suno_section": "/api/v1/generate/replace-section",
    "suno_cover": "/api/v1/suno/cover/generate",
}

RECORD_PATHS = {
    "market": "/api/v1/jobs/recordInfo",
    "veo": "/api/v1/veo/record-info",
    "suno": "/api/v1/generate/record-info",
    "suno_lyrics": "/api/v1/lyrics/record-info",
    "suno_wav": "/api/v1/wav/record-info",
    "suno_vocal_removal": "/api/v1/vocal-removal/record-info",
    "suno_midi": "/api/v1/midi/record-info",
    "suno_mp4": "/api/v1/mp4/record-info",
    "suno_mashup": "/api/v1/generate/record-info",
    "suno_section": "/api/v1/generate/record-info",
    "suno_cover": "/api/v1/suno/cover/record-info",
    "gpt4o_image": "/api/v1/gpt4o-image/record-info",
    "flux_kontext": "/api/v1/flux/kontext/record-info",
    "runway": "/api/v1/runway/record-detail",
    "aleph": "/api/v1/aleph/record-info",
}

# Kie refuses these creates without a callBackUrl; ``default_callback_url`` fills the gap for polling-only setups.
_CALLBACK_REQUIRED = ("/api/v1/generate", "/api/v1/wav/", "/api/v1/vocal-removal/", "/api/v1/midi/")

# Process-wide default so every client of one account in this process shares one window.
_SHARED_LIMITER = InMemoryRateLimiter()


def _compact(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


class _KieConfig:
    """Configuration shared by :class:`KieClient` and :class:`~kiestudio.kie.aio.AsyncKieClient`."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        upload_base_url: str = DEFAULT_UPLOAD_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        limiter: RateLimiter | None = None,
        create_limit: int = 20,
        create_window: float = 10.0,
        read_limit: int = 10,
        read_window: float = 1.0,
        rate_margin: float = 0.25,
        retries: RetryPolicy | int | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        default_callback_url: str | None = None,
    ) -> None:
        if not api_key or not isinstance(api_key, str):
            raise ValueError("A Kie API key is required")
        self._api_key = api_key
        self.account = account_id(api_key)
        self.base_url = base_url.rstrip("/")
        self.upload_base_url = upload_base_url.rstrip("/")
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.limiter: RateLimiter = limiter if limiter is not None else _SHARED_LIMITER
        self.create_limit = create_limit
        self.create_window = create_window
        self.read_limit = read_limit
        self.read_window = read_window
        # Kie counts requests when they arrive, we count them when we reserve a slot; the time in between
        # varies, so each window is widened by this guard band or a late request could land in a full window.
        self.rate_margin = rate_margin
        self.retry = RetryPolicy.coerce(retries)
        self.user_agent = user_agent
        self.default_callback_url = default_callback_url

    def __repr__(self) -> str:
        return f"<{type(self).__name__} account={self.account} base_url={self.base_url!r}>"

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._api_key}",
            "User-Agent": self.user_agent,
            "Accept": "application/json",
        }

    def create_bucket(self) -> tuple[str, int, float]:
        """The limiter bucket, limit and window (margin included) every create of this account goes through."""
        bucket = self._bucket(Op.CREATE)
        assert bucket is not None
        return bucket

    def _bucket(self, op: Op) -> tuple[str, int, float] | None:
        if op is Op.CREATE:
            return f"create:{self.account}", self.create_limit, self.create_window + self.rate_margin
        if op is Op.READ:
            return f"read:{self.account}", self.read_limit, self.read_window + self.rate_margin
        return None

    def _callback(self, path: str, callback_url: str | None) -> str | None:
        if callback_url:
            return callback_url
        if path.startswith(_CALLBACK_REQUIRED):
            return self.default_callback_url
        return None


def task_id_from(body: dict[str, Any]) -> str:
    data = body.get("data")
    task_id = data if isinstance(data, str) else first_of(data, "taskId", "task_id", "id")
    task_id = task_id or first_of(body, "taskId", "task_id")
    if not task_id:
        raise KieUnknownOutcome("Kie accepted the request but its answer carried no task id")
    return str(task_id)


def uploaded_file_from(body: dict[str, Any]) -> UploadedFile:
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
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
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
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
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
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
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
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


FileSource = bytes | str | os.PathLike[str] | IO[bytes]


class KieClient(_KieConfig):
    """Blocking client (thread-safe; one per process is fine). Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        upload_base_url: str = DEFAULT_UPLOAD_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        limiter: RateLimiter | None = None,
        create_limit: int = 20,
        create_window: float = 10.0,
        read_limit: int = 10,
        read_window: float = 1.0,
        rate_margin: float = 0.25,
        retries: RetryPolicy | int | None = None,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        default_callback_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``http`` lets a process share one connection pool (and one TLS context, which costs ~20 ms to build)
        between many short-lived clients; a shared pool is not closed by :meth:`close`."""
        super().__init__(
            api_key,
            base_url=base_url,
            upload_base_url=upload_base_url,
            timeout=timeout,
            limiter=limiter,
            create_limit=create_limit,
            create_window=create_window,
            read_limit=read_limit,
            read_window=read_window,
            rate_margin=rate_margin,
            retries=retries,
            user_agent=user_agent,
            default_callback_url=default_callback_url,
        )
        self._sleep = sleep
        self._owns_http = http is None
        self._http = http or httpx.Client(timeout=self.timeout, transport=transport, follow_redirects=False)

    # -- plumbing ---------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> KieClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, url: str, *, op: Op, **kwargs: Any) -> httpx.Response:
        """The one place a request leaves the process."""
        try:
            return self._http.request(method, url, headers=self._headers(), **kwargs)
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, op=op) from exc

    def _call(
        self,
        method: str,
        path: str,
        *,
        op: Op,
        base_url: str | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, Any] | None = None,
        files: Callable[[], Any] | None = None,
        field_candidates: Iterable[str] = (),
        attempts: int | None = None,
    ) -> dict[str, Any]:
        """Rate limit, send, map errors, retry where safe. Returns the parsed body of a successful answer."""
        url = f"{base_url or self.base_url}{path}"
        candidates = tuple(field_candidates) or tuple(json.keys() if isinstance(json, dict) else ())
        bucket = self._bucket(op)
        failures = 0
        while True:
            if bucket:
                self.limiter.acquire(bucket[0], limit=bucket[1], window=bucket[2])
            try:
                kwargs: dict[str, Any] = {"params": params, "json": json, "data": data}
                if files is not None:
                    kwargs["files"] = files()
                response = self._send(method, url, op=op, **_compact(kwargs))
                return interpret_response(response, op=op, field_candidates=candidates, secret=self._api_key)
            except KieError as err:
                failures += 1
                if failures >= (attempts or self.retry.attempts) or not may_retry(err, op):
                    raise
                delay = self.retry.delay(failures, getattr(err, "retry_after", None))
                log.warning(
                    "kie %s %s failed (%s, %s); retry %d in %.2fs",
                    method,
                    path,
                    type(err).__name__,
                    self.account,
                    failures,
                    delay,
                )
                self._sleep(delay)

    def _create(self, path: str, body: dict[str, Any], *, field_candidates: Iterable[str] = ()) -> str:
        return task_id_from(self._call("POST", path, op=Op.CREATE, json=body, field_candidates=field_candidates))

    def _family_create(self, path: str, fields: Mapping[str, Any], callback_url: str | None) -> str:
        body = _compact({**fields, "callBackUrl": self._callback(path, callback_url)})
        return self._create(path, body)

    def _record(self, family: str, task_id: str) -> TaskStatus:
        body = self._call("GET", RECORD_PATHS[family], op=Op.READ, params={"taskId": task_id})
        return normalise_record(family, body.get("data"), task_id=task_id)

    # -- dispatch used by the workers -------------------------------------------------------------------

    def create_task(self, spec: ModelSpec, inputs: Mapping[str, Any], *, callback_url: str | None) -> str:
        """Start a generation for a catalog model. ``inputs`` are validated and already use Kie's wire names."""
        family = spec.family
        if family == "market":
            if not spec.model:
                raise ValueError(f"Catalog model {spec.key!r} has no Kie model id")
            return self.market_create(spec.model, dict(inputs), callback_url=callback_url)
        if family not in CREATE_PATHS:
            raise ValueError(f"Unknown Kie family {family!r} for {spec.key!r}")
        fields = dict(inputs)
        if family == "veo" and "aspectRatio" in fields and "aspect_ratio" not in fields:
            fields["aspect_ratio"] = fields.pop("aspectRatio")  # Kie's examples send aspect_ratio
        if spec.model and "model" not in fields:
            fields["model"] = spec.model
        endpoint = getattr(spec, "endpoint", "") or ""
        path = endpoint.split(" ", 1)[1] if endpoint.startswith("POST /") else CREATE_PATHS[family]
        body = _compact({**fields, "callBackUrl": self._callback(path, callback_url)})
        return self._create(path, body, field_candidates=fields.keys())

    def get_task(self, family: str, task_id: str) -> TaskStatus:
        """Poll any family's record and normalise it. ``family`` may also be a Suno side API (``suno_wav`` …)."""
        if family not in RECORD_PATHS:
            raise ValueError(f"Unknown Kie family {family!r}")
        return self._record(family, task_id)

    # -- Market and common ------------------------------------------------------------------------------

    def market_create(
        self,
        model: str,
        input: Mapping[str, Any],
        *,
        callback_url: str | None = None,
        progress_callback_url: str | None = None,
    ) -> str:
        body = _compact(
            {
                "model": model,
                "input": dict(input),
                "callBackUrl": callback_url,
                "progressCallBackUrl": progress_callback_url,
            }
        )
        return self._create(CREATE_PATHS["market"], body, field_candidates=input.keys())

    def market_record(self, task_id: str) -> TaskStatus:
        return self._record("market", task_id)

    def get_credits(self) -> float:
        body = self._call("GET", "/api/v1/chat/credit", op=Op.READ)
        credits = as_number(body.get("data"))
        if credits is None:
            raise KieMalformedResponse("Kie's credit answer carried no number")
        return credits

    def download_url(self, url: str) -> str:
        """A temporary (20 min) download link for a Kie-generated file."""
        body = self._call("POST", "/api/v1/common/download-url", op=Op.READ, json={"url": url})
        return _signed_url(body)

    # -- File upload (its own host) ---------------------------------------------------------------------

    def upload_file(
        self,
        file: FileSource,
        *,
        upload_path: str = "kiestudio",
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> UploadedFile:
        """Multipart stream upload. ``file`` is bytes, a path, or a binary file object (rewound on retry)."""
        opened: IO[bytes] | None = None
        if isinstance(file, str | os.PathLike):
            path = Path(file)
            file_name = file_name or path.name
            opened = path.open("rb")
            stream: bytes | IO[bytes] = opened
        else:
            stream = file
        name = file_name or "upload.bin"
        mime = mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        # httpx rewinds seekable files before sending, so a retry re-sends the whole file.
        rewindable = isinstance(stream, bytes) or stream.seekable()

        def files() -> dict[str, Any]:
            return {"file": (name, stream, mime)}

        try:
            body = self._call(
                "POST",
                "/api/file-stream-upload",
                op=Op.UPLOAD,
                base_url=self.upload_base_url,
                attempts=None if rewindable else 1,
                data=_compact({"uploadPath": upload_path, "fileName": file_name}),
                files=files,
            )
        finally:
            if opened:
                opened.close()
        return uploaded_file_from(body)

    def upload_base64(
        self,
        content: bytes | str,
        *,
        upload_path: str = "kiestudio",
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> UploadedFile:
        """Upload ≤10 MB as base64. ``content`` is raw bytes, a data URL or a bare base64 string; it is always sent
        as bare base64 (field reports: the live endpoint refuses a ``data:`` URL). Kie names the type from
        ``fileName``, so give one with the right extension."""
        if isinstance(content, bytes):
            content = base64.b64encode(content).decode()
        elif content.startswith("data:"):
            header, _, content = content.partition(",")
            mime_type = mime_type or header[5:].split(";")[0] or None
        if file_name and "." not in file_name and mime_type:
            extension = mimetypes.guess_extension(mime_type)
            file_name = f"{file_name}{extension}" if extension else file_name
        body = self._call(
            "POST",
            "/api/file-base64-upload",
            op=Op.UPLOAD,
            base_url=self.upload_base_url,
            json=_compact({"base64Data": content, "uploadPath": upload_path, "fileName": file_name}),
        )
        return uploaded_file_from(body)

    def upload_from_url(
        self, url: str, *, upload_path: str = "kiestudio", file_name: str | None = None
    ) -> UploadedFile:
        body = self._call(
            "POST",
            "/api/file-url-upload",
            op=Op.UPLOAD,
            base_url=self.upload_base_url,
            json=_compact({"fileUrl": url, "uploadPath": upload_path, "fileName": file_name}),
        )
        return uploaded_file_from(body)

    # -- Veo 3.1 ----------------------------------------------------------------------------------------

    def veo_generate(
        self,
        prompt: str,
        *,
        model: str | None = None,
        image_urls: list[str] | None = None,
        aspect_ratio: str | None = None,
        generation_type: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        fields = {
            "prompt": prompt,
            "model": model,
            "imageUrls": image_urls,
            "aspect_ratio": aspect_ratio,
            "generationType": generation_type,
            **extra,
        }
        return self._family_create("/api/v1/veo/generate", fields, callback_url)

    def veo_record(self, task_id: str) -> TaskStatus:
        return self._record("veo", task_id)

    def veo_extend(
        self, task_id: str, prompt: str, *, model: str | None = None, callback_url: str | None = None, **extra: Any
    ) -> str:
        fields = {"taskId": task_id, "prompt": prompt, "model": model, **extra}
        return self._family_create("/api/v1/veo/extend", fields, callback_url)

    def veo_1080p(self, task_id: str, *, index: int = 0) -> str:
        """The 1080p URL. Raises :class:`KieNotReady` while Kie is still upscaling; retry on a schedule."""
        body = self._call("GET", "/api/v1/veo/get-1080p-video", op=Op.READ, params={"taskId": task_id, "index": index})
        url = first_of(body.get("data"), "resultUrl", "result_url", "url")
        if not url:
            raise KieNotReady("1080P is not ready yet", http_status=200, code=body.get("code"))
        return str(url)

    def veo_4k(self, task_id: str, *, index: int = 0, callback_url: str | None = None) -> str | None:
        """Request the 4K version (paid). The result arrives by callback; returns Kie's task id if it gives one."""
        data = self.veo_4k_answer(task_id, index=index, callback_url=callback_url)
        found = first_of(data, "taskId", "task_id") if isinstance(data, dict) else data
        return str(found) if found else None

    def veo_4k_answer(self, task_id: str, *, index: int = 0, callback_url: str | None = None) -> Any:
        """The ``data`` of Kie's answer to a 4K request. Usually just the task id; asked again for a 4K Kie has
        already made, the English docs page shows the URLs themselves (``resultUrls``/``imageUrls``); while it is
        still being made, a 422 "4k is processing" (:class:`KieNotReady`)."""
        body = self._call(
            "POST",
            "/api/v1/veo/get-4k-video",
            op=Op.CREATE,
            json=_compact({"taskId": task_id, "index": index, "callBackUrl": callback_url}),
        )
        return body.get("data")

    # -- Suno -------------------------------------------------------------------------------------------

    def suno_generate(
        self,
        *,
        model: str,
        custom_mode: bool,
        instrumental: bool,
        prompt: str | None = None,
        style: str | None = None,
        title: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        fields = {
            "prompt": prompt,
            "customMode": custom_mode,
            "instrumental": instrumental,
            "model": model,
            "style": style,
            "title": title,
            **extra,
        }
        return self._family_create("/api/v1/generate", fields, callback_url)

    def suno_extend(
        self,
        audio_id: str,
        *,
        model: str,
        default_param_flag: bool,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        fields = {"audioId": audio_id, "model": model, "defaultParamFlag": default_param_flag, **extra}
        return self._family_create("/api/v1/generate/extend", fields, callback_url)

    def suno_upload_cover(
        self,
        upload_url: str,
        *,
        model: str,
        custom_mode: bool,
        instrumental: bool,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        fields = {
            "uploadUrl": upload_url,
            "model": model,
            "customMode": custom_mode,
            "instrumental": instrumental,
            **extra,
        }
        return self._family_create("/api/v1/generate/upload-cover", fields, callback_url)

    def suno_upload_extend(
        self,
        upload_url: str,
        *,
        model: str,
        default_param_flag: bool,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        fields = {"uploadUrl": upload_url, "model": model, "defaultParamFlag": default_param_flag, **extra}
        return self._family_create("/api/v1/generate/upload-extend", fields, callback_url)

    def suno_add_vocals(
        self,
        upload_url: str,
        *,
        prompt: str,
        title: str,
        style: str,
        negative_tags: str,
        model: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        fields = {
            "uploadUrl": upload_url,
            "prompt": prompt,
            "title": title,
            "style": style,
            "negativeTags": negative_tags,
            "model": model,
            **extra,
        }
        return self._family_create("/api/v1/generate/add-vocals", fields, callback_url)

    def suno_add_instrumental(
        self,
        upload_url: str,
        *,
        title: str,
        tags: str,
        negative_tags: str,
        model: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        fields = {
            "uploadUrl": upload_url,
            "title": title,
            "tags": tags,
            "negativeTags": negative_tags,
            "model": model,
            **extra,
        }
        return self._family_create("/api/v1/generate/add-instrumental", fields, callback_url)

    def suno_record(self, task_id: str) -> TaskStatus:
        return self._record("suno", task_id)

    def suno_lyrics(self, prompt: str, *, callback_url: str | None = None, **extra: Any) -> str:
        return self._family_create("/api/v1/lyrics", {"prompt": prompt, **extra}, callback_url)

    def suno_lyrics_record(self, task_id: str) -> TaskStatus:
        return self._record("suno_lyrics", task_id)

    def suno_timestamped_lyrics(self, task_id: str, audio_id: str) -> TimestampedLyrics:
        body = self._call(
            "POST",
            "/api/v1/generate/get-timestamped-lyrics",
            op=Op.READ,  # answers from a finished track; asking twice is harmless
            json={"taskId": task_id, "audioId": audio_id},
        )
        return timestamped_lyrics_from(body)

    def suno_wav(self, task_id: str, audio_id: str, *, callback_url: str | None = None) -> str:
        return self._family_create("/api/v1/wav/generate", {"taskId": task_id, "audioId": audio_id}, callback_url)

    def suno_wav_record(self, task_id: str) -> TaskStatus:
        return self._record("suno_wav", task_id)

    def suno_separate(
        self, task_id: str, audio_id: str, *, type: str = "separate_vocal", callback_url: str | None = None
    ) -> str:
        """Vocal separation (``separate_vocal``) or full stem split (``split_stem``)."""
        fields = {"taskId": task_id, "audioId": audio_id, "type": type}
        return self._family_create("/api/v1/vocal-removal/generate", fields, callback_url)

    def suno_separation_record(self, task_id: str) -> TaskStatus:
        return self._record("suno_vocal_removal", task_id)

    def suno_midi(self, task_id: str, *, audio_id: str | None = None, callback_url: str | None = None) -> str:
        return self._family_create("/api/v1/midi/generate", {"taskId": task_id, "audioId": audio_id}, callback_url)

    def suno_midi_record(self, task_id: str) -> TaskStatus:
        return self._record("suno_midi", task_id)

    def suno_music_video(
        self,
        task_id: str,
        audio_id: str,
        *,
        author: str | None = None,
        domain_name: str | None = None,
        callback_url: str | None = None,
    ) -> str:
        fields = {"taskId": task_id, "audioId": audio_id, "author": author, "domainName": domain_name}
        return self._family_create("/api/v1/mp4/generate", fields, callback_url)

    def suno_music_video_record(self, task_id: str) -> TaskStatus:
        return self._record("suno_mp4", task_id)

    def suno_mashup(
        self,
        upload_urls: list[str],
        *,
        model: str,
        custom_mode: bool,
        prompt: str | None = None,
        style: str | None = None,
        title: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        """Blend two uploaded tracks into new music (exactly two URLs); the record is Suno's own."""
        fields = {
            "uploadUrlList": list(upload_urls),
            "model": model,
            "customMode": custom_mode,
            "prompt": prompt,
            "style": style,
            "title": title,
            **extra,
        }
        return self._family_create("/api/v1/generate/mashup", fields, callback_url)

    def suno_replace_section(
        self,
        task_id: str,
        audio_id: str,
        *,
        start: float,
        end: float,
        prompt: str,
        tags: str,
        title: str,
        full_lyrics: str,
        negative_tags: str | None = None,
        callback_url: str | None = None,
    ) -> str:
        """Regenerate seconds ``start``–``end`` (6 to 60 s) of a track; the record is Suno's own."""
        fields = {
            "taskId": task_id,
            "audioId": audio_id,
            "infillStartS": start,
            "infillEndS": end,
            "prompt": prompt,
            "tags": tags,
            "title": title,
            "fullLyrics": full_lyrics,
            "negativeTags": negative_tags,
        }
        return self._family_create("/api/v1/generate/replace-section", fields, callback_url)

    def suno_cover_art(self, task_id: str, *, callback_url: str | None = None) -> str:
        """Cover pictures for a music task (once per task: Kie refuses a second request)."""
        return self._family_create("/api/v1/suno/cover/generate", {"taskId": task_id}, callback_url)

    def suno_cover_art_record(self, task_id: str) -> TaskStatus:
        return self._record("suno_cover", task_id)

    def suno_generate_persona(self, task_id: str, audio_id: str, *, name: str, description: str) -> PersonaResult:
        """Make a persona from a finished track (answered at once; Kie refuses a second one for the same track)."""
        body = self._call(
            "POST",
            "/api/v1/generate/generate-persona",
            op=Op.CREATE,
            json={"taskId": task_id, "audioId": audio_id, "name": name, "description": description},
        )
        return persona_from(body)

    def suno_boost_style(self, content: str) -> StyleBoost:
        """Kie's richer wording of a style description (answered at once, charged per request)."""
        body = self._call("POST", "/api/v1/style/generate", op=Op.CREATE, json={"content": content})
        return style_boost_from(body)

    # -- 4o Image ---------------------------------------------------------------------------------------

    def gpt4o_generate(
        self,
        *,
        size: str,
        prompt: str | None = None,
        files_url: list[str] | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        fields = {"prompt": prompt, "size": size, "filesUrl": files_url, **extra}
        return self._family_create("/api/v1/gpt4o-image/generate", fields, callback_url)

    def gpt4o_record(self, task_id: str) -> TaskStatus:
        return self._record("gpt4o_image", task_id)

    def gpt4o_download_url(self, task_id: str, url: str) -> str:
        body = self._call("POST", "/api/v1/gpt4o-image/download-url", op=Op.READ, json={"taskId": task_id, "url": url})
        return _signed_url(body)

    # -- Flux Kontext -----------------------------------------------------------------------------------

    def flux_kontext_generate(
        self,
        prompt: str,
        *,
        model: str | None = None,
        input_image: str | None = None,
        aspect_ratio: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        fields = {"prompt": prompt, "model": model, "inputImage": input_image, "aspectRatio": aspect_ratio, **extra}
        return self._family_create("/api/v1/flux/kontext/generate", fields, callback_url)

    def flux_kontext_record(self, task_id: str) -> TaskStatus:
        return self._record("flux_kontext", task_id)

    # -- Runway and Aleph -------------------------------------------------------------------------------

    def runway_generate(
        self,
        prompt: str,
        *,
        duration: int,
        quality: str,
        image_url: str | None = None,
        aspect_ratio: str | None = None,
        callback_url: str | None = None,
        **extra: Any,
    ) -> str:
        fields = {
            "prompt": prompt,
            "duration": duration,
            "quality": quality,
            "imageUrl": image_url,
            "aspectRatio": aspect_ratio,
            **extra,
        }
        return self._family_create("/api/v1/runway/generate", fields, callback_url)

    def runway_record(self, task_id: str) -> TaskStatus:
        return self._record("runway", task_id)

    def runway_extend(
        self, task_id: str, prompt: str, *, quality: str, callback_url: str | None = None, **extra: Any
    ) -> str:
        fields = {"taskId": task_id, "prompt": prompt, "quality": quality, **extra}
        return self._family_create("/api/v1/runway/extend", fields, callback_url)

    def aleph_generate(self, prompt: str, video_url: str, *, callback_url: str | None = None, **extra: Any) -> str:
        return self._family_create(
            "/api/v1/aleph/generate", {"prompt": prompt, "videoUrl": video_url, **extra}, callback_url
        )

    def aleph_record(self, task_id: str) -> TaskStatus:
        return self._record("aleph", task_id)


def _signed_url(body: dict[str, Any]) -> str:
    data = body.get("data")
    url = data if isinstance(data, str) else first_of(data, "url", "downloadUrl")
    if not url:
        raise KieMalformedResponse("Kie's answer carried no download link")
    return str(url)
