from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from kiestudio.webhooks import views

webhook_urls = [
    path("", views.webhooks, name="webhooks"),
    path("add/", views.webhook_create, name="webhook-create"),
    path("<int:pk>/roll/", views.webhook_roll, name="webhook-roll"),
    path("<int:pk>/active/", views.webhook_active, name="webhook-active"),
    path("<int:pk>/delete/", views.webhook_delete, name="webhook-delete"),
    path("<int:pk>/test/", views.webhook_ping, name="webhook-ping"),
    path("<int:pk>/deliveries/", views.webhook_deliveries, name="webhook-deliveries"),
    path("deliveries/<int:pk>/retry/", views.webhook_delivery_retry, name="webhook-delivery-retry"),
]

urlpatterns: list[URLPattern | URLResolver] = [path("settings/webhooks/", include(webhook_urls))]
