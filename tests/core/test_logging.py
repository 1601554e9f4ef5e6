from __future__ import annotations

import logging

from kiestudio.core.logging import KeyValueFormatter, RedactSecretsFilter


def render(message: str, *args, settings=None, **extra) -> str:
    record = logging.LogRecord("kiestudio.test", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    RedactSecretsFilter().filter(record)
    return KeyValueFormatter().format(record)


def test_one_line_key_value_format():
    line = render("task %s finished", "abc", generation_id=42)
    assert "\n" not in line
    assert 'msg="task abc finished"' in line
    assert "generation_id=42" in line
    assert "level=INFO" in line and "logger=kiestudio.test" in line


def test_bearer_tokens_and_key_values_are_redacted():
    line = render("calling Kie with headers %s", {"Authorization": "Bearer sk-live-abcdef123456"})
    assert "sk-live-abcdef123456" not in line
    assert "[redacted]" in line
    assert "hunter2hunter2" not in render("api_key=hunter2hunter2 was rejected")


def test_configured_kie_key_is_redacted_anywhere(settings):
    settings.KIE_API_KEY = "kie-secret-0f9e8d7c6b5a"
    assert "kie-secret-0f9e8d7c6b5a" not in render("upstream said key kie-secret-0f9e8d7c6b5a is invalid")


def test_tracebacks_fold_into_one_line_and_are_redacted():
    try:
        raise ValueError("token=abcdef0123456789 leaked")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    RedactSecretsFilter().filter(record)
    line = KeyValueFormatter().format(record)
    assert "\n" not in line
    assert "abcdef0123456789" not in line
    assert "ValueError" in line
