from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from kiestudio.workspaces.services import workspace_create_personal


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request: HttpRequest, user, form, commit: bool = True):
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            workspace = workspace_create_personal(user=user)
            request.session["workspace_id"] = workspace.pk
        return user
