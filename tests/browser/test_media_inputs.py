from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from kiestudio.studio.models import Generation, Status
from kiestudio.uploads.models import Reference
from tests.studio.media_samples import mp4_bytes


@pytest.mark.django_db(transaction=True)
def test_upload_a_clip_to_a_video_model_and_generate(
    signed_in_page: Page, asgi_live_server: str, kie_sim, studio_worker, settings, tmp_path
):
    page = signed_in_page
    kie_sim.sim.config.time_scale = 0.05
    settings.STUDIO_POLL_SCALE = 0.05
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{asgi_live_server}/generate/?model=topaz/video-upscale")
    expect(page.get_by_role("heading", name="Topaz Video Upscale", level=1)).to_be_visible()
    zone = page.locator("[data-dropzone][data-name=video_url]")
    expect(zone).to_contain_text("MP4, MOV or MKV · up to 50 MB")

    # Checked in the browser first: a text file is not a video, and nothing is sent.
    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.url) if "/references/upload/" in r.url else None)
    page.locator("#id_video_url_file").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a film"}]
    )
    expect(zone.locator("[data-ref-error]")).to_have_text("notes.txt is not a video.")
    # ...then on the server, by content: a text file renamed .mp4 is refused with the reason.
    page.locator("#id_video_url_file").set_input_files(
        files=[{"name": "holiday.mp4", "mimeType": "video/mp4", "buffer": b"not a film, only a name" * 20}]
    )
    expect(zone.locator("[data-ref-error]")).to_contain_text("not a video or a sound file we can read")
    assert len(uploads) == 1

    page.locator("#id_video_url_file").set_input_files(
        files=[{"name": "waves.mp4", "mimeType": "video/mp4", "buffer": mp4_bytes(2.0, size=96, key="waves")}]
    )
    chip = zone.locator(".ref-item")
    expect(chip).to_have_count(1)
    expect(zone.locator("[data-ref-error]")).to_be_hidden()
    expect(chip.get_by_role("img", name="Video clip 1: waves.mp4")).to_be_visible()
    expect(chip.locator(".ref-duration")).to_have_text("0:02")
    # The poster is a real decoded frame, served by the studio.
    assert chip.locator("img").evaluate("img => img.complete && img.naturalWidth") == 96
    expect(page.locator("#estimate")).to_contain_text("credits")
    page.screenshot(path=str(tmp_path / "clip-chip.png"))

    page.get_by_role("button", name="Generate").click()
    card = page.locator(".gen-card").first
    expect(card.locator(".status-badge")).to_have_text("Done", timeout=30_000)
    expect(card.locator(".gen-media video, .gen-media img").first).to_be_visible()
    # The form stays filled in for another go: the chip is still there.
    expect(page.locator("[data-dropzone][data-name=video_url] .ref-item")).to_have_count(1)
    page.screenshot(path=str(tmp_path / "clip-generated.png"), full_page=True)

    # Pick instead of uploading: the gallery offers the earlier upload and the new result, each with its length.
    zone = page.locator("[data-dropzone][data-name=video_url]")
    zone.get_by_role("button", name="Choose from gallery").click()
    picker = zone.locator("[data-ref-picker]")
    expect(picker.locator(".picker-item")).to_have_count(2)
    expect(picker.locator("[data-pick-asset] .picker-clock")).to_have_text("0:02")
    page.screenshot(path=str(tmp_path / "clip-picker.png"))
    picker.locator("[data-pick-asset]").click()
    expect(picker).to_be_hidden()
    expect(zone.locator(".ref-item")).to_have_count(1)
    expect(zone.get_by_role("img", name="Video clip 1")).to_be_visible()

    generation = Generation.objects.get()
    reference = Reference.objects.get(source_asset__isnull=True)
    assert generation.status == Status.SUCCEEDED and generation.references == {"video_url": [reference.pk]}
    picked = Reference.objects.get(source_asset__generation=generation)
    assert picked.kind == "video" and picked.poster
    sent = kie_sim.sim.get_task(generation.kie_task_id, "market").body["input"]["video_url"]
    assert sent == reference.kie_url and sent.startswith(f"{kie_sim.base_url}/_sim/files/kiestudio/references/")
    assert len(kie_sim.log.of_kind("upload")) == 1
