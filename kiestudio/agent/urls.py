from __future__ import annotations

from django.urls import path

from kiestudio.agent import views

urlpatterns = [
    path("chat/messages/<int:pk>/tools/", views.toolcall_cards, name="agent-cards"),
    path("chat/messages/<int:pk>/tools/autorun/", views.autorun, name="agent-autorun"),
    path("settings/chat-tools/autorun/", views.autorun_settings, name="agent-autorun-settings"),
    path("chat/tools/<int:pk>/run/", views.toolcall_run, name="agent-run"),
    path("chat/tools/<int:pk>/edit/", views.toolcall_edit, name="agent-edit"),
    path("chat/tools/<int:pk>/skip/", views.toolcall_skip, name="agent-skip"),
    path("gallery/<int:pk>/send-to-chat/", views.send_to_chat, name="agent-send-to-chat"),
    path("chat/plans/<int:pk>/approve/", views.plan_approve, name="agent-plan-approve"),
    path("chat/plans/<int:pk>/finish/", views.plan_finish, name="agent-plan-finish"),
    path("chat/plan-steps/<int:pk>/model/", views.step_model, name="agent-step-model"),
    path("chat/plan-steps/<int:pk>/prompt/", views.step_prompt, name="agent-step-prompt"),
    path("chat/plan-steps/<int:pk>/move/", views.step_move, name="agent-step-move"),
    path("chat/plan-steps/<int:pk>/leave-out/", views.step_leave_out, name="agent-step-leave-out"),
    path("chat/plan-steps/<int:pk>/retry/", views.step_retry, name="agent-step-retry"),
]
