"""References: the pictures, video clips and sounds a creator gives a model. Each is checked by its content before
anything is stored (Pillow for pictures, PyAV for clips and sounds), against the limits Kie documents for the model
and input it is for; the same checks run again when a job is sent, for a reference picked from earlier uploads."""

from __future__ import annotations

import dataclasses
import io
import os
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.files.base import ContentFile, File
from django.core.files.uploadedfile import UploadedFile

from kiestudio.kie.catalog import ModelSpec, UnknownModel, get_model
from kiestudio.uploads import media
from kiestudio.uploads.models import Reference

MB = 1024 * 1024
MAX_REFERENCE_BYTES = 10 * MB  # pictures

# What a catalog field of each media type takes.
FIELD_KINDS = {
    "image_url": "image",
    "image_urls": "image",
    "video_url": "video",
    "video_urls": "video",
    "audio_url": "audio",
    "audio_urls": "audio",
}
FORMAT_NAMES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WebP",
    "image/gif": "GIF",
    "video/mp4": "MP4",
    "video/quicktime": "MOV",
    "video/x-matroska": "MKV",
    "video/webm": "WebM",
    "audio/mpeg": "MP3",
    "audio/wav": "WAV",
    "audio/aac": "AAC",
    "audio/mp4": "M4A",
    "audio/ogg": "OGG",
    "audio/flac": "FLAC",
    "audio/webm": "WebM",
    "audio/x-matroska": "MKA",
}
EXTENSIONS = {
    "image/jpeg": ".jpg,.jpeg",
    "image/png": ".png",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/x-matroska": ".mkv",
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "audio/aac": ".aac",
    "audio/mp4": ".m4a",
    "audio/ogg": ".ogg",
}
# For messages: "a video", "videos", and what a chip is called.
NOUNS = {
    "image": ("a picture", "pictures", "reference image"),
    "video": ("a video", "videos", "video clip"),
    "audio": ("a sound file", "sound files", "sound"),
}


class UploadRejected(Exception):
    """The upload was refused before anything was stored or sent. The message is safe to show."""


@dataclass(frozen=True)
class MediaRules:
    """What one input takes: formats, size and length. ``owner`` names the model whose documented limits these are
    (empty for the studio's defaults), so a refusal can say whose limit it is."""

    kind: str
    max_bytes: int
    formats: tuple[str, ...]
    min_seconds: float | None = None
    max_seconds: float | None = None
    max_total_seconds: float | None = None  # all the clips of a list input together
    owner: str = ""

    @property
    def format_names(self) -> str:
        return _either([FORMAT_NAMES[f] for f in self.formats])

    @property
    def accept(self) -> str:
        """The file box's ``accept``: types and extensions (some browsers report no type for MKV or M4A)."""
        return ",".join([*self.formats, *(EXTENSIONS[f] for f in self.formats if f in EXTENSIONS)])

    def summary(self) -> str:
        """The limits in a few words, for the upload box: "MP4 or MOV · up to 50 MB · 2–15 s long"."""
        parts = [self.format_names, f"up to {_size(self.max_bytes)}"]
        if self.min_seconds and self.max_seconds and self.max_seconds < 60:
            parts.append(f"{self.min_seconds:g}–{self.max_seconds:g} s long")
        elif self.min_seconds and self.max_seconds:
            parts.append(f"{_seconds(self.min_seconds)} to {_seconds(self.max_seconds)} long")
        elif self.max_seconds:
            parts.append(f"up to {_seconds(self.max_seconds)} long")
        if self.max_total_seconds:
            parts.append(f"{_seconds(self.max_total_seconds)} in all")
        return " · ".join(parts)

    def _whose(self) -> str:
        return f"{self.owner} takes" if self.owner else "the studio takes"

    def size_problem(self, size: int, name: str) -> str:
        return (
            f"{name} is {_size(size, exact=True)}; {self._whose()} {NOUNS[self.kind][1]} up to {_size(self.max_bytes)}."
        )

    def problem(self, *, kind: str, mime_type: str, size: int, duration: float | None, name: str) -> str | None:
        """Why this file doesn't fit, in a sentence that names the limit; None when it fits."""
        one, many, _ = NOUNS[self.kind]
        if kind != self.kind:
            return f"{name} is {NOUNS.get(kind, ('another kind of file',))[0]}; this takes {one}."
        if size > self.max_bytes:
            return self.size_problem(size, name)
        if mime_type not in self.formats:
            what = FORMAT_NAMES.get(mime_type, mime_type)
            return f"{name} is a {what} file; {self._whose()} {self.format_names} {many}."
        if self.kind == "image":
            return None
        if duration is None:
            if self.min_seconds or self.max_seconds:
                what = name if name.startswith("“") else f"this {NOUNS[self.kind][2]}"
                return f"The length of {what} can't be read; save it again as {self.format_names} and retry."
            return None
        too_short = self.min_seconds is not None and duration < self.min_seconds
        too_long = self.max_seconds is not None and duration > self.max_seconds
        if too_short or too_long:
            if self.min_seconds and self.max_seconds:
                limit = f"between {_seconds(self.min_seconds)} and {_seconds(self.max_seconds)} long"
            elif self.max_seconds:
                limit = f"up to {_seconds(self.max_seconds)} long"
            else:
                limit = f"at least {_seconds(self.min_seconds or 0)} long"
            return f"{name} is {_seconds(duration, exact=True)} long; {self._whose()} {many} {limit}."
        return None

    def total_problem(self, durations: list[float | None]) -> str | None:
        if not self.max_total_seconds or len(durations) < 2:
            return None
        total = sum(d or 0 for d in durations)
        if total > self.max_total_seconds:
            _, many, _ = NOUNS[self.kind]
            return (
                f"Together these {many} are {_seconds(total, exact=True)} long; "
                f"{self._whose()} {_seconds(self.max_total_seconds)} in all."
            )
        return None


DEFAULT_RULES = {
    "image": MediaRules("image", MAX_REFERENCE_BYTES, ("image/jpeg", "image/png", "image/webp")),
    # Kie's file upload takes up to 100 MB; its video models take short clips (seconds to a few minutes).
    "video": MediaRules("video", 100 * MB, ("video/mp4", "video/quicktime", "video/x-matroska"), max_seconds=300),
    # Most of Kie's voice and sound inputs say 10 MB; the formats are the ones they all list.
    "audio": MediaRules(
        "audio", 10 * MB, ("audio/mpeg", "audio/wav", "audio/aac", "audio/mp4", "audio/ogg"), max_seconds=600
    ),
}

# Where Kie's docs for a model's input say otherwise: (Kie's model id, or our key for the family APIs, field).
MODEL_RULES: dict[tuple[str, str], dict[str, Any]] = {
    ("topaz/video-upscale", "video_url"): {"max_bytes": 50 * MB},
    ("wan/2-6-video-to-video", "video_urls"): {"max_bytes": 10 * MB},
    ("bytedance/seedance-2", "reference_video_urls"): {
        "max_bytes": 50 * MB,
        "formats": ("video/mp4", "video/quicktime"),
        "min_seconds": 2,
        "max_seconds": 15,
        "max_total_seconds": 15,
    },
    ("bytedance/seedance-2", "reference_audio_urls"): {
        "max_bytes": 15 * MB,
        "formats": ("audio/mpeg", "audio/wav"),
        "min_seconds": 2,
        "max_seconds": 15,
        "max_total_seconds": 15,
    },
    ("kling-2.6/motion-control", "video_urls"): {"min_seconds": 3, "max_seconds": 30},
    ("kling/ai-avatar-standard", "audio_url"): {"max_bytes": 100 * MB, "max_seconds": 300},
    # An element's pictures, inside Kling 3.0's list of elements: "JPG/PNG, up to 10 MB each".
    ("kling-3.0/video", "kling_elements-element_input_urls"): {"formats": ("image/jpeg", "image/png")},
}


def item_input_name(field_name: str, sub_name: str) -> str:
    """The name a picture box inside the entries of a json field goes by (an element's pictures): the field's and
    the sub-field's names, joined by a hyphen (no catalog name has one)."""
    return f"{field_name}-{sub_name}"


def _input_kind(spec: ModelSpec, field_name: str) -> str | None:
    """The kind of file an input takes: a media field's own, or "image" for the pictures of a json field's entries
    (``item_input_name``); None for anything else."""
    name, _, sub_name = field_name.partition("-")
    if not spec.has_field(name):
        return None
    field = spec.field(name)
    if not sub_name:
        return FIELD_KINDS.get(field.type)
    sub = next((item for item in field.item_fields if item.name == sub_name), None)
    return FIELD_KINDS.get(sub.type) if sub is not None and sub.type in ("image_urls", "video_urls") else None


def rules_for(kind: str, spec: ModelSpec | str | None = None, field_name: str | None = None) -> MediaRules:
    """The rules for an input of ``spec`` (a model or its key), or the studio's defaults for ``kind``."""
    rules = DEFAULT_RULES[kind]
    if isinstance(spec, str):
        try:
            spec = get_model(spec)
        except UnknownModel:
            spec = None
    if spec is None or not field_name or _input_kind(spec, field_name) != kind:
        return rules
    changes = MODEL_RULES.get((spec.model or spec.key, field_name))
    return dataclasses.replace(rules, owner=spec.name, **changes) if changes else rules


class StoredMedia(Protocol):
    """A stored file that can be checked against an input's rules: a reference, or a studio result (Asset)."""

    kind: str
    mime_type: str
    size: int
    duration: float | None

    @property
    def display_label(self) -> str: ...


def reference_problem(reference: StoredMedia, rules: MediaRules, name: str | None = None) -> str | None:
    return rules.problem(
        kind=reference.kind,
        mime_type=reference.mime_type,
        size=reference.size,
        duration=reference.duration,
        name=name or display_name(reference),
    )


def display_name(item: StoredMedia) -> str:
    label = item.display_label
    return f"“{label}”" if label else f"This {NOUNS[item.kind][2]}" if item.kind in NOUNS else "This file"


def reference_create(
    *, workspace, user, upload: UploadedFile, kind: str = "image", rules: MediaRules | None = None
) -> Reference:
    rules = rules or DEFAULT_RULES[kind]
    label = _label(upload.name)
    name = f"“{label}”" if label else f"That {NOUNS[kind][2]}"
    if upload.size is not None and upload.size > rules.max_bytes:
        raise UploadRejected(rules.size_problem(upload.size, name))
    if kind == "image":
        data = upload.read(rules.max_bytes + 1)
        if len(data) > rules.max_bytes:
            raise UploadRejected(f"That image is larger than the {_size(rules.max_bytes)} limit.")
        return reference_from_bytes(workspace=workspace, user=user, data=data, label=label)
    fh = upload.file
    assert fh is not None  # an uploaded file always has one
    try:
        probe = media.probe_clip(fh)
    except media.MediaError as exc:
        raise UploadRejected(f"{exc} {NOUNS[kind][1].capitalize()} must be {rules.format_names}.") from exc
    size = upload.size if upload.size is not None else _length(fh)
    problem = rules.problem(kind=probe.kind, mime_type=probe.mime_type, size=size, duration=probe.duration, name=name)
    if problem:
        raise UploadRejected(problem)
    return _store_clip(workspace=workspace, user=user, fh=fh, probe=probe, size=size, label=label)


def reference_from_bytes(*, workspace, user, data: bytes, label: str = "", source_asset: Any = None) -> Reference:
    try:
        info = media.probe_image(io.BytesIO(data), allowed=media.REFERENCE_FORMATS)
    except media.MediaError as exc:
        raise UploadRejected(f"{exc} Reference images must be JPEG, PNG or WebP.") from exc
    reference = Reference(
        workspace=workspace,
        created_by=user,
        kind=Reference.Kind.IMAGE,
        label=label,
        mime_type=info.mime_type,
        size=len(data),
        width=info.width or 0,
        height=info.height or 0,
        source_asset=source_asset,
    )
    reference.file.save(f"ref-{uuid.uuid4().hex[:12]}.{info.extension}", ContentFile(data), save=False)
    reference.save()
    return reference


def reference_from_asset_file(*, asset: Any, user, rules: MediaRules | None = None) -> Reference:
    """A copy of one of the workspace's results to use as a reference (Kie is sent our copy, never its own old
    link). The copy is checked like an upload: against the rules of the input it is picked for, or the studio's."""
    rules = rules if rules is not None and rules.kind == asset.kind else DEFAULT_RULES[asset.kind]
    label = asset.display_label
    name = f"“{label}”" if label else f"This {NOUNS[asset.kind][2]}"
    if asset.size > rules.max_bytes:
        raise UploadRejected(rules.size_problem(asset.size, name))
    with asset.file.open("rb") as fh:
        if asset.kind == "image":
            return reference_from_bytes(
                workspace=asset.workspace, user=user, data=fh.read(), label=label, source_asset=asset
            )
        try:
            probe = media.probe_clip(fh)
        except media.MediaError as exc:
            raise UploadRejected(f"{exc} It can't be used here.") from exc
        problem = rules.problem(
            kind=probe.kind, mime_type=probe.mime_type, size=asset.size, duration=probe.duration, name=name
        )
        if problem:
            raise UploadRejected(problem)
        return _store_clip(
            workspace=asset.workspace, user=user, fh=fh, probe=probe, size=asset.size, label=label, source_asset=asset
        )


def _store_clip(*, workspace, user, fh, probe: media.Probe, size: int, label: str, source_asset=None) -> Reference:
    reference = Reference(
        workspace=workspace,
        created_by=user,
        kind=probe.kind,
        label=label,
        mime_type=probe.mime_type,
        size=size,
        width=probe.width,
        height=probe.height,
        duration=probe.duration,
        source_asset=source_asset,
    )
    stem = f"ref-{uuid.uuid4().hex[:12]}"
    if probe.kind == "video":
        poster = media.video_poster(fh)
        if poster:
            reference.poster.save(f"{stem}-poster.webp", ContentFile(poster), save=False)
    fh.seek(0)
    reference.file.save(f"{stem}.{probe.extension}", File(fh), save=False)
    reference.save()
    return reference


def _label(file_name: str | None) -> str:
    """The name the creator's file had, for its chip: no folders, no control characters, at most 120 characters."""
    name = os.path.basename((file_name or "").replace("\\", "/"))
    return "".join(ch for ch in name if ch.isprintable()).strip()[:120]


def _length(fh) -> int:
    position = fh.tell()
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    fh.seek(position)
    return size


def _size(size: int, *, exact: bool = False) -> str:
    return f"{size / MB:.1f} MB" if exact else f"{size / MB:g} MB"


def _seconds(seconds: float, *, exact: bool = False) -> str:
    if exact:
        return f"{seconds:.1f} s" if seconds < 60 else clock(seconds)
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds:g} s"


def clock(seconds: float | str | None) -> str:
    """0:05, 3:20, 1:02:03."""
    if seconds is None:  # no length known (or, in a template, no file yet)
        return ""
    try:
        total = max(0, round(float(seconds)))
    except (TypeError, ValueError):  # no length known (or, in a template, no file yet)
        return ""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
