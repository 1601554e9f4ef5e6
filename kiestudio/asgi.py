"""The ASGI entry point: Django with a pool of request threads, and lifespan events for live chat replies."""

from __future__ import annotations

import contextvars
import gc
import os
from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import SyncToAsync, ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kiestudio.settings")
django.setup(set_prefix=False)

from kiestudio.chat import relay  # noqa: E402  (needs the apps loaded above)
from kiestudio.mcp_server.server import handles as mcp_handles  # noqa: E402
from kiestudio.mcp_server.server import mcp_app  # noqa: E402
from kiestudio.studio.apps import _say_when_callbacks_cannot_arrive  # noqa: E402

_lent: contextvars.ContextVar[list[ThreadPoolExecutor] | None] = contextvars.ContextVar("lent", default=None)


class StudioASGIHandler(ASGIHandler):
    """Django's ASGI handler, with each request's sync part run in one go on a thread from a pool.

    Stock Django starts a new thread for every request (and another to join it), and its database connection
    dies with it. Here a request borrows one of ``WEB_THREADS`` long-lived threads (each runs one request's sync
    code at a time, as a WSGI thread would), so threads and connections are reused. Past that many concurrent
    requests, a request gets a thread of its own as usual.

    A response that streams (a chat reply, for minutes) gives its thread back as soon as streaming starts:
    nothing of it runs in that thread any more, and an idle thread per open stream would cost tens of KB each.
    """

    def __init__(self, threads: int) -> None:
        super().__init__()
        self._free = [ThreadPoolExecutor(max_workers=1, thread_name_prefix="request") for _ in range(threads)]

    def load_middleware(self, is_async: bool = False) -> None:
        # The sync chain, as under WSGI: middleware and sync views run in one go on the request's thread, instead
        # of hopping between that thread and the event loop at every middleware boundary. Async views (the chat
        # stream) still run on the event loop, and so do all streamed responses.
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self._free:
            return await super().__call__(scope, receive, send)
        lent = [self._free.pop()]
        token = _lent.set(lent)
        try:
            async with ThreadSensitiveContext(executor=lent[0]):
                await self.handle(scope, receive, send)
        finally:
            _lent.reset(token)
            self._free.extend(lent)

    async def send_response(self, response, send):
        if response.streaming and getattr(response, "is_async", False):
            self._release_thread()
        await super().send_response(response, send)

    def _release_thread(self) -> None:
        lent = _lent.get()
        if lent:
            # Back to the pool now; a late thread-sensitive call of this request (closing the response) still
            # runs on it, between other requests' calls, as calls on one thread always are.
            self._free.extend(lent)
            lent.clear()
            return
        # A thread of its own (stock Django): shut it down; asgiref starts a fresh one if anything needs it.
        context = SyncToAsync.thread_sensitive_context.get(None)
        executor = SyncToAsync.context_to_thread_executor.pop(context, None) if context is not None else None
        if executor is not None:
            executor.shutdown(wait=False)


django_application = StudioASGIHandler(settings.WEB_THREADS)

# Everything loaded so far lives as long as the process: keep it out of the collector's way, and collect the
# young generation less often (a request allocates thousands of objects; each collection pauses the loop).
gc.freeze()
gc.set_threshold(10_000, 20, 20)


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                relay.bind_loop()
                _say_when_callbacks_cannot_arrive()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # Replies being written here are saved as interrupted, with their text, before the process exits.
                await relay.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
    relay.bind_loop()
    if scope["type"] == "http" and mcp_handles(scope["path"]):
        await mcp_app(scope, receive, send)  # the MCP server (streamable HTTP), for desktop assistants
        return
    await django_application(scope, receive, send)
