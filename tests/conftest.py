from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator

import pytest

# Playwright's sync API runs an event loop in the main thread; Django's async-safety check would refuse every
# ORM call made from a test body. Only the test process sets this, never the settings.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    browser_items = [item for item in items if "page" in getattr(item, "fixturenames", ())]
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
    if browser_items and not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if os.environ.get("CI"):
            raise pytest.UsageError(
                f"CI is set but Chromium was not found at {CHROMIUM}: browser tests must run in CI "
                "(install the Debian package `chromium`)."
            )
        skip = pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM}; install the Debian package `chromium`.")
        for item in browser_items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--disable-dev-shm-usage",
        ],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def asgi_live_server(transactional_db) -> Iterator[str]:
    """The real ASGI app under uvicorn in a thread (pytest-django's live_server is WSGI and buffers streams)."""
    import uvicorn
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.core.asgi import get_asgi_application

    port = free_port()
    config = uvicorn.Config(
        ASGIStaticFilesHandler(get_asgi_application()),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("The ASGI test server did not start.")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def make_user(db):
    from kiestudio.accounts.models import User
    from kiestudio.workspaces.services import workspace_create_personal

    def make(email: str, *, personal: bool = True) -> User:
        user = User.objects.create_user(email=email, password=PASSWORD)
        if personal:
            workspace_create_personal(user=user)
        return user

    return make


@pytest.fixture
def alice(make_user):
    """Owns her personal workspace."""
    return make_user("alice@example.com")


@pytest.fixture
def charlie(make_user):
    """An outsider with a workspace of his own."""
    return make_user("charlie@example.com")
