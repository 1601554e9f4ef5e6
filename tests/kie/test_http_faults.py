"""Fault shapes the simulator cannot make, through httpx.MockTransport."""

from __future__ import annotations

import httpx
import pytest

from kiestudio.kie import (
    DEFAULT_USER_AGENT,
    KieClient,
    KieConnectionError,
    KieMalformedResponse,
    KieRateLimited,
    KieServerError,
    KieTimeout,
    KieUnknownOutcome,
    RetryPolicy,
    account_id,
)
from kiestudio.kie.http import RetryPolicy as HttpRetryPolicy

from .conftest import API_KEY, Recorder, ok

CREATED = ok({"taskId": "task_1"})


def create(client: KieClient) -> str:
    return client.market_create("google/nano-banana", {"prompt": "a cat"})


def test_headers_on_every_call(make_client):
    client, rec = make_client(ok(5))
    client.get_credits()
    request = rec.requests[0]
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["user-agent"] == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT.startswith("KieStudio/") and DEFAULT_USER_AGENT.endswith("(+httpx)")


def test_upload_uses_its_own_host_with_auth(make_client):
    client, rec = make_client(ok({"downloadUrl": "https://tmp/x.png"}))
    client.upload_from_url("https://example.com/x.png")
    assert rec.requests[0].url.host == "upload.test"
    assert rec.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b"{not json", b"", b"[1, 2]"])
def test_malformed_json_on_read_is_retried_then_named(make_client, body):
    client, rec = make_client(httpx.Response(200, content=body))
    with pytest.raises(KieMalformedResponse):
        client.get_credits()
    assert rec.count == 3


def test_malformed_then_good_read_recovers(make_client):
    client, rec = make_client(httpx.Response(200, content=b"oops"), ok(7))
    assert client.get_credits() == 7
    assert rec.count == 2


def test_malformed_2xx_on_create_is_unknown_outcome_and_not_resent(make_client):
    client, rec = make_client(httpx.Response(200, content=b"<html>"), CREATED)
    with pytest.raises(KieUnknownOutcome):
        create(client)
    assert rec.count == 1


def test_create_without_task_id_is_unknown_outcome(make_client):
    client, rec = make_client(ok({}))
    with pytest.raises(KieUnknownOutcome):
        create(client)
    assert rec.count == 1


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.WriteTimeout("write timed out"),
        httpx.RemoteProtocolError("server disconnected"),
        httpx.ReadError("connection reset"),
    ],
)
def test_create_that_may_have_been_sent_is_never_resent(make_client, limiter, exc):
    client, rec = make_client(exc, CREATED, retries=RetryPolicy(attempts=5, base=0, cap=0))
    with pytest.raises(KieUnknownOutcome) as info:
        create(client)
    assert rec.count == 1
    assert info.value.error_class == "unknown_outcome"
    assert info.value.retryable is False
    assert "charged twice" in info.value.user_message
    assert [c[0] for c in limiter.calls] == [f"create:{client.account}"]


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ConnectTimeout("connect timed out")])
def test_create_connect_errors_are_retried(make_client, limiter, exc):
    client, rec = make_client(exc, exc, CREATED)
    assert create(client) == "task_1"
    assert rec.count == 3
    # The create bucket is acquired before every attempt, retries included.
    assert limiter.calls == [(f"create:{client.account}", 20, 10.0)] * 3


def test_create_connect_errors_exhausted(make_client):
    client, rec = make_client(httpx.ConnectError("refused"))
    with pytest.raises(KieConnectionError) as info:
        create(client)
    assert rec.count == 3
    assert info.value.retryable


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped")])
def test_reads_are_retried_after_timeouts(make_client, limiter, exc):
    client, rec = make_client(exc, ok(3))
    assert client.get_credits() == 3
    assert rec.count == 2
    assert limiter.calls == [(f"read:{client.account}", 10, 1.0)] * 2


def test_read_timeouts_exhausted_raise_kie_timeout(make_client):
    client, rec = make_client(httpx.ReadTimeout("slow"))
    with pytest.raises(KieTimeout) as info:
        client.market_record("t")
    assert rec.count == 3
    assert info.value.error_class == "timeout"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_retried_on_reads(make_client, status):
    client, rec = make_client(httpx.Response(status, text="upstream sad"), ok(9))
    assert client.get_credits() == 9
    assert rec.count == 2


def test_5xx_exhausted_on_reads(make_client):
    client, rec = make_client(httpx.Response(500, json={"code": 500, "msg": "Internal error"}))
    with pytest.raises(KieServerError):
        client.get_credits()
    assert rec.count == 3


def test_5xx_with_body_retried_on_create(make_client):
    client, rec = make_client(httpx.Response(500, json={"code": 500, "msg": "Internal error"}), CREATED)
    assert create(client) == "task_1"
    assert rec.count == 2


def test_body_code_500_retried_on_create(make_client):
    client, rec = make_client({"code": 500, "msg": "server error"}, CREATED)
    assert create(client) == "task_1"
    assert rec.count == 2


@pytest.mark.parametrize("response", [httpx.Response(502), httpx.Response(504, text="gateway timeout")])
def test_create_ambiguous_5xx_is_unknown_outcome(make_client, response):
    client, rec = make_client(response, CREATED)
    with pytest.raises(KieUnknownOutcome):
        create(client)
    assert rec.count == 1


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(429, json={"code": 429, "msg": "Rate limit exceeded"}),
        {"code": 429, "msg": "Rate limit exceeded"},
    ],
)
def test_429_retried_on_create(make_client, answer):
    client, rec = make_client(answer, CREATED)
    assert create(client) == "task_1"
    assert rec.count == 2


def test_429_exhausted_keeps_retry_after(make_client):
    client, rec = make_client(httpx.Response(429, headers={"Retry-After": "2"}, json={"code": 429, "msg": "slow down"}))
    with pytest.raises(KieRateLimited) as info:
        create(client)
    assert info.value.retry_after == 2.0
    assert rec.count == 3


def test_4xx_business_errors_are_not_retried(make_client):
    client, rec = make_client({"code": 402, "msg": "Credits insufficient"}, CREATED)
    with pytest.raises(Exception) as info:
        create(client)
    assert info.value.error_class == "insufficient_credits"
    assert rec.count == 1


def test_not_ready_is_not_retried_by_the_client(make_client):
    client, rec = make_client({"code": 400, "msg": "1080P is processing, try again in 1-2 minutes"})
    with pytest.raises(Exception) as info:
        client.veo_1080p("veo_1")
    assert info.value.error_class == "not_ready"
    assert rec.count == 1


def test_msg_and_message_both_read(make_client):
    client, _ = make_client({"code": 404, "message": "Task not found"}, retries=1)
    with pytest.raises(Exception) as info:
        client.market_record("x")
    assert info.value.kie_message == "Task not found"


def test_retry_policy_backoff_is_capped_and_jittered():
    policy = HttpRetryPolicy(attempts=10, base=0.5, cap=2.0)
    for failures in range(1, 10):
        for _ in range(20):
            assert 0 <= policy.delay(failures) <= 2.0
    assert policy.delay(1, retry_after=1.5) >= 1.5
    assert policy.delay(1, retry_after=50) <= 2.0
    assert HttpRetryPolicy.coerce(2).attempts == 3
    assert HttpRetryPolicy.coerce(0).attempts == 1


def test_account_is_short_hash_not_key():
    assert account_id(API_KEY) == account_id(API_KEY)
    assert API_KEY not in account_id(API_KEY)
    assert len(account_id(API_KEY)) == 16


def test_real_sleep_between_retries_is_used(limiter):
    slept: list[float] = []
    rec = Recorder(httpx.ConnectError("x"), ok(1))
    with KieClient(
        API_KEY,
        base_url="https://api.test",
        transport=httpx.MockTransport(rec),
        limiter=limiter,
        retries=RetryPolicy(attempts=2, base=0.01, cap=0.01),
        sleep=slept.append,
    ) as client:
        assert client.get_credits() == 1
    assert len(slept) == 1 and 0 <= slept[0] <= 0.01


def test_empty_api_key_refused():
    with pytest.raises(ValueError):
        KieClient("")


def test_default_rate_margin_widens_windows(limiter):
    rec = Recorder(ok(1), CREATED)
    with KieClient(API_KEY, base_url="https://api.test", transport=httpx.MockTransport(rec), limiter=limiter) as client:
        client.get_credits()
        create(client)
        assert client.rate_margin == 0.25
    assert limiter.calls == [(f"read:{client.account}", 10, 1.25), (f"create:{client.account}", 20, 10.25)]


def test_default_limiter_is_shared_by_clients_in_the_process():
    a, b = KieClient(API_KEY), KieClient(API_KEY)
    assert a.limiter is b.limiter
    a.close()
    b.close()


def test_success_false_with_code_200_is_an_error(make_client):
    client, _ = make_client({"success": False, "code": 200, "msg": "File URL unreachable"})
    with pytest.raises(Exception) as info:
        client.upload_from_url("https://nowhere/x.png")
    assert info.value.error_class == "bad_request" and info.value.kie_message == "File URL unreachable"


@pytest.mark.parametrize(
    ("kind", "slug"),
    [
        ("rate_limit_error", "rate_limited"),
        ("authentication_error", "auth_failed"),
        ("invalid_request_error", "bad_request"),
    ],
)
def test_error_object_with_http_200(make_client, kind, slug):
    client, _ = make_client({"error": {"message": "nope", "type": kind}}, retries=1)
    with pytest.raises(Exception) as info:
        client.get_credits()
    assert info.value.error_class == slug and info.value.kie_message == "nope"
