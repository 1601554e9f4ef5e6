"""Every URL that names an object by id answers 404 to a member of another workspace.

The table below is checked against the project's URL configuration: adding a URL pattern that takes an
argument without listing it here (or in ``NOT_OBJECT_IDS`` with the reason) fails
``test_every_url_with_an_argument_is_covered``.
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from kiestudio.agent.models import Plan, ToolCall
from kiestudio.agent.services import toolcalls_open
from kiestudio.api.tokens import token_create
from kiestudio.batches.models import Batch
from kiestudio.chat.models import Conversation, Message
from kiestudio.gallery.models import Collection, Rating
from kiestudio.gallery.services import tags_add
from kiestudio.sharing.services import share_create
from kiestudio.studio.models import Asset, Generation, SunoPersona
from kiestudio.uploads.models import Reference
from kiestudio.webhooks.models import Delivery, Endpoint
from kiestudio.webhooks.services import webhook_endpoint_create
from kiestudio.workspaces.models import Membership, Role
from kiestudio.workspaces.services import invitation_create
from tests.chat.helpers import conversation_for
from tests.studio.helpers import create, drain, workspace_of

HTMX = {"HTTP_HX_REQUEST": "true"}

# url name -> (which object's id goes in the URL, the method the page is used with)
ID_URLS: dict[str, tuple[str, str] | tuple[str, str, list[str]]] = {
    # team
    "member-role": ("membership", "post"),
    "member-cap": ("membership", "post"),
    "member-remove": ("membership", "post"),
    "invitation-revoke": ("invitation", "post"),
    # generate
    "generation-card": ("generation", "get"),
    "generation-cancel": ("generation", "post"),
    "generation-retry": ("generation", "post"),
    "generation-delete": ("generation", "post"),
    "queue-move": ("generation", "post"),
    "queue-cancel": ("generation", "post"),
    "asset-file": ("asset", "get"),
    "asset-thumb": ("asset", "get"),
    "reference-file": ("reference", "get"),
    "reference-poster": ("reference", "get"),
    "reference-from-asset": ("asset", "post"),
    "reference-chip": ("reference", "get"),
    "followup": ("asset", "get", ["upscale"]),
    "followup-estimate": ("asset", "post", ["upscale"]),
    "followup-submit": ("asset", "post", ["upscale"]),
    "asset-lyrics": ("asset", "post"),
    "asset-persona": ("asset", "post"),
    "persona-delete": ("persona", "post"),
    "prompt-detail": ("prompt", "get"),
    "prompt-save": ("prompt", "post"),
    # gallery
    "gallery-detail": ("generation", "get"),
    "gallery-favorite": ("generation", "post"),
    "gallery-tile": ("generation", "get"),
    "gallery-rating": ("generation", "post"),
    "gallery-tag-add": ("generation", "post"),
    "gallery-tag-remove": ("generation", "post"),
    "collection": ("collection", "get"),
    "collection-rename": ("collection", "post"),
    "collection-delete": ("collection", "post"),
    "collection-remove": ("collection", "post"),
    "collection-cover": ("collection", "post"),
    # batches
    "batch": ("batch", "get"),
    "batch-pause": ("batch", "post"),
    "batch-resume": ("batch", "post"),
    "batch-retry": ("batch", "post"),
    "batch-zip": ("batch", "post"),
    "comparison-judge": ("batch", "post"),
    # share links
    "share-revoke": ("share", "post"),
    # chat tools (agent)
    "agent-cards": ("asking", "get"),
    "agent-autorun": ("asking", "post"),
    "agent-run": ("toolcall", "post"),
    "agent-edit": ("toolcall", "post"),
    "agent-skip": ("toolcall", "post"),
    "agent-send-to-chat": ("generation", "post"),
    "agent-plan-approve": ("plan", "post"),
    "agent-plan-finish": ("plan", "post"),
    "agent-step-model": ("step", "post"),
    "agent-step-prompt": ("step", "post"),
    "agent-step-move": ("step", "post"),
    "agent-step-leave-out": ("step", "post"),
    "agent-step-retry": ("step", "post"),
    # chat
    "chat-conversation": ("conversation", "get"),
    "chat-send": ("conversation", "post"),
    "chat-settings": ("conversation", "post"),
    "chat-pin": ("conversation", "post"),
    "chat-delete": ("conversation", "post"),
    "chat-usage": ("conversation", "get"),
    "chat-message": ("message", "get"),
    "chat-message-stream": ("message", "get"),
    "chat-message-stop": ("message", "post"),
    "chat-message-regenerate": ("message", "post"),
    "chat-message-edit": ("question", "post"),
    "chat-message-show": ("question", "post"),
    # API tokens (the API's own URLs take a token, not a session: their tenancy is tested in tests/api/test_api.py)
    "api-token-revoke": ("apitoken", "post"),
    # webhooks (settings)
    "webhook-roll": ("webhook", "post"),
    "webhook-active": ("webhook", "post"),
    "webhook-delete": ("webhook", "post"),
    "webhook-ping": ("webhook", "post"),
    "webhook-deliveries": ("webhook", "get"),
    "webhook-delivery-retry": ("delivery", "post"),
}

NOT_OBJECT_IDS = {
    "invitation": "a secret token; expired, revoked and reused tokens are tested in test_invitations",
    "choice-sample": "a catalog model and setting (a voice sample, the same for every workspace); tested in tests/studio",
    "kie-callback": "a signed callback token from Kie, not a user's URL; tested in tests/studio",
    "api-model": "a catalog model's key, the same for every workspace; tested in tests/api",
    "api-generation": "the API, authenticated by a workspace's token: another workspace's ids are 404 in tests/api",
    "api-generation-file": "the API, authenticated by a workspace's token: another workspace's ids are 404 in tests/api",
    "api-chat-message": "the API, authenticated by a workspace's token: another workspace's ids are 404 in tests/api",
    "account_confirm_email": "django-allauth's email confirmation key",
    "account_reset_password_from_key": "django-allauth's password reset key",
    "share-page": "a share link's secret token; unknown, revoked, expired and trashed ones are tested in tests/sharing",
    "share-media": "a share link's token and a file of what it shares (any other file is a 404): tests/sharing",
    "share-thumb": "a share link's token and a file of what it shares (any other file is a 404): tests/sharing",
    "share-download": "a share link's token and a file of what it shares (any other file is a 404): tests/sharing",
}


def _patterns(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def test_every_url_with_an_argument_is_covered():
    with_arguments = {
        pattern.name
        for route, pattern in _patterns(get_resolver().url_patterns)
        if pattern.pattern.regex.groups or "<" in route
    }
    uncovered = with_arguments - ID_URLS.keys() - NOT_OBJECT_IDS.keys()
    assert not uncovered, f"URL patterns with an id missing from the tenancy table: {sorted(uncovered)}"
    assert not (ID_URLS.keys() - with_arguments), "the tenancy table names URLs that no longer exist"


@pytest.fixture
def objects(alice, kie_sim):
    return make_objects(alice)


def make_objects(alice) -> dict[str, object]:
    """One of everything in Alice's workspace, made the way the product makes it (needs the simulator)."""
    workspace = workspace_of(alice)
    [generation] = create(alice, prompt="A lighthouse at dusk")
    drain()
    generation.refresh_from_db()
    asset = Asset.objects.get(generation=generation)
    reference = Reference(workspace=workspace, created_by=alice, mime_type="image/png", size=3, width=1, height=1)
    reference.file.save("ref.png", ContentFile(b"png"), save=True)
    collection = Collection.objects.create(workspace=workspace, name="Moodboard")
    [tag, _] = tags_add(generations=[generation], user=alice, name="Dusk")
    batch = Batch.objects.create(workspace=workspace, created_by=alice, name="Boats", source=Batch.Source.LIST)
    persona = SunoPersona.objects.create(
        workspace=workspace, created_by=alice, persona_id="p1", name="Crooner", description="Soft", audio_id="a1"
    )
    conversation = conversation_for(alice)
    question = Message.objects.create(
        workspace=workspace, conversation=conversation, role="user", content=[{"type": "text", "text": "Hi"}]
    )
    reply = Message.objects.create(
        workspace=workspace,
        conversation=conversation,
        role="assistant",
        parent=question,
        status="done",
        content=[{"type": "text", "text": "Hello"}],
    )
    # A version of the reply that asked to generate (a card waiting for Run), beside the one on screen.
    asking = Message.objects.create(
        workspace=workspace,
        conversation=conversation,
        role="assistant",
        parent=question,
        status="complete",
        stop_reason="tool_use",
        content=[
            {"type": "text", "text": "On it."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "generate",
                "input": {"model": "google/nano-banana", "prompt": "A fox"},
            },
        ],
    )
    [toolcall] = toolcalls_open(message_id=asking.pk)
    steps = [{"id": "shot", "model": "google/nano-banana", "prompt": "A fox"}]
    planning = Message.objects.create(
        workspace=workspace,
        conversation=conversation,
        role="assistant",
        parent=question,
        status="complete",
        stop_reason="tool_use",
        content=[
            {"type": "tool_use", "id": "toolu_2", "name": "propose_plan", "input": {"title": "T", "steps": steps}}
        ],
    )
    [plan_call] = toolcalls_open(message_id=planning.pk)
    Conversation.objects.filter(pk=conversation.pk).update(current_leaf=reply, is_shared=True)
    owner = Membership.objects.get(workspace=workspace, user=alice)
    invitation = invitation_create(workspace=workspace, actor_membership=owner, role=Role.MEMBER).invitation
    share = share_create(workspace=workspace, actor=alice, kind="collection", target=collection).share
    webhook, _ = webhook_endpoint_create(
        workspace=workspace, actor=alice, url="https://93.184.215.14/hooks/in", events=["generation.succeeded"]
    )
    delivery = Delivery.objects.create(
        workspace=workspace, endpoint=webhook, event="ping", payload={}, status=Delivery.Status.FAILED
    )
    return {
        "membership": owner,
        "invitation": invitation,
        "generation": generation,
        "asset": asset,
        "reference": reference,
        "prompt": generation.prompt,
        "collection": collection,
        "tag": tag,
        "batch": batch,
        "persona": persona,
        "conversation": conversation,
        "message": reply,
        "question": question,
        "asking": asking,
        "toolcall": toolcall,
        "plan": plan_call.plan,
        "step": plan_call.plan.steps.get(),
        "apitoken": token_create(workspace=workspace, actor_membership=owner, name="CI", scopes=["read"]).token,
        "share": share,
        "webhook": webhook,
        "delivery": delivery,
    }


def _request(client, name, objects):
    which, method, *extra = ID_URLS[name]
    url = reverse(name, args=[objects[which].pk, *(extra[0] if extra else [])])
    data = {"text": "x", "name": "x", "role": "member", "cap": "5", "ids": [objects["generation"].pk], "stars": "4"}
    data["tag"] = objects["tag"].pk
    if method == "get":
        return client.get(url, **HTMX)
    return client.post(url, data, **HTMX)


def _params():
    # The stream view reads in a thread of its own, which sees only committed rows: without a real commit,
    # its 404 would prove nothing.
    for name in ID_URLS:
        marks = pytest.mark.django_db(transaction=name == "chat-message-stream")
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", list(_params()))
def test_a_member_of_another_workspace_gets_404(client, charlie, objects, name):
    # Charlie owns his own workspace, so no role check can answer first: only tenancy is tested.
    client.force_login(charlie)
    response = _request(client, name, objects)
    assert response.status_code == 404, response.content[:300]
    # ...and nothing of Alice's changed.
    generation = Generation.objects.get(pk=objects["generation"].pk)
    assert generation.deleted_at is None and not generation.favorites.exists()
    assert Membership.objects.filter(pk=objects["membership"].pk, role=Role.OWNER, monthly_cap=None).exists()
    assert Collection.objects.filter(pk=objects["collection"].pk, name="Moodboard", cover=None).exists()
    assert Batch.objects.filter(pk=objects["batch"].pk, paused_at=None).exists()
    assert not Rating.objects.exists() and list(generation.tags.values_list("name", flat=True)) == ["Dusk"]
    assert SunoPersona.objects.filter(pk=objects["persona"].pk).exists()
    assert Conversation.objects.filter(pk=objects["conversation"].pk, pinned_at=None).exists()
    assert Message.objects.filter(conversation=objects["conversation"]).count() == 4
    assert Plan.objects.filter(pk=objects["plan"].pk, status=Plan.Status.PROPOSED).exists()
    assert ToolCall.objects.filter(pk=objects["toolcall"].pk, status=ToolCall.Status.PROPOSED).exists()
    assert not Generation.objects.exclude(pk=objects["generation"].pk).exists()
    assert Endpoint.objects.filter(pk=objects["webhook"].pk, is_active=True).exists()
    assert Delivery.objects.get(endpoint=objects["webhook"]).status == Delivery.Status.FAILED


@pytest.mark.parametrize("name", list(_params()))
def test_the_same_request_from_the_owner_finds_the_object(client, alice, objects, name):
    # Proves each 404 above is tenancy and not a URL that never finds anything.
    client.force_login(alice)
    response = _request(client, name, objects)
    assert response.status_code not in (404, 405) and response.status_code < 500, response.content[:300]
