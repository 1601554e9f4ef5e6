"""Voice samples: Play on a voice setting plays our copy of the sample, fetched once from where the catalog says it
is (Kie's CDN, which these machines can't reach: the fetch is the one seam patched here)."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from kiestudio.core.fetch import BlockedURL, Fetched, FetchError
from kiestudio.kie.catalog import get_model
from kiestudio.studio import samples

pytestmark = pytest.mark.django_db

MODEL = "elevenlabs/text-to-speech-multilingual-v2"
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb" * 500


@pytest.fixture
def cdn(monkeypatch, settings, tmp_path):
    """What the sample host answers; every fetch is recorded."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    answer = {"body": MP3, "type": "audio/mpeg", "error": None, "urls": []}

    def fetch(url, dest, *, max_bytes, timeout):
        answer["urls"].append(url)
        if answer["error"]:
            raise answer["error"]
        dest.write(answer["body"])
        return Fetched(url=url, content_type=answer["type"], size=len(answer["body"]))

    monkeypatch.setattr(samples, "fetch_to_file", fetch)
    return answer


def url(model=MODEL, field="voice"):
    return reverse("choice-sample", args=[model, field])


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_voice_sample_is_fetched_once_then_served_from_our_storage(client, alice, cdn):
    client.force_login(alice)
    voice = get_model(MODEL).field("voice").choices[3]
    first = client.get(url(), {"value": voice})
    assert first.status_code == 200 and first["Content-Type"] == "audio/mpeg" and body(first) == MP3
    assert cdn["urls"] == [f"https://static.aiquickdraw.com/elevenlabs/voice/{voice}.mp3"]
    again = client.get(url(), {"value": voice})
    assert body(again) == MP3 and len(cdn["urls"]) == 1  # the second play never leaves the studio
    assert default_storage.exists(samples.sample_name(get_model(MODEL).field("voice"), voice))


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (MODEL, "voice", "not-a-voice"),
        ("no/such-model", "voice", "x"),
        (MODEL, "text", "x"),  # a setting without samples
    ],
    ids=["value-not-offered", "unknown-model", "no-samples"],
)
def test_anything_else_is_a_404_and_fetches_nothing(client, alice, cdn, model, field, value):
    client.force_login(alice)
    assert client.get(url(model, field), {"value": value}).status_code == 404
    assert cdn["urls"] == []


@pytest.mark.parametrize(
    "fault",
    [FetchError("The file server answered HTTP 503."), BlockedURL("private"), "text/html"],
    ids=["host-error", "blocked-address", "not-audio"],
)
def test_a_sample_that_cannot_be_had_says_so_and_keeps_nothing(client, alice, cdn, fault):
    client.force_login(alice)
    if isinstance(fault, str):
        cdn["type"] = fault
    else:
        cdn["error"] = fault
    voice = get_model(MODEL).field("voice").choices[0]
    response = client.get(url(), {"value": voice})
    assert response.status_code == 502 and response.content == b"The sample can't be fetched right now."
    assert not default_storage.exists(samples.sample_name(get_model(MODEL).field("voice"), voice))


def test_signed_out_gets_the_sign_in_page(client, cdn):
    response = client.get(url(), {"value": "x"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_form_offers_play_beside_the_voice(client, alice):
    client.force_login(alice)
    html = client.get(reverse("generate-form"), {"model": MODEL}).content.decode()
    assert f'data-sample-url="{url()}"' in html and 'data-sample-for="id_voice"' in html
    assert "aiquickdraw" not in html  # the page never names the CDN
