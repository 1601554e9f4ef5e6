"""Run the simulator in a background thread for tests: ``with start_simulator(config) as sim: …``.

Typical pytest fixture::

    @pytest.fixture
    def kie_sim():
        with start_simulator(SimulatorConfig(time_scale=0)) as running:
            yield running
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn

from .app import create_app
from .config import SimulatorConfig
from .state import RequestLog, SimState

__all__ = ["RunningSimulator", "SimulatorConfig", "start_simulator"]


class _QuickServer(uvicorn.Server):
    """uvicorn, minus the 0.1 s polling sleeps that would make every test fixture ~0.2 s slower to stop."""

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)
            should_exit = await self.on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            servers, state, lifespan = self.servers, self.server_state, self.lifespan
        except AttributeError:  # a uvicorn with other internals: fall back to its own shutdown
            await super().shutdown(sockets)
            return
        for server in servers:
            server.close()
        for connection in list(state.connections):
            connection.shutdown()
        deadline = time.monotonic() + (self.config.timeout_graceful_shutdown or 2)
        while (state.connections or state.tasks) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        for task in list(state.tasks):
            task.cancel()
        for server in servers:
            await server.wait_closed()
        await lifespan.shutdown()


class RunningSimulator:
    """A simulator served by uvicorn on 127.0.0.1 in a daemon thread."""

    def __init__(self, app: Any, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket):
        self.app = app
        self.server = server
        self.thread = thread
        self._socket = sock
        host, port = sock.getsockname()[:2]
        self.host = host
        self.port = port
        self.base_url = f"http://{host}:{port}"

    @property
    def sim(self) -> SimState:
        sim: SimState = self.app.state.sim
        return sim

    @property
    def config(self) -> SimulatorConfig:
        return self.sim.config

    @property
    def log(self) -> RequestLog:
        return self.sim.log

    def reset(self) -> None:
        self._call_in_loop(self.sim.reset)

    def _call_in_loop(self, fn: Any) -> None:
        loop = self.sim.loop
        if loop is None or not loop.is_running():
            fn()
            return
        done = threading.Event()

        def run() -> None:
            try:
                fn()
            finally:
                done.set()

        loop.call_soon_threadsafe(run)
        done.wait(5)

    def stop(self) -> None:
        """Shut down: pending callbacks are cancelled, hanging requests are released."""
        if not self.thread.is_alive():
            return
        loop = self.sim.loop
        if loop is not None and loop.is_running() and self.sim.shutdown is not None:
            loop.call_soon_threadsafe(self.sim.shutdown.set)
        self.server.should_exit = True
        self.thread.join(10)
        self._socket.close()

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RunningSimulator {self.base_url}>"


def start_simulator(config: SimulatorConfig | None = None, *, timeout: float = 5.0) -> RunningSimulator:
    """Start a simulator on a free 127.0.0.1 port and return once it accepts connections.

    Without ``config``, tasks finish at once and chat streams without delays (``time_scale=0``,
    ``chat_chunk_delay=0``); everything else keeps the defaults.
    """
    app = create_app(config or SimulatorConfig(time_scale=0.0, chat_chunk_delay=0.0))
    # An explicit IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose listening
    # socket says so, and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    uv_config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=2,
        ws="none",
    )
    server = _QuickServer(uv_config)

    def run() -> None:
        asyncio.run(server.serve(sockets=[sock]))

    thread = threading.Thread(target=run, name="kie-simulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the Kie simulator did not start")
        time.sleep(0.005)
    return RunningSimulator(app, server, thread, sock)
