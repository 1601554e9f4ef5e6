"""File Upload API (contract 4): stream, base64 and URL uploads, served back under ``/_sim/files/``."""

from __future__ import annotations

import base64
import binascii
import email.policy
import mimetypes
import re
import time
from dataclasses import dataclass
from email.parser import BytesParser
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .common import BadRequest, base_url, check_auth, read_json, sim_of
from .media import sniff_mime
from .state import Upload

TTL_SECONDS = 3 * 24 * 3600
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _failure(request: Request, status: int, message: str) -> JSONResponse:
    key = sim_of(request).config.message_key
    return JSONResponse({"success": False, "code": status, key: message}, status_code=status)


def _clean_dir(value: Any) -> str:
    parts = [_SAFE.sub("-", p) for p in str(value or "").split("/") if p not in ("", ".", "..")]
    return "/".join(p for p in parts if p)


def _clean_name(value: Any) -> str:
    name = _SAFE.sub("-", str(value or "").rsplit("/", 1)[-1]).strip("-.")
    return name


def _iso(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + f".{int(wall * 1000) % 1000:03d}Z"


def _store(request: Request, data: bytes, upload_path: Any, file_name: Any, mime: str | None = None) -> JSONResponse:
    sim = sim_of(request)
    mime = mime or sniff_mime(data, str(file_name or ""))
    name = _clean_name(file_name)
    if not name:
        ext = mimetypes.guess_extension(mime) or ".bin"
        ext = {".jpe": ".jpg", ".jpeg": ".jpg"}.get(ext, ext)
        name = f"{sim.next_hash('upload')[:16]}{ext}"
    folder = _clean_dir(upload_path)
    path = f"{folder}/{name}" if folder else name
    now = time.time()
    sim.uploads[path] = Upload(path=path, data=data, mime=mime, uploaded_wall=now)
    url = f"{base_url(request)}/_sim/files/{path}"
    body = {
        "success": True,
        "code": 200,
        sim.config.message_key: "File uploaded successfully",
        "data": {
            "fileName": name,
            "filePath": path,
            "downloadUrl": url,
            "fileSize": len(data),
            "mimeType": mime,
            "uploadedAt": _iso(now),
            # Quickstart-page shape (contract 4, conflict 5): clients read downloadUrl || fileUrl.
            "fileUrl": url,
            "expiresAt": _iso(now + TTL_SECONDS),
        },
    }
    return JSONResponse(body)


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def parse_multipart(content_type: str, body: bytes) -> dict[str, Part]:
    """Parse ``multipart/form-data`` with the stdlib e-mail parser (no python-multipart dependency)."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise BadRequest("Request must be multipart/form-data with a 'file' part")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise BadRequest("Malformed multipart body")
    parts: dict[str, Part] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True)  # bytes, or None for a nested multipart
        parts[str(name)] = Part(
            name=str(name),
            filename=part.get_filename(),
            content_type=part.get_content_type() if part.get("content-type") else None,
            data=payload if isinstance(payload, bytes) else b"",
        )
    return parts


async def stream_upload(request: Request) -> Response:
    if denied := check_auth(request):
        return denied
    try:
        parts = parse_multipart(request.headers.get("content-type", ""), await request.body())
    except BadRequest as exc:
        return _failure(request, 400, exc.message)
    upload = parts.get("file")
    if upload is None or upload.filename is None:
        return _failure(request, 400, "Missing required parameter 'file'")

    def text(name: str) -> str | None:
        part = parts.get(name)
        return part.data.decode("utf-8", "replace").strip() if part else None

    file_name = text("fileName") or upload.filename
    content_type = upload.content_type if upload.content_type not in (None, "", "application/octet-stream") else None
    mime = content_type or sniff_mime(upload.data, str(file_name))
    return _store(request, upload.data, text("uploadPath"), file_name, mime)


def _decode_base64(value: str) -> tuple[bytes, str | None]:
    if value.startswith("data:"):
        # Field reports (contract 8b): the live endpoint takes raw base64 only, whatever its older page says.
        raise BadRequest("Invalid parameter 'base64Data': send the raw base64 text, without a data: URL prefix")
    try:
        return base64.b64decode(value, validate=True), None
    except (binascii.Error, ValueError):
        raise BadRequest("Invalid parameter 'base64Data': not valid base64") from None


async def base64_upload(request: Request) -> Response:
    if denied := check_auth(request):
        return denied
    try:
        body = await read_json(request)
        value = body.get("base64Data")
        if not isinstance(value, str) or not value:
            raise BadRequest("Missing required parameter 'base64Data'")
        data, mime = _decode_base64(value.strip())
    except BadRequest as exc:
        return _failure(request, 400, exc.message)
    return _store(request, data, body.get("uploadPath"), body.get("fileName"), mime)


async def url_upload(request: Request) -> Response:
    if denied := check_auth(request):
        return denied
    try:
        body = await read_json(request)
    except BadRequest as exc:
        return _failure(request, 400, exc.message)
    url = body.get("fileUrl")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return _failure(request, 400, "Invalid parameter 'fileUrl': must be an http(s) URL")
    try:
        async with httpx.AsyncClient(timeout=30.0, follow_redirects=True) as client:
            fetched = await client.get(url)
        fetched.raise_for_status()
    except httpx.HTTPError as exc:
        return _failure(request, 400, f"Failed to download the file from fileUrl: {exc}")
    header_mime = fetched.headers.get("content-type", "").split(";")[0].strip() or None
    file_name = body.get("fileName") or url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    mime = header_mime if header_mime not in (None, "application/octet-stream") else None
    return _store(request, fetched.content, body.get("uploadPath"), file_name, mime)


routes = [
    Route("/api/file-stream-upload", stream_upload, methods=["POST"]),
    Route("/api/file-base64-upload", base64_upload, methods=["POST"]),
    Route("/api/file-url-upload", url_upload, methods=["POST"]),
]
