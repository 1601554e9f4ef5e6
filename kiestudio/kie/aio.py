"""The asynchronous Kie client: chat (Claude Messages, OpenAI-style GPT/Gemini, the Responses format of
GPT-5.4/5.5 and Codex) and the credit balance.

All requests go through :meth:`AsyncKieClient._open` (rate limit, retry) and :meth:`AsyncKieClient._send` (one HTTP
seam over an injectable ``httpx.AsyncBaseTransport``); planning, interpreting and the retry decision are
:class:`~kiestudio.kie.base.KieBase`'s, shared with the sync client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Unpack

import httpx

from .answers import credits_from
from .base import Call, KieBase, KieOptions
from .chat import (
    AnthropicStreamTranslator,
    ChatStream,
    OpenAIStreamTranslator,
    ResponsesStreamTranslator,
    events_from_reply,
    parse_anthropic_reply,
    parse_openai_reply,
    parse_responses_reply,
    responses_text_part,
)
from .errors import KieError
from .http import Op, error_from_transport
from .sse import aiter_sse
from .types import ChatEvent, ChatEventKind, ChatReply

__all__ = ["DEFAULT_CHAT_TIMEOUT", "AsyncKieClient"]

log = logging.getLogger("kiestudio.kie")

# Models may think for a long while before the first token; the read timeout is per chunk, not per answer.
DEFAULT_CHAT_TIMEOUT = httpx.Timeout(connect=10.0, read=180.0, write=30.0, pool=10.0)
# How long a finished event stream may take to close its body before its connection is dropped, not reused.
DRAIN_SECONDS = 0.1


async def _default_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class AsyncKieClient(KieBase):
    """Async client for the chat page. Use ``async with`` or call :meth:`aclose`."""

    def __init__(
        self,
        api_key: str,
        *,
        chat_timeout: float | httpx.Timeout = DEFAULT_CHAT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = _default_sleep,
        **options: Unpack[KieOptions],
    ) -> None:
        """``options`` are :class:`~kiestudio.kie.base.KieBase`'s; ``chat_timeout`` applies to the chat calls."""
        super().__init__(api_key, **options)
        self._sleep = sleep
        self.chat_timeout = chat_timeout if isinstance(chat_timeout, httpx.Timeout) else httpx.Timeout(chat_timeout)
        self._http = httpx.AsyncClient(timeout=self.timeout, transport=transport, follow_redirects=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncKieClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- plumbing ---------------------------------------------------------------------------------------

    async def _send(
        self, call: Call, *, stream: bool = False, timeout: httpx.Timeout | None = None, **kwargs: Any
    ) -> httpx.Response:
        """The one place an async request leaves the process. A JSON answer comes back read and closed; a live
        event stream (asked for with ``stream``) comes back open, for the caller to read and close."""
        request = self._http.build_request(
            call.method, call.url, headers=call.headers, timeout=timeout or self.timeout, **kwargs
        )
        try:
            response = await self._http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, op=call.op) from exc
        if _is_live_stream(response, stream):
            return response
        try:
            await response.aread()
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, op=call.op) from exc
        finally:
            await response.aclose()
        return response

    async def _open(
        self,
        method: str,
        path: str,
        *,
        op: Op,
        stream: bool = False,
        timeout: httpx.Timeout | None = None,
        **kwargs: Any,
    ) -> tuple[httpx.Response, dict[str, Any] | None]:
        """Send with rate limiting and safe retries.

        Returns ``(response, body)``: ``body`` is the parsed JSON when the answer was JSON (``response`` is
        then closed); for a live event stream ``body`` is None and the caller must close ``response``.
        """
        call = self._plan(method, path, op=op, stream=stream)
        failures = 0
        while True:
            if call.bucket:
                await asyncio.to_thread(
                    self.limiter.acquire, call.bucket[0], limit=call.bucket[1], window=call.bucket[2]
                )
            try:
                response = await self._send(call, stream=stream, timeout=timeout, **kwargs)
                if _is_live_stream(response, stream):
                    return response, None
                return response, self._interpret(call, response)
            except KieError as err:
                failures += 1
                await self._sleep(self._backoff(call, err, failures))

    # -- credits ----------------------------------------------------------------------------------------

    async def get_credits(self) -> float:
        _, body = await self._open("GET", "/api/v1/chat/credit", op=Op.READ)
        return credits_from(body)

    # -- Claude (Anthropic Messages format) -------------------------------------------------------------

    @staticmethod
    def _claude_body(
        model: str,
        messages: list[dict[str, Any]],
        max_tokens: int,
        thinking: bool,
        system: str | list[dict[str, Any]] | None,
        tools: list[dict[str, Any]] | None,
        extra: dict[str, Any],
        *,
        stream: bool,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "max_tokens": max_tokens,
            "stream": stream,
            "thinkingFlag": thinking,
        }
        if system:
            body["system"] = system
        if tools:
            body["tools"] = tools
        return {**body, **extra}

    async def claude(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int = 4096,
        thinking: bool = False,
        system: str | list[dict[str, Any]] | None = None,
        tools: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> ChatReply:
        body = self._claude_body(model, messages, max_tokens, thinking, system, tools, extra, stream=False)
        _, answer = await self._open("POST", "/claude/v1/messages", op=Op.CHAT, json=body, timeout=self.chat_timeout)
        return parse_anthropic_reply(answer or {})

    def stream_claude(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int = 4096,
        thinking: bool = False,
        system: str | list[dict[str, Any]] | None = None,
        tools: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> ChatStream:
        body = self._claude_body(model, messages, max_tokens, thinking, system, tools, extra, stream=True)
        return ChatStream(self._events("/claude/v1/messages", body, AnthropicStreamTranslator(), parse_anthropic_reply))

    # -- GPT / Gemini (OpenAI chat-completions format, model in the path) -------------------------------

    @staticmethod
    def _openai_body(
        messages: list[dict[str, Any]],
        *,
        stream: bool,
        tools: list[dict[str, Any]] | None,
        reasoning_effort: str | None,
        extra: dict[str, Any],
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": messages, "stream": stream}
        if tools:
            body["tools"] = tools
        if reasoning_effort:
            body["reasoning_effort"] = reasoning_effort
        return {**body, **extra}

    async def openai_chat(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        reasoning_effort: str | None = None,
        **extra: Any,
    ) -> ChatReply:
        body = self._openai_body(messages, stream=False, tools=tools, reasoning_effort=reasoning_effort, extra=extra)
        path = f"/{model}/v1/chat/completions"
        _, answer = await self._open("POST", path, op=Op.CHAT, json=body, timeout=self.chat_timeout)
        return parse_openai_reply(answer or {})

    def stream_openai_chat(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        reasoning_effort: str | None = None,
        **extra: Any,
    ) -> ChatStream:
        body = self._openai_body(messages, stream=True, tools=tools, reasoning_effort=reasoning_effort, extra=extra)
        path = f"/{model}/v1/chat/completions"
        return ChatStream(self._events(path, body, OpenAIStreamTranslator(), parse_openai_reply))

    # -- GPT-5.4/5.5 and Codex (OpenAI Responses format, model in the body) ----------------------------------

    @staticmethod
    def _responses_body(
        model: str,
        input: list[dict[str, Any]] | str,
        system: str | None,
        reasoning_effort: str | None,
        tools: list[dict[str, Any]] | None,
        extra: dict[str, Any],
        *,
        stream: bool,
    ) -> dict[str, Any]:
        if system:  # the Responses format's own place for it: a developer message ahead of the conversation
            turns = [{"role": "user", "content": [responses_text_part(input)]}] if isinstance(input, str) else input
            input = [{"role": "developer", "content": [responses_text_part(system, role="developer")]}, *turns]
        body: dict[str, Any] = {"model": model, "input": input, "stream": stream}
        if reasoning_effort:
            body["reasoning"] = {"effort": reasoning_effort}
        if tools:
            body["tools"] = tools
            if any(tool.get("type") == "function" for tool in tools):
                body["tool_choice"] = "auto"  # Kie: "auto" with function tools, nothing otherwise
        return {**body, **extra}

    async def responses(
        self,
        model: str,
        input: list[dict[str, Any]] | str,
        *,
        path: str,
        system: str | None = None,
        reasoning_effort: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> ChatReply:
        """One whole answer. ``path`` is the model's endpoint: ``/codex/v1/responses`` or ``/api/v1/responses``."""
        body = self._responses_body(model, input, system, reasoning_effort, tools, extra, stream=False)
        _, answer = await self._open("POST", path, op=Op.CHAT, json=body, timeout=self.chat_timeout)
        return parse_responses_reply(answer or {})

    def stream_responses(
        self,
        model: str,
        input: list[dict[str, Any]] | str,
        *,
        path: str,
        system: str | None = None,
        reasoning_effort: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> ChatStream:
        body = self._responses_body(model, input, system, reasoning_effort, tools, extra, stream=True)
        return ChatStream(self._events(path, body, ResponsesStreamTranslator(), parse_responses_reply))

    async def _events(
        self,
        path: str,
        body: dict[str, Any],
        translator: AnthropicStreamTranslator | OpenAIStreamTranslator | ResponsesStreamTranslator,
        parse_reply: Callable[[dict[str, Any]], ChatReply],
    ) -> AsyncIterator[ChatEvent]:
        response, answer = await self._open("POST", path, op=Op.CHAT, stream=True, json=body, timeout=self.chat_timeout)
        if answer is not None:  # the server ignored stream=true and answered in one piece
            for event in events_from_reply(parse_reply(answer)):
                yield event
            return
        body_bytes = response.aiter_bytes()
        try:
            async for message in aiter_sse(body_bytes):
                for event in translator.feed(message):
                    yield event
                if translator.finished:
                    await _drain(body_bytes)
                    return
            for event in translator.finish():
                yield event
        except httpx.HTTPError as exc:
            err = error_from_transport(exc, op=Op.READ)
            yield ChatEvent(kind=ChatEventKind.ERROR, error_class=err.error_class, error_message=err.user_message)
        finally:
            # Runs on normal end, on aclose() and on task cancellation: the upstream connection is released now.
            await response.aclose()


async def _drain(body_bytes: AsyncIterator[bytes], seconds: float = DRAIN_SECONDS) -> None:
    """Read what is left of a finished stream (its closing chunk, normally already on its way), so that closing
    the response hands the connection back to the pool: the next reply skips a new TCP (and TLS) handshake. A
    server that keeps the stream open past its end is not waited for."""
    try:
        async with asyncio.timeout(seconds):
            async for _ in body_bytes:
                pass
    except (TimeoutError, httpx.HTTPError):
        pass


def _is_live_stream(response: httpx.Response, asked: bool) -> bool:
    """Whether ``response`` is the event stream the caller ``asked`` for (left open), not a JSON answer."""
    is_sse = response.headers.get("content-type", "").startswith("text/event-stream")
    return asked and response.status_code < 400 and is_sse
