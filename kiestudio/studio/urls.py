from __future__ import annotations

from django.urls import URLPattern, include, path

from kiestudio.studio import followup_views, media_views, queue_views, suno_views, views

# The generate page and what it asks for while you fill it in.
generate_urls: list[URLPattern] = [
    path("", views.generate, name="generate"),
    path("form/", views.generate_form, name="generate-form"),
    path("estimate/", views.generate_estimate, name="generate-estimate"),
    path("submit/", views.generate_submit, name="generate-submit"),
    path("recent/", views.recent_strip, name="generate-recent"),
    path("samples/<path:model>/<slug:field>/", media_views.choice_sample, name="choice-sample"),
    path("style-boost/", suno_views.style_boost, name="style-boost"),
]

# One generation's card and what can be done to it.
generation_urls: list[URLPattern] = [
    path("card/", views.generation_card, name="generation-card"),
    path("cancel/", views.generation_cancel, name="generation-cancel"),
    path("retry/", views.generation_retry, name="generation-retry"),
    path("delete/", views.generation_delete, name="generation-delete"),
]

# What can be made from one asset: follow-ups, and for Suno tracks their lyrics and a persona.
asset_urls: list[URLPattern] = [
    path("followups/<slug:action>/", followup_views.followup_form, name="followup"),
    path("followups/<slug:action>/estimate/", followup_views.followup_estimate, name="followup-estimate"),
    path("followups/<slug:action>/submit/", followup_views.followup_submit, name="followup-submit"),
    path("lyrics/", followup_views.asset_lyrics, name="asset-lyrics"),
    path("persona/", followup_views.asset_persona, name="asset-persona"),
]

# The stored files of assets and references, with their thumbnails and posters.
file_urls: list[URLPattern] = [
    path("assets/<int:pk>/", media_views.asset_file, name="asset-file"),
    path("assets/<int:pk>/thumb/", media_views.asset_thumbnail, name="asset-thumb"),
    path("references/<int:pk>/", media_views.reference_file, name="reference-file"),
    path("references/<int:pk>/poster/", media_views.reference_poster, name="reference-poster"),
]

# Reference files: uploaded, picked from the library or taken from an asset.
reference_urls: list[URLPattern] = [
    path("upload/", media_views.reference_upload, name="reference-upload"),
    path("pick/", media_views.reference_picker, name="reference-picker"),
    path("from-asset/<int:pk>/", media_views.reference_from_asset, name="reference-from-asset"),
    path("<int:pk>/chip/", media_views.reference_chip, name="reference-chip"),
]

# The workspace's queue: what waits and runs; pause and resume it, reorder or cancel what waits.
queue_urls: list[URLPattern] = [
    path("", queue_views.queue, name="queue"),
    path("badge/", queue_views.queue_badge, name="queue-badge"),
    path("pause/", queue_views.queue_pause, name="queue-pause"),
    path("resume/", queue_views.queue_resume, name="queue-resume"),
    path("<int:pk>/move/", queue_views.queue_move, name="queue-move"),
    path("<int:pk>/cancel/", queue_views.queue_cancel, name="queue-cancel"),
]

persona_urls: list[URLPattern] = [
    path("", suno_views.persona_list, name="personas"),
    path("<int:pk>/delete/", suno_views.persona_delete, name="persona-delete"),
]

prompt_urls: list[URLPattern] = [
    path("", views.prompt_list, name="prompts"),
    path("<int:pk>/", views.prompt_detail, name="prompt-detail"),
    path("<int:pk>/save/", views.prompt_save, name="prompt-save"),
]

urlpatterns = [
    path("generate/", include(generate_urls)),
    path("generations/<int:pk>/", include(generation_urls)),
    path("queue/", include(queue_urls)),
    path("assets/<int:pk>/", include(asset_urls)),
    path("files/", include(file_urls)),
    path("references/", include(reference_urls)),
    path("personas/", include(persona_urls)),
    path("prompts/", include(prompt_urls)),
    path("kie/callback/<str:token>/", views.kie_callback, name="kie-callback"),
]
