from __future__ import annotations

from django.urls import include, path

from kiestudio.workspaces import views

workspace_urls = [
    path("switch/", views.workspace_switch, name="workspace-switch"),
    path("new/", views.workspace_new, name="workspace-new"),
    path("balance/", views.balance, name="workspace-balance"),
]

team_urls = [
    path("", views.team, name="team"),
    path("members/<int:pk>/role/", views.member_role, name="member-role"),
    path("members/<int:pk>/remove/", views.member_remove, name="member-remove"),
    path("leave/", views.member_leave, name="member-leave"),
    path("invitations/", views.invitation_create, name="invitation-create"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation-revoke"),
]

settings_urls = [
    path("", views.settings_page, name="settings"),
    path("workspace/name/", views.settings_name, name="settings-name"),
    path("workspace/key/", views.settings_key, name="settings-key"),
    path("workspace/key/test/", views.settings_key_test, name="settings-key-test"),
    path("workspace/webhook/", views.settings_webhook, name="settings-webhook"),
    path("workspace/defaults/", views.settings_defaults, name="settings-defaults"),
    path("workspace/chat-titles/", views.settings_chat_titles, name="settings-chat-titles"),
    path("workspace/transfer/", views.settings_transfer, name="settings-transfer"),
    path("workspace/delete/", views.settings_delete, name="settings-delete"),
]

urlpatterns = [
    path("workspaces/", include(workspace_urls)),
    path("team/", include(team_urls)),
    path("settings/", include(settings_urls)),
    path("invite/<str:token>/", views.invitation, name="invitation"),
    path("audit/", views.audit, name="audit"),
]
