from __future__ import annotations

import pytest

from kiestudio.chat import relay
from tests.chat.conftest import chat_sim  # noqa: F401  (the same fast-streaming simulator)


@pytest.fixture
def plans(monkeypatch):
    """Every request a reply sends upstream (watched, not changed)."""
    seen = []
    original = relay._stream

    def spy(plan):
        seen.append(plan)
        return original(plan)

    monkeypatch.setattr(relay, "_stream", spy)
    return seen
