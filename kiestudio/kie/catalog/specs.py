"""Immutable descriptions of Kie models and their input fields.

Everything here is plain data: the JSON files in ``data/`` are turned into these
objects by :mod:`kiestudio.kie.catalog.loader`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from types import MappingProxyType
from typing import Any

from .conditions import condition_matches

#: Kinds of generation, in display order, with a human label.
KINDS: MappingProxyType[str, str] = MappingProxyType(
    {
        "text_to_image": "Text to image",
        "image_edit": "Image edit",
        "upscale": "Upscale",
        "remove_background": "Background removal",
        "text_to_video": "Text to video",
        "image_to_video": "Image to video",
        "video_to_video": "Video to video",
        "speech": "Speech",
        "sound_effect": "Sound effects",
        "audio_edit": "Audio clean-up",
        "talking_video": "Talking video",
        "music": "Music",
        # Follow-ups only (made from an earlier result; never offered on their own on the Generate page).
        "video_extend": "Extend video",
        "video_upgrade": "Higher resolution",
        "music_remix": "Music remix",
        "stems": "Stem separation",
        "audio_convert": "Audio conversion",
        "midi": "MIDI",
        "cover_art": "Cover art",
        "music_video": "Music video",
    }
)

#: How a follow-up-only model reaches Kie. ``create`` (a create call, then its record), ``veo_1080p`` (a GET that
#: answers "still processing" until the 1080p file is ready) or ``veo_4k`` (a request whose result only
#: arrives by callback).
OPERATIONS: tuple[str, ...] = ("create", "veo_1080p", "veo_4k")

#: What a follow-up may take from the item it is made from (``from_parent`` values).
PARENT_VALUES: MappingProxyType[str, str] = MappingProxyType(
    {
        "task_id": "the parent's Kie task id",
        "audio_id": "the Suno track id of the chosen file",
        "result_index": "the chosen file's position in the parent's results",
        "model": "the parent's Kie model value",
    }
)

#: API families, in display order. ``input_wrapper`` is the body key holding the inputs
#: (Market puts them under ``input``; the family APIs take them at the top level of the body).
#: ``model_param`` is the body key that carries ``ModelSpec.model`` (None: the family has none).
#: ``callback_required``: Kie rejects a create call without ``callBackUrl`` (Suno).
FAMILIES: MappingProxyType[str, MappingProxyType[str, Any]] = MappingProxyType(
    {
        family: MappingProxyType(info)
        for family, info in dict[str, dict[str, Any]](
            {
                "market": {
                    "name": "Kie Market",
                    "create_endpoint": "POST /api/v1/jobs/createTask",
                    "record_endpoint": "GET /api/v1/jobs/recordInfo",
                    "input_wrapper": "input",
                    "model_param": "model",
                    "callback_required": False,
                },
                "veo": {
                    "name": "Veo 3.1",
                    "create_endpoint": "POST /api/v1/veo/generate",
                    "other_endpoints": (
                        "POST /api/v1/veo/extend",
                        "GET /api/v1/veo/get-1080p-video",
                        "POST /api/v1/veo/get-4k-video",
                    ),
                    "record_endpoint": "GET /api/v1/veo/record-info",
                    "input_wrapper": None,
                    "model_param": "model",
                    "callback_required": False,
                },
                "suno": {
                    "name": "Suno",
                    "create_endpoint": "POST /api/v1/generate",
                    "other_endpoints": (
                        "POST /api/v1/generate/extend",
                        "POST /api/v1/generate/upload-cover",
                        "POST /api/v1/generate/add-vocals",
                        "POST /api/v1/generate/add-instrumental",
                    ),
                    "record_endpoint": "GET /api/v1/generate/record-info",
                    "input_wrapper": None,
                    "model_param": "model",
                    "callback_required": True,
                },
                "gpt4o_image": {
                    "name": "4o Image",
                    "create_endpoint": "POST /api/v1/gpt4o-image/generate",
                    "record_endpoint": "GET /api/v1/gpt4o-image/record-info",
                    "input_wrapper": None,
                    "model_param": None,
                    "callback_required": False,
                },
                "flux_kontext": {
                    "name": "Flux Kontext",
                    "create_endpoint": "POST /api/v1/flux/kontext/generate",
                    "record_endpoint": "GET /api/v1/flux/kontext/record-info",
                    "input_wrapper": None,
                    "model_param": "model",
                    "callback_required": False,
                },
                "runway": {
                    "name": "Runway",
                    "create_endpoint": "POST /api/v1/runway/generate",
                    "other_endpoints": ("POST /api/v1/runway/extend",),
                    "record_endpoint": "GET /api/v1/runway/record-detail",
                    "input_wrapper": None,
                    "model_param": None,
                    "callback_required": False,
                },
                "aleph": {
                    "name": "Runway Aleph",
                    "create_endpoint": "POST /api/v1/aleph/generate",
                    "record_endpoint": "GET /api/v1/aleph/record-info",
                    "input_wrapper": None,
                    "model_param": None,
                    "callback_required": False,
                },
                # Suno's side APIs, each with a record endpoint of its own (follow-ups of a finished track).
                "suno_wav": {
                    "name": "Suno WAV",
                    "create_endpoint": "POST /api/v1/wav/generate",
                    "record_endpoint": "GET /api/v1/wav/record-info",
                    "input_wrapper": None,
                    "model_param": None,
                    "callback_required": True,
                },
                "suno_vocal_removal": {
                    "name": "Suno stems",
                    "create_endpoint": "POST /api/v1/vocal-removal/generate",
                    "record_endpoint": "GET /api/v1/vocal-removal/record-info",
                    "input_wrapper": None,
                    "model_param": None,
                    "callback_required": True,
                },
                "suno_midi": {
                    "name": "Suno MIDI",
                    "create_endpoint": "POST /api/v1/midi/generate",
                    "record_endpoint": "GET /api/v1/midi/record-info",
                    "input_wrapper": None,
                    "model_param": None,
                    "callback_required": True,
                },
                "suno_mp4": {
                    "name": "Suno music video",
                    "create_endpoint": "POST /api/v1/mp4/generate",
                    "record_endpoint": "GET /api/v1/mp4/record-info",
                    "input_wrapper": None,
                    "model_param": None,
                    "callback_required": False,
                },
                # A mashup is its own Generate-page model, so it has its own create endpoint (the record is Suno's).
                "suno_mashup": {
                    "name": "Suno mashup",
                    "create_endpoint": "POST /api/v1/generate/mashup",
                    "record_endpoint": "GET /api/v1/generate/record-info",
                    "input_wrapper": None,
                    "model_param": "model",
                    "callback_required": True,
                },
                # Replacing a section names the source task and track, and takes no model (Suno's record again).
                "suno_section": {
                    "name": "Suno replace section",
                    "create_endpoint": "POST /api/v1/generate/replace-section",
                    "record_endpoint": "GET /api/v1/generate/record-info",
                    "input_wrapper": None,
                    "model_param": None,
                    "callback_required": False,
                },
                "suno_cover": {
                    "name": "Suno cover art",
                    "create_endpoint": "POST /api/v1/suno/cover/generate",
                    "record_endpoint": "GET /api/v1/suno/cover/record-info",
                    "input_wrapper": None,
                    "model_param": None,
                    "callback_required": False,
                },
            }
        ).items()
    }
)

#: Ways a catalog entry may knowingly differ from Kie's published spec for a field (``docs_differences``).
DOC_ASPECTS: MappingProxyType[str, str] = MappingProxyType(
    {
        "missing": "a documented field the studio does not offer",
        "extra": "a field the studio sends that this spec does not list",
        "type": "a different value type",
        "enum": "a different set of choices",
        "default": "a different default",
        "required": "a different required flag",
        "max_length": "a different text length limit",
        "max_items": "a different list length limit",
        "undocumented": "the docs snapshot has no spec for this model (field '*')",
    }
)

#: Kind of media each model produces.
OUTPUTS: tuple[str, ...] = ("image", "video", "audio")

#: Field types understood by the validator and by forms.
FIELD_TYPES: tuple[str, ...] = (
    "text",
    "string",
    "integer",
    "number",
    "boolean",
    "enum",
    "image_url",
    "image_urls",
    "video_url",
    "video_urls",
    "audio_url",
    "audio_urls",
    "json",
)

#: What one entry of a ``json`` field's list holds (``item_fields``): each sub-field's type. ``text`` is one line,
#: ``textarea`` several; ``choice`` one of ``choices``; ``colour`` ``#RRGGBB``; ``percent`` a share written
#: ``"40.00%"``; ``image_urls`` pictures and ``video_urls`` clips (web addresses, or the studio's uploads); ``box`` four
#: whole numbers (left,
#: top, right, bottom) in pixels.
ITEM_TYPES: tuple[str, ...] = (
    "text",
    "textarea",
    "integer",
    "number",
    "choice",
    "colour",
    "percent",
    "image_urls",
    "video_urls",
    "box",
)
#: How an entry goes on the wire: an object keyed by the sub-fields' names, or a list of their values in order.
ITEM_SHAPES: tuple[str, ...] = ("object", "list")

#: Types whose value is one URL / a list of URLs.
URL_TYPES: frozenset[str] = frozenset({"image_url", "video_url", "audio_url"})
URL_LIST_TYPES: frozenset[str] = frozenset({"image_urls", "video_urls", "audio_urls"})
TEXT_TYPES: frozenset[str] = frozenset({"text", "string"})
NUMERIC_TYPES: frozenset[str] = frozenset({"integer", "number"})

#: One credit is worth this many US dollars (contract section 1.7).
USD_PER_CREDIT = "0.005"


def _choice_text(choice: Any) -> str:
    if isinstance(choice, bool):
        return "Yes" if choice else "No"
    return str(choice)


@dataclass(frozen=True)
class ItemFieldSpec:
    """One sub-field of the entries of a ``json`` list field (a shot's prompt, an element's pictures)."""

    name: str
    type: str
    label: str
    required: bool = False
    help: str = ""
    min: float | int | None = None
    max: float | int | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    choices: tuple[Any, ...] = ()
    #: Display names for ``choices`` (same order); the wire value is the choice.
    choice_labels: tuple[str, ...] = ()
    #: A ``choice`` that Kie also takes as other text (a voice's name): the editor offers the choices, validation
    #: accepts any non-empty text.
    other_choices: bool = False

    def choice_pairs(self) -> tuple[tuple[Any, str], ...]:
        labels = self.choice_labels or tuple(_choice_text(choice) for choice in self.choices)
        return tuple(zip(self.choices, labels, strict=True))


@dataclass(frozen=True)
class FieldSpec:
    """One input of a model, named exactly as Kie expects it on the wire."""

    name: str
    type: str
    label: str
    required: bool = False
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] = ()
    min: float | int | None = None
    max: float | int | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    advanced: bool = False
    #: Optional display names for ``choices`` (same order and length); the wire value is the choice.
    choice_labels: tuple[str, ...] = ()
    #: Shown (and sent) only while other fields have these values: ``{"customMode": true}``; a list allows any of
    #: several values. The form hides the field otherwise, and a value left in a hidden field is not sent.
    shown_when: MappingProxyType[str, Any] | None = dataclass_field(default=None, hash=False, compare=False)
    #: Another name Kie accepts for the field named here (Nano Banana's ``image_size`` for ``aspect_ratio``): kept
    #: for the wire and the docs' conformance, left out of forms and tool schemas.
    alias_of: str = ""
    #: Where a choice can be heard before it is picked (a voice sample): an https address with ``{value}``.
    preview: str = ""
    #: A ``json`` field that is a list of entries of one shape (shots, elements, lines of a dialogue): what each
    #: entry holds. Validation checks every entry; the Generate form shows one row per entry.
    item_fields: tuple[ItemFieldSpec, ...] = ()
    #: What one entry is called, for people ("Shot": "Add shot", "Shot 2: …").
    item_label: str = ""
    #: ``object`` (default: keyed by the sub-fields' names) or ``list`` (their values in order, empty ones left out).
    item_shape: str = "object"

    def is_shown(self, values: Mapping[str, Any]) -> bool:
        """Whether the field applies, given the other fields' values (wire values, or form strings)."""
        return not self.shown_when or condition_matches(self.shown_when, values)

    @property
    def has_default(self) -> bool:
        return self.default is not None

    @property
    def is_list(self) -> bool:
        return self.type in URL_LIST_TYPES

    def choice_pairs(self) -> tuple[tuple[Any, str], ...]:
        """``(value, label)`` for each choice, for building a select box."""
        labels = self.choice_labels or tuple(_choice_text(choice) for choice in self.choices)
        return tuple(zip(self.choices, labels, strict=True))

    def default_value(self) -> Any:
        """The default as a fresh, JSON-ready value (lists are copied)."""
        if isinstance(self.default, tuple):
            return list(self.default)
        return self.default


@dataclass(frozen=True)
class ModelSpec:
    """A model (or model variant) a creator can run, and how to call it."""

    key: str
    model: str | None
    family: str
    kind: str
    output: str
    name: str
    description: str
    endpoint: str
    record_endpoint: str
    typical_seconds: int
    deadline_seconds: int
    prompt_field: str | None
    fields: tuple[FieldSpec, ...]
    price: dict[str, Any]
    rules: tuple[dict[str, Any], ...] = ()
    price_note: str | None = None
    group: str = ""
    #: Follow-ups only: made from an earlier result, never listed on the Generate page.
    followup_only: bool = False
    #: Wire fields filled from the parent at submit time: ``{"taskId": "task_id", "audioId": "audio_id"}``.
    from_parent: MappingProxyType[str, str] = MappingProxyType({})
    #: The wire field that gets the parent's file (uploaded to Kie at submit time), if any.
    parent_media: str | None = None
    #: How it reaches Kie (see ``OPERATIONS``).
    operation: str = "create"
    #: Where this entry knowingly differs from Kie's published field spec: ``{field: {aspect: reason}}``
    #: (``DOC_ASPECTS``; ``"*"`` with ``undocumented`` for a model the docs snapshot has no spec for).
    docs_differences: MappingProxyType[str, MappingProxyType[str, str]] = MappingProxyType({})
    #: When the entry joined the catalog (ISO date); the Generate page marks recent ones "new".
    added: str | None = None
    #: Who makes it (``makers.json``): the Generate page's family chips.
    maker: str = ""

    def __hash__(self) -> int:
        return hash(("ModelSpec", self.key))

    def field(self, name: str) -> FieldSpec:
        """Return the field called ``name``; ``KeyError`` if the model has none."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(f"{self.key} has no field {name!r} (fields: {', '.join(self.field_names) or 'none'})")

    def has_field(self, name: str) -> bool:
        return any(spec.name == name for spec in self.fields)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]

    @property
    def family_name(self) -> str:
        name: str = FAMILIES[self.family]["name"]
        return name

    @property
    def is_estimate(self) -> bool:
        """True when the price is our estimate rather than a figure from Kie's price list."""
        return bool(self.price_note)

    def defaults(self) -> dict[str, Any]:
        """Values used for fields the user leaves empty."""
        return {spec.name: spec.default_value() for spec in self.fields if spec.has_default}
