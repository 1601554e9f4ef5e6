"""Shared plumbing for the route modules: envelopes, auth, limits, faults, clocks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .markers import PAUSED_MESSAGE, Markers
from .state import SimState

#: Business codes answered as HTTP 200 + body code when ``error_style == "body"`` (contract 1.4).
BODY_CODES = frozenset({402, 409, 413, 422, 433, 451, 455, 501, 505, 531})
UNAUTHORIZED = "You do not have access permissions"


class BadRequest(Exception):
    def __init__(self, message: str, code: int = 400):
        self.message = message
        self.code = code
        super().__init__(message)


def sim_of(request: Request) -> SimState:
    sim: SimState = request.app.state.sim
    return sim


def note(request: Request, **values: Any) -> None:
    """Attach task_id / model to the request-log entry of this request."""
    request.scope.setdefault("sim.note", {}).update({k: v for k, v in values.items() if v is not None})


def dumps(value: Any) -> str:
    """Compact JSON, as Kie's ``param`` / ``resultJson`` strings are."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def envelope(sim: SimState, code: int, message: str, data: Any = None, *, with_data: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, sim.config.message_key: message}
    if with_data:
        body["data"] = data
    return body


def ok(sim: SimState, data: Any, message: str = "success") -> JSONResponse:
    return JSONResponse(envelope(sim, 200, message, data))


def error(sim: SimState, code: int, message: str, *, business: bool | None = None, data: Any = None) -> JSONResponse:
    """An error envelope. Business codes go out as HTTP 200 under ``error_style == "body"``."""
    if business is None:
        business = code in BODY_CODES
    status = 200 if business and sim.config.error_style == "body" else code
    body = envelope(sim, code, message, data, with_data=data is not None)
    return JSONResponse(body, status_code=status)


def chat_error(status: int, message: str, kind: str | None = None) -> JSONResponse:
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        402: "insufficient_credits_error",
        404: "not_found_error",
        429: "rate_limit_error",
    }
    return JSONResponse(
        {"error": {"message": message, "type": kind or kinds.get(status, "api_error")}}, status_code=status
    )


def bearer_key(request: Request, *, allow_x_api_key: bool = False) -> str | None:
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    if allow_x_api_key:
        key = request.headers.get("x-api-key", "").strip()
        if key[:7].lower() == "bearer ":
            key = key[7:].strip()
        return key or None
    return None


def key_ok(sim: SimState, key: str | None) -> bool:
    if not key:
        return False
    if sim.config.api_keys is not None:
        return key in sim.config.api_keys
    return not key.lower().startswith("bad")


def check_auth(request: Request) -> Response | None:
    sim = sim_of(request)
    if key_ok(sim, bearer_key(request)):
        return None
    return JSONResponse(envelope(sim, 401, UNAUTHORIZED, with_data=False), status_code=401)


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise BadRequest("Request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise BadRequest("Request body must be a JSON object")
    return value


def base_url(request: Request) -> str:
    configured = sim_of(request).config.public_base_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


def rate_limited(sim: SimState) -> JSONResponse:
    return JSONResponse(envelope(sim, 429, "Rate limit exceeded", with_data=False), status_code=429)


def malformed_response() -> Response:
    return Response(b'{"code":200,"msg":"success","data":{"taskId":"', media_type="application/json")


async def wait_or_shutdown(sim: SimState, seconds: float) -> None:
    """Sleep ``seconds``, returning early when the simulator shuts down."""
    if seconds <= 0:
        return
    if sim.shutdown is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sim.shutdown.wait(), timeout=seconds)


async def apply_faults(request: Request, kind: str, markers: Markers | None = None) -> Response | None:
    """Prompt markers and seeded random faults: hang, slow, 5xx, malformed. None = carry on."""
    sim = sim_of(request)
    config = sim.config
    markers = markers or Markers()
    if kind in config.fault_kinds:
        r_5xx, r_slow, r_malformed = sim.fault_rng.random(), sim.fault_rng.random(), sim.fault_rng.random()
    else:
        r_5xx = r_slow = r_malformed = 1.0
    if markers.hang is not None:
        await wait_or_shutdown(sim, config.hang_seconds if markers.hang < 0 else markers.hang)
        return error(sim, 504, "Gateway timeout")
    if markers.slow is not None or r_slow < config.slow_rate:
        seconds = config.slow_seconds if markers.slow is None or markers.slow < 0 else markers.slow
        await wait_or_shutdown(sim, seconds)
    if markers.http_5xx is not None or r_5xx < config.fault_5xx_rate:
        status = markers.http_5xx or 500
        return error(sim, status, "Internal server error" if status == 500 else "Service temporarily unavailable")
    if markers.malformed or r_malformed < config.malformed_rate:
        return malformed_response()
    if markers.refuse is not None:
        # A refusal in a body code (field reports: code 500 for validation and paused models, not an outage).
        code, message = markers.refuse
        return error(sim, code, message, business=True)
    return None


def refusal(sim: SimState, message: str, *, field: str | None = None) -> JSONResponse:
    """Kie refusing a create's parameters: code 422, or (for ``validation_500_rate`` of them) body code 500 with
    the wording the live service uses ("… is not within the range of allowed options")."""
    if sim.config.validation_500_rate and sim.fault_rng.random() < sim.config.validation_500_rate:
        text = f"The value of {field} is not within the range of allowed options" if field else message
        return error(sim, 500, text, business=True)
    return error(sim, 422, message)


def paused(sim: SimState, model: str | None) -> JSONResponse | None:
    if model and model in sim.config.paused_models:
        return error(sim, 500, PAUSED_MESSAGE, business=True)
    return None


def guard_create(request: Request) -> Response | None:
    """The create rate limit (contract 1.5): rejected creates are not queued and not recorded."""
    sim = sim_of(request)
    if not sim.create_window.allow(sim.now(), sim.config.rate_limit, sim.config.rate_window):
        return rate_limited(sim)
    return None


async def guard_read(request: Request) -> Response | None:
    sim = sim_of(request)
    config = sim.config
    if config.read_rate_limit_enabled and not sim.read_window.allow(
        sim.now(), config.read_rate_limit, config.read_rate_window
    ):
        return rate_limited(sim)
    return await apply_faults(request, "read")


def charge(sim: SimState, credits: Any) -> bool:
    """Take ``credits`` from the balance; False (nothing taken) when it is too low."""
    amount = Decimal(str(credits))
    with sim.lock:
        if sim.balance < amount or sim.balance <= 0:
            return False
        sim.balance -= amount
        return True


def insufficient(sim: SimState) -> JSONResponse:
    return error(sim, 402, "Insufficient credits: the account balance is too low for this task. Please top up.")


def wall_ms(wall: float) -> int:
    return int(wall * 1000)


def fmt_datetime(wall: float) -> str:
    """``2025-06-06 10:30:00`` (UTC), the string times of the Veo / Suno / Runway record endpoints."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(wall))


def fmt_iso(wall: float) -> str:
    """``2024-03-20T10:30:00Z``, the string times of the Flux Kontext / Aleph record endpoints."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall))


def number(value: Any) -> int | float:
    """A credit balance as JSON: an int when whole, else a float."""
    value = Decimal(str(value))
    return int(value) if value == value.to_integral_value() else float(value)


def task_id_param(request: Request) -> str | None:
    value = request.query_params.get("taskId") or request.query_params.get("task_id")
    return value.strip() if value else None
