"""The ASGI entry point: Django, plus the lifespan events that let live chat replies end cleanly."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kiestudio.settings")

django_application = get_asgi_application()

from kiestudio.chat import relay  # noqa: E402  (needs the apps loaded above)


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
