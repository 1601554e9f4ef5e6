"""One model from each family that gained models this round, generated in a real browser the way a creator would:
pick it, fill its own form (prompts typed, pictures, clips and voices uploaded), press Generate, watch it finish."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from kiestudio.kie.catalog import get_model, load_catalog
from kiestudio.studio.models import Generation, Status
from tests.studio.media_samples import mp4_bytes, wav_bytes

#: One model per family (maker) with new entries; several of them take uploads of each kind.
CASES = {
    "openai": "gpt-image-2-text-to-image",
    "qwen": "qwen2/text-to-image",
    "bytedance": "omnihuman-1-5",
    "wan": "wan/2-7-text-to-video",
    "grok": "grok-imagine-video-1-5-preview",
    "ideogram": "ideogram/character-remix",
    "kling": "kling/v3-turbo-text-to-video",
    "happyhorse": "happyhorse-1-1/text-to-video",
    "google": "gemini-omni-video",
    "elevenlabs": "elevenlabs/audio-isolation",
    "infinitalk": "infinitalk/from-audio",
    "suno": "suno/mashup",
}


def png_bytes(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 96), color).save(out, "PNG")
    return out.getvalue()


def test_the_cases_cover_every_family_that_gained_models():
    added = {spec.maker for spec in load_catalog().originals if spec.added}
    assert added == set(CASES)
    for maker, key in CASES.items():
        spec = get_model(key)
        assert spec.maker == maker and spec.added and not spec.followup_only


def upload_files(spec_field) -> list[dict]:
    count = max(1, spec_field.min_items or 1)
    kind = spec_field.type.split("_", 1)[0]
    files = []
    for n in range(count):
        if kind == "image":
            files.append({"name": f"picture{n}.png", "mimeType": "image/png", "buffer": png_bytes((40 * n, 120, 200))})
        elif kind == "video":
            files.append({"name": f"clip{n}.mp4", "mimeType": "video/mp4", "buffer": mp4_bytes(3.0, key=f"c{n}")})
        else:
            files.append({"name": f"voice{n}.wav", "mimeType": "audio/wav", "buffer": wav_bytes(6.0, key=f"v{n}")})
    return files


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key", list(CASES.values()))
def test_generate_with_a_new_model(signed_in_page: Page, asgi_live_server: str, kie_sim, studio_worker, settings, key):
    page = signed_in_page
    spec = get_model(key)
    kie_sim.sim.config.time_scale = 0.0
    settings.STUDIO_POLL_SCALE = 0.02
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{asgi_live_server}/generate/")
    # Found the way a creator finds it: the family chip, then the "New" mark on the model.
    page.locator(f"[data-maker-filter='{spec.maker}']").click()
    name = page.locator(".model-name", has_text=re.compile(rf"^\s*{re.escape(spec.name)}\s+New"))
    item = page.locator("[data-model-list] li:visible").filter(has=name)
    expect(item).to_have_count(1)
    expect(item.locator(".mark-new")).to_be_visible()
    item.locator("a").click()
    expect(page.get_by_role("heading", name=spec.name, level=1, exact=True)).to_be_visible()

    # A "one of these" rule (a prompt or a picture) makes its first field the one a creator fills in.
    needed = {rule["require_any"][0] for rule in spec.rules if "require_any" in rule}
    for spec_field in spec.fields:
        if not (spec_field.required or spec_field.name in needed) or spec_field.default is not None:
            continue
        if spec_field.type in ("text", "string"):
            page.locator(f"#id_{spec_field.name}").fill("A street musician at dusk, warm light, gentle camera drift")
        elif spec_field.type.endswith(("_url", "_urls")):
            files = upload_files(spec_field)
            page.locator(f"#id_{spec_field.name}_file").set_input_files(files=files)
            zone = page.locator(f"[data-dropzone][data-name={spec_field.name}]")
            expect(zone.locator(".ref-item")).to_have_count(len(files))
            expect(zone.locator("[data-ref-error]")).to_be_hidden()
    expect(page.locator("#estimate")).to_contain_text("credits", timeout=20000)  # priced after the uploads settle
    page.get_by_role("button", name="Generate").click()

    card = page.locator(".gen-card").first
    expect(card.locator(".status-badge")).to_have_text("Done", timeout=30_000)
    generation = Generation.objects.get(model_key=key)
    assert generation.status == Status.SUCCEEDED, generation.failure_message
    assert {asset.kind for asset in generation.assets.all()} == {spec.output}
    sent = kie_sim.sim.tasks[generation.kie_task_id].body
    # Every uploaded file reached Kie as one of Kie's own upload addresses, never our placeholder.
    assert "studio.local" not in str(sent)
