from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from kiestudio.sharing import views

# The workspace's side: make a link (the Share dialog), list the live ones, revoke one.
share_urls: list[URLPattern] = [
    path("", views.share_list, name="shares"),
    path("new/", views.share_new, name="share-new"),
    path("<int:pk>/revoke/", views.share_revoke, name="share-revoke"),
]

# What a link opens, for anyone who has it: the page and the files of what was shared.
public_urls: list[URLPattern] = [
    path("", views.share_page, name="share-page"),
    path("media/<int:asset_id>/", views.share_media, name="share-media"),
    path("thumb/<int:asset_id>/", views.share_thumb, name="share-thumb"),
    path("download/<int:asset_id>/", views.share_download, name="share-download"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("shares/", include(share_urls)),
    path("s/<str:token>/", include(public_urls)),
]
