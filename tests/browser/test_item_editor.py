"""Kling 3.0 on Generate, in real Chromium: shots and elements are rows of their own (no JSON to type), written into
the field as the list Kie takes, generated through the simulator over HTTP, and back as rows on Remix."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from kiestudio.studio.models import Generation, Status
from kiestudio.uploads.models import Reference
from tests.browser.test_accessibility import AXE
from tests.studio.media_samples import mp4_bytes
from tests.studio.test_views import png_bytes

SHOTS = [{"prompt": "a fox wakes up in its den", "duration": 2}, {"prompt": "it runs out into the snow", "duration": 3}]


def serious(page: Page, label: str) -> list[str]:
    """axe on the model's form (the editor and its rows): no serious or critical violations."""
    results = AXE.run(page, context="#model-form")
    assert results.response["passes"], f"{label}: axe checked nothing"
    return [
        f"{label}: {v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def picture(name: str) -> dict:
    return {"name": name, "mimeType": "image/png", "buffer": png_bytes()}


@pytest.mark.django_db(transaction=True)
def test_kling_shots_and_an_element_are_made_with_the_editor(
    signed_in_page: Page, asgi_live_server: str, kie_sim, studio_worker, tmp_path
):
    page = signed_in_page
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{asgi_live_server}/generate/?model=kling-3.0/video")
    expect(page.get_by_role("heading", name="Kling 3.0", level=1)).to_be_visible()
    page.get_by_label("Prompt").fill("A fox's morning with @dog")
    page.get_by_text("More options").click()
    page.get_by_label("Multi-shot story").check()

    # The editor stands in for the textarea: no JSON to type.
    shots = page.get_by_role("group", name="Shots")
    expect(shots).to_be_visible()
    expect(page.locator("#id_multi_prompt")).to_be_hidden()
    add_shot = shots.get_by_role("button", name="Add shot")
    for _ in range(3):
        add_shot.click()
    rows = shots.locator("[data-items-row]")
    expect(rows).to_have_count(3)
    expect(shots.get_by_role("group", name="Shot 3")).to_be_visible()
    expect(rows.nth(2).get_by_label("What happens")).to_be_focused()  # a new row takes the focus
    for index, shot in enumerate(SHOTS):
        rows.nth(index).get_by_label("What happens").fill(shot["prompt"])
        rows.nth(index).get_by_label("Length (seconds)").fill(str(shot["duration"]))
    shots.get_by_role("button", name="Remove shot 3").click()
    expect(rows).to_have_count(2)
    expect(shots.get_by_role("button", name="Remove shot 2")).to_be_focused()
    page.wait_for_function(
        "() => { const v = JSON.parse(document.getElementById('id_multi_prompt').value);"
        " return v.length === 2 && v[1].prompt === 'it runs out into the snow' && v[1].duration === 3; }"
    )

    # The server stays the judge: a shot left without words comes back named, the rows kept as they were.
    rows.nth(1).get_by_label("What happens").fill("")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#id_multi_prompt_error")).to_have_text("Shot 2: What happens is required")
    shots = page.get_by_role("group", name="Shots")
    rows = shots.locator("[data-items-row]")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).get_by_label("What happens")).to_have_value(SHOTS[0]["prompt"])
    expect(rows.nth(1).get_by_label("What happens")).to_be_focused()
    rows.nth(1).get_by_label("What happens").fill(SHOTS[1]["prompt"])
    add_shot = shots.get_by_role("button", name="Add shot")

    # At most five shots: the button says so when the list is full.
    for _ in range(3):
        add_shot.click()
    expect(add_shot).to_be_disabled()
    expect(shots.locator("[data-items-status]")).to_have_text("That's as many as this model takes (5).")
    for _ in range(3):
        shots.get_by_role("button", name="Remove shot 3").click()
    expect(add_shot).to_be_enabled()
    expect(rows).to_have_count(2)

    # An element: a name, a few words, and two pictures through the studio's own upload box.
    elements = page.get_by_role("group", name="Elements")
    elements.get_by_role("button", name="Add element").click()
    element = elements.get_by_role("group", name="Element 1")
    element.get_by_label("Name").fill("dog")
    element.get_by_label("What it is").fill("a small brown dog")
    pictures = element.locator("[data-sub=element_input_urls]")
    pictures.locator("input[type=file]").set_input_files(files=[picture("dog-1.png"), picture("dog-2.png")])
    expect(pictures.locator(".ref-item")).to_have_count(2)
    # And a clip of it moving (Kie's element_input_video_urls), through the same box for videos.
    clip = element.locator("[data-sub=element_input_video_urls]")
    clip.locator("input[type=file]").set_input_files(
        files=[{"name": "dog-runs.mp4", "mimeType": "video/mp4", "buffer": mp4_bytes(2.0)}]
    )
    expect(clip.locator(".ref-item")).to_have_count(1)
    page.wait_for_function(
        "() => { const v = JSON.parse(document.getElementById('id_kling_elements').value);"
        " return v.length === 1 && v[0].name === 'dog' && v[0].element_input_urls.length === 2"
        " && v[0].element_input_video_urls.length === 1; }"
    )
    expect(page.locator("#estimate")).to_contain_text("credits")
    problems = serious(page, "Kling 3.0 with shots and an element")
    page.locator("details.advanced").screenshot(path=str(tmp_path / "json-editor.png"))

    page.get_by_role("button", name="Generate").click()
    card = page.locator(".gen-card").first
    expect(card.locator(".status-badge")).to_have_text("Done", timeout=30_000)
    generation = Generation.objects.get()
    assert generation.status == Status.SUCCEEDED
    assert generation.inputs["multi_shots"] is True and generation.inputs["multi_prompt"] == SHOTS
    # The two pictures were uploaded together, so either may have been stored first: the element keeps the box's
    # order, and Kie gets each one's upload in that order.
    pictures = {r.placeholder: r for r in Reference.objects.filter(kind="image")}
    [video] = Reference.objects.filter(kind="video")
    [sent_element] = generation.inputs["kling_elements"]
    assert set(sent_element) == {"name", "description", "element_input_urls", "element_input_video_urls"}
    assert (sent_element["name"], sent_element["description"]) == ("dog", "a small brown dog")
    assert sorted(sent_element["element_input_urls"]) == sorted(pictures) and len(pictures) == 2
    assert sent_element["element_input_video_urls"] == [video.placeholder]
    body = kie_sim.sim.get_task(generation.kie_task_id, "market").body["input"]
    assert body["multi_prompt"] == SHOTS
    sent_pictures = [pictures[p].kie_url for p in sent_element["element_input_urls"]]
    assert body["kling_elements"][0]["element_input_urls"] == sent_pictures
    assert body["kling_elements"][0]["element_input_video_urls"] == [video.kie_url]

    # Remix: the rows come back as they were, pictures and clip included.
    page.goto(f"{asgi_live_server}/generate/?remix={generation.pk}")
    page.get_by_text("More options").click()
    shots = page.get_by_role("group", name="Shots")
    expect(shots.locator("[data-items-row]")).to_have_count(2)
    expect(shots.get_by_role("group", name="Shot 2").get_by_label("What happens")).to_have_value(SHOTS[1]["prompt"])
    element = page.get_by_role("group", name="Element 1")
    expect(element.get_by_label("Name")).to_have_value("dog")
    expect(element.locator("[data-sub=element_input_urls] .ref-item")).to_have_count(2)
    expect(element.locator("[data-sub=element_input_video_urls] .ref-item")).to_have_count(1)
    problems += serious(page, "Kling 3.0 remixed")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db(transaction=True)
def test_a_dialogues_price_follows_its_lines(signed_in_page: Page, asgi_live_server: str):
    """A dialogue is priced by its words: the estimate follows the rows as they are typed, added and removed."""
    page = signed_in_page
    page.goto(f"{asgi_live_server}/generate/?model=elevenlabs/text-to-dialogue-v3")
    dialogue = page.get_by_role("group", name="Dialogue")
    first = dialogue.get_by_role("group", name="Line 1")  # a required list starts with a row to fill in
    first.get_by_label("Voice").select_option(label="Brian – deep, resonant, comforting")
    first.get_by_label("What they say").fill("a" * 500)
    first.get_by_label("What they say").blur()  # a change, as leaving the box makes: the price asks at once
    expect(page.locator("#estimate")).to_contain_text("7 credits")  # 14 credits per 1,000 characters
    dialogue.get_by_role("button", name="Add line").click()
    second = dialogue.get_by_role("group", name="Line 2")
    second.get_by_label("Voice").select_option(label="Laura – enthusiastic, quirky")
    second.get_by_label("What they say").fill("b" * 500)
    second.get_by_label("What they say").blur()
    expect(page.locator("#estimate")).to_contain_text("14 credits")
    dialogue.get_by_role("button", name="Remove line 1").click()
    expect(page.locator("#estimate")).to_contain_text("7 credits")
    page.wait_for_function(
        "() => JSON.parse(document.getElementById('id_dialogue').value)[0].voice === 'FGY2WhTYpPnrIDTdsKH5'"
    )
    assert not serious(page, "ElevenLabs Dialogue")
