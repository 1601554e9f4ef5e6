from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kiestudio.simulator import SimulatorConfig
from kiestudio.simulator.__main__ import build_parser, config_from_args, main
from kiestudio.simulator.app import create_app

from .helpers import create_market

ROOT = Path(__file__).resolve().parents[2]


def test_control_endpoints(kie, client):
    task_id = create_market(client, "google/nano-banana", prompt="x")
    client.get("/api/v1/jobs/recordInfo", params={"taskId": task_id})

    log = httpx.get(kie.base_url + "/_sim/log", params={"window": 10}).json()
    assert [e["kind"] for e in log["entries"]] == ["create", "read"]
    entry = log["entries"][0]
    assert set(entry) == {"t", "method", "path", "kind", "status", "task_id", "model", "code"}
    assert entry["task_id"] == task_id and entry["model"] == "google/nano-banana" and entry["status"] == 200
    assert log["polls_per_task"] == {task_id: 1} and log["creates_in_window"] == 1

    tasks = httpx.get(kie.base_url + "/_sim/tasks").json()["tasks"]
    assert tasks[0]["taskId"] == task_id and tasks[0]["state"] == "success"

    config = httpx.patch(kie.base_url + "/_sim/config", json={"rate_window": 1.5, "error_style": "http"}).json()
    assert config["rate_window"] == 1.5 and kie.sim.config.error_style == "http"
    bad = httpx.patch(kie.base_url + "/_sim/config", json={"error_style": "loud"})
    assert bad.status_code == 400 and kie.sim.config.error_style == "http"
    assert httpx.patch(kie.base_url + "/_sim/config", json={"nope": 1}).status_code == 400
    assert httpx.get(kie.base_url + "/_sim/config").json()["rate_window"] == 1.5

    assert httpx.post(kie.base_url + "/_sim/credits", json={"balance": 12.5}).json() == {"balance": 12.5}
    assert client.get("/api/v1/chat/credit").json()["data"] == 12.5

    reset = httpx.post(kie.base_url + "/_sim/reset").json()
    assert reset["balance"] == 10000 and not kie.sim.tasks
    assert httpx.get(kie.base_url + "/_sim/log").json()["entries"] == []


def test_state_object_exposes_config_log_tasks_balance():
    app = create_app(SimulatorConfig(seed=3, balance=77))
    sim = app.state.sim
    assert sim.config.seed == 3 and sim.balance == 77 and sim.tasks == {} and len(sim.log) == 0


def test_config_from_env_and_flags():
    env = {"KIE_SIM_TIME_SCALE": "0.5", "KIE_SIM_RATE_WINDOW": "2", "KIE_SIM_FAIL_CODE_EMPTY": "null"}
    config = SimulatorConfig.from_env(env)
    assert (config.time_scale, config.rate_window, config.fail_code_empty) == (0.5, 2.0, None)
    args = build_parser().parse_args(
        [
            "--seed",
            "9",
            "--time-scale",
            "0",
            "--rate-window",
            "1",
            "--webhook-hmac-key",
            "k",
            "--api-key",
            "a",
            "--api-key",
            "b",
            "--state-seconds",
            '{"generating": 2}',
            "--fault-kinds",
            "create,chat",
            "--no-callbacks",
        ]
    )
    config = config_from_args(args, environ=env)
    assert config.seed == 9 and config.time_scale == 0.0 and config.rate_window == 1.0
    assert config.webhook_hmac_key == "k" and config.api_keys == ["a", "b"] and config.callbacks is False
    assert config.state_seconds == {"generating": 2.0} and config.fault_kinds == ["create", "chat"]
    with pytest.raises(ValueError):
        SimulatorConfig.from_env({"KIE_SIM_ERROR_STYLE": "loud"})


def test_the_simulator_imports_nothing_from_django():
    code = (
        "import sys, kiestudio.simulator.app, kiestudio.simulator.testing, kiestudio.simulator.__main__;"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'django' or m.startswith(('kiestudio.core', "
        "'kiestudio.studio', 'kiestudio.accounts', 'kiestudio.workspaces', 'kiestudio.settings'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_refuses_when_forbidden(monkeypatch, capsys):
    monkeypatch.setenv("KIE_SIMULATOR_FORBIDDEN", "1")
    assert main(["--port", "1"]) == 2
    assert "forbidden" in capsys.readouterr().err


def test_cli_serves(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KIE_SIM_TIME_SCALE": "0"}
    env.pop("KIE_SIMULATOR_FORBIDDEN", None)
    with socket_port() as port:
        process = subprocess.Popen(
            [sys.executable, "-m", "kiestudio.simulator", "--port", str(port), "--seed", "1", "--log-level", "warning"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/chat/credit", headers={"Authorization": "Bearer k"}
                )
                break
            except httpx.ConnectError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert response.json()["data"] == 10000
    finally:
        process.terminate()
        process.wait(10)
    forbidden = subprocess.run(
        [sys.executable, "-m", "kiestudio.simulator", "--port", "1"],
        env={**env, "KIE_SIMULATOR_FORBIDDEN": "1"},
        cwd=ROOT,
        capture_output=True,
        timeout=30,
    )
    assert forbidden.returncode == 2


class socket_port:
    """A free port number (the socket is closed on exit so the CLI can bind it)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
