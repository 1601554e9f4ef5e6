"""The cards' views: who may see, edit, run or skip a call, and the model's own form for Edit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from kiestudio.agent import services as agent
from kiestudio.agent.models import ToolCall
from kiestudio.chat.models import Message
from kiestudio.kie.catalog import estimate_credits, get_model
from kiestudio.studio.models import Generation
from kiestudio.uploads.models import Reference
from kiestudio.workspaces.models import Membership
from tests.chat.helpers import conversation_for
from tests.conftest import PASSWORD
from tests.studio.helpers import workspace_of

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def proposed(user, *, shared: bool = False, **tool_input) -> ToolCall:
    """A reply that called generate, recorded as the relay records it (no upstream needed)."""
    conversation = conversation_for(user, studio_tools=True)
    conversation.is_shared = shared
    conversation.save()
    question = Message.objects.create(
        workspace=conversation.workspace,
        conversation=conversation,
        role="user",
        content=[{"type": "text", "text": "Go"}],
    )
    use = {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "generate",
        "input": tool_input or {"model": "google/nano-banana", "prompt": "A fox", "takes": 2},
    }
    reply = Message.objects.create(
        workspace=conversation.workspace,
        conversation=conversation,
        parent=question,
        role="assistant",
        status="complete",
        stop_reason="tool_use",
        content=[{"type": "text", "text": "I'll use the generate tool."}, use],
    )
    [call] = agent.toolcalls_open(message_id=reply.pk)
    return call


def login(client, user):
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_the_card_shows_model_prompt_settings_and_price(client, alice):
    call = proposed(alice)
    html = login(client, alice).get(reverse("agent-cards", args=[call.message_id]), **HTMX).content.decode()
    price = 2 * estimate_credits(get_model("google/nano-banana"), call.inputs)
    assert call.quote == price
    assert "Nano Banana · 2 takes" in html and "A fox" in html
    assert f"{price.normalize():f}" in html and "Run" in html and "Skip" in html and "Edit" in html


def test_another_workspace_gets_404_and_a_teammate_403(client, alice, charlie, make_user):
    call = proposed(alice, shared=True)
    login(client, charlie)
    for name in ("agent-run", "agent-skip", "agent-edit"):
        assert client.post(reverse(name, args=[call.pk]), **HTMX).status_code == 404
    assert client.get(reverse("agent-cards", args=[call.message_id])).status_code == 404
    bob = make_user("bob@example.com", personal=False)
    Membership.objects.create(workspace=workspace_of(alice), user=bob, role="member")
    client.logout()
    login(client, bob)
    assert client.get(reverse("agent-cards", args=[call.message_id])).status_code == 200  # shared: readable
    assert client.post(reverse("agent-run", args=[call.pk]), **HTMX).status_code == 403
    viewer = make_user("vera@example.com", personal=False)
    Membership.objects.create(workspace=workspace_of(alice), user=viewer, role="viewer")
    client.logout()
    login(client, viewer)
    assert client.post(reverse("agent-run", args=[call.pk]), **HTMX).status_code == 403
    call.refresh_from_db()
    assert call.status == ToolCall.Status.PROPOSED and not Generation.objects.exists()


def test_edit_prefills_the_models_form_refuses_bad_values_and_run_buys_the_edited_call(client, alice, kie_sim):
    call = proposed(alice)
    login(client, alice)
    url = reverse("agent-edit", args=[call.pk])
    form = client.get(url, **HTMX).content.decode()
    assert 'name="prompt"' in form and "A fox" in form
    assert "form_token" not in form  # an edit buys nothing, so it carries no token
    bad = client.post(url, {"prompt": "A fox", "output_format": "gif", "variations": "1"}, **HTMX)
    assert bad.status_code == 422 and bad["HX-Retarget"] == f"#call-{call.pk}-edit"
    call.refresh_from_db()
    assert not call.edited and call.takes == 2
    good = {"prompt": "A red fox in the snow", "output_format": "jpeg", "aspect_ratio": "16:9", "variations": "1"}
    assert client.post(url, good, **HTMX).status_code == 200
    call.refresh_from_db()
    assert call.edited and call.takes == 1 and call.prompt == "A red fox in the snow"
    assert call.quote == estimate_credits(get_model("google/nano-banana"), call.inputs)
    assert client.post(reverse("agent-run", args=[call.pk]), **HTMX).status_code == 200
    [made] = Generation.objects.all()
    assert made.prompt_text == "A red fox in the snow" and made.inputs["output_format"] == "jpeg"


def test_run_over_budget_shows_the_reason_and_keeps_the_card(client, alice):
    workspace = workspace_of(alice)
    workspace.monthly_budget = Decimal("1")
    workspace.save()
    call = proposed(alice)
    response = login(client, alice).post(reverse("agent-run", args=[call.pk]), **HTMX)
    assert response.status_code == 422 and "budget" in response.content.decode()
    call.refresh_from_db()
    assert call.status == ToolCall.Status.PROPOSED and not Generation.objects.exists()


def test_send_to_chat_attaches_the_picture_to_a_new_message(client, alice, charlie, kie_sim):
    from tests.studio.helpers import made

    item = made(alice)
    login(client, alice)
    response = client.post(reverse("agent-send-to-chat", args=[item.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("chat") + "?attach=")
    page = client.get(response["Location"]).content.decode()
    ref_id = response["Location"].split("=", 1)[1]
    assert f'name="attachments" value="{ref_id}"' in page
    assert Reference.objects.get(pk=ref_id).source_asset == item.assets.get()
    client.logout()
    login(client, charlie)
    assert client.post(reverse("agent-send-to-chat", args=[item.pk])).status_code == 404
    assert f'value="{ref_id}"' not in client.get(f"{reverse('chat')}?attach={ref_id}").content.decode()


def test_use_in_generate_prefills_the_prompt(client, alice):
    login(client, alice)
    page = client.get(reverse("generate"), {"model": "google/nano-banana", "prompt": "A lighthouse at dusk"})
    assert page.status_code == 200
    assert "A lighthouse at dusk</textarea>" in page.content.decode()


def test_the_auto_run_limit_is_set_on_the_settings_page_and_a_viewer_has_none(client, alice, make_user):
    login(client, alice)
    page = client.get(reverse("settings")).content.decode()
    assert "Chat tools" in page and '<option value="" selected>Always ask</option>' in page
    response = client.post(reverse("agent-autorun-settings"), {"limit": "20"}, follow=True)
    assert "Chat tool calls: up to 20 credits." in response.content.decode()
    assert agent.autorun_limit(workspace_id=workspace_of(alice).pk, user=alice) == Decimal("20")
    assert '<option value="20" selected>' in client.get(reverse("settings")).content.decode()
    # A limit not offered is refused; the old one stays.
    response = client.post(reverse("agent-autorun-settings"), {"limit": "1000"}, follow=True)
    assert "Choose one of the limits offered." in response.content.decode()
    assert agent.autorun_limit(workspace_id=workspace_of(alice).pk, user=alice) == Decimal("20")
    client.post(reverse("agent-autorun-settings"), {"limit": ""})
    assert agent.autorun_limit(workspace_id=workspace_of(alice).pk, user=alice) is None

    viewer = make_user("viewer@example.com")
    Membership.objects.create(workspace=workspace_of(alice), user=viewer, role="viewer")
    client.logout()
    login(client, viewer)
    client.post(reverse("workspace-switch"), {"workspace": workspace_of(alice).pk})
    assert "Chat tools" not in client.get(reverse("settings")).content.decode()
    assert client.post(reverse("agent-autorun-settings"), {"limit": "5"}).status_code == 403
