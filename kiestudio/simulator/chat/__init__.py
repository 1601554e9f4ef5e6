"""Chat endpoints (contract 7): Anthropic Messages at /claude/v1/messages, OpenAI chat completions at
/{model}/v1/chat/completions and OpenAI's Responses API at /codex/v1/responses (GPT-5.4/5.5) and
/api/v1/responses (Codex), each non-streaming JSON and SSE in the vendor's exact wire format.

One module per format (:mod:`.anthropic`, :mod:`.completions`, :mod:`.responses`); the answer itself is planned
once for all of them (:mod:`.plan`), from the model table (:mod:`.models`), and :mod:`.wire` holds the checks,
charging and SSE framing they share.
"""

from __future__ import annotations

from starlette.routing import Route

from .anthropic import claude_messages
from .completions import chat_completions
from .models import CLAUDE_MODELS, OPENAI_MODELS, RESPONSES_MODELS, ChatModel
from .responses import responses

__all__ = ["CLAUDE_MODELS", "OPENAI_MODELS", "RESPONSES_MODELS", "ChatModel", "routes"]

routes = [
    Route("/claude/v1/messages", claude_messages, methods=["POST"]),
    Route("/codex/v1/responses", responses, methods=["POST"]),
    Route("/api/v1/responses", responses, methods=["POST"]),
    Route("/{model}/v1/chat/completions", chat_completions, methods=["POST"]),
]
