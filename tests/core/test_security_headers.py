"""Every page goes out with the security headers, and its Content-Security-Policy holds: scripts only from our
static files with this response's nonce, no inline script or style, no eval, nothing may frame us."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.test_production_settings import GOOD as PRODUCTION_ENV
from tests.workspaces.test_secrets import _body, _routes
from tests.workspaces.test_url_tenancy import ID_URLS, make_objects

ROOT = Path(__file__).resolve().parents[2]
HTMX = {"HTTP_HX_REQUEST": "true"}
SKIP = {"kie-callback", "account_logout", "healthz"}  # POST-only webhooks and sign-out; health is JSON


def _policy(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy", "")
    assert header, f"no CSP on {response.request['PATH_INFO']}"
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def check(response) -> None:
    path = response.request["PATH_INFO"]
    assert response["X-Content-Type-Options"] == "nosniff", path
    assert response["X-Frame-Options"] == "DENY", path
    assert response["Referrer-Policy"] == "same-origin", path
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", path
    policy = _policy(response)
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"], path
    assert policy["default-src"] == ["'self'"] and policy["base-uri"] == ["'none'"], path
    for directive in ("script-src", "style-src"):
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(policy[directive]), (path, directive)
    nonces = [v.removeprefix("'nonce-").removesuffix("'") for v in policy["script-src"] if v.startswith("'nonce-")]
    assert len(nonces) <= 1, path  # Django names the nonce only when the page used it
    if "text/html" not in response.get("Content-Type", ""):
        return
    html = _body(response)
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert 'src="' in tag, (path, tag)  # no inline scripts
        assert nonces and f'nonce="{nonces[0]}"' in tag, (path, tag)
    assert not re.search(r"\sstyle=\"", html), path  # no inline styles
    assert not re.search(r"\son[a-z]+=\"", html), path  # no inline event handlers
    # And no template source shows on the page (a {# comment #} spanning lines is printed, not dropped).
    assert not re.search(r"\{[#%]|[#%]\}", html), (path, re.findall(r".{0,40}(?:\{[#%]|[#%]\}).{0,40}", html)[:3])


@pytest.mark.django_db
def test_every_page_and_fragment_sends_the_security_headers(client, alice, kie_sim):
    checked = 0
    for route, name in _routes():  # signed out first: sign-in, sign-up, password reset, invitation pages
        if "<" in route or "(?P" in route or name in SKIP:
            continue
        check(client.get("/" + route))
        checked += 1
    client.force_login(alice)
    objects = make_objects(alice)
    for route, name in _routes():
        if "<" in route or "(?P" in route or name in SKIP:
            continue
        for extra in ({}, HTMX):
            check(client.get("/" + route, **extra))
            checked += 1
    from django.urls import reverse

    for name, (which, method, *extra) in ID_URLS.items():
        if method != "get":
            continue
        check(client.get(reverse(name, args=[objects[which].pk, *(extra[0] if extra else [])]), **HTMX))
        checked += 1
    check(client.get("/gallery/999999/"))  # an error page too
    assert checked > 100


@pytest.mark.django_db
def test_each_response_gets_a_fresh_nonce(client, alice):
    client.force_login(alice)
    first, second = (_policy(client.get("/generate/"))["script-src"] for _ in range(2))
    assert first != second


def test_production_adds_hsts_and_secure_cookies():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIE_", "DJANGO_SETTINGS"))}
    env.update(PRODUCTION_ENV)
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, s.SECURE_SSL_REDIRECT)"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["31536000", "True", "True", "True", "True", "Lax", "True"]


@pytest.mark.django_db
@pytest.mark.parametrize("mime", ["image/svg+xml", "text/html", "application/xhtml+xml", "application/pdf"])
def test_files_that_could_run_script_are_only_ever_downloads(client, alice, kie_sim, mime):
    from kiestudio.studio.models import Asset
    from tests.studio.helpers import create, drain

    create(alice)
    drain()
    asset = Asset.objects.get()
    Asset.objects.filter(pk=asset.pk).update(mime_type=mime)
    client.force_login(alice)
    response = client.get(f"/files/assets/{asset.pk}/")  # asked for inline, as an <img> would
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_known_safe_media_is_shown_inline_with_nosniff(client, alice, kie_sim):
    from kiestudio.studio.models import Asset
    from tests.studio.helpers import create, drain

    create(alice)
    drain()
    asset = Asset.objects.get()
    client.force_login(alice)
    response = client.get(f"/files/assets/{asset.pk}/")
    assert response["Content-Type"] == asset.mime_type and asset.mime_type.startswith("image/")
    assert "attachment" not in response.get("Content-Disposition", "")
    assert response["X-Content-Type-Options"] == "nosniff"
