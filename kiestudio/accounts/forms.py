"""Account forms that differ from django-allauth's defaults."""

from __future__ import annotations

from allauth.account.forms import ResetPasswordForm as AllauthResetPasswordForm
from django import forms


class ResetPasswordForm(AllauthResetPasswordForm):
    """Password reset answers the same for a known and an unknown address.

    Enumeration prevention is off site-wide (sign-up must say that an email is taken), which makes allauth's form
    say "not assigned to any user account" here. This one never does: it goes on to the same "we have sent you
    an email" page either way, and allauth then mails an unknown address a note that it has no account.
    """

    def clean_email(self) -> str:
        try:
            return super().clean_email()
        except forms.ValidationError as exc:
            if exc.code != "unknown_email":
                raise
            self.users: list[object] = []
            return self.cleaned_data["email"]
