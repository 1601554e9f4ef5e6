"""Prompt templates: a prompt with ``{variables}`` (``{subject}``, or ``{style=watercolour}`` with a default).

Pure Python. A saved prompt with variables is a template: the library lists its variables, and a batch fills them
from a pasted list or a CSV, one row per generation (``kiestudio.batches.rows``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

VARIABLE = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_ ]{0,39}?)\s*(?:=([^{}]{0,200}))?\}")


@dataclass(frozen=True)
class Variable:
    name: str
    default: str | None  # None: every row must give a value


def template_variables(template: str) -> list[Variable]:
    """The ``{name}`` and ``{name=default}`` placeholders of a template, in order, each once."""
    found: dict[str, Variable] = {}
    for match in VARIABLE.finditer(template):
        name = variable_key(match[1])
        if name not in found:
            found[name] = Variable(name, match[2].strip() if match[2] is not None else None)
    return list(found.values())


def variable_key(name: str) -> str:
    """A variable's or column's name as compared: case and spaces don't matter ("Subject " is "subject")."""
    return "_".join(name.lower().split())


def fill(template: str, values: dict[str, str]) -> str:
    """The template with each variable replaced by the row's value, else its default (callers check first)."""

    def one(match: re.Match[str]) -> str:
        value = values.get(variable_key(match[1]), "")
        return value if value != "" else (match[2] or "").strip()

    return " ".join(VARIABLE.sub(one, template).split())
