from __future__ import annotations

from django.urls import path

from kiestudio.gallery import views

urlpatterns = [
    path("gallery/", views.gallery, name="gallery"),
    path("gallery/<int:pk>/", views.detail, name="gallery-detail"),
    path("gallery/<int:pk>/favorite/", views.favorite, name="gallery-favorite"),
    path("gallery/<int:pk>/tile/", views.tile, name="gallery-tile"),
    path("gallery/bulk/trash/", views.trash, name="gallery-trash"),
    path("gallery/bulk/restore/", views.restore, name="gallery-restore"),
    path("gallery/bulk/zip/", views.download_zip, name="gallery-zip"),
    path("gallery/bulk/collect/", views.collect, name="gallery-collect"),
    path("collections/", views.collections, name="collections"),
    path("collections/new/", views.collection_create, name="collection-create"),
    path("collections/<int:collection_id>/", views.gallery, name="collection"),
    path("collections/<int:collection_id>/rename/", views.collection_rename, name="collection-rename"),
    path("collections/<int:collection_id>/delete/", views.collection_delete, name="collection-delete"),
    path("collections/<int:collection_id>/remove/", views.uncollect, name="collection-remove"),
]
