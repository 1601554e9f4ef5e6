from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from kiestudio.kie import callback_task_id, sign, verify_signature

KEY = "whk_test_key"
NOW = 1_760_000_000


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"code": 200, "data": {"taskId": "market_1", "task_id": "other"}}, "market_1"),
        ({"code": 200, "data": {"callbackType": "complete", "task_id": "suno_1", "data": []}}, "suno_1"),
        ({"code": 200, "data": {"result_video_url": "x"}, "taskId": "aleph_1"}, "aleph_1"),
        ({"code": 200, "data": None, "taskId": "aleph_2"}, "aleph_2"),
        ({"task_id": "midi_1", "code": 200, "data": {"state": "complete"}}, "midi_1"),
        ({"code": 200, "data": {"taskId": ""}, "taskId": "top"}, "top"),
        ({"code": 200, "data": {}}, None),
        ([], None),
        (None, None),
    ],
)
def test_callback_task_id(body, expected):
    assert callback_task_id(body) == expected


def test_sign_matches_the_documented_recipe():
    expected = base64.b64encode(hmac.new(KEY.encode(), f"task_1.{NOW}".encode(), hashlib.sha256).digest()).decode()
    assert sign(KEY, "task_1", NOW) == expected


def test_verify_good_signature():
    assert verify_signature(KEY, "task_1", str(NOW), sign(KEY, "task_1", NOW), now=NOW + 10)


@pytest.mark.parametrize(
    ("key", "task_id", "timestamp", "signature"),
    [
        ("other-key", "task_1", str(NOW), None),
        (KEY, "task_2", str(NOW), None),
        (KEY, "task_1", str(NOW + 1), None),
        (KEY, "task_1", str(NOW), "not-base64!!"),
        (KEY, "task_1", str(NOW), ""),
        (KEY, "task_1", "", None),
        (KEY, "task_1", "abc", None),
        (KEY, None, str(NOW), None),
        ("", "task_1", str(NOW), None),
    ],
)
def test_verify_rejects_wrong_inputs(key, task_id, timestamp, signature):
    good = sign(KEY, "task_1", NOW)
    assert not verify_signature(key, task_id, timestamp, good if signature is None else signature, now=NOW)


def test_verify_rejects_stale_and_future_timestamps():
    signature = sign(KEY, "task_1", NOW)
    assert verify_signature(KEY, "task_1", NOW, signature, now=NOW + 300)
    assert not verify_signature(KEY, "task_1", NOW, signature, now=NOW + 301)
    assert not verify_signature(KEY, "task_1", NOW, signature, now=NOW - 301)
    assert verify_signature(KEY, "task_1", NOW, signature, now=NOW + 1000, tolerance=1200)


def test_verify_uses_constant_time_compare(monkeypatch):
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    verify_signature(KEY, "task_1", NOW, sign(KEY, "task_1", NOW), now=NOW)
    assert calls == [1]


def test_verify_with_real_clock():
    import time

    now = int(time.time())
    assert verify_signature(KEY.encode(), "t", now, sign(KEY, "t", now))
