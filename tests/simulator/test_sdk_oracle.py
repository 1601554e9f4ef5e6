"""The official SDKs are the oracle for our stream parsers.

For every chat model in the studio's catalog, the vendor's own SDK (``anthropic`` for the Messages format,
``openai`` for chat completions and for the Responses API) streams a reply from the simulator over real HTTP.
The bytes the SDK received are recorded on the way in and fed to our own parser afterwards: both must read the
same text, thinking, tool call and token usage from the same stream, and our parser must read the credits Kie
charged (which the SDKs don't know about).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from kiestudio.kie.catalog.chat import ChatModelSpec, load_chat_models
from kiestudio.kie.chat import AnthropicStreamTranslator, OpenAIStreamTranslator, ResponsesStreamTranslator
from kiestudio.kie.sse import iter_sse
from kiestudio.kie.types import ChatEventKind
from kiestudio.simulator.testing import RunningSimulator, start_simulator

from .helpers import KEY, fast_config

K = ChatEventKind
MODELS = list(load_chat_models()[0].values())
SYSTEM = "You are an art director. Answer briefly."
PROMPT = "Plan a photo shoot about lighthouses at dawn [sim:words 40]"
PICTURE = "https://file.aiquickdraw.com/custom-page/akr/section-images/1759055072437dqlsclj2.png"
WEATHER = {
    "name": "get_current_weather",
    "description": "Current weather for a place",
    "schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["location", "unit"],
    },
}
TOOL_PROMPT = "What is the weather like in Boston today?"


class Recorder(httpx2.BaseTransport):
    """A real HTTP transport that keeps a copy of every response body as the SDK reads it."""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner
        self.bodies: list[list[bytes]] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self.inner.handle_request(request)
        chunks: list[bytes] = []
        self.bodies.append(chunks)
        upstream = response.stream

        class Copying(httpx2.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                for chunk in upstream:
                    chunks.append(chunk)
                    yield chunk

            def close(self) -> None:
                upstream.close()

        return httpx2.Response(
            response.status_code, headers=response.headers, stream=Copying(), extensions=response.extensions
        )

    def close(self) -> None:
        pass  # the real transport is shared by the module's tests

    def last_body(self) -> list[bytes]:
        [body] = self.bodies  # one request per SDK call: no retries, no redirects
        return body


@dataclass
class Reading:
    """What one reader made of a stream."""

    text: str = ""
    thinking: str = ""
    tool_name: str | None = None
    tool_id: str | None = None
    tool_arguments: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str | None = None
    credits: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def ours(translator: Any, chunks: list[bytes]) -> Reading:
    """Our parser on the recorded bytes, split exactly as they arrived."""
    events = []
    for message in iter_sse(chunks):
        events += translator.feed(message)
        if translator.finished:
            break
    events += translator.finish()
    assert [e.kind for e in events].count(K.MESSAGE_STOP) == 1, [e.kind for e in events]
    assert not [e for e in events if e.kind is K.ERROR]
    final = events[-1]
    assert final.kind is K.MESSAGE_STOP and final.usage is not None
    tools = [e for e in events if e.kind is K.TOOL_USE_START]
    return Reading(
        text="".join(e.text for e in events if e.kind is K.TEXT_DELTA),
        thinking="".join(e.text for e in events if e.kind is K.THINKING_DELTA),
        tool_name=tools[0].tool_name if tools else None,
        tool_id=tools[0].tool_id if tools else None,
        tool_arguments="".join(e.text for e in events if e.kind is K.TOOL_INPUT_DELTA),
        input_tokens=final.usage.input_tokens,
        output_tokens=final.usage.output_tokens,
        stop_reason=final.stop_reason,
        credits=final.credits_consumed,
    )


@pytest.fixture(scope="module")
def kie() -> Iterator[RunningSimulator]:
    running = start_simulator(fast_config())
    yield running
    running.stop()


@pytest.fixture(scope="module")
def transport() -> Iterator[httpx2.HTTPTransport]:
    shared = httpx2.HTTPTransport()  # one for the module: building its TLS context takes a while
    yield shared
    shared.close()


@pytest.fixture
def recorder(transport) -> Recorder:
    return Recorder(transport)


# --- One SDK per wire format ------------------------------------------------------------------------------------


def via_anthropic(kie: RunningSimulator, spec: ChatModelSpec, recorder: Recorder, *, tools: bool) -> Reading:
    client = anthropic.Anthropic(
        base_url=kie.base_url + "/claude",
        auth_token=KEY,  # Kie's Claude guide: the key as a bearer token
        max_retries=0,
        http_client=httpx2.Client(transport=recorder),
    )
    content: list[dict[str, Any]] = [{"type": "text", "text": TOOL_PROMPT if tools else PROMPT}]
    if spec.vision and not tools:
        content.append({"type": "image", "source": {"type": "url", "url": PICTURE}})
    extra: dict[str, Any] = {}
    if tools:
        extra["tools"] = [
            {"name": WEATHER["name"], "description": WEATHER["description"], "input_schema": WEATHER["schema"]}
        ]
    with client.messages.stream(
        model=spec.wire_id,
        max_tokens=spec.max_tokens,
        system=SYSTEM,
        messages=[{"role": "user", "content": content}],
        extra_body={"thinkingFlag": spec.thinking == "flag"},
        **extra,
    ) as stream:
        message = stream.get_final_message()
    blocks = {block.type: block for block in message.content}
    tool = blocks.get("tool_use")
    return Reading(
        text="".join(b.text for b in message.content if b.type == "text"),
        thinking="".join(b.thinking for b in message.content if b.type == "thinking"),
        tool_name=tool.name if tool else None,
        tool_id=tool.id if tool else None,
        tool_arguments="",
        input_tokens=message.usage.input_tokens,
        output_tokens=message.usage.output_tokens,
        stop_reason=message.stop_reason,
        extra={"tool_input": tool.input if tool else None},
    )


def via_chat_completions(kie: RunningSimulator, spec: ChatModelSpec, recorder: Recorder, *, tools: bool) -> Reading:
    client = openai.OpenAI(
        base_url=f"{kie.base_url}/{spec.wire_id}/v1",
        api_key=KEY,
        max_retries=0,
        http_client=httpx2.Client(transport=recorder),
    )
    content: list[dict[str, Any]] = [{"type": "text", "text": TOOL_PROMPT if tools else PROMPT}]
    if spec.vision and not tools:
        content.append({"type": "image_url", "image_url": {"url": PICTURE}})
    options = spec.request_options(thinking=True)
    extra: dict[str, Any] = {}
    if tools:
        function = {"name": WEATHER["name"], "description": WEATHER["description"], "parameters": WEATHER["schema"]}
        extra["tools"] = [{"type": "function", "function": function}]
    chunks = list(
        client.chat.completions.create(
            model=spec.wire_id,
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": content}],
            stream=True,
            stream_options={"include_usage": True},
            extra_body=options,
            **extra,
        )
    )
    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    calls = [call for delta in deltas for call in delta.tool_calls or ()]
    usage = next(chunk.usage for chunk in reversed(chunks) if chunk.usage)
    finish = next(chunk.choices[0].finish_reason for chunk in reversed(chunks) if chunk.choices)
    return Reading(
        text="".join(delta.content or "" for delta in deltas),
        thinking="".join(getattr(delta, "reasoning_content", None) or "" for delta in deltas),
        tool_name=calls[0].function.name if calls else None,
        tool_id=calls[0].id if calls else None,
        tool_arguments="".join(call.function.arguments or "" for call in calls),
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        stop_reason={"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}[finish],
    )


def via_responses(kie: RunningSimulator, spec: ChatModelSpec, recorder: Recorder, *, tools: bool) -> Reading:
    client = openai.OpenAI(
        base_url=kie.base_url + spec.path.removesuffix("/responses"),
        api_key=KEY,
        max_retries=0,
        http_client=httpx2.Client(transport=recorder),
    )
    content: list[dict[str, Any]] = [{"type": "input_text", "text": TOOL_PROMPT if tools else PROMPT}]
    if spec.vision and not tools:
        content.append({"type": "input_image", "image_url": PICTURE, "detail": "auto"})
    extra: dict[str, Any] = {}
    if tools:
        function = {"name": WEATHER["name"], "description": WEATHER["description"], "parameters": WEATHER["schema"]}
        extra["tools"] = [{"type": "function", "strict": False, **function}]
    events = list(
        client.responses.create(
            model=spec.wire_id,
            input=[
                {"role": "developer", "content": [{"type": "input_text", "text": SYSTEM}]},
                {"role": "user", "content": content},
            ],
            reasoning={"effort": "high", "summary": "auto"},
            stream=True,
            **extra,
        )
    )
    [completed] = [event for event in events if event.type == "response.completed"]
    final = completed.response
    calls = [item for item in final.output if item.type == "function_call"]
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert final.output_text == deltas  # the SDK's own two readings agree
    return Reading(
        text=final.output_text,
        thinking="".join(event.delta for event in events if event.type == "response.reasoning_summary_text.delta"),
        tool_name=calls[0].name if calls else None,
        tool_id=calls[0].call_id if calls else None,
        tool_arguments="".join(
            event.delta for event in events if event.type == "response.function_call_arguments.delta"
        ),
        input_tokens=final.usage.input_tokens,
        output_tokens=final.usage.output_tokens,
        stop_reason="tool_use" if calls else "end_turn",
    )


READERS = {
    "anthropic": (via_anthropic, AnthropicStreamTranslator),
    "openai": (via_chat_completions, OpenAIStreamTranslator),
    "responses": (via_responses, ResponsesStreamTranslator),
}


@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")  # the SDK on Sonnet 4.5
@pytest.mark.parametrize("spec", MODELS, ids=[spec.key for spec in MODELS])
def test_the_sdk_and_our_parser_read_the_same_reply(kie, recorder, spec):
    read_with_sdk, translator = READERS[spec.api]
    before = kie.sim.balance
    sdk = read_with_sdk(kie, spec, recorder, tools=False)
    mine = ours(translator(), recorder.last_body())

    assert sdk.text and len(sdk.text.split()) >= 30
    assert mine.text == sdk.text
    assert mine.thinking == sdk.thinking
    # Thinking shows where the format streams it: Claude's thinkingFlag, Gemini's include_thoughts, a Responses
    # reasoning summary (GPT-5.2's reasoning_effort only changes how hard it thinks).
    assert bool(mine.thinking) == (spec.thinking in ("flag", "include_thoughts") or spec.api == "responses")
    assert (mine.input_tokens, mine.output_tokens) == (sdk.input_tokens, sdk.output_tokens)
    assert mine.input_tokens > 0 and mine.output_tokens > 0
    assert mine.stop_reason == sdk.stop_reason == "end_turn"
    # Kie's cost: what the stream says, what the simulator charged, and the catalog's own price for the tokens.
    assert mine.credits is not None and Decimal(str(mine.credits)) == before - kie.sim.balance
    assert spec.estimate_credits(mine.input_tokens, mine.output_tokens) == Decimal(str(mine.credits))
    call = [entry for entry in kie.sim.log.entries if entry.kind == "chat" and entry.model == spec.wire_id][-1]
    assert call.path == spec.path and call.status == 200


def _one_per_format() -> list[ChatModelSpec]:
    firsts: dict[str, ChatModelSpec] = {}
    for spec in MODELS:
        firsts.setdefault(spec.api, spec)
    return list(firsts.values())


@pytest.mark.parametrize("spec", _one_per_format(), ids=lambda spec: spec.api)
def test_the_sdk_and_our_parser_read_the_same_tool_call(kie, recorder, spec):
    read_with_sdk, translator = READERS[spec.api]
    sdk = read_with_sdk(kie, spec, recorder, tools=True)
    mine = ours(translator(), recorder.last_body())
    assert mine.stop_reason == sdk.stop_reason == "tool_use"
    assert (mine.tool_name, mine.tool_id) == (sdk.tool_name, sdk.tool_id) and mine.tool_name == WEATHER["name"]
    if spec.api == "anthropic":  # the SDK hands over parsed input rather than the raw fragments
        assert sdk.extra["tool_input"] == {"location": "Boston", "unit": "celsius"}
        assert json.loads(mine.tool_arguments) == sdk.extra["tool_input"]
    else:
        assert mine.tool_arguments == sdk.tool_arguments
    assert mine.text == sdk.text and (mine.input_tokens, mine.output_tokens) == (sdk.input_tokens, sdk.output_tokens)
