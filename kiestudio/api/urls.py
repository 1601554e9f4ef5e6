from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from kiestudio.api import views
from kiestudio.api.rest import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("settings/api-tokens/", views.tokens_page, name="api-tokens"),
    path("settings/api-tokens/new/", views.token_new, name="api-token-new"),
    path("settings/api-tokens/<int:pk>/revoke/", views.token_revoke_view, name="api-token-revoke"),
    path("api/v1/", api.urls),
]
