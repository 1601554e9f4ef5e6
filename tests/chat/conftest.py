from __future__ import annotations

import pytest


@pytest.fixture
def chat_sim(kie_sim, settings):
    """The simulator, streaming chat quickly (tests slow single replies down with [sim:delay S])."""
    kie_sim.sim.config.chat_chunk_delay = 0.0
    settings.CHAT_FLUSH_SECONDS = 0.1
    return kie_sim
