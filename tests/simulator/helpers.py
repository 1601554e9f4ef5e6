"""Helpers for the simulator tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from kiestudio.simulator import SimulatorConfig
from kiestudio.simulator.testing import RunningSimulator

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def fast_config(**overrides: Any) -> SimulatorConfig:
    """Immediate tasks, instant chat, otherwise the defaults."""
    values: dict[str, Any] = {"time_scale": 0.0, "chat_chunk_delay": 0.0}
    values.update(overrides)
    return SimulatorConfig(**values)


def client_for(running: RunningSimulator) -> httpx.Client:
    return httpx.Client(base_url=running.base_url, headers=AUTH, timeout=10)


def create_market(client: httpx.Client, model: str, **input_: Any) -> str:
    body: dict[str, Any] = {"model": model, "input": input_}
    callback = input_.pop("callBackUrl", None)
    if callback:
        body["callBackUrl"] = callback
    response = client.post("/api/v1/jobs/createTask", json=body)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["code"] == 200, payload
    return payload["data"]["taskId"]


def wait_for(predicate: Callable[[], Any], timeout: float = 3.0, step: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


class Receiver:
    """A tiny HTTP server that records POSTed callbacks."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.received.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(raw)})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def url(self, path: str = "/cb") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait(self, count: int, timeout: float = 3.0) -> list[dict[str, Any]]:
        wait_for(lambda: len(self.received) >= count, timeout)
        return self.received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def expected_signature(key: str, task_id: str, timestamp: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()).decode()


def same_shape(actual: Any, example: Any, path: str = "$", *, subset: bool = False) -> list[str]:
    """Differences between ``actual`` and a contract example: keys and JSON value types.

    ``None`` in the example means "nullable, any type"; numbers match numbers (an int may stand for a
    float); list items are compared with the example's first item. ``subset``: extra keys are allowed.
    """
    problems: list[str] = []
    if example is None:
        return problems
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected object, got {type(actual).__name__}"]
        missing = set(example) - set(actual)
        extra = set(actual) - set(example)
        if missing:
            problems.append(f"{path}: missing keys {sorted(missing)}")
        if extra and not subset:
            problems.append(f"{path}: extra keys {sorted(extra)}")
        for key in set(example) & set(actual):
            if actual[key] is None:
                continue  # a value not there yet (e.g. an empty list in this run) is checked elsewhere
            problems += same_shape(actual[key], example[key], f"{path}.{key}", subset=subset)
        return problems
    if isinstance(example, list):
        if not isinstance(actual, list):
            return [f"{path}: expected array, got {type(actual).__name__}"]
        if example and actual:
            problems += same_shape(actual[0], example[0], f"{path}[0]", subset=subset)
        return problems
    if isinstance(example, bool):
        return [] if isinstance(actual, bool) else [f"{path}: expected boolean, got {actual!r}"]
    if isinstance(example, int | float):
        ok = isinstance(actual, int | float) and not isinstance(actual, bool)
        if isinstance(example, int) and isinstance(actual, float) and not actual.is_integer():
            ok = False
        return [] if ok else [f"{path}: expected number, got {actual!r}"]
    if isinstance(example, str):
        return [] if isinstance(actual, str) else [f"{path}: expected string, got {actual!r}"]
    return problems
