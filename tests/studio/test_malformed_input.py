"""Generate and the Kie callback given what they must refuse: an unknown model buys nothing (it used to start the
default model), and malformed ids and JSON are a 400 or a form error, never a 500."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.utils.html import escape

from kiestudio.studio.models import Generation
from kiestudio.usage.models import UsageEntry

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def submit(client, model, **fields):
    data = {"model": model, "prompt": "A paper boat", "variations": "1", "form_token": str(uuid.uuid4()), **fields}
    return client.post("/generate/submit/", data, headers=HTMX)


@pytest.mark.parametrize("model", ["no-such/model", "", "Google/Nano-Banana", "x" * 500])
def test_an_unknown_model_is_a_400_that_quotes_it_and_buys_nothing(client, alice, kie_sim, model):
    client.force_login(alice)
    response = submit(client, model)
    assert response.status_code == 400
    html = response.content.decode()
    if model.strip():
        assert escape(f"“{model.strip()[:100]}”") in html
    else:
        assert "Choose a model" in html
    assert not Generation.objects.exists()
    assert not UsageEntry.objects.exists()
    assert not kie_sim.log.of_kind("create")
    # The estimate refuses it the same way (it used to price the default model).
    assert client.post("/generate/estimate/", {"model": "no-such/model"}, headers=HTMX).status_code == 400


def test_a_follow_up_only_model_cannot_be_bought_from_generate(client, alice, kie_sim):
    client.force_login(alice)
    response = submit(client, "veo/extend")
    assert response.status_code == 400
    assert "made from an earlier result" in response.content.decode()
    assert not Generation.objects.exists()


def test_a_known_model_still_buys(client, alice, kie_sim):
    client.force_login(alice)
    assert submit(client, "google/nano-banana", aspect_ratio="1:1").status_code == 200
    assert Generation.objects.get().model_key == "google/nano-banana"


@pytest.mark.parametrize("value", ["²", "١٢", str(2**70), "9" * 40])
def test_reference_ids_that_are_not_ids_are_a_form_error(client, alice, kie_sim, value):
    client.force_login(alice)
    response = submit(client, "nano-banana-pro", image_input=value)
    assert response.status_code == 422
    assert not Generation.objects.exists()


def test_deeply_nested_json_in_a_form_field_is_a_form_error(client, alice, kie_sim):
    client.force_login(alice)
    data = {
        "model": "kling-3.0/video",
        "prompt": "A kite",
        "duration": "5",
        "aspect_ratio": "16:9",
        "mode": "std",
        "multi_shots": "on",  # the shots are read only for a multi-shot story
        "multi_prompt": "[" * 5000,  # json.loads raised RecursionError: a 500
        "variations": "1",
        "form_token": str(uuid.uuid4()),
    }
    response = client.post("/generate/submit/", data, headers=HTMX)
    assert response.status_code == 422
    assert "nested too deeply" in response.content.decode()
    assert not Generation.objects.exists()


def test_the_callback_refuses_deep_json_and_odd_tokens(settings):
    client = Client()
    url = f"/kie/callback/{settings.KIE_CALLBACK_TOKEN}/"
    response = client.post(url, "[" * 5000, content_type="application/json")
    assert response.status_code == 400
    assert b"nested too deeply" in response.content
    assert client.post(url, "{" + '"a":' * 100_000, content_type="application/json").status_code == 400
    # A token with characters hmac.compare_digest refuses to compare as text: a 404 like any wrong token.
    for token in ("²", "١٢", "x" * 5000):
        assert client.post(f"/kie/callback/{token}/", "{}", content_type="application/json").status_code == 404
