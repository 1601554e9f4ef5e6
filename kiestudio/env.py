"""Typed readers for environment variables.

Every knob in settings goes through one of these helpers. A bad or missing value stops start-up with a
single line naming the variable (a ``SystemExit`` carrying the message, so no traceback is printed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import overload

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class EnvError(SystemExit):
    """Raised for a missing or invalid setting. Python prints the message as one line and exits 1."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        super().__init__(f"Configuration error: {name} {problem}")


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


@overload
def env_str(name: str, default: str, *, required: bool = False) -> str: ...
@overload
def env_str(name: str, default: str | None = None, *, required: bool = False) -> str | None: ...
def env_str(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    value = _raw(name)
    if value is None:
        if required:
            raise EnvError(name, "is required but not set.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise EnvError(name, f"must be true or false, not {value!r}.")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise EnvError(name, f"must be a whole number, not {value!r}.") from None
    if minimum is not None and number < minimum:
        raise EnvError(name, f"must be at least {minimum}, not {number}.")
    if maximum is not None and number > maximum:
        raise EnvError(name, f"must be at most {maximum}, not {number}.")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise EnvError(name, f"must be a number, not {value!r}.") from None
    if minimum is not None and number < minimum:
        raise EnvError(name, f"must be at least {minimum}, not {number}.")
    return number


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


@overload
def env_secret(name: str, default: str, *, required: bool = False) -> str: ...
@overload
def env_secret(name: str, default: str | None = None, *, required: bool = False) -> str | None: ...
def env_secret(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (Docker and systemd secrets)."""
    file_name = _raw(f"{name}_FILE")
    if file_name is not None:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise EnvError(f"{name}_FILE", f"points at a file that can't be read ({exc.strerror}).") from None
    return env_str(name, default, required=required)


@overload
def env_url(name: str, default: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str: ...
@overload
def env_url(name: str, default: str | None = None, *, schemes: tuple[str, ...] = ("http", "https")) -> str | None: ...
def env_url(name: str, default: str | None = None, *, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    value = env_str(name, default)
    if value is None:
        return None
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in schemes or not rest:
        raise EnvError(name, f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}, not {value!r}.")
    return value.rstrip("/")
