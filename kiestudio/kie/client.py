"""The synchronous Kie client used by the workers: Market jobs, every family API, uploads, credits.

Every request goes through :meth:`KieClient._call`: it plans the call, waits for a rate-limit slot, sends it through
:meth:`KieClient._send` (one HTTP seam over an injectable ``httpx.BaseTransport``), interprets the answer and
retries where safe. Planning, interpreting and the retry decision are :class:`~kiestudio.kie.base.KieBase`'s, shared
with the async client; this module holds only the blocking transport and the calls built on it.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Unpack

import httpx

from .answers import (
    credits_from,
    persona_from,
    signed_url_from,
    style_boost_from,
    task_id_from,
    timestamped_lyrics_from,
    uploaded_file_from,
)
from .base import Call, KieBase, KieOptions, compact
from .errors import KieError, KieNotReady
from .families import FamilyMethods
from .http import Op, error_from_transport
from .records import first_of, normalise_record
from .types import PersonaResult, StyleBoost, TaskStatus, TimestampedLyrics, UploadedFile

if TYPE_CHECKING:
    from .catalog import ModelSpec

__all__ = ["CREATE_PATHS", "RECORD_PATHS", "KieClient"]

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

FileSource = bytes | str | os.PathLike[str] | IO[bytes]


class KieClient(FamilyMethods, KieBase):
    """Blocking client (thread-safe; one per process is fine). Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **options: Unpack[KieOptions],
    ) -> None:
        """``options`` are :class:`~kiestudio.kie.base.KieBase`'s. ``http`` lets a process share one connection pool
        (and one TLS context, which costs ~20 ms to build) between many short-lived clients; a shared pool is not
        closed by :meth:`close`."""
        super().__init__(api_key, **options)
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

    def _send(self, call: Call, **kwargs: Any) -> httpx.Response:
        """The one place a request leaves the process."""
        try:
            return self._http.request(call.method, call.url, headers=call.headers, **kwargs)
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, op=call.op) from exc

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
        call = self._plan(
            method, path, op=op, base_url=base_url, json=json, field_candidates=field_candidates, attempts=attempts
        )
        failures = 0
        while True:
            if call.bucket:
                self.limiter.acquire(call.bucket[0], limit=call.bucket[1], window=call.bucket[2])
            try:
                content = compact({"params": params, "json": json, "data": data})
                if files is not None:
                    content["files"] = files()
                return self._interpret(call, self._send(call, **content))
            except KieError as err:
                failures += 1
                self._sleep(self._backoff(call, err, failures))

    def _family_create(
        self, path: str, fields: Mapping[str, Any], callback_url: str | None, *, field_candidates: Iterable[str] = ()
    ) -> str:
        body = compact({**fields, "callBackUrl": self._callback(path, callback_url)})
        return self._create(path, body, field_candidates=field_candidates)

    def _create(self, path: str, body: dict[str, Any], *, field_candidates: Iterable[str] = ()) -> str:
        return task_id_from(self._call("POST", path, op=Op.CREATE, json=body, field_candidates=field_candidates))

    def _record(self, family: str, task_id: str) -> TaskStatus:
        body = self._call("GET", RECORD_PATHS[family], op=Op.READ, params={"taskId": task_id})
        return normalise_record(family, body.get("data"), task_id=task_id)

    # -- dispatch used by the workers -------------------------------------------------------------------

    def create_task(self, spec: ModelSpec, inputs: Mapping[str, Any], *, callback_url: str | None) -> str:
        """Start a generation for a catalog model. ``inputs`` are validated and already use Kie's wire names."""
        if spec.family == "market":
            if not spec.model:
                raise ValueError(f"Catalog model {spec.key!r} has no Kie model id")
            return self.market_create(spec.model, dict(inputs), callback_url=callback_url)
        path, fields = _family_request(spec, inputs)
        return self._family_create(path, fields, callback_url, field_candidates=fields.keys())

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
        body = compact(
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
        return credits_from(self._call("GET", "/api/v1/chat/credit", op=Op.READ))

    def download_url(self, url: str) -> str:
        """A temporary (20 min) download link for a Kie-generated file."""
        body = self._call("POST", "/api/v1/common/download-url", op=Op.READ, json={"url": url})
        return signed_url_from(body)

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
                data=compact({"uploadPath": upload_path, "fileName": file_name}),
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
            json=compact({"base64Data": content, "uploadPath": upload_path, "fileName": file_name}),
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
            json=compact({"fileUrl": url, "uploadPath": upload_path, "fileName": file_name}),
        )
        return uploaded_file_from(body)

    # -- Family side calls the studio makes (answered at once or read on a schedule) ------------------

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
            json=compact({"taskId": task_id, "index": index, "callBackUrl": callback_url}),
        )
        return body.get("data")

    def suno_timestamped_lyrics(self, task_id: str, audio_id: str) -> TimestampedLyrics:
        body = self._call(
            "POST",
            "/api/v1/generate/get-timestamped-lyrics",
            op=Op.READ,  # answers from a finished track; asking twice is harmless
            json={"taskId": task_id, "audioId": audio_id},
        )
        return timestamped_lyrics_from(body)

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

    def gpt4o_download_url(self, task_id: str, url: str) -> str:
        body = self._call("POST", "/api/v1/gpt4o-image/download-url", op=Op.READ, json={"taskId": task_id, "url": url})
        return signed_url_from(body)


def _family_request(spec: ModelSpec, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The create path and wire fields of a catalog model outside Market."""
    if spec.family not in CREATE_PATHS:
        raise ValueError(f"Unknown Kie family {spec.family!r} for {spec.key!r}")
    fields = dict(inputs)
    if spec.family == "veo" and "aspectRatio" in fields and "aspect_ratio" not in fields:
        fields["aspect_ratio"] = fields.pop("aspectRatio")  # Kie's examples send aspect_ratio
    if spec.model and "model" not in fields:
        fields["model"] = spec.model
    endpoint = getattr(spec, "endpoint", "") or ""
    path = endpoint.split(" ", 1)[1] if endpoint.startswith("POST /") else CREATE_PATHS[spec.family]
    return path, fields
