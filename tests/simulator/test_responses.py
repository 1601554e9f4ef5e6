"""The Responses format (contract 7.3): GPT-5.4/5.5 at /codex/v1/responses, Codex at /api/v1/responses."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import openai
import pytest

from .helpers import KEY, same_shape
from .test_chat import _stream_timed, sse_events

#: The answer example on Kie's GPT-5.4 page (contract 7.3), values aside.
KIE_RESPONSE = {
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
    "usage": {"total_tokens": 4490, "output_tokens": 47, "input_tokens": 4443},
    "credits_consumed": 0.48,
    "status": "completed",
}
WEATHER = {
    "type": "function",
    "name": "get_current_weather",
    "description": "Current weather for a place",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["location", "unit"],
    },
}


def user(text: str, *extra: dict) -> dict:
    return {"role": "user", "content": [{"type": "input_text", "text": text}, *extra]}


def test_non_stream_answer_matches_kies_example(client):
    image = {"type": "input_image", "image_url": "https://file.aiquickdraw.com/custom-page/a.png"}
    response = client.post(
        "/codex/v1/responses",
        json={"model": "gpt-5-4", "stream": False, "input": [user("What is in this image?", image)]},
    )
    assert response.status_code == 200
    body = response.json()
    assert same_shape(body, KIE_RESPONSE, subset=True) == []
    assert body["status"] == "completed" and body["object"] == "response" and body["model"] == "gpt-5-4"
    assert body["usage"]["total_tokens"] == body["usage"]["input_tokens"] + body["usage"]["output_tokens"]
    assert isinstance(body["credits_consumed"], float) and body["credits_consumed"] > 0
    assert [item["type"] for item in body["output"]] == ["reasoning", "message"]


def test_stream_is_the_default_and_uses_openais_event_sequence(client):
    response = client.post("/api/v1/responses", json={"model": "gpt-5.3-codex", "input": "Describe a harbour"})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert events[-1] == (None, "[DONE]")  # Kie's end marker
    payloads = [json.loads(data) for _, data in events[:-1]]
    assert all(payload["type"] == name for (name, _), payload in zip(events, payloads, strict=False))
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
    names = [p["type"] for p in payloads]
    assert names[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert names[-1] == "response.completed" and "response.output_text.done" in names
    text = "".join(p["delta"] for p in payloads if p["type"] == "response.output_text.delta")
    final = payloads[-1]["response"]
    assert final["output"][1]["content"][0]["text"] == text and text
    assert final["usage"]["output_tokens"] > 0 and final["credits_consumed"] > 0
    assert same_shape(final, KIE_RESPONSE, subset=True) == []


def test_reasoning_summary_streams_only_when_asked_for(client):
    def summary_deltas(reasoning: dict) -> list[str]:
        body = {"model": "gpt-5-5", "input": [user("Plan a shoot")], "reasoning": reasoning}
        events = sse_events(client.post("/codex/v1/responses", json=body).text)[:-1]
        payloads = [json.loads(data) for _, data in events]
        return [p["delta"] for p in payloads if p["type"] == "response.reasoning_summary_text.delta"]

    assert summary_deltas({"effort": "high"}) == []  # Kie's example: the reasoning item's summary stays empty
    assert summary_deltas({"effort": "high", "summary": "auto"})


def test_function_calls_stream_their_arguments(client):
    body = {
        "model": "gpt-5.4-codex",
        "input": [user("What is the weather like in Boston today?")],
        "tools": [WEATHER],
        "tool_choice": "auto",
    }
    payloads = [json.loads(d) for _, d in sse_events(client.post("/api/v1/responses", json=body).text)[:-1]]
    arguments = "".join(p["delta"] for p in payloads if p["type"] == "response.function_call_arguments.delta")
    assert json.loads(arguments) == {"location": "Boston", "unit": "celsius"}
    call = payloads[-1]["response"]["output"][-1]
    assert call["type"] == "function_call" and call["name"] == "get_current_weather"
    assert call["call_id"].startswith("call_") and json.loads(call["arguments"]) == json.loads(arguments)
    # A tool result handed back gets an answer, not another call.
    again = {
        **body,
        "input": [
            *body["input"],
            {"type": "function_call", "call_id": call["call_id"], "name": call["name"], "arguments": call["arguments"]},
            {"type": "function_call_output", "call_id": call["call_id"], "output": '{"temp": 21}'},
        ],
        "stream": False,
    }
    answer = client.post("/api/v1/responses", json=again).json()
    assert [item["type"] for item in answer["output"]] == ["reasoning", "message"]


def test_max_output_tokens_ends_incomplete(client):
    body = {"model": "gpt-5-4", "input": "Tell me a story [sim:words 80]", "max_output_tokens": 10}
    payloads = [json.loads(d) for _, d in sse_events(client.post("/codex/v1/responses", json=body).text)[:-1]]
    final = payloads[-1]
    assert final["type"] == "response.incomplete"
    assert final["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/codex/v1/responses", {"model": "gpt-5.1-codex", "input": "x"}, "not supported"),  # Codex lives elsewhere
        ("/api/v1/responses", {"model": "gpt-5-4", "input": "x"}, "not supported"),
        ("/api/v1/responses", {"input": "x"}, "model"),
        ("/codex/v1/responses", {"model": "gpt-5-4"}, "input"),
        ("/codex/v1/responses", {"model": "gpt-5-4", "input": []}, "input"),
        ("/codex/v1/responses", {"model": "gpt-5-4", "input": "x", "reasoning": {"effort": "max"}}, "effort"),
        (
            "/codex/v1/responses",
            {"model": "gpt-5-4", "input": "x", "tools": [{"type": "web_search"}, WEATHER]},
            "can't be combined",
        ),
        (
            "/codex/v1/responses",
            {
                "model": "gpt-5-4",
                "input": [user("x"), {"role": "assistant", "content": [{"type": "input_text", "text": "y"}]}],
            },
            "output_text",
        ),
        (
            "/codex/v1/responses",
            {"model": "gpt-5-4", "input": [{"role": "user", "content": [{"type": "text"}]}]},
            "type",
        ),
    ],
)
def test_bad_requests_answer_in_the_error_format(client, path, body, words):
    response = client.post(path, json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and words in error["message"]


def test_bad_key_and_error_markers(kie, client):
    bad = httpx.post(
        kie.base_url + "/codex/v1/responses",
        json={"model": "gpt-5-4", "input": "x"},
        headers={"Authorization": "Bearer bad-key"},
    )
    assert bad.status_code == 401
    assert bad.json() == {"error": {"message": "Invalid API key", "type": "authentication_error"}}
    for marker, status, kind in (("[sim:error 429]", 429, "rate_limit_error"), ("[sim:5xx]", 500, "api_error")):
        response = client.post("/api/v1/responses", json={"model": "gpt-5-codex", "input": f"Hello {marker}"})
        assert response.status_code == status and response.json()["error"]["type"] == kind


def test_cut_sends_openais_error_event_and_no_done(client):
    body = {"model": "gpt-5-4", "input": "Tell me a story [sim:cut 3]"}
    frames, error = _stream_timed(client, "/codex/v1/responses", body)
    assert error is None
    assert [event for _, event, _ in frames].count("response.output_text.delta") == 3
    last = json.loads(frames[-1][2])
    assert frames[-1][1] == "error" and last["type"] == "error" and last["code"] == "server_error"
    assert all(data != "[DONE]" for _, _, data in frames)


def test_drop_and_malformed_markers(client):
    body = {"model": "gpt-5-4", "input": "Tell me a story [sim:drop 2]"}
    frames, error = _stream_timed(client, "/codex/v1/responses", body)
    assert isinstance(error, httpx.RemoteProtocolError)
    assert [event for _, event, _ in frames].count("response.output_text.delta") == 2
    garbled = client.post("/codex/v1/responses", json={"model": "gpt-5-4", "input": "Story [sim:malformed]"})
    unreadable = []
    for _, data in sse_events(garbled.text):
        try:
            json.loads(data)
        except ValueError:
            unreadable.append(data)
    assert unreadable and unreadable != ["[DONE]"]


def test_credits_are_charged_and_logged_as_chat(kie, client):
    before = kie.sim.balance
    body = client.post("/codex/v1/responses", json={"model": "gpt-5-5", "input": "hi", "stream": False}).json()
    assert before - kie.sim.balance == Decimal(str(body["credits_consumed"]))
    [entry] = [e for e in kie.sim.log.entries if e.path == "/codex/v1/responses"]
    assert entry.kind == "chat" and entry.model == "gpt-5-5"


def test_openai_sdk_reads_errors_in_this_format(kie):
    client = openai.OpenAI(base_url=kie.base_url + "/codex/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="gpt-5-4", input="Hello [sim:error 429]")
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-5-codex", input="Hello")  # Codex is served at /api/v1/responses
