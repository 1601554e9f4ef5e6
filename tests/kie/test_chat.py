from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from kiestudio.kie import (
    AsyncKieClient,
    ChatEventKind,
    KieAuthError,
    KieInsufficientCredits,
    KieRateLimited,
    RetryPolicy,
    ToolCall,
    image_block,
    openai_image_part,
    responses_image_part,
    responses_text_part,
)
from kiestudio.kie.chat import (
    AnthropicStreamTranslator,
    OpenAIStreamTranslator,
    ResponsesStreamTranslator,
    parse_anthropic_reply,
    parse_responses_reply,
)
from kiestudio.kie.sse import iter_sse

from .conftest import API_KEY

K = ChatEventKind


def sse(*events):
    out = []
    for name, payload in events:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        out.append((f"event: {name}\n" if name else "") + f"data: {data}\n\n")
    return "".join(out)


ANTHROPIC_STREAM = sse(
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-sonnet-4-6",
                "stop_reason": None,
                "usage": {"input_tokens": 12, "output_tokens": 0},
            },
        },
    ),
    (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm"}},
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "x"}},
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("ping", {"type": "ping"}),
    ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hello"}},
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": " world"}},
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
        },
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"city":'}},
    ),
    (
        "content_block_delta",
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ' "Oslo"}'}},
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 2}),
    (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 40},
            "credits_consumed": 0.25,
        },
    ),
    ("message_stop", {"type": "message_stop"}),
)


def translate(translator, text):
    out = []
    for message in iter_sse([text]):
        out += translator.feed(message)
    return out + translator.finish()


def test_anthropic_stream_translation():
    events = translate(AnthropicStreamTranslator(), ANTHROPIC_STREAM)
    kinds = [e.kind for e in events]
    assert kinds == [
        K.MESSAGE_START,
        K.BLOCK_START,
        K.THINKING_DELTA,
        K.BLOCK_STOP,
        K.PING,
        K.BLOCK_START,
        K.TEXT_DELTA,
        K.TEXT_DELTA,
        K.BLOCK_STOP,
        K.TOOL_USE_START,
        K.TOOL_INPUT_DELTA,
        K.TOOL_INPUT_DELTA,
        K.BLOCK_STOP,
        K.USAGE,
        K.MESSAGE_STOP,
    ]
    assert events[0].message_id == "msg_1" and events[0].model == "claude-sonnet-4-6"
    assert events[1].block_type == "thinking" and events[2].text == "Hmm"
    assert "".join(e.text for e in events if e.kind is K.TEXT_DELTA) == "Hello world"
    assert {e.index for e in events if e.kind is K.TEXT_DELTA} == {1}
    tool = events[9]
    assert (tool.tool_id, tool.tool_name, tool.index) == ("toolu_1", "get_weather", 2)
    assert json.loads("".join(e.text for e in events if e.kind is K.TOOL_INPUT_DELTA)) == {"city": "Oslo"}
    final = events[-1]
    assert final.stop_reason == "tool_use"
    assert final.usage.input_tokens == 12 and final.usage.output_tokens == 40
    assert final.credits_consumed == 0.25
    assert events[-2].usage.total_tokens == 52


def test_anthropic_error_event():
    text = sse(("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    events = translate(AnthropicStreamTranslator(), text)
    assert [e.kind for e in events] == [K.ERROR]
    assert events[0].error_class == "unavailable" and events[0].error_message == "Overloaded"


def test_anthropic_truncated_stream_ends_with_error():
    text = ANTHROPIC_STREAM.split("event: message_delta")[0]
    events = translate(AnthropicStreamTranslator(), text)
    assert events[-1].kind is K.ERROR and events[-1].error_class == "upstream_error"


def test_unreadable_event_data():
    events = translate(AnthropicStreamTranslator(), "data: {oops\n\n" + ANTHROPIC_STREAM)
    assert events[0].kind is K.ERROR and events[-1].kind is K.MESSAGE_STOP


def chunk(delta=None, finish=None, usage=None, **extra):
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gemini-3-flash",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}] if delta is not None or finish else [],
        **extra,
    }
    if usage is not None:
        body["usage"] = usage
    return (None, body)


OPENAI_STREAM = sse(
    chunk({"role": "assistant", "content": ""}),
    chunk({"reasoning_content": "Let me think"}),
    chunk({"content": "Hi"}),
    chunk({"content": " there"}),
    chunk(
        {
            "tool_calls": [
                {"index": 0, "id": "call_1", "type": "function", "function": {"name": "search", "arguments": ""}}
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"q": "cats"}'}}]}),
    chunk({}, finish="tool_calls"),
    chunk(usage={"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16}, credits_consumed=0.1),
    (None, "[DONE]"),
)


def test_openai_stream_translation():
    events = translate(OpenAIStreamTranslator(), OPENAI_STREAM)
    kinds = [e.kind for e in events]
    assert kinds == [
        K.MESSAGE_START,
        K.BLOCK_START,
        K.THINKING_DELTA,
        K.BLOCK_STOP,
        K.BLOCK_START,
        K.TEXT_DELTA,
        K.TEXT_DELTA,
        K.BLOCK_STOP,
        K.TOOL_USE_START,
        K.TOOL_INPUT_DELTA,
        K.BLOCK_STOP,
        K.USAGE,
        K.MESSAGE_STOP,
    ]
    assert events[0].message_id == "chatcmpl-1"
    assert [e.index for e in events if e.kind in (K.BLOCK_START, K.TOOL_USE_START)] == [0, 1, 2]
    assert events[8].tool_id == "call_1" and events[8].tool_name == "search"
    assert events[-1].stop_reason == "tool_use"
    assert events[-1].usage.input_tokens == 9 and events[-1].usage.output_tokens == 7
    assert events[-1].credits_consumed == 0.1


def test_openai_stream_without_done_but_with_finish_reason_completes():
    text = sse(chunk({"content": "ok"}), chunk({}, finish="stop"))
    events = translate(OpenAIStreamTranslator(), text)
    assert [e.kind for e in events][-3:] == [K.BLOCK_STOP, K.USAGE, K.MESSAGE_STOP]
    assert events[-1].stop_reason == "end_turn"


def test_openai_truncated_stream():
    events = translate(OpenAIStreamTranslator(), sse(chunk({"content": "par"})))
    assert events[-1].kind is K.ERROR


def test_openai_error_chunk():
    events = translate(
        OpenAIStreamTranslator(), sse((None, {"error": {"message": "quota", "type": "insufficient_quota"}}))
    )
    assert events[0].kind is K.ERROR and events[0].error_class == "insufficient_credits"


def test_content_helpers():
    assert image_block("https://x/a.png") == {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}
    assert image_block(data="AAAA", media_type="image/jpeg")["source"] == {
        "type": "base64",
        "media_type": "image/jpeg",
        "data": "AAAA",
    }
    assert openai_image_part("https://x/a.png") == {"type": "image_url", "image_url": {"url": "https://x/a.png"}}


def test_parse_anthropic_reply_with_tool_use():
    body = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-5",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_current_weather", "input": {"location": "Beijing"}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 600, "output_tokens": 57},
        "credits_consumed": 0.25,
    }
    reply = parse_anthropic_reply(body)
    assert reply.text == "Checking." and reply.tool_calls[0].input == {"location": "Beijing"}
    assert reply.usage.input_tokens == 600 and reply.credits_consumed == 0.25 and reply.stop_reason == "tool_use"


# -- the async client over MockTransport -------------------------------------------------------------------


class Handler:
    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    async def __call__(self, request):
        self.requests.append(request)
        answer = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer() if callable(answer) else answer


def make_async(handler, **config):
    config.setdefault("retries", RetryPolicy(attempts=3, base=0, cap=0))
    return AsyncKieClient(API_KEY, base_url="https://api.test", transport=httpx.MockTransport(handler), **config)


def sse_response(text):
    return lambda: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=text.encode())


async def collect(stream):
    return [event async for event in stream]


def test_stream_claude_request_and_events():
    handler = Handler(sse_response(ANTHROPIC_STREAM))

    async def run():
        async with make_async(handler) as client:
            messages = [
                {"role": "user", "content": [{"type": "text", "text": "What is this?"}, image_block("https://x/a.png")]}
            ]
            return await collect(
                client.stream_claude(
                    "claude-sonnet-4-6",
                    messages,
                    thinking=True,
                    system="Be brief",
                    tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
                )
            )

    events = asyncio.run(run())
    assert events[-1].kind is K.MESSAGE_STOP
    request = handler.requests[0]
    assert request.url.path == "/claude/v1/messages"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["user-agent"].startswith("KieStudio/")
    body = json.loads(request.content)
    assert body["model"] == "claude-sonnet-4-6" and body["stream"] is True and body["thinkingFlag"] is True
    assert body["max_tokens"] == 4096 and body["system"] == "Be brief" and body["tools"][0]["name"] == "get_weather"
    assert body["messages"][0]["content"][1]["type"] == "image"


def test_stream_openai_path_has_model():
    handler = Handler(sse_response(OPENAI_STREAM))

    async def run():
        async with make_async(handler) as client:
            return await collect(
                client.stream_openai_chat("gemini-3-flash", [{"role": "user", "content": "hi"}], reasoning_effort="low")
            )

    events = asyncio.run(run())
    assert events[-1].kind is K.MESSAGE_STOP
    request = handler.requests[0]
    assert request.url.path == "/gemini-3-flash/v1/chat/completions"
    body = json.loads(request.content)
    assert body == {"messages": [{"role": "user", "content": "hi"}], "stream": True, "reasoning_effort": "low"}


def test_non_streamed_chat_calls():
    claude = {
        "id": "m",
        "model": "c",
        "content": [{"type": "text", "text": "yo"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 2},
        "credits_consumed": 0.01,
    }
    openai = {
        "id": "c",
        "model": "gpt-5-2",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "hey",
                    "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}],
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4},
    }
    handler = Handler(httpx.Response(200, json=claude), httpx.Response(200, json=openai))

    async def run():
        async with make_async(handler) as client:
            return (
                await client.claude("c", [{"role": "user", "content": "x"}]),
                await client.openai_chat("gpt-5-2", [{"role": "user", "content": "x"}]),
            )

    a, b = asyncio.run(run())
    assert a.text == "yo" and a.credits_consumed == 0.01 and a.usage.output_tokens == 2
    assert json.loads(handler.requests[0].content)["stream"] is False
    assert b.text == "hey" and b.stop_reason == "end_turn" and b.tool_calls[0].input == {"a": 1}
    assert b.usage.input_tokens == 3


def test_server_ignoring_stream_flag_still_yields_events():
    claude = {
        "id": "m",
        "model": "c",
        "content": [{"type": "text", "text": "whole"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    handler = Handler(httpx.Response(200, json=claude))

    async def run():
        async with make_async(handler) as client:
            return await collect(client.stream_claude("c", [{"role": "user", "content": "x"}]))

    events = asyncio.run(run())
    assert [e.kind for e in events] == [
        K.MESSAGE_START,
        K.BLOCK_START,
        K.TEXT_DELTA,
        K.BLOCK_STOP,
        K.USAGE,
        K.MESSAGE_STOP,
    ]
    assert events[2].text == "whole"


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(401, json={"error": {"message": "bad key", "type": "authentication_error"}}), KieAuthError),
        (httpx.Response(200, json={"code": 402, "msg": "Credits insufficient"}), KieInsufficientCredits),
    ],
)
def test_stream_errors_before_streaming_raise(response, error):
    handler = Handler(response)

    async def run():
        async with make_async(handler) as client:
            return await collect(client.stream_claude("c", [{"role": "user", "content": "x"}]))

    with pytest.raises(error):
        asyncio.run(run())
    assert len(handler.requests) == 1


def test_stream_429_is_retried_before_streaming():
    handler = Handler(
        httpx.Response(429, json={"error": {"message": "slow", "type": "rate_limit_error"}}),
        sse_response(OPENAI_STREAM),
    )

    async def run():
        async with make_async(handler) as client:
            return await collect(client.stream_openai_chat("gpt-5-2", [{"role": "user", "content": "x"}]))

    assert asyncio.run(run())[-1].kind is K.MESSAGE_STOP
    assert len(handler.requests) == 2


def test_chat_read_timeout_after_send_is_not_resent():
    handler = Handler(httpx.ReadTimeout("slow"), sse_response(OPENAI_STREAM))

    async def run():
        async with make_async(handler) as client:
            return await collect(client.stream_openai_chat("gpt-5-2", [{"role": "user", "content": "x"}]))

    with pytest.raises(Exception) as info:
        asyncio.run(run())
    assert info.value.error_class == "unknown_outcome"
    assert len(handler.requests) == 1


def test_async_rate_limited_exhausted():
    handler = Handler(httpx.Response(429, json={"code": 429, "msg": "Rate limit exceeded"}))

    async def run():
        async with make_async(handler) as client:
            return await client.get_credits()

    with pytest.raises(KieRateLimited):
        asyncio.run(run())
    assert len(handler.requests) == 3


def test_async_credits():
    handler = Handler(httpx.Response(200, json={"code": 200, "msg": "success", "data": 42}))

    async def run():
        async with make_async(handler) as client:
            return await client.get_credits()

    assert asyncio.run(run()) == 42
    assert handler.requests[0].url.path == "/api/v1/chat/credit"


class EndlessStream(httpx.AsyncByteStream):
    """Sends one event, then never finishes, like a model that thinks forever."""

    def __init__(self):
        self.closed = asyncio.Event()

    async def __aiter__(self):
        yield sse(
            ("message_start", {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 1}}})
        ).encode()
        await asyncio.Event().wait()
        yield b""  # pragma: no cover

    async def aclose(self):
        self.closed.set()


def test_cancelling_the_consumer_closes_upstream_promptly():
    upstream = EndlessStream()
    handler = Handler(lambda: httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=upstream))

    async def run():
        async with make_async(handler) as client:
            got_first = asyncio.Event()

            async def consume():
                async for _event in client.stream_claude("c", [{"role": "user", "content": "x"}]):
                    got_first.set()

            task = asyncio.create_task(consume())
            await asyncio.wait_for(got_first.wait(), 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.wait_for(upstream.closed.wait(), 0.5)

    asyncio.run(run())


def test_breaking_out_with_aclose_closes_upstream():
    upstream = EndlessStream()
    handler = Handler(lambda: httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=upstream))

    async def run():
        async with make_async(handler) as client:
            async with client.stream_claude("c", [{"role": "user", "content": "x"}]) as stream:
                async for event in stream:
                    assert event.kind is K.MESSAGE_START
                    break
            assert upstream.closed.is_set()

    asyncio.run(run())


def test_mid_stream_transport_error_becomes_error_event():
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self):
            yield b'data: {"type": "ping"}\n\n'
            raise httpx.ReadTimeout("stalled")

    handler = Handler(lambda: httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Broken()))

    async def run():
        async with make_async(handler) as client:
            return await collect(client.stream_claude("c", [{"role": "user", "content": "x"}]))

    events = asyncio.run(run())
    assert [e.kind for e in events] == [K.PING, K.ERROR]
    assert events[-1].error_class == "timeout"


# -- the Responses format (GPT-5.4/5.5 at /codex/v1/responses, Codex at /api/v1/responses) --------------------


def rev(kind, **fields):
    """One Responses event as OpenAI writes it: ``event:`` line named like the payload's type."""
    return (kind, {"type": kind, **fields})


RESPONSES_STREAM = sse(
    rev("response.created", response={"id": "resp_1", "model": "gpt-5-4", "status": "in_progress", "output": []}),
    rev("response.in_progress", response={"id": "resp_1", "model": "gpt-5-4", "status": "in_progress"}),
    rev("response.output_item.added", output_index=0, item={"type": "reasoning", "id": "rs_1", "summary": []}),
    rev("response.reasoning_summary_text.delta", item_id="rs_1", output_index=0, summary_index=0, delta="Think"),
    rev("response.reasoning_summary_text.delta", item_id="rs_1", output_index=0, summary_index=0, delta="ing"),
    rev("response.output_item.done", output_index=0, item={"type": "reasoning", "id": "rs_1"}),
    rev("response.output_item.added", output_index=1, item={"type": "message", "id": "msg_1", "content": []}),
    rev("response.content_part.added", item_id="msg_1", output_index=1, content_index=0, part={"type": "output_text"}),
    rev("response.output_text.delta", item_id="msg_1", output_index=1, content_index=0, delta="Hello"),
    rev("response.output_text.delta", item_id="msg_1", output_index=1, content_index=0, delta=" world"),
    rev("response.output_text.done", item_id="msg_1", output_index=1, content_index=0, text="Hello world"),
    rev("response.output_item.done", output_index=1, item={"type": "message", "id": "msg_1"}),
    rev(
        "response.output_item.added",
        output_index=2,
        item={"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather", "arguments": ""},
    ),
    rev("response.function_call_arguments.delta", item_id="fc_1", output_index=2, delta='{"city":'),
    rev("response.function_call_arguments.delta", item_id="fc_1", output_index=2, delta=' "Oslo"}'),
    rev("response.function_call_arguments.done", item_id="fc_1", output_index=2, arguments='{"city": "Oslo"}'),
    rev("response.output_item.done", output_index=2, item={"type": "function_call", "id": "fc_1"}),
    rev(
        "response.completed",
        response={
            "id": "resp_1",
            "status": "completed",
            "output": [{"type": "function_call", "call_id": "call_1"}],
            "usage": {"input_tokens": 21, "output_tokens": 34, "total_tokens": 55},
            "credits_consumed": 0.48,
        },
    ),
    (None, "[DONE]"),
)


def test_responses_stream_translation():
    events = translate(ResponsesStreamTranslator(), RESPONSES_STREAM)
    assert [e.kind for e in events] == [
        K.MESSAGE_START,
        K.BLOCK_START,
        K.THINKING_DELTA,
        K.THINKING_DELTA,
        K.BLOCK_STOP,
        K.BLOCK_START,
        K.TEXT_DELTA,
        K.TEXT_DELTA,
        K.BLOCK_STOP,
        K.TOOL_USE_START,
        K.TOOL_INPUT_DELTA,
        K.TOOL_INPUT_DELTA,
        K.BLOCK_STOP,
        K.USAGE,
        K.MESSAGE_STOP,
    ]
    assert events[0].message_id == "resp_1" and events[0].model == "gpt-5-4"
    assert events[1].block_type == "thinking" and "".join(e.text for e in events[2:4]) == "Thinking"
    assert "".join(e.text for e in events if e.kind is K.TEXT_DELTA) == "Hello world"
    assert [e.index for e in events if e.kind in (K.BLOCK_START, K.TOOL_USE_START)] == [0, 1, 2]
    tool = events[9]
    assert (tool.tool_id, tool.tool_name, tool.block_type) == ("call_1", "get_weather", "tool_use")
    assert json.loads("".join(e.text for e in events if e.kind is K.TOOL_INPUT_DELTA)) == {"city": "Oslo"}
    final = events[-1]
    assert final.stop_reason == "tool_use" and final.credits_consumed == 0.48
    assert (final.usage.input_tokens, final.usage.output_tokens) == (21, 34)
    assert events[-2].usage == final.usage and events[-2].credits_consumed == 0.48


def test_responses_stream_as_kie_documents_it():
    """Kie's pages name only the text deltas, ``response.completed`` with its usage, and a final [DONE]."""
    text = sse(
        (None, {"type": "response.output_text.delta", "delta": "Hi"}),
        (None, {"type": "response.output_text.delta", "delta": " there"}),
        (None, {"type": "response.completed", "response": {"usage": {"input_tokens": 4443, "output_tokens": 47}}}),
        (None, {"credits_consumed": 0.48}),  # where Kie puts the cost in a stream is not documented
        (None, "[DONE]"),
    )
    events = translate(ResponsesStreamTranslator(), text)
    assert [e.kind for e in events] == [
        K.MESSAGE_START,
        K.BLOCK_START,
        K.TEXT_DELTA,
        K.TEXT_DELTA,
        K.BLOCK_STOP,
        K.USAGE,
        K.USAGE,
        K.MESSAGE_STOP,
    ]
    final = events[-1]
    assert final.stop_reason == "end_turn" and final.usage.total_tokens == 4490 and final.credits_consumed == 0.48


def test_responses_function_call_deltas_without_an_item_event():
    text = sse(
        (None, {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": '{"q": '}),
        (None, {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": '"cats"}'}),
        (None, {"type": "response.completed", "response": {"usage": {"input_tokens": 3, "output_tokens": 2}}}),
        (None, "[DONE]"),
    )
    events = translate(ResponsesStreamTranslator(), text)
    assert [e.kind for e in events][1:4] == [K.TOOL_USE_START, K.TOOL_INPUT_DELTA, K.TOOL_INPUT_DELTA]
    assert events[-1].stop_reason == "tool_use"


def test_responses_stream_ending_at_completed_without_done_is_complete():
    text = RESPONSES_STREAM.rsplit("data: [DONE]", 1)[0]
    events = translate(ResponsesStreamTranslator(), text)
    assert events[-1].kind is K.MESSAGE_STOP and events[-1].credits_consumed == 0.48
    assert [e.kind for e in events].count(K.USAGE) == 1


def test_responses_truncated_stream_ends_with_error():
    text = RESPONSES_STREAM.split("event: response.output_text.done")[0]
    events = translate(ResponsesStreamTranslator(), text)
    assert events[-2].kind is K.BLOCK_STOP
    assert events[-1].kind is K.ERROR and events[-1].error_class == "upstream_error"


@pytest.mark.parametrize(
    ("payload", "error_class", "message"),
    [
        (
            {"type": "error", "code": "rate_limit_exceeded", "message": "Slow down", "sequence_number": 4},
            "rate_limited",
            "Slow down",
        ),
        ({"type": "error", "code": "server_error", "message": "Oops"}, "upstream_error", "Oops"),
        ({"error": {"message": "quota", "type": "insufficient_quota"}}, "insufficient_credits", "quota"),
        (
            {
                "type": "response.failed",
                "response": {"status": "failed", "error": {"code": "server_error", "message": "Broke"}},
            },
            "upstream_error",
            "Broke",
        ),
    ],
)
def test_responses_error_events(payload, error_class, message):
    text = sse(rev("response.output_text.delta", delta="par"), (payload.get("type"), payload))
    events = translate(ResponsesStreamTranslator(), text)
    assert [e.kind for e in events][-2:] == [K.BLOCK_STOP, K.ERROR]
    assert events[-1].error_class == error_class and events[-1].error_message == message


def test_responses_incomplete_answer_stops_at_max_tokens():
    text = sse(
        rev("response.output_text.delta", delta="Once upon"),
        rev(
            "response.incomplete",
            response={
                "status": "incomplete",
                "incomplete_details": {"reason": "max_output_tokens"},
                "usage": {"input_tokens": 5, "output_tokens": 2},
            },
        ),
        (None, "[DONE]"),
    )
    events = translate(ResponsesStreamTranslator(), text)
    assert events[-1].kind is K.MESSAGE_STOP and events[-1].stop_reason == "max_tokens"


def test_responses_text_only_in_the_final_object_still_arrives():
    output = [{"type": "message", "content": [{"type": "output_text", "text": "All at once"}]}]
    text = sse(rev("response.completed", response={"output": output, "usage": {"input_tokens": 1, "output_tokens": 3}}))
    events = translate(ResponsesStreamTranslator(), text)
    assert [e.kind for e in events] == [
        K.MESSAGE_START,
        K.BLOCK_START,
        K.TEXT_DELTA,
        K.BLOCK_STOP,
        K.USAGE,
        K.MESSAGE_STOP,
    ]
    assert events[2].text == "All at once"


def test_responses_unreadable_event():
    events = translate(ResponsesStreamTranslator(), "data: {oops\n\n" + RESPONSES_STREAM)
    assert events[0].kind is K.ERROR and events[-1].kind is K.MESSAGE_STOP


#: The answer example on Kie's GPT-5.5 page (henjicc/Henji-AI, docs/api/KIE/Chat Models/GPT).
KIE_RESPONSES_EXAMPLE = {
    "output": [
        {"type": "reasoning", "id": "rs_xxx", "summary": []},
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_xxx",
            "content": [{"type": "output_text", "text": "Hello! How can I help you today?"}],
            "status": "completed",
        },
    ],
    "usage": {
        "input_tokens_details": {"cached_tokens": 58},
        "total_tokens": 4490,
        "output_tokens": 47,
        "input_tokens": 4443,
    },
    "credits_consumed": 0.48,
    "status": "completed",
}


def test_parse_responses_reply():
    reply = parse_responses_reply(KIE_RESPONSES_EXAMPLE)
    assert reply.text == "Hello! How can I help you today?" and reply.thinking == ""
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (4443, 47)
    assert reply.credits_consumed == 0.48 and reply.stop_reason == "end_turn"
    with_call = {
        "output": [
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Hmm"}]},
            {"type": "function_call", "call_id": "call_9", "name": "f", "arguments": '{"a": 1}'},
        ],
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    reply = parse_responses_reply(with_call)
    assert reply.thinking == "Hmm" and reply.stop_reason == "tool_use"
    assert reply.tool_calls == (ToolCall(id="call_9", name="f", input={"a": 1}),)
    cut = parse_responses_reply({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}})
    assert cut.stop_reason == "max_tokens"


def test_responses_content_helpers():
    assert responses_image_part("https://x/a.png") == {"type": "input_image", "image_url": "https://x/a.png"}
    assert responses_text_part("hi") == {"type": "input_text", "text": "hi"}
    assert responses_text_part("hi", role="assistant") == {"type": "output_text", "text": "hi"}


def test_stream_responses_request_and_events():
    handler = Handler(sse_response(RESPONSES_STREAM))
    turns = [
        {"role": "user", "content": [responses_text_part("What is this?"), responses_image_part("https://x/a.png")]},
        {"role": "assistant", "content": [responses_text_part("A lighthouse.", role="assistant")]},
        {"role": "user", "content": [responses_text_part("And the weather there?")]},
    ]
    tool = {"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}

    async def run():
        async with make_async(handler) as client:
            return await collect(
                client.stream_responses(
                    "gpt-5-4",
                    turns,
                    path="/codex/v1/responses",
                    system="Be brief",
                    reasoning_effort="high",
                    tools=[tool],
                )
            )

    events = asyncio.run(run())
    assert events[-1].kind is K.MESSAGE_STOP and events[-1].credits_consumed == 0.48
    request = handler.requests[0]
    assert request.url.path == "/codex/v1/responses"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["accept"] == "text/event-stream"
    body = json.loads(request.content)
    assert body == {
        "model": "gpt-5-4",
        "input": [{"role": "developer", "content": [{"type": "input_text", "text": "Be brief"}]}, *turns],
        "stream": True,
        "reasoning": {"effort": "high"},
        "tools": [tool],
        "tool_choice": "auto",
    }


def test_non_streamed_responses_and_a_server_ignoring_the_stream_flag():
    handler = Handler(httpx.Response(200, json=KIE_RESPONSES_EXAMPLE))

    async def run():
        async with make_async(handler) as client:
            whole = await client.responses("gpt-5.1-codex", "hi", path="/api/v1/responses", system="Short answers")
            streamed = await collect(client.stream_responses("gpt-5.1-codex", "hi", path="/api/v1/responses"))
            return whole, streamed

    whole, streamed = asyncio.run(run())
    assert whole.text == "Hello! How can I help you today?" and whole.credits_consumed == 0.48
    first = json.loads(handler.requests[0].content)
    assert first["stream"] is False and handler.requests[0].url.path == "/api/v1/responses"
    assert first["input"] == [
        {"role": "developer", "content": [{"type": "input_text", "text": "Short answers"}]},
        {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
    ]
    assert json.loads(handler.requests[1].content)["input"] == "hi"  # no system prompt: Kie's string form
    assert [e.kind for e in streamed] == [
        K.MESSAGE_START,
        K.BLOCK_START,
        K.TEXT_DELTA,
        K.BLOCK_STOP,
        K.USAGE,
        K.MESSAGE_STOP,
    ]
    assert streamed[-1].credits_consumed == 0.48


def test_responses_errors_before_streaming_raise():
    body = {"error": {"message": "Invalid API key", "type": "authentication_error"}}
    handler = Handler(httpx.Response(401, json=body))

    async def run():
        async with make_async(handler) as client:
            return await collect(client.stream_responses("gpt-5-5", "x", path="/codex/v1/responses"))

    with pytest.raises(KieAuthError):
        asyncio.run(run())
