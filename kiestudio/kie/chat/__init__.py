"""Chat wire formats → one :class:`~kiestudio.kie.types.ChatEvent` stream.

Kie exposes Claude in Anthropic's Messages format, GPT-5.2 and Gemini in OpenAI's chat-completions format, and
GPT-5.4/5.5 and the Codex models in OpenAI's Responses format. All three streams (and the non-streamed answers)
are turned into the same types here, so the chat page only knows one vocabulary. Pure code: the HTTP side lives
in :mod:`kiestudio.kie.aio`.

One module per format (:mod:`.anthropic`, :mod:`.completions`, :mod:`.responses`: its content parts, its stream
translator and its whole-answer parser); :mod:`.common` holds what they share and :mod:`.stream` the
:class:`ChatStream` the client returns.
"""

from __future__ import annotations

from .anthropic import AnthropicStreamTranslator, image_block, parse_anthropic_reply
from .completions import OpenAIStreamTranslator, openai_image_part, parse_openai_reply
from .responses import ResponsesStreamTranslator, parse_responses_reply, responses_image_part, responses_text_part
from .stream import ChatStream, events_from_reply

__all__ = [
    "AnthropicStreamTranslator",
    "ChatStream",
    "OpenAIStreamTranslator",
    "ResponsesStreamTranslator",
    "events_from_reply",
    "image_block",
    "openai_image_part",
    "parse_anthropic_reply",
    "parse_openai_reply",
    "parse_responses_reply",
    "responses_image_part",
    "responses_text_part",
]
