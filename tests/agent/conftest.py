from __future__ import annotations

from tests.chat.conftest import chat_sim  # noqa: F401  (the same fast-streaming simulator)
