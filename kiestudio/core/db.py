"""Database work from threads that no request owns (a live reply, a stream's lookups)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db import close_old_connections, connections


def outside_request[T](fn: Callable[..., T], *, close: bool = False) -> Callable[..., T]:
    """Wrap ``fn`` for an executor thread: recycle a stale connection first, and afterwards close it when
    connections are not meant to persist (``CONN_MAX_AGE`` 0, or ``close``), as the end of a request would."""

    @wraps(fn)
    def call(*args: Any, **kwargs: Any) -> T:
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            if close or not connections["default"].settings_dict.get("CONN_MAX_AGE"):
                connections.close_all()

    return call
