from __future__ import annotations

from django.urls import path

from kiestudio.workspaces import views

urlpatterns = [
    path("workspaces/switch/", views.workspace_switch, name="workspace-switch"),
    path("workspaces/new/", views.workspace_new, name="workspace-new"),
    path("workspaces/balance/", views.balance, name="workspace-balance"),
    path("team/", views.team, name="team"),
    path("team/members/<int:pk>/role/", views.member_role, name="member-role"),
    path("team/members/<int:pk>/cap/", views.member_cap, name="member-cap"),
    path("team/members/<int:pk>/remove/", views.member_remove, name="member-remove"),
    path("team/leave/", views.member_leave, name="member-leave"),
    path("team/invitations/", views.invitation_create, name="invitation-create"),
    path("team/invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation-revoke"),
    path("invite/<str:token>/", views.invitation, name="invitation"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/workspace/name/", views.settings_name, name="settings-name"),
    path("settings/workspace/key/", views.settings_key, name="settings-key"),
    path("settings/workspace/key/test/", views.settings_key_test, name="settings-key-test"),
    path("settings/workspace/webhook/", views.settings_webhook, name="settings-webhook"),
    path("settings/workspace/defaults/", views.settings_defaults, name="settings-defaults"),
    path("settings/workspace/budget/", views.settings_budget, name="settings-budget"),
    path("settings/workspace/transfer/", views.settings_transfer, name="settings-transfer"),
    path("settings/workspace/delete/", views.settings_delete, name="settings-delete"),
    path("usage/", views.usage, name="usage"),
    path("usage/export.csv", views.usage_csv, name="usage-csv"),
    path("audit/", views.audit, name="audit"),
]
