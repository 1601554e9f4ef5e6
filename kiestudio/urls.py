from __future__ import annotations

from django.urls import include, path

from kiestudio.core import views as core_views
from kiestudio.workspaces import views as workspace_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("workspaces/switch/", workspace_views.workspace_switch, name="workspace-switch"),
    path("", include("kiestudio.studio.urls")),
    path("", include("kiestudio.gallery.urls")),
    path("", include("kiestudio.chat.urls")),
    path("team/", workspace_views.team, name="team"),
    path("settings/", workspace_views.settings_page, name="settings"),
]

handler403 = "kiestudio.core.views.error_403"
handler404 = "kiestudio.core.views.error_404"
