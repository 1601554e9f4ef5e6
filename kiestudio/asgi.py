"""The ASGI entry point: Django, plus the lifespan events that let live chat replies end cleanly."""

from __future__ import annotations

import os

import django
from asgiref.sync import SyncToAsync
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kiestudio.settings")
django.setup(set_prefix=False)

from kiestudio.chat import relay  # noqa: E402  (needs the apps loaded above)


def _release_request_thread() -> None:
    """Let go of the request's private thread before a long stream starts.

    Under ASGI, Django runs each request's sync parts (every MiddlewareMixin hook) on a thread of its own, kept
    until the response ends. For a reply streamed for minutes that is an idle thread per open stream (tens of KB
    each). Once the response starts streaming, that thread has nothing left to do: shut it down now. Anything
    thread-sensitive later in the request (closing the response) gets a fresh one, as asgiref does on demand.
    """
    context = SyncToAsync.thread_sensitive_context.get(None)
    executors = getattr(SyncToAsync, "context_to_thread_executor", {})
    executor = executors.pop(context, None) if context is not None else None
    if executor is not None:
        executor.shutdown(wait=False)


class StudioASGIHandler(ASGIHandler):
    async def send_response(self, response, send):
        if response.streaming and getattr(response, "is_async", False):
            _release_request_thread()
        await super().send_response(response, send)


django_application = StudioASGIHandler()


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                relay.bind_loop()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # Replies being written here are saved as interrupted, with their text, before the process exits.
                await relay.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
    relay.bind_loop()
    await django_application(scope, receive, send)
