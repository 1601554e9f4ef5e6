"""Health checks that features contribute to ``/healthz`` and to the worker supervisor.

``core`` sits below the features, so it can't import them: a feature registers its check when its app is
ready (``kiestudio.studio`` registers ``jobs``: is background work moving?). A check returns a dict with at
least ``ok`` (bool) and, when not ok, ``reason``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[], dict[str, Any]]

_checks: dict[str, Check] = {}


def health_register(name: str, check: Check) -> None:
    _checks[name] = check


def health_run(name: str) -> dict[str, Any] | None:
    """The named check's answer, or None when no app registered it."""
    check = _checks.get(name)
    return None if check is None else check()


def health_names() -> list[str]:
    return sorted(_checks)
