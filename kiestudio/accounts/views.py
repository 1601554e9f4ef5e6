"""The account's own settings beyond django-allauth's: the name teammates see, and the theme."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from kiestudio.accounts.models import User
from kiestudio.core.http import AuthedHttpRequest

THEMES = {"system": "the system's setting", "light": "light", "dark": "dark"}


@require_POST
@login_required
def theme(request: AuthedHttpRequest) -> HttpResponse:
    """Light, dark, or whatever the system says, for this account on every device."""
    chosen = request.POST.get("theme", "")
    if chosen not in THEMES:
        messages.error(request, "Choose light, dark or the system's setting.")
        return redirect("settings")
    User.objects.filter(pk=request.user.pk).update(theme=chosen)
    messages.success(request, f"The studio now follows {THEMES[chosen]}.")
    return redirect("settings")


MAX_NAME = 150


@require_POST
@login_required
def name(request: AuthedHttpRequest) -> HttpResponse:
    """The display name teammates see (and the initials in the avatar); empty: the address's own part."""
    chosen = " ".join(request.POST.get("name", "").split())
    if len(chosen) > MAX_NAME:
        messages.error(request, f"Keep the name under {MAX_NAME} characters.")
        return redirect("settings")
    User.objects.filter(pk=request.user.pk).update(name=chosen)
    messages.success(request, f"Teammates now see you as {chosen}." if chosen else "Your name is cleared.")
    return redirect("settings")
