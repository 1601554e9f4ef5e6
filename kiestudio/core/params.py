"""The one place request data becomes ids, numbers, dates, UUIDs and JSON.

Every parser accepts ASCII only (``"²".isdigit()`` and ``"١٢".isdigit()`` are true, but neither is an id here),
bounds numbers to the database's signed 64-bit integers and dates to a sane range, and raises ``BadParameter``
for anything else. ``BadParameter`` is Django's ``BadRequest``: raised in a view it answers 400; a form or a
filter catches it and shows the message instead. Nothing malformed reaches the ORM, so no lookup overflows.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import BadRequest

DB_INT_MIN = -(2**63)
DB_INT_MAX = 2**63 - 1
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)
MAX_IDS = 500
JSON_MAX_DEPTH = 32
JSON_MAX_BYTES = 1_000_000

_INTEGER = re.compile(r"[+-]?[0-9]{1,19}", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}", re.ASCII)
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class BadParameter(BadRequest, ValueError):
    """A value in a request that isn't what it must be; the message names it and is safe to show."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


class BadJSON(BadParameter):
    """Not JSON, or JSON nested deeper or larger than the limit."""


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # a bool is an int to Python, never an id to us
        raise TypeError("not a number")
    return str(value).strip()


def parse_int(value: object, *, name: str = "number", minimum: int = DB_INT_MIN, maximum: int = DB_INT_MAX) -> int:
    """A whole number written in ASCII digits (an optional sign), within ``minimum``..``maximum``."""
    try:
        text = _text(value)
    except TypeError:
        text = ""
    if not _INTEGER.fullmatch(text):
        raise BadParameter(name, f"The {name} must be a whole number.")
    number = int(text)
    if not max(minimum, DB_INT_MIN) <= number <= min(maximum, DB_INT_MAX):
        raise BadParameter(name, f"The {name} is out of range.")
    return number


def parse_id(value: object, *, name: str = "id") -> int:
    """A row's id: ASCII digits, 1..2**63-1."""
    try:
        text = _text(value)
    except TypeError:
        text = ""
    if not text or not text.isascii() or not text.isdigit():
        raise BadParameter(name, f"The {name} must be a positive whole number.")
    return parse_int(text, name=name, minimum=1)


def parse_optional_id(value: object, *, name: str = "id") -> int | None:
    """``parse_id``, but blank (or missing) is None."""
    return None if value is None or str(value).strip() == "" else parse_id(value, name=name)


def parse_ids(values: Iterable[object], *, name: str = "ids", max_items: int = MAX_IDS) -> list[int]:
    """A list of ids (one per form value), in order, without repeats."""
    values = list(values)
    if len(values) > max_items:
        raise BadParameter(name, f"Choose at most {max_items} at a time.")
    return list(dict.fromkeys(parse_id(value, name=name) for value in values))


def parse_decimal(value: object, *, name: str = "number") -> Decimal:
    """A decimal number written in ASCII digits with an optional point (no exponent, no NaN or infinity)."""
    text = "" if value is None else str(value).strip()
    if not _DECIMAL.fullmatch(text):
        raise BadParameter(name, f"The {name} must be a number.")
    return Decimal(text)


def is_id(value: object) -> bool:
    """Whether ``value`` is written as an id (see ``parse_id``)."""
    try:
        parse_id(value)
    except BadParameter:
        return False
    return True


def parse_date(
    value: object, *, name: str = "date", earliest: date = EARLIEST_DATE, latest: date = LATEST_DATE
) -> date:
    """A calendar date written YYYY-MM-DD, between ``earliest`` and ``latest``."""
    text = "" if value is None else str(value).strip()
    if not _DATE.fullmatch(text):
        raise BadParameter(name, f"The {name} must be a date written YYYY-MM-DD.")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadParameter(name, f"The {name} isn't a real date.") from None
    if not earliest <= day <= latest:
        raise BadParameter(name, f"The {name} must be between {earliest.isoformat()} and {latest.isoformat()}.")
    return day


def parse_optional_date(value: object, *, name: str = "date", **bounds: date) -> date | None:
    return None if value is None or str(value).strip() == "" else parse_date(value, name=name, **bounds)


def parse_uuid(value: object, *, name: str = "token") -> uuid.UUID:
    text = "" if value is None else str(value).strip()
    if not _UUID.fullmatch(text):
        raise BadParameter(name, f"The {name} is malformed.")
    return uuid.UUID(text)


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text`` (strings are skipped, so brackets inside them don't count)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    depth = deepest = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def parse_json(
    text: str | bytes | None,
    *,
    name: str = "JSON",
    max_depth: int = JSON_MAX_DEPTH,
    max_bytes: int = JSON_MAX_BYTES,
    empty: Any = None,
) -> Any:
    """JSON from a form or a request body, refused (``BadJSON``) when malformed, larger than ``max_bytes`` or
    nested deeper than ``max_depth``: checked before decoding, so no input can exhaust the parser's stack."""
    if text is None:
        text = ""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise BadJSON(name, f"The {name} is too large (at most {max_bytes:,} bytes).")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise BadJSON(name, f"The {name} isn't UTF-8 text.") from None
    if not text.strip():
        if empty is not None:
            return empty
        raise BadJSON(name, f"The {name} is empty.")
    if json_depth(text) > max_depth:
        raise BadJSON(name, f"The {name} is nested too deeply (at most {max_depth} levels).")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BadJSON(name, f"Enter valid {name}.") from None
