"""A workspace's Kie key never comes back out: not in a page, a fragment, an error page, an email or a log line."""

from __future__ import annotations

import logging
import uuid

from asgiref.sync import async_to_sync
from django.core import mail
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from kiestudio.chat.models import Message
from kiestudio.studio.models import Generation
from kiestudio.workspaces.models import AuditEvent, Membership, Workspace
from tests.chat.helpers import wait_until_done
from tests.studio.helpers import drain, workspace_of
from tests.workspaces.test_url_tenancy import ID_URLS, make_objects

KEY = "sim-Kx7Qp2ZsecretVw9mT4nL8"
WEBHOOK_KEY = "whk-Hb3nR8secretYq5dJ1"
BAD_KEY = "bad-Zt6Usecretrejected42"
SECRETS = (KEY, WEBHOOK_KEY, BAD_KEY, KEY[:-4])  # all but the last four characters counts as a leak too

HTMX = {"HTTP_HX_REQUEST": "true"}


def _body(response) -> str:
    if not getattr(response, "streaming", False):
        content = response.content
    elif response.is_async:  # the chat streams

        async def read() -> bytes:
            return b"".join([chunk async for chunk in response.streaming_content])

        content = async_to_sync(read)()
    else:
        content = b"".join(response.streaming_content)
    headers = "\n".join(f"{k}: {v}" for k, v in response.items())
    return headers + "\n" + content.decode(errors="replace")


def _routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield prefix + str(pattern.pattern), pattern.name

    return list(walk(get_resolver().url_patterns))


def test_the_key_never_comes_back_out(client, make_user, alice, kie_sim, caplog, transactional_db):
    kie_sim.sim.config.api_keys = [KEY]  # and not the studio's own test key
    for name in (None, "httpx", "httpcore", "kiestudio", "django.request", "django.security", "django_q"):
        caplog.set_level(logging.DEBUG, logger=name)
    workspace = workspace_of(alice)
    seen: list[str] = []
    client.force_login(alice)

    # Set the keys through the settings page, then a wrong one (refused with Kie's reason).
    seen.append(_body(client.post("/settings/workspace/key/", {"key": KEY}, follow=True)))
    seen.append(_body(client.post("/settings/workspace/webhook/", {"webhook_key": WEBHOOK_KEY}, follow=True)))
    refused = client.post("/settings/workspace/key/", {"key": BAD_KEY}, follow=True)
    seen.append(_body(refused))
    assert "Kie refused the key" in _body(refused)
    seen.append(_body(client.post("/settings/workspace/key/test/", follow=True)))
    workspace.refresh_from_db()
    assert workspace.kie_key_last4 == KEY[-4:]
    assert f"••••{KEY[-4:]}" in _body(client.get("/settings/"))

    # Use it: a generation and a chat reply go to Kie with it.
    response = client.post(
        "/generate/submit/",
        {
            "model": "google/nano-banana",
            "prompt": "A kite",
            "aspect_ratio": "1:1",
            "variations": "1",
            "form_token": str(uuid.uuid4()),
        },
        **HTMX,
    )
    seen.append(_body(response))
    drain()
    assert Generation.objects.get().status == "succeeded"  # the simulator takes only KEY: it was used
    seen.append(_body(client.post("/chat/new/", {"text": "Hi", "token": str(uuid.uuid4())})))
    wait_until_done(Message.objects.get(role="assistant"))

    # Every page and fragment: those without ids, then those with one (Alice's own objects).
    for route, _name in _routes():
        if "<" in route or "(?P" in route:
            continue
        for extra in ({}, HTMX):
            seen.append(_body(client.get("/" + route, **extra)))
    objects = make_objects(alice)
    for name, (which, _method, *extra) in ID_URLS.items():
        if name in ("chat-delete", "generation-delete", "collection-delete", "member-remove"):
            continue
        url = reverse(name, args=[objects[which].pk, *(extra[0] if extra else [])])
        seen.append(_body(client.get(url, **HTMX)))
    seen.append(_body(client.get("/usage/export.csv")))
    # Error pages: not found, not allowed, a bad invitation.
    seen.append(_body(client.get("/gallery/999999/")))
    seen.append(_body(client.get("/invite/nope/")))
    # Invitation links and the callback URL are secrets too: a revoked link, a bad callback, a broken one.
    from django.conf import settings

    from kiestudio.workspaces.services import invitation_create, invitation_revoke

    owner = Membership.objects.get(workspace=workspace, user=alice)
    made = invitation_create(workspace=workspace, actor_membership=owner, role="member")
    invitation_revoke(invitation=made.invitation, actor_membership=owner)
    revoked_page = _body(client.get(f"/invite/{made.token}/"))
    assert made.token not in revoked_page.split("\n", 1)[-1]  # the page body; the log is checked below
    seen.append(revoked_page)
    callback = f"/kie/callback/{settings.KIE_CALLBACK_TOKEN}/"
    seen.append(_body(client.post(callback, "{broken", content_type="application/json")))
    seen.append(_body(client.post(callback, {"data": {}}, content_type="application/json")))
    secrets_in_urls = (made.token, settings.KIE_CALLBACK_TOKEN)
    viewer = make_user("viewer@example.com", personal=False)
    Membership.objects.create(workspace=workspace, user=viewer, role="viewer")
    client.force_login(viewer)
    seen.append(_body(client.get("/usage/")))
    seen.append(_body(client.get("/settings/")))

    seen.extend(f"{m.subject}\n{m.body}" for m in mail.outbox)
    seen.append(caplog.text)
    seen.append("\n".join(str(v) for v in AuditEvent.objects.values_list("target", "details")))
    with connection.cursor() as cursor:
        cursor.execute("SELECT kie_key_encrypted, webhook_key_encrypted FROM workspaces_workspace")
        seen.append(repr(cursor.fetchall()))

    everything = "\n".join(seen)
    assert len(seen) > 80 and "Kie Studio" in everything
    for secret in SECRETS:
        assert secret not in everything, f"{secret[:4]}… leaked"
    logged = caplog.text
    for secret in secrets_in_urls:
        assert secret not in logged, f"{secret[:4]}… leaked into the log"
    assert Workspace.objects.get(pk=workspace.pk).kie_key_encrypted  # stored, encrypted
