from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from kiestudio.kie import KieClient, RetryPolicy

API_KEY = "sk-test-SECRET-key-0123456789"


class RecordingLimiter:
    """Never blocks; records every acquire so tests can check buckets and counts."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, float]] = []

    def acquire(self, bucket: str, *, limit: int, window: float) -> None:
        self.calls.append((bucket, limit, window))


class Recorder:
    """A MockTransport handler that answers from a queue (or a function) and records every request."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if callable(answer) and not isinstance(answer, httpx.Response):
            answer = answer(request)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    @property
    def count(self) -> int:
        return len(self.requests)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def ok(data: Any, **extra: Any) -> dict[str, Any]:
    return {"code": 200, "msg": "success", "data": data, **extra}


@pytest.fixture
def limiter() -> RecordingLimiter:
    return RecordingLimiter()


@pytest.fixture
def make_client(limiter: RecordingLimiter) -> Callable[..., tuple[KieClient, Recorder]]:
    clients: list[KieClient] = []

    def factory(*answers: Any, **config: Any) -> tuple[KieClient, Recorder]:
        recorder = Recorder(*answers)
        config.setdefault("retries", RetryPolicy(attempts=3, base=0.0, cap=0.0))
        config.setdefault("limiter", limiter)
        config.setdefault("rate_margin", 0.0)
        client = KieClient(
            API_KEY,
            base_url="https://api.test",
            upload_base_url="https://upload.test",
            transport=httpx.MockTransport(recorder),
            sleep=lambda s: None,
            **config,
        )
        clients.append(client)
        return client, recorder

    yield factory
    for client in clients:
        client.close()
