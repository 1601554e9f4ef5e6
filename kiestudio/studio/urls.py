from __future__ import annotations

from django.urls import path

from kiestudio.studio import followup_views, media_views, suno_views, views

urlpatterns = [
    path("generate/", views.generate, name="generate"),
    path("generate/form/", views.generate_form, name="generate-form"),
    path("generate/estimate/", views.generate_estimate, name="generate-estimate"),
    path("generate/submit/", views.generate_submit, name="generate-submit"),
    path("generate/recent/", views.recent_strip, name="generate-recent"),
    path("generate/style-boost/", suno_views.style_boost, name="style-boost"),
    path("generations/<int:pk>/card/", views.generation_card, name="generation-card"),
    path("generations/<int:pk>/cancel/", views.generation_cancel, name="generation-cancel"),
    path("generations/<int:pk>/retry/", views.generation_retry, name="generation-retry"),
    path("generations/<int:pk>/delete/", views.generation_delete, name="generation-delete"),
    path("files/assets/<int:pk>/", media_views.asset_file, name="asset-file"),
    path("files/assets/<int:pk>/thumb/", media_views.asset_thumbnail, name="asset-thumb"),
    path("assets/<int:pk>/followups/<slug:action>/", followup_views.followup_form, name="followup"),
    path(
        "assets/<int:pk>/followups/<slug:action>/estimate/",
        followup_views.followup_estimate,
        name="followup-estimate",
    ),
    path("assets/<int:pk>/followups/<slug:action>/submit/", followup_views.followup_submit, name="followup-submit"),
    path("assets/<int:pk>/lyrics/", followup_views.asset_lyrics, name="asset-lyrics"),
    path("assets/<int:pk>/persona/", followup_views.asset_persona, name="asset-persona"),
    path("personas/", suno_views.persona_list, name="personas"),
    path("personas/<int:pk>/delete/", suno_views.persona_delete, name="persona-delete"),
    path("files/references/<int:pk>/", media_views.reference_file, name="reference-file"),
    path("files/references/<int:pk>/poster/", media_views.reference_poster, name="reference-poster"),
    path("references/upload/", media_views.reference_upload, name="reference-upload"),
    path("references/pick/", media_views.reference_picker, name="reference-picker"),
    path("references/from-asset/<int:pk>/", media_views.reference_from_asset, name="reference-from-asset"),
    path("references/<int:pk>/chip/", media_views.reference_chip, name="reference-chip"),
    path("prompts/", views.prompt_list, name="prompts"),
    path("prompts/<int:pk>/", views.prompt_detail, name="prompt-detail"),
    path("prompts/<int:pk>/save/", views.prompt_save, name="prompt-save"),
    path("kie/callback/<str:token>/", views.kie_callback, name="kie-callback"),
]
