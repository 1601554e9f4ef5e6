from __future__ import annotations

import pytest
from django.core.cache import cache
from django.utils.html import escape

from kiestudio.accounts.models import User
from kiestudio.workspaces.models import Membership, Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    cache.clear()


def signup(client, email, password1=PASSWORD, password2=PASSWORD):
    return client.post("/accounts/signup/", {"email": email, "password1": password1, "password2": password2})


def field_errors(response, field):
    form = response.context["form"]
    return form.errors.get(field, [])


def test_signup_creates_user_with_personal_workspace_and_signs_in(client):
    response = signup(client, "New.Person@Example.com")
    assert response.status_code == 302
    user = User.objects.get(email="new.person@example.com")
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    assert membership.workspace.is_personal
    home = client.get("/")
    assert home.status_code == 200
    assert escape(membership.workspace.name) in home.content.decode()


def test_invalid_email_is_shown_beside_the_field_and_kept(client):
    response = signup(client, "not-an-email")
    assert response.status_code == 200
    assert field_errors(response, "email")
    html = response.content.decode()
    assert 'value="not-an-email"' in html
    assert 'id="id_email_error"' in html


def test_taken_email_is_reported(client, alice):
    response = signup(client, "alice@example.com")
    assert response.status_code == 200
    assert any("already" in str(e) for e in field_errors(response, "email"))
    assert User.objects.filter(email="alice@example.com").count() == 1


def test_weak_password_is_reported_and_email_kept(client):
    response = signup(client, "weak@example.com", "12345", "12345")
    assert response.status_code == 200
    errors = " ".join(field_errors(response, "password1"))
    assert "too short" in errors or "too common" in errors
    assert 'value="weak@example.com"' in response.content.decode()
    assert not User.objects.filter(email="weak@example.com").exists()


def test_mismatched_passwords_are_reported(client):
    response = signup(client, "mismatch@example.com", PASSWORD, PASSWORD + "x")
    assert response.status_code == 200
    assert field_errors(response, "password2")
    assert not User.objects.filter(email="mismatch@example.com").exists()


def test_login_is_rate_limited_after_repeated_failures(client, alice):
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": "alice@example.com", "password": "wrong-password"})
        assert "Too many failed login attempts" not in response.content.decode()
    response = client.post("/accounts/login/", {"login": "alice@example.com", "password": "wrong-password"})
    assert "Too many failed login attempts" in response.content.decode()
    # The right password is refused too while the limit holds.
    response = client.post("/accounts/login/", {"login": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_an_email(client, alice, mailoutbox):
    response = client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "alice@example.com" in mailoutbox[0].to
