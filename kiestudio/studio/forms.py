"""The generate form, built from a catalog entry: the right widget for each field, with the catalog as the one
validator (browser hints come from the same data). The follow-up form is the same form, started from a result."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django import forms

from kiestudio.core.fetch import BlockedURL, check_forward_url
from kiestudio.kie.catalog import FieldSpec, ModelSpec
from kiestudio.kie.catalog.actions import Action
from kiestudio.studio.models import Asset, Generation, ReferenceImage
from kiestudio.studio.services import (
    MAX_VARIATIONS,
    GenerationError,
    PlannedGeneration,
    followup_plan,
    generation_plan,
)

MEDIA_TYPES = {"image_url", "image_urls"}


class ReferenceWidget(forms.Widget):
    """Picked reference images, as hidden inputs carrying their ids, plus a drop zone (static/js/generate.js)."""

    template_name = "studio/widgets/references.html"

    def __init__(self, *, multiple: bool, max_items: int | None, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.multiple = multiple
        self.max_items = max_items if multiple else 1

    def value_from_datadict(self, data, files, name):
        return [v for v in data.getlist(name) if v] if hasattr(data, "getlist") else data.get(name) or []

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"].update(
            {"multiple": self.multiple, "max_items": self.max_items, "references": getattr(self, "references", [])}
        )
        return context


def _field_for(spec_field: FieldSpec) -> forms.Field:
    common = {"label": spec_field.label, "required": spec_field.required, "help_text": spec_field.help}
    kind = spec_field.type
    if kind == "text":
        attrs = {"rows": 4, "data-prompt": ""}
        if spec_field.max_length:
            attrs["maxlength"] = spec_field.max_length
        return forms.CharField(widget=forms.Textarea(attrs=attrs), strip=True, **common)
    if kind == "string":
        return forms.CharField(max_length=spec_field.max_length, **common)
    if kind == "integer":
        return forms.IntegerField(min_value=spec_field.min, max_value=spec_field.max, **common)
    if kind == "number":
        step = "any"
        return forms.FloatField(
            min_value=spec_field.min, max_value=spec_field.max, widget=forms.NumberInput(attrs={"step": step}), **common
        )
    if kind == "boolean":
        return forms.BooleanField(label=spec_field.label, required=False, help_text=spec_field.help)
    if kind == "enum":
        choices = [(str(value), label) for value, label in spec_field.choice_pairs()]
        if not spec_field.required and not spec_field.has_default:
            choices = [("", "Default"), *choices]
        return forms.ChoiceField(choices=choices, **common)
    if kind in MEDIA_TYPES:
        widget = ReferenceWidget(multiple=kind == "image_urls", max_items=spec_field.max_items)
        return forms.Field(widget=widget, **common)
    if kind in {"video_url", "audio_url"}:
        return forms.URLField(assume_scheme="https", **common)
    if kind == "json":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "class": "mono"}), **common)
    return forms.CharField(**common)


class GenerateForm(forms.Form):
    """Fields come from the catalog entry. ``clean`` hands everything to the catalog validator, so the server
    accepts exactly what Kie's schema accepts, and each error lands beside its field."""

    form_token = forms.UUIDField(widget=forms.HiddenInput)
    variations = forms.TypedChoiceField(
        label="Variations",
        choices=[(n, str(n)) for n in range(1, MAX_VARIATIONS + 1)],
        coerce=int,
        initial=1,
        help_text="Each variation is a separate Kie task, charged separately.",
    )

    def __init__(self, spec: ModelSpec, *args: Any, workspace=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec = spec
        self.workspace = workspace
        self.plan: PlannedGeneration | None = None
        self.references: dict[str, list[int]] = {}
        if not self.is_bound and "form_token" not in self.initial:
            self.initial["form_token"] = uuid.uuid4()
        for spec_field in spec.fields:
            field = _field_for(spec_field)
            field.spec = spec_field
            if spec_field.has_default and spec_field.name not in self.initial:
                default = spec_field.default_value()
                self.initial[spec_field.name] = json.dumps(default) if spec_field.type == "json" else default
            self.fields[spec_field.name] = field
        # Keep variations last.
        self.order_fields([f.name for f in spec.fields] + ["variations", "form_token"])
        self._attach_references()

    @property
    def basic_fields(self):
        return [self[f.name] for f in self.spec.fields if not f.advanced and f.name in self.fields]

    @property
    def advanced_fields(self):
        return [self[f.name] for f in self.spec.fields if f.advanced and f.name in self.fields]

    def _attach_references(self) -> None:
        for spec_field in self.spec.fields:
            if spec_field.type not in MEDIA_TYPES or spec_field.name not in self.fields:
                continue
            widget = self.fields[spec_field.name].widget
            raw = self.data.getlist(spec_field.name) if self.is_bound else self.initial.get(spec_field.name) or []
            ids = [int(v) for v in (raw if isinstance(raw, list) else [raw]) if str(v).isdigit()]
            refs = ReferenceImage.objects.filter(workspace=self.workspace, pk__in=ids) if self.workspace else []
            by_id = {r.pk: r for r in refs}
            widget.references = [by_id[i] for i in ids if i in by_id]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        raw: dict[str, Any] = {}
        for spec_field in self.spec.fields:
            if spec_field.name not in self.fields:
                continue  # filled in by the server (a follow-up's source file)
            if not spec_field.is_shown(cleaned):
                continue  # hidden by the other fields' values: whatever it still holds is not sent
            value = cleaned.get(spec_field.name)
            if spec_field.type in MEDIA_TYPES:
                refs = self.fields[spec_field.name].widget.references
                if not refs:
                    continue
                self.references[spec_field.name] = [r.pk for r in refs]
                urls = [r.file.url for r in refs]
                # The catalog validates URLs; these stand in for the Kie uploads the worker makes at submit time.
                urls = [u if u.startswith("http") else f"https://studio.local{u}" for u in urls]
                raw[spec_field.name] = urls if spec_field.type == "image_urls" else urls[0]
                continue
            if spec_field.type == "json" and value:
                try:
                    value = json.loads(value)
                except ValueError:
                    self.add_error(spec_field.name, "Enter valid JSON.")
                    continue
            if value in (None, "") and not spec_field.required:
                continue
            if spec_field.type in {"video_url", "audio_url"} and value:
                try:
                    check_forward_url(value)
                except BlockedURL as exc:
                    self.add_error(spec_field.name, f"Kie can't be sent this address: {exc}")
                    continue
            raw[spec_field.name] = value
        try:
            self.plan = self.make_plan(raw, cleaned.get("variations") or 1)
        except GenerationError as exc:
            for name, messages in exc.errors.items():
                target = name if name in self.fields else None
                for message in messages:
                    self.add_error(target, message)
            if not exc.errors:
                self.add_error(None, str(exc))
        return cleaned

    def make_plan(self, raw: dict[str, Any], variations: int) -> PlannedGeneration:
        return generation_plan(spec=self.spec, raw_inputs=raw, variations=variations)


class FollowupForm(GenerateForm):
    """A follow-up: the model's own fields, minus the input that takes the source file (the server fills it in),
    prefilled from the source and the action; always one task."""

    def __init__(
        self,
        spec: ModelSpec,
        data=None,
        *,
        generation: Generation,
        asset: Asset,
        action: Action,
        workspace=None,
    ) -> None:
        self.parent, self.asset, self.action = generation, asset, action
        initial = None if data is not None else self.prefill(spec, generation, asset, action)
        super().__init__(spec, data, initial=initial, workspace=workspace)
        self.media_input = action.media_input(spec, asset.kind)
        self.fields.pop(self.media_input or "", None)
        self.fields.pop("variations")

    @staticmethod
    def prefill(spec: ModelSpec, generation: Generation, asset: Asset, action: Action) -> dict[str, Any]:
        """Start from what made the source: its prompt and any settings the model shares, then the action's own
        suggestions, then the source track's title."""
        values: dict[str, Any] = {}
        for spec_field in spec.fields:
            if spec_field.type in MEDIA_TYPES or spec_field.type in {"video_url", "audio_url"}:
                continue
            if spec_field.name in generation.inputs and spec_field.name not in spec.from_parent:
                value = generation.inputs[spec_field.name]
                values[spec_field.name] = json.dumps(value) if spec_field.type == "json" else value
        if spec.prompt_field and generation.prompt_text and spec.prompt_field not in action.prefill:
            values[spec.prompt_field] = generation.prompt_text
        title = (asset.metadata or {}).get("title")
        if title and spec.has_field("title"):
            values["title"] = title
        values.update({k: v for k, v in action.prefill.items() if spec.has_field(k)})
        return values

    def make_plan(self, raw: dict[str, Any], variations: int) -> PlannedGeneration:
        return followup_plan(
            generation=self.parent, asset=self.asset, action=self.action, spec=self.spec, raw_inputs=raw
        )
