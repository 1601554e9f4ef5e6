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
    # A browser test asks for a page, or for the browser or a context to open its own pages.
    browser_items = [item for item in items if {"page", "browser", "context"} & set(getattr(item, "fixturenames", ()))]
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
    # Playwright's sync API keeps an event loop running in the main thread once it starts, which breaks
    # asyncio.run() in any later test; so browser tests run last.
    items[:] = [item for item in items if item not in browser_items] + browser_items
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
    """The studio's ASGI app under uvicorn in a thread (pytest-django's live_server is WSGI and buffers streams)."""
    import uvicorn
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from kiestudio.asgi import application

    port = free_port()
    config = uvicorn.Config(
        ASGIStaticFilesHandler(application),
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


@pytest.fixture(scope="session", autouse=True)
def _stop_chat_relay():
    """Replies started outside a server run on a background loop: finish it before the test databases go."""
    yield
    from kiestudio.chat import relay

    relay.stop_background_loop()


@pytest.fixture(scope="session")
def kie_sim_server():
    """One simulator for the session, instant tasks; tests reset it and change its config as needed."""
    from kiestudio.simulator.testing import SimulatorConfig, start_simulator

    with start_simulator(SimulatorConfig(time_scale=0.0, callbacks=False, seed=7)) as running:
        yield running


@pytest.fixture
def kie_sim(kie_sim_server, settings, tmp_path):
    """Point the studio at the simulator over real HTTP, with media in a temporary directory."""
    import dataclasses

    kie_sim_server.reset()
    # Start each test with the account's rate-limit slots free, as a fresh Kie account would be, and with no
    # balance cached from an earlier test's simulator. (The database's rate-limit rows roll back with a test;
    # Redis and the cache outlive it. Redis keys of the cache carry Django's prefix.)
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        for pattern in ("kiestudio:rl:*", "*kiestudio:balance:*"):
            for key in client.scan_iter(pattern):
                client.delete(key)
        client.close()
    else:
        from django.core.cache import cache

        cache.clear()
    original = dataclasses.replace(kie_sim_server.sim.config)
    host = kie_sim_server.base_url.removeprefix("http://")
    settings.KIE_BASE_URL = kie_sim_server.base_url
    settings.KIE_UPLOAD_BASE_URL = kie_sim_server.base_url
    settings.KIE_API_KEY = "test-key"
    settings.FETCH_ALLOWED_PRIVATE_HOSTS = [host]
    settings.STUDIO_POLL_SCALE = 0.0
    settings.KIE_CALLBACKS = False
    settings.MEDIA_ROOT = str(tmp_path / "media")
    yield kie_sim_server
    for field in dataclasses.fields(original):
        setattr(kie_sim_server.sim.config, field.name, getattr(original, field.name))


@pytest.fixture
def studio_worker(transactional_db):
    """The dispatcher loop in a thread: hands out due polls the way the worker process does."""
    from kiestudio.studio.tasks import run_dispatcher

    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            run_dispatcher(seconds=0.5, interval=0.05)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)


@pytest.fixture
def signed_in_page(page, asgi_live_server, alice):
    page.goto(f"{asgi_live_server}/accounts/login/")
    page.get_by_label("Email").fill(alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{asgi_live_server}/")
    return page


@pytest.fixture
def context(context):
    """Every browser test also proves the Content-Security-Policy breaks nothing: a blocked script, style or
    fetch shows up in the console as a violation, and fails the test."""
    violations: list[str] = []

    def watch(message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(message.text)

    context.on("console", watch)
    yield context
    assert not violations, "CSP violations:\n" + "\n".join(violations)
