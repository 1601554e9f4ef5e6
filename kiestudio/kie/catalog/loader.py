"""Read ``data/*.json`` into a :class:`Catalog` of :class:`ModelSpec` objects, checking the data."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path

from .entries import MODEL_KEYS_OPTIONAL, MODEL_KEYS_REQUIRED, build_model
from .errors import CatalogError, UnknownModel
from .fields import FIELD_KEYS_OPTIONAL, FIELD_KEYS_REQUIRED, build_field
from .specs import FAMILIES, KINDS, ModelSpec

# The entry checks live in .entries (models) and .fields (fields); their names stay importable from here.
__all__ = [
    "DATA_FILES",
    "FIELD_KEYS_OPTIONAL",
    "FIELD_KEYS_REQUIRED",
    "MODEL_KEYS_OPTIONAL",
    "MODEL_KEYS_REQUIRED",
    "Catalog",
    "build_field",
    "build_model",
    "get_model",
    "load_catalog",
    "load_makers",
    "maker_of",
    "parse_catalog",
    "read_catalog",
]

#: Data files in display order; any other ``*.json`` file in ``data/`` follows alphabetically.
DATA_FILES: tuple[str, ...] = (
    "images.json",
    "gpt4o_image.json",
    "flux_kontext.json",
    "image_tools.json",
    "veo.json",
    "video.json",
    "runway.json",
    "audio.json",
    "suno.json",
)


class Catalog:
    """All models, in a stable display order (kind, then data file, then position in the file)."""

    def __init__(self, models: Iterable[ModelSpec]):
        self._models = tuple(models)
        self._by_key: dict[str, ModelSpec] = {}
        for spec in self._models:
            if spec.key in self._by_key:
                raise CatalogError([f"duplicate model key {spec.key!r}"])
            self._by_key[spec.key] = spec

    @property
    def models(self) -> tuple[ModelSpec, ...]:
        return self._models

    @property
    def originals(self) -> tuple[ModelSpec, ...]:
        """Models the Generate page offers (follow-up-only entries are reached from a result instead)."""
        return tuple(spec for spec in self._models if not spec.followup_only)

    def get(self, key: str) -> ModelSpec:
        try:
            return self._by_key[key]
        except (KeyError, TypeError):
            raise UnknownModel(key, tuple(self._by_key)) from None

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)

    def keys(self) -> tuple[str, ...]:
        return tuple(spec.key for spec in self._models)

    def by_kind(self, kind: str) -> tuple[ModelSpec, ...]:
        if kind not in KINDS:
            raise ValueError(f"Unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        return tuple(spec for spec in self._models if spec.kind == kind)

    def by_family(self, family: str) -> tuple[ModelSpec, ...]:
        if family not in FAMILIES:
            raise ValueError(f"Unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
        return tuple(spec for spec in self._models if spec.family == family)

    def by_model(self, family: str, model: str | None) -> tuple[ModelSpec, ...]:
        """Entries that send this Kie ``model`` value in ``family`` (a model may back several entries)."""
        return tuple(spec for spec in self._models if spec.family == family and spec.model == model)

    def kinds(self) -> tuple[str, ...]:
        """Kinds that have at least one model, in ``KINDS`` order."""
        present = {spec.kind for spec in self._models}
        return tuple(kind for kind in KINDS if kind in present)

    def families(self) -> tuple[str, ...]:
        present = {spec.family for spec in self._models}
        return tuple(family for family in FAMILIES if family in present)

    def makers(self, *, originals: bool = True) -> tuple[tuple[str, str], ...]:
        """``(key, name)`` of the makers that have a model (on the Generate page, with ``originals``)."""
        models = self.originals if originals else self._models
        present = {spec.maker for spec in models}
        return tuple((key, name) for key, name, _ in load_makers() if key in present)

    def __repr__(self) -> str:
        return f"<Catalog of {len(self)} models>"


@functools.cache
def load_catalog() -> Catalog:
    """The catalog shipped in ``kiestudio/kie/catalog/data`` (read and checked once, then cached)."""
    data = resources.files(__package__).joinpath("data")
    files = {item.name: item.read_text(encoding="utf-8") for item in data.iterdir() if item.name.endswith(".json")}
    return parse_catalog(files)


def get_model(key: str) -> ModelSpec:
    """Shortcut for ``load_catalog().get(key)``."""
    return load_catalog().get(key)


def read_catalog(directory: str | Path) -> Catalog:
    """Read and check a catalog from another directory of JSON files (not cached)."""
    path = Path(directory)
    return parse_catalog({item.name: item.read_text(encoding="utf-8") for item in sorted(path.glob("*.json"))})


def parse_catalog(files: Mapping[str, str]) -> Catalog:
    """Build a catalog from ``{file name: JSON text}``; raises :class:`CatalogError` listing every problem."""
    order = {name: index for index, name in enumerate(DATA_FILES)}
    names = sorted(files, key=lambda name: (order.get(name, len(order)), name))
    problems: list[str] = []
    entries: list[tuple[int, int, int, ModelSpec]] = []
    seen: dict[str, str] = {}
    for file_index, name in enumerate(names):
        try:
            document = json.loads(files[name])
        except ValueError as exc:
            problems.append(f"{name}: invalid JSON ({exc})")
            continue
        if not isinstance(document, dict) or not isinstance(document.get("models"), list):
            problems.append(f"{name}: expected an object with a 'models' list")
            continue
        group = name.removesuffix(".json")
        for position, raw in enumerate(document["models"]):
            where = f"{name}[{position}]" + (f" ({raw.get('key')})" if isinstance(raw, dict) else "")
            spec, found = build_model(raw, where, group)
            problems += found
            if spec is None:
                continue
            if spec.key in seen:
                problems.append(f"{where}: key {spec.key!r} is already used in {seen[spec.key]}")
                continue
            seen[spec.key] = name
            entries.append((list(KINDS).index(spec.kind), file_index, position, spec))
    makers = load_makers()
    for index, (kind_order, file_order, position, spec) in enumerate(entries):
        # A key no maker claims gets none (tests/catalog checks that every shipped model has one).
        made = dataclasses.replace(spec, maker=maker_of(spec.key, makers) or "")
        entries[index] = (kind_order, file_order, position, made)
    if problems:
        raise CatalogError(problems)
    entries.sort(key=lambda entry: entry[:3])
    return Catalog(entry[3] for entry in entries)


@functools.cache
def load_makers() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """``(key, name, prefixes)`` for every maker, in display order (``makers.json``)."""
    raw = json.loads(resources.files(__package__).joinpath("makers.json").read_text(encoding="utf-8"))
    return tuple((m["key"], m["name"], tuple(m["prefixes"])) for m in raw["makers"])


def maker_of(key: str, makers: tuple[tuple[str, str, tuple[str, ...]], ...] | None = None) -> str | None:
    for maker, _, prefixes in makers if makers is not None else load_makers():
        if key.startswith(prefixes):
            return maker
    return None
