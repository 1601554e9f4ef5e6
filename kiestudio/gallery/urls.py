from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from kiestudio.gallery import views

# The bulk actions, on a selection of items.
bulk_urls: list[URLPattern] = [
    path("trash/", views.trash, name="gallery-trash"),
    path("restore/", views.restore, name="gallery-restore"),
    path("zip/", views.download_zip, name="gallery-zip"),
    path("collect/", views.collect, name="gallery-collect"),
    path("tag/", views.bulk_tag, name="gallery-bulk-tag"),
]

# The gallery and one item in it.
gallery_urls: list[URLPattern | URLResolver] = [
    path("", views.gallery, name="gallery"),
    path("<int:pk>/", views.detail, name="gallery-detail"),
    path("<int:pk>/favorite/", views.favorite, name="gallery-favorite"),
    path("<int:pk>/tile/", views.tile, name="gallery-tile"),
    path("<int:pk>/rating/", views.rating, name="gallery-rating"),
    path("<int:pk>/tags/", views.tag_add, name="gallery-tag-add"),
    path("<int:pk>/tags/remove/", views.tag_remove, name="gallery-tag-remove"),
    path("compare/", views.compare, name="gallery-compare"),
    path("bulk/", include(bulk_urls)),
]

# Collections: a collection is shown by the gallery view, filtered to its items.
collection_urls: list[URLPattern] = [
    path("", views.collections, name="collections"),
    path("new/", views.collection_create, name="collection-create"),
    path("<int:collection_id>/", views.gallery, name="collection"),
    path("<int:collection_id>/rename/", views.collection_rename, name="collection-rename"),
    path("<int:collection_id>/delete/", views.collection_delete, name="collection-delete"),
    path("<int:collection_id>/remove/", views.uncollect, name="collection-remove"),
    path("<int:collection_id>/cover/", views.collection_cover, name="collection-cover"),
]

urlpatterns = [
    path("gallery/", include(gallery_urls)),
    path("collections/", include(collection_urls)),
]
