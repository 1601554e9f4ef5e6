"""``manage.py runstudio``: the web server, the worker and (without a Kie key) the Kie simulator, together.

Ctrl-C (or SIGTERM) stops all of them. If one of them dies, the others are stopped too, so a broken start
never leaves half a studio running. If this process itself is killed outright, its children get a parent-death
signal and stop too (the worker passes it on to every process of its cluster), so nothing is orphaned.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kiestudio.core.kie import callbacks_reachable
from kiestudio.core.processes import preexec_dying_with_us


def _wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.1)
    return False


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class Command(BaseCommand):
    help = "Start Kie Studio: web (uvicorn, ASGI), worker (django-q2) and the Kie simulator when no key is set."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="Don't start the background worker.")

    def handle(self, *args, host: str, port: int, no_worker: bool, **options) -> None:
        if not _port_free(host, port):
            raise CommandError(
                f"Port {port} is already in use. Stop what is using it, or run with PORT=<another port>."
            )
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        env = os.environ.copy()
        try:
            kie_line = self._start_kie(env)
            self._spawn(
                "web",
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "kiestudio.asgi:application",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                    "--timeout-graceful-shutdown",
                    "5",
                ],
                env,
            )
            if not no_worker:
                self._spawn("worker", [sys.executable, "manage.py", "runworker"], env)
            if not _wait_for_port(host, port, 30):
                raise CommandError("The web server did not start within 30 seconds.")
            url = f"http://{host}:{port}"
            self.stdout.write(self.style.SUCCESS(f"\n  Kie Studio is running at {url}\n"))
            self.stdout.write(f"  {kie_line}\n")
            self.stdout.write(f"  Callbacks: {callbacks_reachable()[1]}\n")
            worker = "off (--no-worker)" if no_worker else "django-q2 cluster running, supervised (restarted if stuck)"
            self.stdout.write(f"  Worker: {worker}\n")
            self.stdout.write("  Press Ctrl-C to stop everything.\n\n")
            self._supervise()
        except KeyboardInterrupt:
            self.stdout.write("\nStopping Kie Studio…\n")
        finally:
            self._stop_all()

    def _start_kie(self, env: dict[str, str]) -> str:
        if not settings.KIE_USE_SIMULATOR:
            return f"Kie: the real Kie API at {settings.KIE_BASE_URL} (KIE_API_KEY is set)."
        if importlib.util.find_spec("kiestudio.simulator.__main__") is None:
            return "Kie: no KIE_API_KEY is set, and the simulator is not part of this build yet."
        sim_port = settings.KIE_SIMULATOR_PORT
        if not _port_free("127.0.0.1", sim_port):
            raise CommandError(f"The simulator port {sim_port} is in use. Set KIE_SIMULATOR_PORT to a free port.")
        # A fresh seed per start: the simulator is deterministic under a seed, and reusing one would hand out
        # the same task ids as the previous run.
        seed = str(int(time.time()))
        command = [
            sys.executable,
            "-m",
            "kiestudio.simulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(sim_port),
            "--seed",
            seed,
        ]
        self._spawn("simulator", command, env)
        if not _wait_for_port("127.0.0.1", sim_port, 20):
            raise CommandError("The Kie simulator did not start within 20 seconds.")
        return f"Kie: the built-in simulator at {settings.KIE_BASE_URL} (no KIE_API_KEY set; nothing is charged)."

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        # Children get their own process group so a terminal Ctrl-C reaches us first and we stop them in order,
        # and a parent-death signal, so they stop even when this process is killed outright (SIGKILL, OOM).
        process = subprocess.Popen(
            command, env=env, start_new_session=True, preexec_fn=preexec_dying_with_us(signal.SIGTERM)
        )
        self.children.append((name, process))

    def _supervise(self) -> None:
        while True:
            for name, process in self.children:
                code = process.poll()
                if code is not None:
                    raise CommandError(f"The {name} process exited with code {code}; stopping the others.")
            time.sleep(0.5)

    def _on_signal(self, signum, frame) -> None:
        raise KeyboardInterrupt

    def _stop_all(self) -> None:
        for _, process in reversed(self.children):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, process in self.children:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
