"""Field values as the catalog compares them: the key a value has in price tables and rule conditions, whether
a value counts as given, whether a ``when`` condition holds, and whether text is a web address Kie can fetch.

The lowest layer of the catalog: ``specs`` (``FieldSpec.is_shown``), ``pricing`` and ``validation`` all build on it,
and it imports none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

__all__ = ["as_list", "condition_matches", "is_empty", "is_http_url", "price_key"]


def price_key(value: Any) -> str:
    """Normalise a field value to the string used as a key in price tables and rule conditions."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        number = Decimal(str(value))
        if number == number.to_integral_value():
            return str(int(number))
        return format(number.normalize(), "f")
    if isinstance(value, list | tuple | dict) and not value:
        return ""
    return str(value)


def is_empty(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, list | tuple | dict | set) and not value)
    )


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def condition_matches(when: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """``when`` maps field -> value | [values] | null (absent) | {"present": bool} | {"not": value(s)}."""
    for name, expected in when.items():
        present = name in values and not is_empty(values[name])
        if expected is None:
            if present:
                return False
        elif isinstance(expected, Mapping):
            if "present" in expected and present != bool(expected["present"]):
                return False
            if "not" in expected and present:
                banned = {price_key(item) for item in as_list(expected["not"])}
                if price_key(values[name]) in banned:
                    return False
        elif not present or price_key(values[name]) not in {price_key(item) for item in as_list(expected)}:
            return False
    return True


def is_http_url(url: str) -> bool:
    """An ``http(s)://`` address with a host and no whitespace."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(ch.isspace() for ch in url)
