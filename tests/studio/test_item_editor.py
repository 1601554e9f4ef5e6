"""The list settings' editor on Generate (Kling 3.0's shots and elements, a dialogue's lines, a colour theme, edit
areas): rendered from the catalog beside the field's textarea, prefilled from a remix or a chat card's Edit, and
checked on the server as typed JSON is (a bad row is named), pictures included."""

from __future__ import annotations

import json
import re
import uuid
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kiestudio.kie.catalog import get_model
from kiestudio.studio.forms import GenerateForm
from kiestudio.studio.models import Generation, Status
from kiestudio.studio.templatetags.studio import input_facts
from kiestudio.uploads.models import Reference
from tests.studio.helpers import create, drain, workspace_of
from tests.studio.test_views import png_bytes

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
KLING = "kling-3.0/video"
SHOTS = [{"prompt": "a fox wakes up", "duration": 2}, {"prompt": "it runs into the snow", "duration": 3}]


def submit(client, model: str, **inputs):
    settings = {"duration": "5", "aspect_ratio": "16:9", "mode": "std"} if model == KLING else {}
    body = {"model": model, "variations": "1", "form_token": str(uuid.uuid4()), **settings, **inputs}
    return client.post("/generate/submit/", body, headers=HTMX)


def picture(client) -> int:
    response = client.post("/references/upload/", {"file": SimpleUploadedFile("dog.png", png_bytes(), "image/png")})
    assert response.status_code == 200, response.content
    return response.json()["id"]


def stand_in(reference_id: int) -> str:
    return Reference(pk=reference_id).placeholder


def test_the_form_renders_an_editor_beside_the_textarea(client, alice):
    client.force_login(alice)
    html = client.get(reverse("generate-form"), {"model": KLING}).content.decode()
    # Without JavaScript the textarea is the field; the editor waits, hidden, with an empty row to copy.
    assert re.search(r'<textarea name="multi_prompt"[^>]*id="id_multi_prompt"', html)
    editor = re.search(r'<div class="items-editor" id="id_multi_prompt_editor"[^>]*>', html, re.S).group(0)
    assert 'data-items-editor="id_multi_prompt"' in editor and 'data-max="5"' in editor and "hidden" in editor
    assert "+ Add shot" in html and "+ Add element" in html
    blank = html.split("<template data-items-blank>", 1)[1].split("</template>", 1)[0]
    assert "What happens" in blank and 'max="12"' in blank and 'maxlength="500"' in blank
    # An element's pictures use the studio's own upload box, with Kling's formats.
    elements = html.split('id="id_kling_elements_editor"', 1)[1].split("</template>", 1)[0]
    assert 'data-name="kling_elements-element_input_urls"' in elements and "JPEG or PNG" in elements
    assert "Choose from gallery" in elements


def test_a_remix_repopulates_the_rows(client, alice):
    [source] = create(alice, KLING, prompt="A fox", multi_shots=True, multi_prompt=SHOTS)
    client.force_login(alice)
    html = client.get(f"/generate/?remix={source.pk}").content.decode()
    # The textarea holds JSON (not Python's repr of the list), and the editor shows one row per shot.
    textarea = re.search(r'<textarea name="multi_prompt"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    assert json.loads(textarea.strip().replace("&quot;", '"')) == SHOTS
    rows = html.split('id="id_multi_prompt_editor"', 1)[1].split("<template", 1)[0]
    assert rows.count("data-items-row") == 2 and ">Shot 2<" in rows
    assert ">a fox wakes up</textarea>" in rows and 'value="3"' in rows


def test_a_chat_cards_edit_repopulates_the_rows(client, alice):
    from tests.agent.test_views import proposed

    call = proposed(alice, model=KLING, prompt="A fox", settings={"multi_shots": True, "multi_prompt": SHOTS})
    assert call.inputs["multi_prompt"] == SHOTS  # a tool's raw list, checked by the same validation
    client.force_login(alice)
    html = client.get(reverse("agent-edit", args=[call.pk]), headers=HTMX).content.decode()
    rows = html.split('id="id_multi_prompt_editor"', 1)[1].split("<template", 1)[0]
    assert rows.count("data-items-row") == 2 and ">it runs into the snow</textarea>" in rows


def test_unreadable_text_stays_text():
    form = GenerateForm(get_model(KLING), initial={"multi_prompt": "[{not json"})
    assert "data-items-unreadable" in str(form["multi_prompt"])


def test_a_bad_row_is_refused_with_its_row_and_setting_and_nothing_is_bought(client, alice):
    client.force_login(alice)
    bad = [SHOTS[0], {"prompt": "it runs", "duration": 13}]
    response = submit(client, KLING, prompt="A fox", multi_shots="on", multi_prompt=json.dumps(bad))
    assert response.status_code == 422
    html = response.content.decode()
    assert "Shot 2: Length (seconds) must be at most 12" in html
    # The refused form shows the rows as they were sent, to fix in place.
    rows = html.split('id="id_multi_prompt_editor"', 1)[1].split("<template", 1)[0]
    assert rows.count("data-items-row") == 2 and 'value="13"' in rows
    # The row the error names is marked (and takes the focus in the browser); the other is not.
    assert re.findall(r'<div class="(items-row(?: has-error)?)" role="group"', rows) == [
        "items-row",
        "items-row has-error",
    ]
    assert not Generation.objects.exists()


def test_shots_are_stored_and_sent_as_the_list_kie_takes(client, alice, kie_sim):
    client.force_login(alice)
    response = submit(client, KLING, prompt="A fox", multi_shots="on", multi_prompt=json.dumps(SHOTS))
    assert response.status_code == 200, response.content.decode()[:2000]
    drain()
    generation = Generation.objects.get()
    assert generation.status == Status.SUCCEEDED and generation.inputs["multi_prompt"] == SHOTS
    assert kie_sim.sim.get_task(generation.kie_task_id, "market").body["input"]["multi_prompt"] == SHOTS
    assert ("Shots", "2 shots") in input_facts(generation, get_model(KLING))


def test_an_elements_uploaded_pictures_reach_kie_as_kies_own_uploads(client, alice, kie_sim):
    client.force_login(alice)
    first, second = picture(client), picture(client)
    element = {
        "name": "dog",
        "description": "a small brown dog",
        "element_input_urls": [stand_in(first), stand_in(second)],
    }
    response = submit(client, KLING, prompt="A walk with @dog", kling_elements=json.dumps([element]))
    assert response.status_code == 200, response.content.decode()[:2000]
    drain()
    generation = Generation.objects.get()
    assert generation.status == Status.SUCCEEDED
    assert generation.inputs["kling_elements"] == [element]  # stored with our stand-ins, so a remix shows them
    sent = kie_sim.sim.get_task(generation.kie_task_id, "market").body["input"]["kling_elements"]
    urls = sent[0]["element_input_urls"]
    assert urls == [Reference.objects.get(pk=first).kie_url, Reference.objects.get(pk=second).kie_url]
    assert all(url.startswith(f"{kie_sim.base_url}/_sim/files/") for url in urls)

    # A remix shows the element with its two pictures as chips.
    html = client.get(f"/generate/?remix={generation.pk}").content.decode()
    row = html.split('id="id_kling_elements_editor"', 1)[1].split("<template", 1)[0]
    assert 'value="dog"' in row and row.count('alt="Reference image') == 2
    assert f'name="kling_elements-element_input_urls" value="{first}"' in row


def test_an_element_cannot_use_another_workspaces_picture(client, alice, charlie):
    client.force_login(charlie)
    theirs = picture(client)
    client.force_login(alice)
    ours = picture(client)
    element = {"name": "dog", "description": "a dog", "element_input_urls": [stand_in(ours), stand_in(theirs)]}
    response = submit(client, KLING, prompt="A fox", kling_elements=json.dumps([element]))
    assert response.status_code == 422
    assert "Element 1: a picture you chose is no longer available. Choose it again." in response.content.decode()
    assert not Generation.objects.filter(workspace=workspace_of(alice)).exists()


def test_an_elements_link_meets_the_private_network_guard(client, alice):
    client.force_login(alice)
    element = {
        "name": "dog",
        "description": "a dog",
        "element_input_urls": ["http://127.0.0.1/a.png", "http://10.0.0.1/b.png"],
    }
    response = submit(client, KLING, prompt="A fox", kling_elements=json.dumps([element]))
    assert response.status_code == 422
    assert "Element 1: Kie can't be sent this address" in unescape(response.content.decode())


def test_the_dialogue_editor_offers_the_voices_and_keeps_a_name_kie_knows():
    lines = [{"voice": "Brian", "text": "Hi there!"}, {"voice": "EkK5I93UQWFDigLMpZcX", "text": "Oh, hello!"}]
    html = str(GenerateForm(get_model("elevenlabs/text-to-dialogue-v3"), initial={"dialogue": lines})["dialogue"])
    rows = html.split("<template", 1)[0]
    assert '<option value="Brian" selected>Brian</option>' in rows
    assert '<option value="EkK5I93UQWFDigLMpZcX" selected>James – husky, engaging, bold</option>' in rows
    assert "+ Add line" in html and "What they say" in html
    # A required list starts with a row to fill in; the field itself stays empty until it is.
    fresh = str(GenerateForm(get_model("elevenlabs/text-to-dialogue-v3"))["dialogue"])
    assert fresh.split("<template", 1)[0].count("data-items-row") == 1
    assert re.search(r'<textarea name="dialogue"[^>]*>\s*</textarea>', fresh)


def test_colour_theme_and_edit_area_rows_show_their_values():
    palette = [{"hex": "#C2D1E6", "ratio": "40.00%"}]
    areas = [[[120, 80, 480, 400]], []]
    form = GenerateForm(get_model("wan/2-7-image"), initial={"color_palette": palette, "bbox_list": areas})
    colours = str(form["color_palette"]).split("<template", 1)[0]
    assert 'type="color"' in colours and 'value="#c2d1e6"' in colours and 'value="40.00"' in colours
    boxes = str(form["bbox_list"]).split("<template", 1)[0]
    assert boxes.count("data-items-row") == 2 and ">Picture 2<" in boxes
    assert all(f'value="{n}"' in boxes for n in (120, 80, 480, 400))


def test_an_elements_pictures_meet_kling_s_formats(client, alice):
    """Kling takes an element's pictures as JPEG or PNG: its box says so, and a WebP is refused at Generate with the
    reason (uploading one is fine: other models take it)."""
    client.force_login(alice)
    params = {"kind": "image", "model": KLING, "field": "kling_elements-element_input_urls"}
    webp = SimpleUploadedFile("dog.webp", png_bytes(fmt="WEBP"), "image/webp")
    uploaded = client.post("/references/upload/", {"file": webp, **params}).json()["id"]
    element = {
        "name": "dog",
        "description": "a dog",
        "element_input_urls": [stand_in(uploaded), stand_in(picture(client))],
    }
    response = submit(client, KLING, prompt="A fox", kling_elements=json.dumps([element]))
    assert response.status_code == 422
    assert re.search(r"Element 1: .*JPEG or PNG", unescape(response.content.decode()))
