"""The asynchronous Kie client: chat (Claude Messages, OpenAI-style GPT/Gemini, the Responses format of
GPT-5.4/5.5 and Codex) and the credit balance.

All requests go through :meth:`AsyncKieClient._send` over an injectable ``httpx.AsyncBaseTransport``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

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
from .client import _KieConfig
from .errors import KieError, KieMalformedResponse
from .http import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    DEFAULT_UPLOAD_BASE_URL,
    DEFAULT_USER_AGENT,
    Op,
    RetryPolicy,
    error_from_transport,
    interpret_response,
    may_retry,
)
from .limiter import RateLimiter
from .records import as_number
from .sse import aiter_sse
from .types import ChatEvent, ChatEventKind, ChatReply

__all__ = ["DEFAULT_CHAT_TIMEOUT", "AsyncKieClient"]

log = logging.getLogger("kiestudio.kie")

# Models may think for a long while before the first token; the read timeout is per chunk, not per answer.
DEFAULT_CHAT_TIMEOUT = httpx.Timeout(connect=10.0, read=180.0, write=30.0, pool=10.0)


async def _default_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class AsyncKieClient(_KieConfig):
    """Async client for the chat page. Use ``async with`` or call :meth:`aclose`."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        upload_base_url: str = DEFAULT_UPLOAD_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        chat_timeout: float | httpx.Timeout = DEFAULT_CHAT_TIMEOUT,
        limiter: RateLimiter | None = None,
        create_limit: int = 20,
        create_window: float = 10.0,
        read_limit: int = 10,
        read_window: float = 1.0,
        rate_margin: float = 0.25,
        retries: RetryPolicy | int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        default_callback_url: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = _default_sleep,
    ) -> None:
        super().__init__(
            api_key,
            base_url=base_url,
            upload_base_url=upload_base_url,
            timeout=timeout,
            limiter=limiter,
            create_limit=create_limit,
            create_window=create_window,
            read_limit=read_limit,
            read_window=read_window,
            rate_margin=rate_margin,
            retries=retries,
            user_agent=user_agent,
            default_callback_url=default_callback_url,
        )
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
        self,
        method: str,
        url: str,
        *,
        op: Op,
        stream: bool = False,
        timeout: httpx.Timeout | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """The one place an async request leaves the process."""
        headers = self._headers()
        if stream:
            headers["Accept"] = "text/event-stream"
        request = self._http.build_request(method, url, headers=headers, timeout=timeout or self.timeout, **kwargs)
        try:
            return await self._http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, op=op) from exc

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
        url = f"{self.base_url}{path}"
        bucket = self._bucket(op)
        failures = 0
        while True:
            if bucket:
                await asyncio.to_thread(self.limiter.acquire, bucket[0], limit=bucket[1], window=bucket[2])
            try:
                response = await self._send(method, url, op=op, stream=stream, timeout=timeout, **kwargs)
                is_sse = response.headers.get("content-type", "").startswith("text/event-stream")
                if stream and response.status_code < 400 and is_sse:
                    return response, None
                try:
                    await response.aread()
                except httpx.HTTPError as exc:
                    raise error_from_transport(exc, op=op) from exc
                finally:
                    await response.aclose()
                return response, interpret_response(response, op=op, secret=self._api_key)
            except KieError as err:
                failures += 1
                if failures >= self.retry.attempts or not may_retry(err, op):
                    raise
                delay = self.retry.delay(failures, getattr(err, "retry_after", None))
                log.warning(
                    "kie %s %s failed (%s, %s); retry %d", method, path, type(err).__name__, self.account, failures
                )
                await self._sleep(delay)

    # -- credits ----------------------------------------------------------------------------------------

    async def get_credits(self) -> float:
        _, body = await self._open("GET", "/api/v1/chat/credit", op=Op.READ)
        credits = as_number((body or {}).get("data"))
        if credits is None:
            raise KieMalformedResponse("Kie's credit answer carried no number")
        return credits

    # -- Claude (Anthropic Messages format) -------------------------------------------------------------

    @staticmethod
    def _claude_body(
        model: str,
        messages: list[dict[str, Any]],
        *,
        stream: bool,
        max_tokens: int,
        thinking: bool,
        system: str | list[dict[str, Any]] | None,
        tools: list[dict[str, Any]] | None,
        extra: dict[str, Any],
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
        body = self._claude_body(
            model,
            messages,
            stream=False,
            max_tokens=max_tokens,
            thinking=thinking,
            system=system,
            tools=tools,
            extra=extra,
        )
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
        body = self._claude_body(
            model,
            messages,
            stream=True,
            max_tokens=max_tokens,
            thinking=thinking,
            system=system,
            tools=tools,
            extra=extra,
        )
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
        *,
        stream: bool,
        system: str | None,
        reasoning_effort: str | None,
        tools: list[dict[str, Any]] | None,
        extra: dict[str, Any],
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
        body = self._responses_body(
            model,
            input,
            stream=False,
            system=system,
            reasoning_effort=reasoning_effort,
            tools=tools,
            extra=extra,
        )
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
        body = self._responses_body(
            model,
            input,
            stream=True,
            system=system,
            reasoning_effort=reasoning_effort,
            tools=tools,
            extra=extra,
        )
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
        try:
            async for message in aiter_sse(response.aiter_bytes()):
                for event in translator.feed(message):
                    yield event
                if translator.finished:
                    return
            for event in translator.finish():
                yield event
        except httpx.HTTPError as exc:
            err = error_from_transport(exc, op=Op.READ)
            yield ChatEvent(kind=ChatEventKind.ERROR, error_class=err.error_class, error_message=err.user_message)
        finally:
            # Runs on normal end, on aclose() and on task cancellation: the upstream connection is released now.
            await response.aclose()
