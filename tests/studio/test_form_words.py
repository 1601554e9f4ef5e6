"""Every model's form in a creator's words: the text a person reads on Generate (labels, help, choices, buttons,
placeholders) names no API family, no field alias, no web address or file path, and no wire field name."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from kiestudio.kie.catalog import load_catalog
from kiestudio.kie.catalog.specs import FAMILIES

pytestmark = pytest.mark.django_db

# Left to do, each with where it is. The test fails when one of these is fixed, so the list only shrinks.
KNOWN: set[tuple[str, str]] = set()


class ReadableText(HTMLParser):
    """What a person reads or hears: text outside scripts and styles, and placeholder, title and aria-label. With
    ``templates``, a ``<template>``'s too (an editor's empty row, shown once a row is added)."""

    def __init__(self, *, templates: bool = False) -> None:
        super().__init__()
        self.text: list[str] = []
        self.hidden = 0
        self.skipped = ("script", "style") if templates else ("script", "style", "template")

    def handle_starttag(self, tag, attrs):
        if tag in self.skipped:
            self.hidden += 1
        self.text += [value for name, value in attrs if name in ("placeholder", "title", "aria-label") and value]

    def handle_endtag(self, tag):
        if tag in self.skipped:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden and data.strip():
            self.text.append(data.strip())


def api_words() -> re.Pattern[str]:
    families = [str(info["name"]) for key, info in FAMILIES.items() if key == "market"]  # "Kie Market"
    wire = {
        f.name
        for spec in load_catalog()
        for f in spec.fields
        if "_" in f.name or re.search(r"[a-z][A-Z]", f.name)  # image_urls, aspectRatio: names only Kie uses
    }
    words = [
        *map(re.escape, families),
        r"\bMarket\b",
        r"older name",
        r"\bURLs?\b",
        r"\bAPI\b",
        r"\bendpoint\b",
        r"[a-z0-9-]+\.(?:com|ai|io|net)\b",  # a host
        r"\.mp3\b|\.json\b",
        r"<[a-z ]+>",  # a placeholder such as <voice id>
        r"\b[a-z]+_[a-z_]+\b",  # any snake_case name: no creator types one
        *(rf"\b{re.escape(name)}\b" for name in sorted(wire)),
    ]
    return re.compile("|".join(words))


def test_no_model_form_shows_api_words(client, alice):
    client.force_login(alice)
    pattern = api_words()
    found: set[tuple[str, str]] = set()
    examples: dict[tuple[str, str], str] = {}
    models = load_catalog().originals
    for spec in models:
        response = client.get(reverse("generate-form"), {"model": spec.key})
        assert response.status_code == 200, spec.key
        reader = ReadableText()
        reader.feed(response.content.decode())
        for text in reader.text:
            for match in pattern.finditer(text):
                found.add((spec.key, match.group(0)))
                examples.setdefault((spec.key, match.group(0)), text[:160])
    assert len(models) > 100
    new = found - KNOWN
    assert not new, "\n".join(f"{key}: “{word}” in “{examples[key, word]}”" for key, word in sorted(new))
    assert found >= KNOWN, f"fixed, so take them off KNOWN: {sorted(KNOWN - found)}"


def test_list_editors_rows_are_in_creators_words_too(client, alice):
    """The rows of a list setting (Kling's shots and elements, a dialogue's lines, a colour theme, edit areas) are
    added from a template: its labels and help name no wire field, and never say JSON or URL."""
    client.force_login(alice)
    pattern = re.compile(api_words().pattern + r"|(?i:\bjson\b)")
    with_items = [spec for spec in load_catalog().originals if any(f.item_fields for f in spec.fields)]
    assert {"kling-3.0/video", "elevenlabs/text-to-dialogue-v3", "wan/2-7-image"} <= {s.key for s in with_items}
    for spec in with_items:
        html = client.get(reverse("generate-form"), {"model": spec.key}).content.decode()
        assert "<template data-items-blank>" in html, spec.key
        reader = ReadableText(templates=True)
        reader.feed(html)
        found = [(text, m.group(0)) for text in reader.text for m in [pattern.search(text)] if m]
        # Kie's own model names ("Kling 3.0") are fine; the field's wire names and data words are not.
        assert not found, f"{spec.key}: {found[:5]}"
        for field in spec.fields:
            for sub in field.item_fields:
                words = f"{sub.label} {sub.help}"
                assert not re.search(r"\bJSON\b|\bURLs?\b|_", words), f"{spec.key}.{field.name}.{sub.name}: {words}"
            if field.item_fields:
                assert not re.search(r"\bJSON\b|\bURLs?\b|\[\{", field.help), f"{spec.key}.{field.name}: {field.help}"


def test_the_check_does_catch_api_words():
    pattern = api_words()
    for text in (
        "Image size (older name)",
        "Paste URLs, one per line",
        "TEXT TO IMAGE · Kie Market",
        "Preview: static.aiquickdraw.com/voice/<voice id>.mp3",
        "Sets aspectRatio",
        "the image_urls list",
    ):
        assert pattern.search(text), text
    assert not pattern.search("Describe what you want to see: subject, setting, style, lighting, mood.")


def test_the_model_list_prices_speech_by_length_not_as_zero(client, alice):
    client.force_login(alice)
    html = client.get(reverse("generate"), {"model": "elevenlabs/text-to-speech-multilingual-v2"}).content.decode()
    assert "12 cr per 1,000 characters" in html and ">0 cr<" not in html
    assert "Fill in the form to see the price." in html  # not "0 credits" before there is any text
    assert ">4 cr<" in html  # Nano Banana, priced as before
