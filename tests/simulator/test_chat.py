from __future__ import annotations

import json
import time

import anthropic
import httpx
import openai
import pytest

from . import contract_examples as ex
from .helpers import KEY, client_for, same_shape

WEATHER_TOOL = {
    "name": "get_current_weather",
    "description": "Current weather for a place",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["location", "unit"],
    },
}


def sse_events(text: str) -> list[tuple[str | None, str]]:
    events = []
    for frame in text.strip().split("\n\n"):
        event = None
        data = []
        for line in frame.splitlines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        events.append((event, "\n".join(data)))
    return events


def test_anthropic_sdk_streams_thinking_and_tool_use(kie):
    client = anthropic.Anthropic(base_url=kie.base_url + "/claude", api_key=KEY)
    with client.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=2048,
        messages=[{"role": "user", "content": "What is the weather like in Boston today?"}],
        tools=[WEATHER_TOOL],
        extra_body={"thinkingFlag": True},
    ) as stream:
        texts = list(stream.text_stream)
        message = stream.get_final_message()
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool = message.content
    assert thinking.thinking and thinking.signature
    assert text.text == "".join(texts)
    assert tool.name == "get_current_weather"
    assert tool.input == {"location": "Boston", "unit": "celsius"}
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens > 0 and message.usage.input_tokens > 0


def test_anthropic_sdk_plain_reply_with_suffixed_model(kie):
    client = anthropic.Anthropic(base_url=kie.base_url + "/claude", api_key=KEY)
    with client.messages.stream(
        model="claude-opus-4-5-v1messages",
        max_tokens=1024,
        messages=[{"role": "user", "content": "Describe a quiet harbour at dawn [sim:words 40]"}],
    ) as stream:
        message = stream.get_final_message()
    assert [block.type for block in message.content] == ["text"]
    assert 30 <= len(message.content[0].text.split()) <= 40
    assert message.stop_reason == "end_turn"


def test_anthropic_non_stream_matches_the_contract(client):
    # The contract's request example (section 7.1): one tool with a required location.
    tool = {
        "name": "get_current_weather",
        "description": "…",
        "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    }
    body = client.post(
        "/claude/v1/messages",
        json={
            "model": "claude-sonnet-4-6-v1messages",
            "messages": [{"role": "user", "content": "What is the weather like in Boston today?"}],
            "tools": [tool],
            "stream": False,
        },
    ).json()
    assert body["content"][-1]["type"] == "tool_use"
    tool_only = {**body, "content": [body["content"][-1]]}
    assert same_shape(tool_only, ex.CLAUDE_RESPONSE) == []
    assert isinstance(body["credits_consumed"], float) and body["credits_consumed"] > 0


def test_anthropic_wire_format(client):
    response = client.post(
        "/claude/v1/messages",
        json={
            "model": "claude-sonnet-4-6",
            "messages": [{"role": "user", "content": "Use the tool to check Paris"}],
            "tools": [WEATHER_TOOL],
            "thinkingFlag": True,
        },  # no "stream": Kie's default is true
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta", "message_stop"]
    payloads = [json.loads(data) for _, data in events]
    assert all(payload["type"] == name for (name, _), payload in zip(events, payloads, strict=True))
    for name, example in ex.CLAUDE_STREAM.items():
        first = next(p for p in payloads if p["type"] == name)
        if name in ("content_block_start", "content_block_delta"):
            continue  # checked per block type below
        assert same_shape(first, example, subset=True) == [], name
    starts = [p["content_block"]["type"] for p in payloads if p["type"] == "content_block_start"]
    assert starts == ["thinking", "text", "tool_use"]
    deltas = {p["delta"]["type"] for p in payloads if p["type"] == "content_block_delta"}
    assert deltas == {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"}
    text_delta = next(p for p in payloads if p["type"] == "content_block_delta" and p["delta"]["type"] == "text_delta")
    assert same_shape(text_delta, ex.CLAUDE_STREAM["content_block_delta"]) == []
    partial = "".join(
        p["delta"]["partial_json"] for p in payloads if p.get("delta", {}).get("type") == "input_json_delta"
    )
    assert json.loads(partial)["location"] == "Paris"
    final = next(p for p in payloads if p["type"] == "message_delta")
    assert final["delta"]["stop_reason"] == "tool_use" and final["credits_consumed"] > 0


def test_anthropic_accepts_x_api_key_and_rejects_bad_keys(kie):
    body = {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    ok = httpx.post(kie.base_url + "/claude/v1/messages", json=body, headers={"x-api-key": KEY})
    assert ok.status_code == 200 and ok.json()["type"] == "message"
    bad = httpx.post(kie.base_url + "/claude/v1/messages", json=body, headers={"x-api-key": "bad-key"})
    assert bad.status_code == 401
    assert bad.json() == {"error": {"message": "Invalid API key", "type": "authentication_error"}}
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=kie.base_url + "/claude", api_key="bad").messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}], stream=False
        )


@pytest.mark.parametrize(
    ("prompt", "status", "kind"),
    [
        ("[sim:error 400 bad things]", 400, "invalid_request_error"),
        ("[sim:error 429]", 429, "rate_limit_error"),
        ("[sim:error 500]", 500, "api_error"),
        ("[sim:5xx]", 500, "api_error"),
    ],
)
def test_chat_error_markers(client, prompt, status, kind):
    for path, body in (
        ("/claude/v1/messages", {"model": "claude-sonnet-4-6", "stream": False}),
        ("/gpt-5-2/v1/chat/completions", {}),
        ("/codex/v1/responses", {"model": "gpt-5-4", "stream": False}),
    ):
        if path.endswith("/responses"):
            body = {**body, "input": prompt}
        response = client.post(path, json={**body, "messages": [{"role": "user", "content": prompt}]})
        assert response.status_code == status
        assert response.json()["error"]["type"] == kind and response.json()["error"]["message"]


def test_chat_validation_errors(client):
    assert client.post("/claude/v1/messages", json={"model": "claude-sonnet-4-6"}).status_code == 400
    unknown = client.post(
        "/claude/v1/messages", json={"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}
    )
    assert unknown.status_code == 400 and "model" in unknown.json()["error"]["message"]
    missing = client.post("/no-such-model/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
    assert missing.status_code == 404


def test_openai_sdk_streams_the_full_text(kie):
    client = openai.OpenAI(base_url=kie.base_url + "/gpt-5-2/v1", api_key=KEY)
    stream = client.chat.completions.create(
        model="gpt-5-2", messages=[{"role": "user", "content": "Tell me about lighthouses"}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].choices[0].finish_reason == "stop"
    whole = client.chat.completions.create(
        model="gpt-5-2", messages=[{"role": "user", "content": "Tell me about lighthouses"}]
    )
    assert whole.choices[0].message.content == text and "lighthouses" in text
    assert whole.usage.completion_tokens > 0


def test_openai_wire_format_with_reasoning_and_tool_calls(client):
    response = client.post(
        "/gemini-3-flash/v1/chat/completions",  # Gemini streams by default
        json={
            "messages": [{"role": "user", "content": "Use the search tool for Rome"}],
            "include_thoughts": True,
            "tools": [{"type": "function", "function": {"name": "googleSearch"}}],
        },
    )
    events = sse_events(response.text)
    assert events[-1] == (None, "[DONE]")
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert any("reasoning_content" in d for d in deltas)
    assert any(d.get("tool_calls") for d in deltas)
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls" and chunks[-1]["credits_consumed"] > 0


def test_chat_pace_and_credits(make_sim):
    kie = make_sim(chat_chunk_delay=0.01, chat_tokens_per_chunk=2, chat_reply_words=20, balance=50)
    with client_for(kie) as client:
        started = time.monotonic()
        response = client.post(
            "/gpt-5-2/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "hello"}], "stream": True},
        )
        elapsed = time.monotonic() - started
        content_chunks = [
            json.loads(data) for _, data in sse_events(response.text)[:-1] if '"content":"' in data and '""' not in data
        ]
        assert len(content_chunks) >= 10 and elapsed >= 0.09
        assert kie.sim.balance < 50
        kie.sim.set_balance(0)
        refused = client.post("/gpt-5-2/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
        assert refused.status_code == 402


def _stream_timed(
    client: httpx.Client, path: str, body: dict
) -> tuple[list[tuple[float, str | None, str]], Exception | None]:
    """(arrival time, event, data) of every SSE frame, and the transport error that ended the stream, if any."""
    frames: list[tuple[float, str | None, str]] = []
    buffer = ""
    try:
        with client.stream("POST", path, json=body) as response:
            assert response.status_code == 200
            for chunk in response.iter_text():
                buffer += chunk
                while "\n\n" in buffer:
                    frame, buffer = buffer.split("\n\n", 1)
                    [(event, data)] = sse_events(frame)
                    frames.append((time.monotonic(), event, data))
    except httpx.HTTPError as exc:
        return frames, exc
    return frames, None


def test_delay_marker_spaces_chunks(client):
    body = {
        "model": "claude-haiku-4-5",
        "messages": [{"role": "user", "content": "Hi [sim:delay 0.05] [sim:words 12]"}],
    }
    frames, error = _stream_timed(client, "/claude/v1/messages", body)
    assert error is None
    deltas = [t for t, event, data in frames if event == "content_block_delta"]
    assert len(deltas) >= 4
    gaps = [b - a for a, b in zip(deltas, deltas[1:], strict=False)]
    assert min(gaps) >= 0.04, gaps


def test_cut_marker_sends_an_error_event_mid_stream(client):
    body = {"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "Tell me [sim:cut 3]"}]}
    frames, error = _stream_timed(client, "/claude/v1/messages", body)
    assert error is None
    kinds = [event for _, event, _ in frames]
    assert kinds.count("content_block_delta") == 3
    assert kinds[-1] == "error" and "message_stop" not in kinds
    assert json.loads(frames[-1][2])["error"]["type"] == "overloaded_error"

    body = {"messages": [{"role": "user", "content": "Tell me [sim:cut 2]"}], "stream": True}
    frames, error = _stream_timed(client, "/gemini-3-flash/v1/chat/completions", body)
    assert error is None
    assert "error" in json.loads(frames[-1][2]) and all(data != "[DONE]" for _, _, data in frames)


def test_drop_marker_breaks_the_connection(client):
    body = {"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "Tell me [sim:drop 2]"}]}
    frames, error = _stream_timed(client, "/claude/v1/messages", body)
    assert isinstance(error, httpx.RemoteProtocolError)
    assert [event for _, event, _ in frames].count("content_block_delta") == 2


TITLE_ASK = "You name conversations. Reply with a title for the conversation above: at most 6 words."
TITLE_TURNS = [
    {"role": "user", "content": "Write a haiku about autumn leaves in Kyoto [sim:words 50]"},
    {"role": "assistant", "content": "Red leaves drift and fall."},
    {"role": "user", "content": "Write the title of this conversation now."},
]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/claude/v1/messages", {"model": "claude-haiku-4-5", "system": TITLE_ASK, "tools": [WEATHER_TOOL]}),
        ("/gemini-2.5-flash/v1/chat/completions", {"messages": [{"role": "system", "content": TITLE_ASK}]}),
        ("/codex/v1/responses", {"model": "gpt-5-4", "instructions": TITLE_ASK}),
    ],
    ids=["anthropic", "completions", "responses"],
)
def test_a_request_for_a_title_is_answered_with_words_of_the_first_message(client, path, body):
    turns = [*body.pop("messages", []), *TITLE_TURNS]
    if path.endswith("/responses"):
        body["input"] = [
            {"role": "user", "content": [{"type": "input_text", "text": TITLE_TURNS[0]["content"]}]},
            {"role": "assistant", "content": [{"type": "output_text", "text": TITLE_TURNS[1]["content"]}]},
            {"role": "user", "content": [{"type": "input_text", "text": TITLE_TURNS[2]["content"]}]},
        ]
    else:
        body["messages"] = turns
    response = client.post(path, json={**body, "stream": False, "max_tokens": 40})
    assert response.status_code == 200, response.text
    answer = response.json()
    if path.startswith("/claude"):
        assert [b["type"] for b in answer["content"]] == ["text"] and answer["stop_reason"] == "end_turn"
        text = answer["content"][0]["text"]
    elif path.endswith("/completions"):
        text = answer["choices"][0]["message"]["content"]
    else:
        text = next(p["text"] for item in answer["output"] if item["type"] == "message" for p in item["content"])
    assert text == "Haiku Autumn Leaves"
    assert answer["credits_consumed"] > 0
