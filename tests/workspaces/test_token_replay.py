"""A form's idempotency token belongs to the workspace (and, for chat, the conversation) that used it.

Every endpoint that takes a token is found by reading the code (the URLconf's views that read a token from the
request, and the templates that carry one); the table below must name each of them, so a new form with a token
can't go untested. For each, Alice uses a token in her workspace, then Charlie, a member of another workspace,
replays it at the same endpoint with his own objects: his response names nothing of Alice's (no id, no prompt,
no reply text), he gets a new object of his own, and nothing of Alice's changes. Everything runs for real: the
ASGI server (chat replies are streams), the simulator over HTTP, the workers' steps inline.
"""

from __future__ import annotations

import inspect
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

from kiestudio.chat import services
from kiestudio.chat.models import Conversation, Message
from kiestudio.studio.models import Asset, Generation, Prompt
from kiestudio.usage.models import UsageEntry
from kiestudio.workspaces.models import Membership, Workspace
from tests.chat.helpers import conversation_for, read_events, send, session_cookies, wait_until_done
from tests.studio.helpers import drain, made, workspace_of

pytestmark = pytest.mark.django_db(transaction=True)

# A view "takes a token" when its code reads one from the request (``request.POST.get("token")``,
# ``form.cleaned_data["form_token"]``, or a parser given either name).
READS_TOKEN = re.compile(r"""["'](form_)?token["']""")
# A template carries one as a hidden input (the chat forms) or renders a form's ``form_token`` field.
CARRIES_TOKEN = re.compile(r"""name=["'](form_)?token["']|\bform\.form_token\b""")
# Where each template's token goes (checked below against the forms' actions).
TEMPLATES = {
    "chat/chat.html": {"chat-start", "chat-send"},
    "chat/_message.html": {"chat-message-edit", "chat-message-regenerate"},
    "studio/generate.html": {"generate-submit"},
    "studio/followup.html": {"followup-submit"},
}


def _views():
    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            else:
                yield pattern

    for pattern in walk(get_resolver().url_patterns):
        view = inspect.unwrap(pattern.callback)
        view = getattr(view, "view_class", view)  # a class-based view: its class holds the code
        if view.__module__.startswith("kiestudio."):
            yield pattern.name, inspect.getsource(view)


def token_views() -> set[str]:
    return {name for name, source in _views() if READS_TOKEN.search(source)}


def template_roots() -> list[Path]:
    """The project's template directories, and those of its own apps."""
    apps = [Path(app.path, "templates") for app in django_apps.get_app_configs() if app.name.startswith("kiestudio.")]
    return [Path(root) for root in settings.TEMPLATES[0]["DIRS"]] + [root for root in apps if root.is_dir()]


def token_templates() -> set[str]:
    found = set()
    for root in template_roots():
        for path in root.rglob("*.html"):
            if CARRIES_TOKEN.search(path.read_text()):
                found.add(path.relative_to(root).as_posix())
    return found


# --- Sessions and what a workspace shows ------------------------------------------------------------------------


class Session:
    """A signed-in browser, over real HTTP against the ASGI server."""

    def __init__(self, base_url: str, user) -> None:
        self.user = user
        self.http = httpx.Client(base_url=base_url, cookies=session_cookies(Client(), user), timeout=30)
        self.http.get("/chat/")
        self.csrf = self.http.cookies["csrftoken"]

    def post(self, url: str, data: dict[str, str]) -> httpx.Response:
        return self.http.post(url, data=data, headers={"X-CSRFToken": self.csrf, "HX-Request": "true"})

    def post_stream(self, url: str, data: dict[str, str]) -> tuple[int, str, list]:
        """A send: the response is the reply's event stream, read to its end."""
        headers = {"X-CSRFToken": self.csrf, "Accept": "text/event-stream"}
        with self.http.stream("POST", url, data=data, headers=headers) as response:
            if "text/event-stream" not in response.headers.get("content-type", ""):
                return response.status_code, response.read().decode(), []
            events = [m for _, m in read_events(response)]
        # What the page gets out of each event: the decoded strings (HTML, text pieces, status).
        body = "\n".join(f"{m.event} {m.id} {_strings(json.loads(m.data))}" for m in events)
        return response.status_code, body, events


def _strings(value: object) -> str:
    if isinstance(value, dict):
        return " ".join(_strings(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_strings(v) for v in value)
    return str(value)


def chat_marks(workspace: Workspace) -> list[str]:
    """Everything by which a response could show one of this workspace's conversations or messages."""
    marks = []
    for message in Message.objects.filter(workspace=workspace):
        marks += [f'msg-{message.pk}"', f"/chat/messages/{message.pk}/"]
        marks.append(message.text if message.role == Message.Role.USER else message.text[:60])
    for conversation in Conversation.objects.filter(workspace=workspace):
        marks += [f"/chat/{conversation.pk}/", conversation.title]
    return [m for m in marks if m]


def studio_marks(workspace: Workspace) -> list[str]:
    marks = []
    for generation in Generation.objects.filter(workspace=workspace):
        pk = generation.pk
        marks += [f'live-card-{pk}"', f"/generations/{pk}/", reverse("gallery-detail", args=[pk])]
        marks.append(generation.prompt_text)
    for asset in Asset.objects.filter(workspace=workspace):
        marks += [f"/files/assets/{asset.pk}/", f"/assets/{asset.pk}/"]
    return [m for m in marks if m]


def workspace_rows(workspace: Workspace) -> dict[str, list[dict]]:
    """Every row of the workspace that a replay could touch, field by field."""
    models = (Conversation, Message, Generation, Asset, Prompt, UsageEntry)
    return {m.__name__: list(m.objects.filter(workspace=workspace).order_by("pk").values()) for m in models}


@dataclass
class Alice:
    """Alice's workspace once her own request has settled: what must not show to Charlie, and every row."""

    marks: list[str]
    rows: dict[str, list[dict]]


def settled(session: Session, marks: Callable[[Workspace], list[str]]) -> Alice:
    drain()
    workspace = workspace_of(session.user)
    return Alice(marks(workspace), workspace_rows(workspace))


@dataclass
class Replay:
    """What Charlie's replay produced: his response's status and text, and a check that he got a new object of his
    own (run after the leak check, so a leak is reported as such), returning those objects."""

    alice: Alice
    status: int
    body: str
    charlie_made: Callable[[], list[object]]


# --- The replays, one per endpoint ------------------------------------------------------------------------------


def _streamed_reply(events, workspace: Workspace) -> Message:
    """The reply a send's stream carried: its text must be that of a new reply in ``workspace``."""
    names = [m.event for m in events]
    # One page update (first, unless the reply's first events were ready before it: issue 18), then "done" last.
    assert names.count("thread") == 1 and names[-1] == "done", names
    text = "".join(json.loads(m.data)["t"] for m in events if m.event in ("delta", "block"))
    reply = Message.objects.filter(workspace=workspace, role=Message.Role.ASSISTANT).order_by("-pk").first()
    assert reply is not None, "no new reply in Charlie's workspace"
    reply = wait_until_done(reply)
    assert text == reply.text and f'msg-{reply.pk}"' in json.loads(events[-1].data)["html"]
    return reply


def replay_chat_start(alice: Session, charlie: Session, token: str) -> Replay:
    url = reverse("chat-start")
    status, _, events = alice.post_stream(url, {"text": "Alpha lighthouse plan [sim:words 12]", "token": token})
    assert status == 200 and events[-1].event == "done"
    before = settled(alice, chat_marks)
    status, body, events = charlie.post_stream(url, {"text": "Beta volcano plan [sim:words 12]", "token": token})

    def own() -> list[object]:
        reply = _streamed_reply(events, workspace_of(charlie.user))
        assert reply.conversation.owner == charlie.user and reply.parent.text == "Beta volcano plan [sim:words 12]"
        return [reply.conversation, reply]

    return Replay(before, status, body, own)


def _send(session: Session, token: str, text: str) -> tuple[int, str, list]:
    conversation = conversation_for(session.user)
    return session.post_stream(reverse("chat-send", args=[conversation.pk]), {"text": text, "token": token})


def replay_chat_send(alice: Session, charlie: Session, token: str) -> Replay:
    status, _, events = _send(alice, token, "Alpha harbour question [sim:words 12]")
    assert status == 200 and events[-1].event == "done"
    before = settled(alice, chat_marks)
    status, body, events = _send(charlie, token, "Beta desert question [sim:words 12]")
    return Replay(before, status, body, lambda: [_streamed_reply(events, workspace_of(charlie.user))])


def _answered(user, text: str) -> Message:
    return wait_until_done(send(conversation_for(user), text))


def replay_chat_message_edit(alice: Session, charlie: Session, token: str) -> Replay:
    question = _answered(alice.user, "Alpha first draft [sim:words 8]").parent
    url = reverse("chat-message-edit", args=[question.pk])
    status, _, events = alice.post_stream(url, {"text": "Alpha second draft [sim:words 12]", "token": token})
    assert status == 200 and events[-1].event == "done"
    before = settled(alice, chat_marks)
    question = _answered(charlie.user, "Beta first draft [sim:words 8]").parent
    url = reverse("chat-message-edit", args=[question.pk])
    status, body, events = charlie.post_stream(url, {"text": "Beta second draft [sim:words 12]", "token": token})

    def own() -> list[object]:
        reply = _streamed_reply(events, workspace_of(charlie.user))
        assert reply.parent.text == "Beta second draft [sim:words 12]" and reply.parent.pk != question.pk
        return [reply]

    return Replay(before, status, body, own)


def replay_chat_message_regenerate(alice: Session, charlie: Session, token: str) -> Replay:
    answer = _answered(alice.user, "Alpha riddle [sim:words 8]")
    status, _, events = alice.post_stream(reverse("chat-message-regenerate", args=[answer.pk]), {"token": token})
    assert status == 200 and events[-1].event == "done"
    before = settled(alice, chat_marks)
    answer = _answered(charlie.user, "Beta riddle [sim:words 8]")
    url = reverse("chat-message-regenerate", args=[answer.pk])
    status, body, events = charlie.post_stream(url, {"token": token})

    def own() -> list[object]:
        reply = _streamed_reply(events, workspace_of(charlie.user))
        assert reply.parent_id == answer.parent_id and reply.pk != answer.pk
        return [reply]

    return Replay(before, status, body, own)


def _generate(session: Session, token: str, prompt: str) -> httpx.Response:
    data = {"model": "google/nano-banana", "prompt": prompt, "aspect_ratio": "1:1", "variations": "1"}
    return session.post(reverse("generate-submit"), {**data, "form_token": token})


def replay_generate_submit(alice: Session, charlie: Session, token: str) -> Replay:
    assert _generate(alice, token, "Alpha red fox in the snow").status_code == 200
    before = settled(alice, studio_marks)
    response = _generate(charlie, token, "Beta owl on a branch")

    def own() -> list[object]:
        made_here = list(Generation.objects.filter(workspace=workspace_of(charlie.user)))
        assert [g.prompt_text for g in made_here] == ["Beta owl on a branch"], "Charlie's submit bought nothing"
        return made_here

    return Replay(before, response.status_code, response.text, own)


def _followup(session: Session, token: str) -> tuple[httpx.Response, Generation]:
    source = made(session.user, prompt=f"A lighthouse at dusk for {session.user.email}")
    url = reverse("followup-submit", args=[source.assets.get().pk, "upscale"])
    response = session.post(url, {"model": "topaz/image-upscale", "upscale_factor": "2", "form_token": token})
    return response, source


def replay_followup_submit(alice: Session, charlie: Session, token: str) -> Replay:
    response, _ = _followup(alice, token)
    assert response.status_code == 200, response.text[:300]
    before = settled(alice, studio_marks)
    response, source = _followup(charlie, token)

    def own() -> list[object]:
        children = list(Generation.objects.filter(parent=source))
        assert len(children) == 1, "Charlie's follow-up bought nothing of his own"
        assert f'live-card-{children[0].pk}"' in response.text
        return children

    return Replay(before, response.status_code, response.text, own)


CASES: dict[str, Callable[[Session, Session, str], Replay]] = {
    "chat-start": replay_chat_start,
    "chat-send": replay_chat_send,
    "chat-message-edit": replay_chat_message_edit,
    "chat-message-regenerate": replay_chat_message_regenerate,
    "generate-submit": replay_generate_submit,
    "followup-submit": replay_followup_submit,
}


# --- The tests --------------------------------------------------------------------------------------------------


@pytest.fixture
def chat_sim(kie_sim, settings):
    """The simulator, streaming chat replies quickly."""
    kie_sim.sim.config.chat_chunk_delay = 0.0
    settings.CHAT_FLUSH_SECONDS = 0.1
    return kie_sim


def test_every_endpoint_and_form_that_takes_a_token_is_in_the_table():
    assert token_views() == set(CASES), "a view that takes a form token needs a replay case in CASES"
    assert token_templates() == set(TEMPLATES), "a template with a token input needs its endpoints in TEMPLATES"
    assert set().union(*TEMPLATES.values()) == set(CASES)
    # Each template's token forms post to the endpoints listed for it.
    for template, names in TEMPLATES.items():
        [path] = [root / template for root in template_roots() if (root / template).exists()]
        targets = set(re.findall(r"""\{% url ['"]([\w-]+)['"]""", path.read_text()))
        assert names <= targets, (template, names - targets)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_token_replayed_from_another_workspace_leaks_nothing(name, chat_sim, asgi_live_server, alice, charlie):
    token = str(uuid.uuid4())
    alice_session = Session(asgi_live_server, alice)
    charlie_session = Session(asgi_live_server, charlie)
    try:
        replay = CASES[name](alice_session, charlie_session, token)
    finally:
        alice_session.http.close()
        charlie_session.http.close()
    # Charlie got an answer of his own: a new object in his workspace, and nothing of Alice's in the response.
    assert replay.status == 200, replay.body[:500]
    leaked = [mark for mark in replay.alice.marks if mark in replay.body]
    assert not leaked, f"{name} showed Alice's {leaked[:3]} to Charlie"
    made_here = replay.charlie_made()
    assert made_here and {obj.workspace_id for obj in made_here} == {workspace_of(charlie).pk}
    # And nothing of Alice's changed.
    drain()
    assert workspace_rows(workspace_of(alice)) == replay.alice.rows


@pytest.mark.django_db(transaction=False)  # no commit hooks: the replies are not started
def test_a_resent_new_conversation_finds_its_own_and_a_teammate_with_the_token_starts_theirs(alice, make_user):
    workspace = workspace_of(alice)
    bob = make_user("bob@example.com", personal=False)
    Membership.objects.create(workspace=workspace, user=bob, role="member")
    first = services.conversation_start(workspace=workspace, user=alice, text="Plan a shoot", token="t-1")
    again = services.conversation_start(workspace=workspace, user=alice, text="Plan a shoot", token="t-1")
    assert again == first and Conversation.objects.count() == 1 and Message.objects.count() == 2
    # Conversations are private: a teammate's request with the same token is a new one of his own.
    conversation, reply = services.conversation_start(workspace=workspace, user=bob, text="Plan a shoot", token="t-1")
    assert conversation.owner == bob and conversation != first[0] and reply != first[1]
    assert Message.objects.filter(conversation=first[0]).count() == 2
