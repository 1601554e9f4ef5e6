from __future__ import annotations

from django.urls import path

from kiestudio.usage import views

urlpatterns = [
    path("settings/workspace/budget/", views.settings_budget, name="settings-budget"),
    path("team/members/<int:pk>/cap/", views.member_cap, name="member-cap"),
    path("usage/", views.usage, name="usage"),
    path("usage/export.csv", views.usage_csv, name="usage-csv"),
]
