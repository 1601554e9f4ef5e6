from __future__ import annotations

from django.urls import URLPattern, include, path

from kiestudio.batches import compare_views, judging_views, views

batch_urls: list[URLPattern] = [
    path("", views.batches, name="batches"),
    path("new/", views.batch_new, name="batch-new"),
    path("new/check/", views.batch_check, name="batch-check"),
    path("new/start/", views.batch_start, name="batch-start"),
    path("compare/new/", compare_views.compare_new, name="compare-new"),
    path("compare/new/check/", compare_views.compare_check, name="compare-check"),
    path("compare/new/start/", compare_views.compare_start, name="compare-start"),
    path("<int:batch_id>/", views.batch_detail, name="batch"),
    path("<int:batch_id>/pause/", views.batch_pause, name="batch-pause"),
    path("<int:batch_id>/resume/", views.batch_resume, name="batch-resume"),
    path("<int:batch_id>/retry/", views.batch_retry, name="batch-retry"),
    path("<int:batch_id>/zip/", views.batch_zip, name="batch-zip"),
    path("<int:batch_id>/judge/", judging_views.comparison_judge, name="comparison-judge"),
    path("leaderboard/", judging_views.leaderboard, name="leaderboard"),
]

urlpatterns = [path("batches/", include(batch_urls))]
