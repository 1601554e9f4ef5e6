"""Several real web processes (uvicorn, the studio's ASGI app) sharing this test's database.

With ``REDIS_URL`` set (the PostgreSQL + Redis leg) a reader in one process follows a reply run by another
through Redis, token by token. Without it (the SQLite leg) the same test shows the fallback: the reader
follows through the database, a snapshot at a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from kiestudio.chat.models import Message
from tests.conftest import free_port

from .helpers import conversation_for, read_events, session_cookies, wait_for, wait_until_done

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = django_settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def web_env(kie_sim, settings, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST", "REDIS_URL", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=database_url(),
        KIESTUDIO_TESTING="false",
        KIESTUDIO_VAR_DIR=str(tmp_path / "var"),
        KIE_API_KEY="test-key",
        KIE_BASE_URL=kie_sim.base_url,
        KIE_UPLOAD_BASE_URL=kie_sim.base_url,
        CHAT_FLUSH_SECONDS="0.2",
        LOG_LEVEL="WARNING",
    )
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    return env


@contextlib.contextmanager
def web_process(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "kiestudio.asgi:application", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning", "--timeout-graceful-shutdown", "2"]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code in (200, 503):
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("The web process did not start.")
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@contextlib.contextmanager
def signed_in(base: str, cookies: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, cookies=cookies, timeout=20) as session:
        session.get("/chat/")  # sets the CSRF cookie
        session.headers.update({"X-CSRFToken": session.cookies["csrftoken"], "HX-Request": "true"})
        yield session


def ask(session: httpx.Client, conversation, text: str) -> Message:
    # A plain form post (as without JavaScript): the reply starts, the answer is a redirect to the conversation.
    response = session.post(f"/chat/{conversation.pk}/send/", data={"text": text, "token": os.urandom(8).hex()})
    assert response.status_code == 302, response.text[:300]
    return Message.objects.filter(conversation=conversation, role="assistant").latest("created_at")


def test_a_reply_run_by_one_process_is_followed_live_and_stopped_from_another(web_env, alice, client):
    cookies = session_cookies(client, alice)
    conversation = conversation_for(alice)
    with (
        web_process(web_env) as (a, _),
        web_process(web_env) as (b, _),
        signed_in(a, cookies) as on_a,
        signed_in(b, cookies) as on_b,
    ):
        reply = ask(on_a, conversation, "Tell me a long story [sim:delay 0.05] [sim:words 400]")
        with on_b.stream("GET", f"/chat/messages/{reply.pk}/stream/?after=0") as response:
            live = read_events(response, limit=4)
            kinds = {m.event for _, m in live}
            if django_settings.REDIS_URL:
                assert kinds <= {"delta", "block"}  # token by token, through Redis
            else:
                assert kinds == {"snapshot"}  # through the database, as it is flushed
            assert live[-1][0] - live[0][0] > 0.1  # arriving over time, while A writes it
            # Stop from the other process: A closes its upstream call.
            assert on_b.post(f"/chat/messages/{reply.pk}/stop/").status_code == 204
            done = read_events(response)
        assert json.loads(done[-1][1].data)["status"] == "stopped"
    reply = wait_until_done(reply)
    assert reply.status == Message.Status.STOPPED and 0 < len(reply.text.split()) < 380


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "terminated"])
def test_a_reply_cut_off_by_a_restart_is_marked_interrupted_with_its_text(web_env, alice, client, how):
    cookies = session_cookies(client, alice)
    conversation = conversation_for(alice)
    with web_process(web_env) as (a, process):
        with signed_in(a, cookies) as on_a:
            reply = ask(on_a, conversation, "Tell me a long story [sim:delay 0.05] [sim:words 400]")
        saved = wait_for(lambda: Message.objects.filter(pk=reply.pk, stream_seq__gt=3).first())
        os.kill(process.pid, how)
        process.wait(10)
    if how == signal.SIGTERM:
        # A clean shutdown saves the reply as interrupted before the process exits.
        reply = wait_until_done(reply, timeout=5)
    with web_process(web_env) as (restarted, _), signed_in(restarted, cookies) as again:
        page = again.get(f"/chat/{conversation.pk}/").text
    reply.refresh_from_db()
    assert reply.status == Message.Status.INTERRUPTED
    assert reply.text.startswith(saved.text) and len(reply.text) >= len(saved.text) > 0
    assert "The server restarted while this reply was being written" in page
    assert reply.text.split()[0] in page
    assert reply.completed_at <= timezone.now()
