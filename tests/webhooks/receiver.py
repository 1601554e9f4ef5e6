"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 in a thread, answering each POST with the next
status of its script (then 200), and keeping every request's headers and raw body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    url: str
    hostport: str
    script: list[int] = field(default_factory=list)
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)

    def accepted(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.answered < 300]


def signature_ok(secret: str, request: Received) -> bool:
    """Verify a delivery as a receiver would, from the raw body and the headers."""
    timestamp = request.headers["X-Kiestudio-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(expected).decode(), request.headers["X-Kiestudio-Signature"])


@contextmanager
def webhook_receiver(script: list[int] | None = None, *, delay: float = 0.0) -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            receiver = state["r"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = receiver.script.pop(0) if receiver.script else 200
            if receiver.delay:
                time.sleep(receiver.delay)
            receiver.requests.append(Received(dict(self.headers.items()), body, status))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hostport = f"127.0.0.1:{server.server_port}"
    state["r"] = Receiver(
        url=f"http://{hostport}/hooks/studio", hostport=hostport, script=list(script or []), delay=delay
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["r"]
    finally:
        server.shutdown()
        server.server_close()
