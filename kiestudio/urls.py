from __future__ import annotations

from django.urls import include, path

from kiestudio.accounts import views as account_views
from kiestudio.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/theme/", account_views.theme, name="account-theme"),
    path("accounts/name/", account_views.name, name="account-name"),
    path("accounts/", include("allauth.urls")),
    path("", include("kiestudio.workspaces.urls")),
    path("", include("kiestudio.usage.urls")),
    path("", include("kiestudio.studio.urls")),
    path("", include("kiestudio.gallery.urls")),
    path("", include("kiestudio.chat.urls")),
    path("", include("kiestudio.batches.urls")),
    path("", include("kiestudio.agent.urls")),
    path("", include("kiestudio.sharing.urls")),
    path("", include("kiestudio.webhooks.urls")),
    path("", include("kiestudio.api.urls")),
]

handler400 = "kiestudio.core.views.error_400"
handler403 = "kiestudio.core.views.error_403"
handler404 = "kiestudio.core.views.error_404"
