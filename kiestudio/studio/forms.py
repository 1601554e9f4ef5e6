"""The generate form, built from a catalog entry: the right widget for each field, with the catalog as the one
validator (browser hints come from the same data). The follow-up form is the same form, started from a result."""

from __future__ import annotations

import json
import uuid
from typing import Any, TypedDict

from django import forms

from kiestudio.core.fetch import BlockedURL, check_forward_url
from kiestudio.core.params import BadJSON, is_id, parse_json
from kiestudio.kie.catalog import FieldSpec, ModelSpec
from kiestudio.kie.catalog.actions import Action
from kiestudio.studio.item_editor import (
    ItemsWidget,
    fetch_references,
    has_pictures,
    item_media_problems,
    parse_items_value,
    rows_named,
)
from kiestudio.studio.models import Asset, Generation, SunoPersona
from kiestudio.studio.services import (
    MAX_VARIATIONS,
    GenerationError,
    PlannedGeneration,
    followup_plan,
    generation_plan,
)
from kiestudio.uploads import services as uploads
from kiestudio.uploads.models import Reference

MEDIA_TYPES = set(uploads.FIELD_KINDS)
LINKABLE = {"video", "audio"}  # a pasted link to a public clip or sound stays possible beside uploads
FORM_JSON_DEPTH = 16  # a JSON field is a model's settings object: a few levels at most
FORM_JSON_BYTES = 100_000


NO_PERSONAS_HELP = "None yet: open a finished Suno song's Actions and choose “Make a persona”."


class ReferenceWidget(forms.Widget):
    """A picture, clip or sound input: picked references as hidden inputs carrying their ids, a drop zone to upload
    or pick from the gallery (static/js/references.js) and, for clips and sounds, a box to paste a link instead.

    Its value is a list: reference ids (digits) and links, one per line in the link box."""

    template_name = "studio/widgets/references.html"

    def __init__(
        self,
        *,
        kind: str = "image",
        multiple: bool,
        max_items: int | None,
        rules: uploads.MediaRules | None = None,
        model_key: str = "",
        linkable: bool | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(attrs)
        self.kind = kind
        self.linkable = kind in LINKABLE if linkable is None else linkable
        self.multiple = multiple
        self.max_items = max_items if multiple else 1
        self.rules = rules or uploads.DEFAULT_RULES[kind]
        self.model_key = model_key
        self.references: list[Reference] = []

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else data.get(name) or []
        return split_media_values(values)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        links = [v for v in split_media_values(value) if not _is_reference(v)]
        one, _, noun = uploads.NOUNS[self.kind]
        context["widget"].update(
            {
                "kind": self.kind,
                "noun": noun,
                "one": one,
                "multiple": self.multiple,
                "max_items": self.max_items,
                "references": self.references,
                "linkable": self.linkable,
                "links": "\n".join(links),
                "accept": self.rules.accept,
                "max_bytes": self.rules.max_bytes,
                "limits": self.rules.summary(),
                "model_key": self.model_key,
            }
        )
        return context


def _is_reference(value: str) -> bool:
    """A media value written as digits names one of our references (an id out of range names none, so it is
    reported missing); anything else is a link."""
    return value.isascii() and value.isdigit()


def split_media_values(value: Any) -> list[str]:
    """A media input's values as a flat list: reference ids stay as they are, link text splits on whitespace."""
    values = value if isinstance(value, list | tuple) else ([] if value in (None, "") else [value])
    out: list[str] = []
    for item in values:
        text = str(item).strip()
        out.extend([text] if _is_reference(text) else text.split())
    return out


def remix_initial(generation: Generation) -> dict[str, Any]:
    """A generation's inputs to start a form from, with its references as ids (and links beside them)."""
    initial: dict[str, Any] = dict(generation.inputs)
    for name, ids in (generation.references or {}).items():
        sent = generation.inputs.get(name)
        links = sent[len(ids) :] if isinstance(sent, list) else []
        initial[name] = [*(str(i) for i in ids), *links]
    return initial


class _Common(TypedDict):
    """What every generated field takes from its catalog entry."""

    label: str
    required: bool
    help_text: str


def _field_for(spec_field: FieldSpec, spec: ModelSpec) -> forms.Field:
    common: _Common = {"label": spec_field.label, "required": spec_field.required, "help_text": spec_field.help}
    kind = spec_field.type
    if kind == "text":
        attrs = {"rows": 4, "data-prompt": ""}
        if spec_field.max_length:
            attrs["maxlength"] = spec_field.max_length
        return forms.CharField(widget=forms.Textarea(attrs=attrs), strip=True, **common)
    if kind == "string":
        return forms.CharField(max_length=spec_field.max_length, **common)
    if kind == "integer":
        # The catalog's bounds are numbers (whole ones for an integer field); Django compares with either.
        return forms.IntegerField(min_value=spec_field.min, max_value=spec_field.max, **common)  # type: ignore[arg-type]
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
        media_kind = uploads.FIELD_KINDS[kind]
        widget = ReferenceWidget(
            kind=media_kind,
            multiple=spec_field.is_list,
            max_items=spec_field.max_items,
            rules=uploads.rules_for(media_kind, spec, spec_field.name),
            model_key=spec.key,
        )
        return forms.Field(widget=widget, **common)
    if kind == "json" and spec_field.item_fields:
        items = ItemsWidget(spec_field=spec_field, picture_box=ReferenceWidget, model_key=spec.key)
        return forms.CharField(widget=items, **common)
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
            if spec_field.alias_of:
                continue  # another name for a field the form has: one control per setting
            field = _field_for(spec_field, spec)
            field.spec = spec_field  # type: ignore[attr-defined]  # the catalog entry, for templates and clean()
            if spec_field.has_default and spec_field.name not in self.initial:
                default = spec_field.default_value()
                self.initial[spec_field.name] = json.dumps(default) if spec_field.type == "json" else default
            elif spec_field.type == "json" and isinstance(self.initial.get(spec_field.name), list | dict):
                # A stored generation's value (a remix, a chat card's Edit): the textarea holds it as JSON.
                self.initial[spec_field.name] = json.dumps(self.initial[spec_field.name])
            self.fields[spec_field.name] = field
        # Keep variations last.
        self.order_fields([f.name for f in spec.fields if not f.alias_of] + ["variations", "form_token"])
        self._attach_references()
        self._attach_item_pictures()
        self._offer_personas()

    def _offer_personas(self) -> None:
        """Suno V5 and V5.5 take a persona by Kie's id: offer the workspace's personas by name instead of a text box
        (an id that isn't one of them is refused like any other choice)."""
        if "personaId" not in self.fields or not self.spec.family.startswith("suno"):
            return
        personas = SunoPersona.objects.filter(workspace=self.workspace) if self.workspace else []
        choices = [("", "No persona"), *((p.persona_id, p.name) for p in personas)]
        spec_field: FieldSpec = self.fields["personaId"].spec  # type: ignore[attr-defined]  # set in __init__
        help_text = spec_field.help if len(choices) > 1 else NO_PERSONAS_HELP
        field = forms.ChoiceField(
            choices=choices,
            required=False,
            label=spec_field.label,
            help_text=help_text,
            error_messages={"invalid_choice": "Choose one of this workspace's personas."},
        )
        field.spec = spec_field  # type: ignore[attr-defined]
        self.fields["personaId"] = field

    @property
    def basic_fields(self):
        return [self[f.name] for f in self.spec.fields if not f.advanced and f.name in self.fields]

    @property
    def advanced_fields(self):
        return [self[f.name] for f in self.spec.fields if f.advanced and f.name in self.fields]

    def _attach_references(self) -> None:
        """Each media input's references, fetched once, in the workspace only: another workspace's id is missing."""
        self.missing_references: set[str] = set()
        for spec_field in self.spec.fields:
            if spec_field.type not in MEDIA_TYPES or spec_field.name not in self.fields:
                continue
            widget = self.fields[spec_field.name].widget
            if self.is_bound:
                values = widget.value_from_datadict(self.data, self.files, self.add_prefix(spec_field.name))
            else:
                values = split_media_values(self.initial.get(spec_field.name))
            written = [v for v in values if _is_reference(v)]
            ids = [int(v) for v in written if is_id(v)]
            refs = Reference.objects.filter(workspace=self.workspace, kind=widget.kind, pk__in=ids) if ids else []
            by_id = {r.pk: r for r in refs} if self.workspace else {}
            widget.references = [by_id[i] for i in ids if i in by_id]
            if len(widget.references) != len(written):
                self.missing_references.add(spec_field.name)

    def _attach_item_pictures(self) -> None:
        """The pictures named in the entries of a json field (an element's), of this workspace only, for the
        editor's chips and for ``clean``."""
        for spec_field in self.spec.fields:
            if spec_field.name not in self.fields or not has_pictures(spec_field):
                continue
            source = self.data if self.is_bound else self.initial
            value = parse_items_value(
                source.get(self.add_prefix(spec_field.name) if self.is_bound else spec_field.name)
            )
            widget = self.fields[spec_field.name].widget
            widget.references = fetch_references(self.workspace, spec_field, value)

    def _media_value(self, spec_field: FieldSpec, values: list[str]) -> list[str] | str | None:
        """Check a media input (its references against the model's limits, its links against the private-network
        guard) and give what the catalog validates: stand-ins for our files, then the links."""
        name = spec_field.name
        widget = self.fields[name].widget
        refs = widget.references
        links = [v for v in values if not _is_reference(v)]
        one, many, noun = uploads.NOUNS[widget.kind]
        errors: list[str] = []
        if name in self.missing_references:
            errors.append(f"A {noun} you chose is no longer available. Choose it again.")
        for reference in refs:
            if problem := uploads.reference_problem(reference, widget.rules):
                errors.append(problem)
        if problem := widget.rules.total_problem([r.duration for r in refs]):
            errors.append(problem)
        if links and widget.kind not in LINKABLE:
            errors.append(f"Upload {one} or choose one from the gallery.")
            links = []
        for link in links:
            if Reference.id_in_placeholder(link) is not None:
                errors.append(f"That link is to a file in the studio: use Choose from gallery to add the {noun}.")
                continue
            try:
                check_forward_url(link)
            except BlockedURL as exc:
                errors.append(f"Kie can't be sent this address: {exc}")
        if not spec_field.is_list and len(refs) + len(links) > 1:
            errors.append(f"Give one {noun}: upload it, choose it, or paste one link.")
        for error in errors:
            self.add_error(name, error)
        if errors:
            return None
        if refs:
            self.references[name] = [r.pk for r in refs]
        items = [r.placeholder for r in refs] + links
        if not items:
            return None
        return items if spec_field.is_list else items[0]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
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
                media_value = self._media_value(spec_field, split_media_values(value))
                if media_value is not None:
                    raw[spec_field.name] = media_value
                continue
            if spec_field.type == "json" and value:
                try:
                    value = parse_json(value, max_depth=FORM_JSON_DEPTH, max_bytes=FORM_JSON_BYTES)
                except BadJSON as exc:
                    self.add_error(spec_field.name, exc.message)
                    continue
                if has_pictures(spec_field):
                    widget = self.fields[spec_field.name].widget
                    problems = item_media_problems(self.spec, spec_field, value, widget.references)
                    for problem in problems:
                        self.add_error(spec_field.name, problem)
                    if problems:
                        continue
            if value in (None, "") and not spec_field.required:
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
        self._mark_item_rows()
        return cleaned

    def _mark_item_rows(self) -> None:
        """A list editor's rows that an error names ("Shot 2: …"), so the editor marks them."""
        for name, field in self.fields.items():
            if isinstance(field.widget, ItemsWidget) and name in self.errors:
                field.widget.error_rows = rows_named(field.widget.spec_field, self.errors[name])

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
        initial: dict[str, Any] | None = None,
    ) -> None:
        self.parent, self.asset, self.action = generation, asset, action
        if data is None:  # the source's own values, then any given (a chat tool call's, to edit)
            initial = {**self.prefill(spec, generation, asset, action), **(initial or {})}
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
            if spec_field.type in MEDIA_TYPES:
                continue
            if spec_field.name in generation.inputs and spec_field.name not in spec.from_parent:
                value = generation.inputs[spec_field.name]
                values[spec_field.name] = json.dumps(value) if spec_field.type == "json" else value
        if spec.prompt_field and generation.prompt_text and spec.prompt_field not in action.prefill:
            values[spec.prompt_field] = generation.prompt_text
        title = (asset.metadata or {}).get("title")
        if title and spec.has_field("title"):
            values["title"] = title
        # A Suno track's own lyrics and style, where the model wants the whole song's (replacing a section).
        for wire, kept in (("fullLyrics", "prompt"), ("tags", "tags")):
            if spec.has_field(wire) and wire not in values and (asset.metadata or {}).get(kept):
                values[wire] = asset.metadata[kept]
        values.update({k: v for k, v in action.prefill.items() if spec.has_field(k)})
        return values

    def make_plan(self, raw: dict[str, Any], variations: int) -> PlannedGeneration:
        return followup_plan(
            generation=self.parent, asset=self.asset, action=self.action, spec=self.spec, raw_inputs=raw
        )


class PersonaForm(forms.Form):
    """Naming a persona made from a track (the service checks the rest: Kie makes one per track)."""

    name = forms.CharField(
        label="Name",
        max_length=80,
        help_text="How it shows in the Persona list on Generate, e.g. “Smoky late-night crooner”.",
    )
    description = forms.CharField(
        label="What it sounds like",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The voice, genre, mood and instruments it carries; Kie uses this to capture the style.",
    )

    @staticmethod
    def prefill(asset: Asset) -> dict[str, str]:
        """Start from the track: its title for the name, its style words for the description."""
        metadata = asset.metadata or {}
        return {"name": str(metadata.get("title") or "")[:80], "description": str(metadata.get("tags") or "")}
