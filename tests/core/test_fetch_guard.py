"""The outbound-fetch guard: only http(s) to public addresses, every redirect re-checked, the checked address is
the one connected to, size and time capped. The simulator on loopback only through the explicit setting."""

from __future__ import annotations

import http.server
import io
import socket
import threading
import time

import httpx
import pytest

from kiestudio.core import fetch
from kiestudio.core.fetch import BlockedURL, FetchError, TooLarge, check_url, fetch_to_file

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def nothing_allowed(settings):
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f000001/",  # … in hex
        "http://0177.0.0.1/",  # … in octal
        "http://127.1/",  # … shortened
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://2852039166/",  # 169.254.169.254 as a decimal number
        "http://[::ffff:169.254.169.254]/",  # IPv4-mapped IPv6
        "http://[::ffff:10.0.0.1]/",
        "http://[::1]/",
        "http://[fd00::1]/",  # unique local (ULA)
        "http://[fe80::1]/",  # link-local IPv6
        "http://10.1.2.3/",
        "http://172.16.0.9/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://0.0.0.0/",
        "http://localhost:8000/",  # a name that resolves to loopback
    ],
)
def test_private_and_special_addresses_are_refused(url):
    with pytest.raises(BlockedURL):
        check_url(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/", "/relative"])
def test_only_http_and_https(url):
    with pytest.raises(BlockedURL, match="Only http and https"):
        check_url(url)


def _fake_dns(monkeypatch, table: dict[str, str]):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            family = socket.AF_INET6 if ":" in table[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (table[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_that_resolves_to_a_private_address_is_refused(monkeypatch):
    _fake_dns(monkeypatch, {"files.internal.example": "10.20.30.40", "meta.example": "169.254.169.254"})
    for url in ("https://files.internal.example/a.png", "http://meta.example/latest"):
        with pytest.raises(BlockedURL, match="private address"):
            check_url(url)


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes, float]] = {}

    def do_GET(self):  # noqa: N802 (http.server's naming)
        status, headers, body, dribble = self.routes.get(self.path, (404, {}, b"", 0.0))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if dribble:
            for i in range(0, len(body), 1024):
                self.wfile.write(body[i : i + 1024])
                self.wfile.flush()
                time.sleep(dribble)
        else:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def files(settings):
    """A small file server on loopback, allowed by name the way the simulator is in development and tests."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = [f"127.0.0.1:{server.server_port}"]
    yield base, _Handler.routes
    server.shutdown()
    _Handler.routes.clear()


def test_an_allowed_loopback_host_is_fetched_and_others_are_not(files, settings):
    base, routes = files
    routes["/a.bin"] = (200, {"Content-Type": "application/octet-stream"}, b"x" * 5000, 0.0)
    out = io.BytesIO()
    fetched = fetch_to_file(f"{base}/a.bin", out, max_bytes=MB)
    assert fetched.size == 5000 and out.getvalue() == b"x" * 5000
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = []  # without the explicit setting, loopback is refused
    with pytest.raises(BlockedURL):
        fetch_to_file(f"{base}/a.bin", io.BytesIO(), max_bytes=MB)


@pytest.mark.parametrize(
    "location", ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/", "file:///etc/passwd"]
)
def test_a_redirect_to_a_private_address_is_refused(files, location):
    base, routes = files
    routes["/go"] = (302, {"Location": location}, b"", 0.0)
    with pytest.raises(BlockedURL):
        fetch_to_file(f"{base}/go", io.BytesIO(), max_bytes=MB)


def test_redirects_are_followed_a_few_times_only(files):
    base, routes = files
    routes["/loop"] = (302, {"Location": "/loop"}, b"", 0.0)
    routes["/one"] = (301, {"Location": "/a"}, b"", 0.0)
    routes["/a"] = (200, {}, b"ok", 0.0)
    assert fetch_to_file(f"{base}/one", io.BytesIO(), max_bytes=MB).size == 2
    with pytest.raises(FetchError, match="Too many redirects"):
        fetch_to_file(f"{base}/loop", io.BytesIO(), max_bytes=MB)


def test_size_is_capped_whether_or_not_the_server_says_it(files):
    base, routes = files
    routes["/declared"] = (200, {"Content-Length": str(3 * MB)}, b"", 0.0)
    routes["/undeclared"] = (200, {}, b"y" * (2 * MB), 0.0)
    with pytest.raises(TooLarge):
        fetch_to_file(f"{base}/declared", io.BytesIO(), max_bytes=MB)
    with pytest.raises(TooLarge):
        fetch_to_file(f"{base}/undeclared", io.BytesIO(), max_bytes=MB)


def test_time_is_capped(files):
    base, routes = files
    routes["/slow"] = (200, {}, b"z" * 20 * 1024, 0.1)  # 20 chunks, 0.1 s apart
    with pytest.raises(FetchError, match="too long"):
        fetch_to_file(f"{base}/slow", io.BytesIO(), max_bytes=MB, timeout=0.5)


def test_the_checked_address_is_the_one_connected_to(monkeypatch):
    """DNS rebinding: a name could answer a public address to the check and a private one to the connection.
    The fetch connects to the address it checked, sending the real name as Host and as the TLS server name."""
    _fake_dns(monkeypatch, {"cdn.example": "93.184.216.34"})
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"image bytes")

    monkeypatch.setattr(fetch, "_client", lambda: httpx.Client(transport=httpx.MockTransport(handler)))
    fetched = fetch_to_file("https://cdn.example/result.png", io.BytesIO(), max_bytes=MB)
    [request] = seen
    assert request.url.host == "93.184.216.34" and request.headers["Host"] == "cdn.example"
    assert request.extensions["sni_hostname"] == "cdn.example"
    assert fetched.url == "https://cdn.example/result.png" and fetched.size == len(b"image bytes")


@pytest.mark.django_db
def test_a_video_address_typed_into_a_form_is_never_sent_into_a_private_network(client, alice, kie_sim):
    import uuid

    from kiestudio.studio.models import Generation

    client.force_login(alice)
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[::ffff:10.0.0.1]/v.mp4", "file:///etc/passwd"):
        response = client.post(
            "/generate/submit/",
            {"model": "topaz/video-upscale", "video_url": url, "form_token": str(uuid.uuid4()), "variations": "1"},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 422, url
        assert not Generation.objects.exists()
    # A public address it can't resolve from here is Kie's to fetch.
    response = client.post(
        "/generate/submit/",
        {
            "model": "topaz/video-upscale",
            "video_url": "https://videos.example.invalid/clip.mp4",
            "form_token": str(uuid.uuid4()),
            "variations": "1",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and Generation.objects.count() == 1
