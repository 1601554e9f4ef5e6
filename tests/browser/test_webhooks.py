"""Webhooks in the browser: an owner adds an endpoint from Settings, copies its secret (shown once), sends a test
event to a receiver on this machine and sees the attempt listed."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from kiestudio.webhooks.models import Endpoint
from tests.webhooks.receiver import signature_ok, webhook_receiver


@pytest.fixture
def receiver(settings):
    with webhook_receiver() as running:
        settings.FETCH_ALLOWED_PRIVATE_HOSTS = [running.hostport]
        yield running


def test_add_an_endpoint_see_the_secret_once_and_send_a_test_event(signed_in_page: Page, asgi_live_server, receiver):
    page = signed_in_page
    page.goto(f"{asgi_live_server}/settings/")
    page.get_by_role("link", name="Manage webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    expect(page.get_by_text("No endpoints yet")).to_be_visible()

    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Generation finished").check()
    page.get_by_label("Batch finished").check()
    page.get_by_role("button", name="Add endpoint").click()

    secret_box = page.get_by_role("textbox", name="Signing secret")
    expect(secret_box).to_be_visible()
    secret = secret_box.input_value()
    endpoint = Endpoint.objects.get()
    assert secret.startswith("whsec_") and secret == endpoint.secret
    row = page.locator(f"#endpoint-{endpoint.pk}")
    expect(row).to_contain_text(receiver.url)
    expect(row).to_contain_text("Generation finished, Batch finished")
    expect(row.get_by_text("Nothing sent yet.")).to_be_visible()

    page.reload()  # shown once
    expect(page.get_by_role("textbox", name="Signing secret")).to_have_count(0)
    assert secret not in page.content()

    row = page.locator(f"#endpoint-{endpoint.pk}")
    row.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_text("Test event sent.")).to_be_visible()
    delivery = page.locator(f"#endpoint-{endpoint.pk} .webhook-delivery").first
    expect(delivery).to_contain_text("Delivered")
    expect(delivery).to_contain_text("Test event")
    attempt = delivery.locator("tbody tr").first
    expect(attempt).to_contain_text("200")
    expect(attempt).to_contain_text(" ms")

    [received] = receiver.requests
    assert received.headers["X-Kiestudio-Event"] == "ping" and signature_ok(secret, received)
    assert json.loads(received.body)["type"] == "ping"
