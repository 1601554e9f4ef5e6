"""No token reaches a log, at any level, through any handler: Django's request log and the development console,
runserver's, uvicorn's and gunicorn's access logs all print paths that hold invitation and callback tokens."""

from __future__ import annotations

import logging
import secrets

import pytest
from django.test import Client

from kiestudio.core.logging import PATH_LOGGERS, RedactSecretsFilter, install_redaction


def _handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in PATH_LOGGERS)]
    loggers += [item for item in logging.Logger.manager.loggerDict.values() if isinstance(item, logging.Logger)]
    return list({id(h): h for logger in loggers for h in logger.handlers}.values())


@pytest.fixture
def written(monkeypatch):
    """Everything the configured handlers would write (each after its own filters), instead of writing it."""
    lines: list[str] = []
    for handler in _handlers():
        if handler.__class__.__module__.startswith("_pytest"):
            continue  # caplog's and pytest's own handlers are checked through caplog below
        monkeypatch.setattr(handler, "emit", lambda record, h=handler: lines.append(h.format(record)))
    return lines


@pytest.mark.django_db
def test_tokens_in_4xx_request_paths_are_redacted_everywhere(settings, alice, written, caplog):
    settings.DEBUG = True  # development: Django's own console handler prints django.request too
    caplog.set_level(logging.DEBUG)
    invitation, callback = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    client = Client()
    assert client.get(f"/invite/{invitation}/").status_code == 410
    assert client.post(f"/kie/callback/{callback}/", "{}", content_type="application/json").status_code == 404
    share = secrets.token_urlsafe(24)
    assert client.get(f"/s/{share}/").status_code == 404  # a share link that doesn't open
    client.force_login(alice)
    assert client.post(f"/invite/{invitation}/").status_code == 410
    assert written and caplog.records, "the requests above were logged"
    output = "\n".join(written) + caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "/invite/[redacted]/" in output
    assert invitation not in output
    assert callback not in output
    assert share not in output and "/s/[redacted]/" in output


@pytest.mark.django_db
def test_access_log_lines_are_redacted_and_still_format(written, caplog):
    caplog.set_level(logging.DEBUG)
    token, key = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
    # uvicorn: a five-tuple its AccessFormatter unpacks, so the redacted record must keep its shape.
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET", f"/invite/{token}/?key={key}", "1.1", 410
    )
    # runserver
    logging.getLogger("django.server").warning('"%s" %s %s', f"POST /kie/callback/{token}/ HTTP/1.1", "404", "179")
    # gunicorn: its atoms, as a mapping
    logging.getLogger("gunicorn.access").info(
        '%(h)s "%(r)s" %(s)s', {"h": "10.0.0.1", "r": f"GET /accounts/confirm-email/{token}/ HTTP/1.1", "s": "404"}
    )
    # Even below the configured level, and in a logger of our own.
    logging.getLogger("kiestudio.studio").debug("opened /invite/%s/?token=%s", token, key)
    output = "\n".join(written) + caplog.text
    assert token not in output and key not in output
    assert output.count("[redacted]") >= 4


def test_the_filter_keeps_uvicorns_access_format_working():
    from uvicorn.logging import AccessFormatter

    token = secrets.token_urlsafe(32)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", f"/invite/{token}/", "1.1", 404), None,
    )  # fmt: skip
    RedactSecretsFilter().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    assert line == '127.0.0.1:1 - "GET /invite/[redacted]/ HTTP/1.1" 404 Not Found'


def test_every_handler_and_path_logger_has_the_filter():
    install_redaction()  # idempotent: what the app's ready() ran at start-up
    install_redaction()
    for handler in _handlers():
        if handler.__class__.__module__.startswith("_pytest"):
            continue
        assert sum(isinstance(f, RedactSecretsFilter) for f in handler.filters) == 1, handler
    for name in PATH_LOGGERS:
        assert any(isinstance(f, RedactSecretsFilter) for f in logging.getLogger(name).filters), name
