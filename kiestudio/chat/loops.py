"""Where replies run: the web server's event loop, or a background one where there is none.

A reply is not tied to the request that asked for it: once the send has committed, its runner (``relay``) is
scheduled here, on the event loop of the web process (bound by the ASGI entry point), or on a loop in a daemon
thread for tests and management commands. ``db_call`` is how a runner reaches the database from that loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async

from kiestudio.core.db import outside_request

_server_loop: asyncio.AbstractEventLoop | None = None
_background: asyncio.AbstractEventLoop | None = None
_background_lock = threading.Lock()


def bind_loop() -> None:
    """Called by the ASGI entry point: replies run on the server's own event loop."""
    global _server_loop
    _server_loop = asyncio.get_running_loop()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _background
    with _background_lock:
        if _background is None or _background.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="chat-relay", daemon=True).start()
            _background = loop
        return _background


def take_background_loop() -> asyncio.AbstractEventLoop | None:
    """Detach the background loop (the next reply off the server starts a new one); the caller stops it."""
    global _background
    with _background_lock:
        loop, _background = _background, None
    return loop


def target_loop() -> asyncio.AbstractEventLoop:
    """The loop replies started now run on."""
    loop = _server_loop
    if loop is not None and loop.is_running() and not loop.is_closed():
        return loop
    return _background_loop()


def call_in_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> None:
    # An empty context: the runner must not inherit the request's thread-sensitive executor or other state.
    contextvars.Context().run(loop.call_soon_threadsafe, fn)


async def db_call[T](fn: Callable[..., T], *args: Any) -> T:
    """Run ORM work on the default executor (never the request's thread: the runner outlives the request)."""
    # Off the server (tests, commands) nothing recycles the executor's connections, so each call closes its own.
    call = outside_request(fn, close=asyncio.get_running_loop() is _background)
    return await sync_to_async(call, thread_sensitive=False)(*args)
