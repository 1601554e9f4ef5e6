from __future__ import annotations

from django.urls import URLPattern, path

from kiestudio.chat import views

# Conversations: the chat page, the list, a new one, and one conversation and what can be done to it.
conversation_urls: list[URLPattern] = [
    path("chat/", views.chat_home, name="chat"),
    path("chat/list/", views.conversation_list, name="chat-list"),
    path("chat/new/", views.conversation_start, name="chat-start"),
    path("chat/<int:pk>/", views.conversation_detail, name="chat-conversation"),
    path("chat/<int:pk>/send/", views.conversation_send, name="chat-send"),
    path("chat/<int:pk>/settings/", views.conversation_settings, name="chat-settings"),
    path("chat/<int:pk>/pin/", views.conversation_pin, name="chat-pin"),
    path("chat/<int:pk>/delete/", views.conversation_delete, name="chat-delete"),
    path("chat/<int:pk>/usage/", views.conversation_usage, name="chat-usage"),
]

# One message: its fragment, its reply streaming in, and what can be done to it.
message_urls: list[URLPattern] = [
    path("chat/messages/<int:pk>/", views.message_fragment, name="chat-message"),
    path("chat/messages/<int:pk>/stream/", views.message_stream, name="chat-message-stream"),
    path("chat/messages/<int:pk>/stop/", views.message_stop, name="chat-message-stop"),
    path("chat/messages/<int:pk>/regenerate/", views.message_regenerate, name="chat-message-regenerate"),
    path("chat/messages/<int:pk>/edit/", views.message_edit, name="chat-message-edit"),
    path("chat/messages/<int:pk>/show/", views.message_show, name="chat-message-show"),
]

# Kept flat rather than include()d: tests/chat/test_views.py reads these patterns one by one (names and routes).
urlpatterns = [*conversation_urls, *message_urls]
