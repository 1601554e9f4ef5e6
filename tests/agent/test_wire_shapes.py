"""The tool wire, checked by the official Anthropic SDK rather than by our own code: the simulator's streamed
``tool_use`` (``input_json_delta`` pieces) read by the SDK's stream accumulator gives the same call our client's
translator saved, for a request carrying our tool definitions generated from the catalog."""

from __future__ import annotations

import anthropic
import pytest

from kiestudio.agent import tools
from kiestudio.chat.upstream import wire_tools
from tests.agent.test_tool_calls import ask, calls_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sdk_reads_the_streamed_call_as_our_client_saved_it(chat_sim, alice):
    reply = calls_of(ask(alice, "Three takes of a lighthouse at dusk"))[0].message
    [ours] = reply.tool_uses

    client = anthropic.Anthropic(
        api_key="test-key",
        base_url=chat_sim.base_url + "/claude",
        default_headers={"Authorization": "Bearer test-key"},
    )
    with client.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=8192,
        messages=[{"role": "user", "content": "Three takes of a lighthouse at dusk"}],
        tools=wire_tools(list(tools.definitions()), "anthropic"),
    ) as stream:
        final = stream.get_final_message()
    [theirs] = [block for block in final.content if block.type == "tool_use"]
    assert final.stop_reason == "tool_use"
    assert (theirs.name, theirs.input) == (ours["name"], ours["input"])
    assert theirs.input == {"model": "google/nano-banana", "prompt": "a lighthouse at dusk", "takes": 3}
