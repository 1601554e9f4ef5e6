"""Webhook delivery (contract section 3): one background asyncio task per task with a ``callBackUrl``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from .state import SimState, Task

log = logging.getLogger("kiestudio.simulator.callbacks")

#: (sim, task, stage) -> (body, task id used in the signature)
Builder = Callable[[SimState, Task, str], tuple[dict[str, Any], str]]
#: task -> [(fraction of the task's duration, stage)]
Stages = Callable[[Task], list[tuple[float, str]]]

_BUILDERS: dict[str, Builder] = {}
_STAGES: dict[str, Stages] = {}
_MIN_DELAY = 0.02  # never call back before the create answer has left


def register(key: str, builder: Builder, stages: Stages | None = None) -> None:
    """``key`` is ``family`` or ``family:op`` (the more specific one wins)."""
    _BUILDERS[key] = builder
    if stages is not None:
        _STAGES[key] = stages


def _lookup(table: dict[str, Any], task: Task) -> Any:
    return table.get(f"{task.family}:{task.op}") or table.get(task.family)


def _client(sim: SimState) -> httpx.AsyncClient:
    """One pooled client per simulator (building one costs tens of milliseconds)."""
    client: httpx.AsyncClient | None = sim.http_client
    if client is None or client.is_closed:
        client = sim.http_client = httpx.AsyncClient(headers={"User-Agent": "KieSimulator/1.0"})
    return client


def signature(key: str, task_id: str, timestamp: str) -> str:
    mac = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def schedule(sim: SimState, task: Task) -> None:
    if not task.callback_url or _lookup(_BUILDERS, task) is None:
        return
    sim.spawn(_run(sim, task))


async def _run(sim: SimState, task: Task) -> None:
    stages_fn = _lookup(_STAGES, task)
    stages = [(1.0, "final")] if task.fail or stages_fn is None else stages_fn(task)
    for fraction, stage in stages:
        delay = task.at_fraction(fraction) - sim.now()
        await asyncio.sleep(max(_MIN_DELAY, delay))
        if not sim.config.callbacks or not task.callback_url:
            continue
        builder = _lookup(_BUILDERS, task)
        body, signed_id = builder(sim, task, stage)
        await deliver(sim, task, stage, body, signed_id)


async def deliver(sim: SimState, task: Task, stage: str, body: dict[str, Any], signed_id: str) -> None:
    """POST one callback; failures are logged and recorded, never raised."""
    url = task.callback_url or ""
    headers = {"Content-Type": "application/json", "User-Agent": "KieSimulator/1.0"}
    key = sim.config.webhook_hmac_key
    if key:
        timestamp = str(int(time.time()))
        headers["X-Webhook-Timestamp"] = timestamp
        headers["X-Webhook-Signature"] = signature(key, signed_id, timestamp)
    record: dict[str, Any] = {
        "t": sim.now(),
        "url": url,
        "task_id": task.task_id,
        "stage": stage,
        "body": body,
        "status": None,
        "error": None,
    }
    try:
        response = await _client(sim).post(
            url, content=json.dumps(body).encode(), headers=headers, timeout=sim.config.callback_timeout
        )
        record["status"] = response.status_code
        if response.status_code >= 400:
            log.warning("callback for %s to %s answered HTTP %s", task.task_id, url, response.status_code)
    except Exception as exc:  # delivery problems are the receiver's, not ours
        record["error"] = f"{type(exc).__name__}: {exc}"
        log.warning("callback for %s to %s failed: %s", task.task_id, url, exc)
    record["done"] = sim.now()
    task.callbacks_sent.append(stage)
    sim.callback_log.append(record)
