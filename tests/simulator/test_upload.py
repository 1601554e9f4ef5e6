from __future__ import annotations

import base64
import io
import os

import httpx
from PIL import Image

from . import contract_examples as ex
from .helpers import same_shape


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


def test_stream_upload_is_served_back(client):
    payload = png_bytes() + os.urandom(2048)  # binary with arbitrary bytes survives the multipart parser
    response = client.post(
        "/api/file-stream-upload",
        files={"file": ("photo.png", payload, "image/png")},
        data={"uploadPath": "images/user-uploads", "fileName": "mine.png"},
    )
    assert response.status_code == 200
    body = response.json()
    assert same_shape(body, ex.UPLOAD_RESPONSE, subset=True) == []
    data = body["data"]
    assert data["fileName"] == "mine.png" and data["filePath"] == "images/user-uploads/mine.png"
    assert data["fileSize"] == len(payload) and data["mimeType"] == "image/png"
    assert data["fileUrl"] == data["downloadUrl"] and data["expiresAt"] > data["uploadedAt"]
    fetched = httpx.get(data["downloadUrl"])  # public, like Kie's file host
    assert fetched.content == payload and fetched.headers["content-type"] == "image/png"


def test_base64_upload_takes_raw_base64_and_refuses_a_data_url(client):
    raw = png_bytes()
    body = client.post(
        "/api/file-base64-upload", json={"base64Data": base64.b64encode(raw).decode(), "uploadPath": "images"}
    ).json()
    assert body["success"] is True and body["data"]["mimeType"] == "image/png"  # sniffed from the bytes
    assert body["data"]["fileName"].endswith(".png")  # random name when fileName is omitted
    assert client.get(body["data"]["downloadUrl"]).content == raw

    body = client.post(
        "/api/file-base64-upload", json={"base64Data": base64.b64encode(b"hello").decode(), "fileName": "a.txt"}
    ).json()
    assert body["data"]["filePath"] == "a.txt" and body["data"]["mimeType"] == "text/plain"

    # Field reports (contract 8b): the live endpoint refuses a data: URL, whatever the older page says.
    data_url = "data:image/png;base64," + base64.b64encode(raw).decode()
    refused = client.post("/api/file-base64-upload", json={"base64Data": data_url, "uploadPath": "images"})
    assert refused.status_code == 400 and refused.json()["success"] is False
    assert "data: URL" in refused.json()["msg"]

    bad = client.post("/api/file-base64-upload", json={"base64Data": "***"})
    assert bad.status_code == 400 and bad.json()["success"] is False


def test_url_upload_fetches_the_file(client):
    raw = png_bytes()
    first = client.post(
        "/api/file-base64-upload", json={"base64Data": base64.b64encode(raw).decode(), "fileName": "a.png"}
    )
    source = first.json()["data"]["downloadUrl"]
    body = client.post(
        "/api/file-url-upload", json={"fileUrl": source, "uploadPath": "copies", "fileName": "b.png"}
    ).json()
    assert body["data"]["filePath"] == "copies/b.png"
    assert client.get(body["data"]["downloadUrl"]).content == raw

    unreachable = client.post("/api/file-url-upload", json={"fileUrl": "http://127.0.0.1:9/nothing.png"})
    assert unreachable.status_code == 400 and unreachable.json()["success"] is False


def test_uploads_need_a_key(kie):
    for path in ("/api/file-stream-upload", "/api/file-base64-upload", "/api/file-url-upload"):
        response = httpx.post(kie.base_url + path, json={})
        assert response.status_code == 401
        assert response.json() == ex.UNAUTHORIZED


def test_uploads_are_logged_as_upload(client, kie):
    client.post("/api/file-base64-upload", json={"base64Data": base64.b64encode(b"x").decode()})
    assert [e.kind for e in kie.sim.log.entries] == ["upload"]
