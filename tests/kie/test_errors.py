from __future__ import annotations

import httpx
import pytest

from kiestudio.kie import (
    KieAuthError,
    KieBadRequest,
    KieContentRejected,
    KieError,
    KieFeatureDisabled,
    KieFetchFailed,
    KieGenerationFailed,
    KieInsufficientCredits,
    KieKeyLimitExceeded,
    KieModelPaused,
    KieNotFound,
    KieNotReady,
    KieRateLimited,
    KieServerError,
    KieUnavailable,
    KieValidationError,
)
from kiestudio.kie.errors import error_for_code, error_for_task_failure, field_from_message

from .conftest import API_KEY, ok

CODE_TABLE = [
    (401, "You do not have access permissions", KieAuthError, "auth_failed", False),
    (402, "Credits insufficient", KieInsufficientCredits, "insufficient_credits", False),
    (404, "Task not found", KieNotFound, "not_found", False),
    (422, "aspect_ratio is not supported", KieValidationError, "invalid_input", False),
    (429, "Rate limit exceeded", KieRateLimited, "rate_limited", True),
    (433, "Sub-key usage exceeds limit", KieKeyLimitExceeded, "key_limit", False),
    (451, "Failed to fetch the image", KieFetchFailed, "fetch_failed", False),
    (455, "Service unavailable", KieUnavailable, "unavailable", True),
    (500, "Internal server error", KieServerError, "upstream_error", True),
    # Field reports from the live service: body code 500 also carries permanent refusals.
    (500, "This voice is not within the range of allowed options", KieValidationError, "invalid_input", False),
    (500, "aspect_ratio is required", KieValidationError, "invalid_input", False),
    (500, "This interface is temporarily paused", KieModelPaused, "model_paused", False),
    (501, "Generation failed", KieGenerationFailed, "generation_failed", False),
    (505, "Feature disabled", KieFeatureDisabled, "feature_disabled", False),
    (400, "Your prompt was flagged as violating the content policy", KieContentRejected, "content_rejected", False),
    (400, "taskId parameter is required", KieBadRequest, "bad_request", False),
    (400, "1080P is processing, try again in 1-2 minutes", KieNotReady, "not_ready", True),
]


@pytest.mark.parametrize(("code", "message", "cls", "slug", "retryable"), CODE_TABLE)
def test_error_for_code(code, message, cls, slug, retryable):
    err = error_for_code(code, message, http_status=200)
    assert type(err) is cls
    assert err.error_class == slug
    assert err.retryable is retryable
    assert err.code == code
    assert err.kie_message == message
    assert len(err.user_message) > 20 and err.user_message.endswith(".")
    assert isinstance(err, KieError)


@pytest.mark.parametrize(("code", "message", "cls", "slug", "retryable"), CODE_TABLE)
def test_every_code_in_a_body_maps_to_its_class(make_client, code, message, cls, slug, retryable):
    client, rec = make_client({"code": code, "msg": message, "data": None}, retries=1)
    with pytest.raises(cls) as info:
        client.get_credits()
    assert info.value.http_status == 200
    assert info.value.code == code
    assert info.value.kie_message == message


@pytest.mark.parametrize(("code", "message", "cls", "slug", "retryable"), CODE_TABLE)
def test_every_code_as_http_status_maps_to_its_class(make_client, code, message, cls, slug, retryable):
    client, rec = make_client(httpx.Response(code, json={"code": code, "message": message}), retries=1)
    with pytest.raises(cls) as info:
        client.market_record("t1")
    assert info.value.http_status == code
    assert info.value.kie_message == message


def test_insufficient_credits_message_tells_the_creator_what_to_do():
    err = error_for_code(402, "Credits insufficient")
    assert err.user_message == "Your Kie account is out of credits. Top up at kie.ai, then retry."


def test_http_status_is_checked_before_body_code(make_client):
    # HTTP 401 with a body that (wrongly) says 200: the status wins.
    client, _ = make_client(httpx.Response(401, json={"code": 200, "msg": "Unauthorized"}), retries=1)
    with pytest.raises(KieAuthError):
        client.get_credits()


def test_generic_http_400_with_specific_body_code_uses_body(make_client):
    client, _ = make_client(httpx.Response(400, json={"code": 422, "msg": "duration must be one of 5, 10"}), retries=1)
    with pytest.raises(KieValidationError) as info:
        client.market_create("kling", {"prompt": "x", "duration": "7"})
    assert info.value.field == "duration"
    assert info.value.http_status == 400


def test_openai_style_error_body(make_client):
    body = {"error": {"message": "invalid api key", "type": "authentication_error"}}
    client, _ = make_client(httpx.Response(401, json=body), retries=1)
    with pytest.raises(KieAuthError) as info:
        client.get_credits()
    assert info.value.kie_message == "invalid api key"


@pytest.mark.parametrize(
    ("message", "candidates", "expected"),
    [
        ("aspect_ratio must be one of 1:1, 16:9", (), "aspect_ratio"),
        ("The field 'image_urls' is required", (), "image_urls"),
        ("input.duration is invalid", (), "duration"),
        ("Invalid resolution: 8K", (), "resolution"),
        ("value out of range for seeds (10000-99999)", ("prompt", "seeds"), "seeds"),
        ("Something went wrong", (), None),
        (None, (), None),
    ],
)
def test_field_from_message(message, candidates, expected):
    assert field_from_message(message, candidates) == expected


def test_validation_error_names_field_in_user_message():
    err = error_for_code(422, "image_size is not valid")
    assert isinstance(err, KieValidationError)
    assert err.field == "image_size"
    assert "image_size" in err.user_message


def test_task_failure_errors():
    assert isinstance(error_for_task_failure("500", "Internal server error"), KieGenerationFailed)
    assert isinstance(
        error_for_task_failure("422", "Invalid prompt: prompt contains prohibited content"), KieContentRejected
    )
    assert isinstance(error_for_task_failure(None, "SENSITIVE_WORD_ERROR"), KieContentRejected)
    assert isinstance(error_for_task_failure("", ""), KieGenerationFailed)
    assert isinstance(error_for_task_failure("402", "no credits"), KieInsufficientCredits)


def test_api_key_never_in_errors_or_repr(make_client):
    client, _ = make_client(httpx.Response(401, json={"code": 401, "msg": f"bad key {API_KEY}"}), retries=1)
    with pytest.raises(KieAuthError) as info:
        client.get_credits()
    err = info.value
    for text in (str(err), repr(err), err.kie_message, err.user_message, repr(client)):
        assert API_KEY not in text
    assert "***" in err.kie_message
    assert client.account in repr(client)


def test_ok_envelope_with_message_key(make_client):
    client, _ = make_client({"code": 200, "message": "success", "data": 12.5})
    assert client.get_credits() == 12.5


def test_ok_helper_round_trip(make_client):
    client, rec = make_client(ok(100))
    assert client.get_credits() == 100


def test_processing_wording_only_means_not_ready_when_it_says_so():
    assert isinstance(error_for_code(400, "Error processing the image"), KieBadRequest)
    assert isinstance(
        error_for_code(400, "1080P is processing. It should be ready in 1-2 minutes. Please check back shortly."),
        KieNotReady,
    )


def test_a_refusal_says_what_kie_said():
    err = error_for_code(500, "This voice is not within the range of allowed options", field_candidates=["voice"])
    assert err.field == "voice"
    assert err.user_message == (
        "Kie refused the settings: “This voice is not within the range of allowed options” Change that and try again."
    )
    paused = error_for_code(500, "This interface is temporarily paused")
    assert "This interface is temporarily paused" in paused.user_message and not paused.retryable
    # An outage stays an outage, and a failed task says what Kie said.
    assert type(error_for_code(500, "Server busy, please retry")) is KieServerError
    assert "The input video is too dark" in error_for_task_failure("500", "The input video is too dark").user_message
