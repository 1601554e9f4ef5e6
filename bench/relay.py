"""Benchmark: the relay's own cost, against an upstream that can't flatter it (issue 18).

The chat bench (``bench/chat.py``) runs against the simulator, which thinks ~25 ms before its first token and so
hides the studio's own work. Here the upstream is ``bench/stamped.py``: a bare asyncio server speaking Kie's Claude
endpoint whose every text delta carries the moment it was written, with a first-token delay of 0 ms (nothing to
hide behind) and 300 ms (a model thinking), then ``CHUNKS`` chunks ``EVERY`` ms apart.

Processes: the stamped upstream; the studio as ONE uvicorn web process with production settings and SQLite,
its Kie base URL pointed at the upstream (as ``bench/chat.py`` starts it); LiteLLM's proxy when it is installed
(``bench/requirements-litellm.txt``, in a venv of its own: ``var/bench-litellm``, or
``BENCH_LITELLM=/path/to/bin/litellm``), with an
``anthropic/`` model whose ``api_base`` is the upstream's ``/claude``; and this process, the browser.

``ROUNDS`` interleaved rounds (after ``WARMUP`` unmeasured ones) per delay; each round, one after the other:
1. the upstream read directly (the request the studio would send for the new chat);
2. a new chat through the studio: ``POST /chat/new/``, the real view and middleware, whose response is the
   reply's event stream;
3. a follow-up in that conversation: ``POST /chat/<id>/send/`` (``conversation_send``);
4. LiteLLM's ``POST /v1/messages`` with the direct request's body, when installed.

Every time is taken on the host's monotonic clock, shared by all the processes, from the moment the request is
sent. Reported per delay: time to first token (TTFT) and its added part (path minus the round's direct read),
per-chunk latency (arrival minus the chunk's stamp) and its added part (minus the same chunk's latency read
directly), and where the time goes: the upstream's record of when each request reached it, and the client's time
to response headers, to the page update (the studio's ``thread`` event) and to the first token. Nothing in the
studio is changed or instrumented. ``BENCH_RELAY_SPLITS=1`` prints those splits in full (p50 and p95 of each
stage); ``BENCH_RELAY_DUMP=file.json`` writes every reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.chat import MODEL, Studio, percentile, studio_env  # noqa: E402
from bench.generations import free_port, wait_port  # noqa: E402
from bench.stamped import STAMP  # noqa: E402
from kiestudio.kie.sse import aiter_sse  # noqa: E402  (plain Python, no Django)

ROUNDS = int(os.environ.get("BENCH_RELAY_ROUNDS", "30"))
WARMUP = int(os.environ.get("BENCH_RELAY_WARMUP", "3"))
DELAYS = [int(d) for d in os.environ.get("BENCH_RELAY_DELAYS", "0,300").split(",") if d.strip()]
CHUNKS, EVERY = 40, 20
PAUSE = float(os.environ.get("BENCH_RELAY_PAUSE", "0.05"))  # between two requests, for the last one's tail to settle
SPLITS = os.environ.get("BENCH_RELAY_SPLITS", "") not in ("", "0", "false")
DUMP = os.environ.get("BENCH_RELAY_DUMP", "")
MASTER_KEY = "sk-bench-" + os.urandom(16).hex()
PATHS = ("direct", "new", "follow", "litellm")
LABELS = {"direct": "direct", "new": "new chat", "follow": "follow-up", "litellm": "LiteLLM"}
NAN = float("nan")


@dataclass
class Reading:
    """One stream read by this process: when it was sent, when its headers, first bytes, page update (studio
    only) and text chunks arrived, and the upstream's record of the request."""

    sent: float
    headers: float = NAN
    first_byte: float = NAN
    page: float = NAN
    chunks: list[tuple[int, float, float]] = field(default_factory=list)  # (index, stamp, arrival)
    status: str = ""
    url: str = ""
    arrived: float = NAN  # the upstream read the request line
    first_sent: float = NAN  # the upstream wrote the first text delta

    @property
    def ttft(self) -> float:
        return self.chunks[0][2] - self.sent

    def latencies(self) -> list[float]:
        return [arrival - stamp for _, stamp, arrival in self.chunks]


async def read_stream(http: httpx.AsyncClient, url: str, *, studio: bool, **kwargs) -> Reading:
    """Send one request and read its event stream to the end, timing everything on the way."""
    reading = Reading(sent=time.monotonic())
    async with http.stream("POST", url, **kwargs) as response:
        reading.headers = time.monotonic()
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {(await response.aread())[:300]!r}")

        async def body():
            async for data in response.aiter_bytes():
                if math.isnan(reading.first_byte):
                    reading.first_byte = time.monotonic()
                yield data

        async for event in aiter_sse(body()):
            now = time.monotonic()
            text = ""
            if studio:
                if event.event in ("delta", "block"):
                    text = json.loads(event.data)["t"]
                elif event.event == "thread":
                    reading.page, reading.url = now, json.loads(event.data).get("url", "")
                elif event.event == "done":
                    reading.status = json.loads(event.data)["status"]
                    break
            else:  # Anthropic's stream, straight or re-framed by a proxy: read by the data's type
                data = json.loads(event.data) if event.data.startswith("{") else {}
                kind = data.get("type")
                if kind == "content_block_delta" and data["delta"].get("type") == "text_delta":
                    text = data["delta"]["text"]
                elif kind == "message_stop":
                    reading.status = "complete"
                elif kind == "error":
                    reading.status = f"error {data.get('error')}"
            # A relay that merged deltas delivers several stamps at once: each chunk arrived with its event.
            reading.chunks += [(int(index), float(stamp), now) for stamp, index in STAMP.findall(text)]
    return reading


def question(delay: int, round_: int, path: str) -> str:
    marker = f"[stamp id=d{delay}-r{round_}-{path} delay={delay} chunks={CHUNKS} every={EVERY}]"
    return f"Round {round_}: ideas for a lighthouse shoot at dusk {marker}"


def claude_body(text: str) -> dict[str, object]:
    """What the studio sends Kie for a new chat (``kie/aio.py`` ``stream_claude`` with the model's options)."""
    messages = [{"role": "user", "content": text}]
    return {"model": MODEL, "messages": messages, "max_tokens": 8192, "stream": True, "thinkingFlag": False}


async def one_round(clients: dict, studio: Studio, delay: int, round_: int) -> dict[str, Reading]:
    readings = {}
    readings["direct"] = await read_stream(
        clients["direct"], "/claude/v1/messages", studio=False, json=claude_body(question(delay, round_, "direct"))
    )
    await asyncio.sleep(PAUSE)
    data = {"text": question(delay, round_, "new"), "model": MODEL}
    readings["new"] = await read_stream(studio.http, "/chat/new/", studio=True, data=data)
    await asyncio.sleep(PAUSE)
    data = {"text": question(delay, round_, "follow"), "model": MODEL}
    readings["follow"] = await read_stream(studio.http, f"{readings['new'].url}send/", studio=True, data=data)
    await asyncio.sleep(PAUSE)
    if "litellm" in clients:
        body = claude_body(question(delay, round_, "litellm"))
        readings["litellm"] = await read_stream(clients["litellm"], "/v1/messages", studio=False, json=body)
        await asyncio.sleep(PAUSE)
    return readings


def check(path: str, reading: Reading) -> None:
    indexes = [index for index, _, _ in reading.chunks]
    if reading.status != "complete" or indexes != list(range(CHUNKS)):
        raise RuntimeError(f"{path}: ended {reading.status!r} with chunks {indexes[:5]}… ({len(indexes)})")


async def measure(web: str, upstream: str, litellm: str | None) -> dict[int, list[dict[str, Reading]]]:
    studio = Studio(web)
    await studio.sign_up()
    clients = {"direct": httpx.AsyncClient(base_url=upstream, headers={"Authorization": "Bearer bench-key"})}
    if litellm:
        headers = {"Authorization": f"Bearer {MASTER_KEY}", "anthropic-version": "2023-06-01"}
        clients["litellm"] = httpx.AsyncClient(base_url=litellm, headers=headers, timeout=60)
    results: dict[int, list[dict[str, Reading]]] = {}
    try:
        for delay in DELAYS:
            rounds = []
            for round_ in range(WARMUP + ROUNDS):
                readings = await one_round(clients, studio, delay, round_)
                if round_ >= WARMUP:
                    rounds.append(readings)
            results[delay] = rounds
        log = (await clients["direct"].get("/_stamp/requests")).json()["requests"]
    finally:
        for client in clients.values():
            await client.aclose()
        await studio.http.aclose()
    # The upstream's own record of each request, found by the id in its question.
    records = {r["id"]: r for r in log}
    for delay, rounds in results.items():
        for offset, readings in enumerate(rounds):
            for path, reading in readings.items():
                check(path, reading)
                record = records[f"d{delay}-r{WARMUP + offset}-{path}"]
                reading.arrived, reading.first_sent = record["arrived"], record["first"]
    return results


# --- Figures ---------------------------------------------------------------------------------------------------


def p50(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else NAN


def p95(values: list[float]) -> float:
    return percentile(values, 0.95) * 1000 if values else NAN


def figures(rounds: list[dict[str, Reading]]) -> dict[str, dict[str, list[float]]]:
    """Per path: TTFT, added TTFT, per-chunk latency, added per-chunk latency and the splits, one value per round
    (per chunk for the chunk figures), in seconds."""
    out: dict[str, dict[str, list[float]]] = {}
    for path in PATHS:
        pairs = [(r[path], r["direct"]) for r in rounds if path in r]
        if not pairs:
            continue
        f: dict[str, list[float]] = {
            "ttft": [p.ttft for p, _ in pairs],
            "added_ttft": [p.ttft - d.ttft for p, d in pairs],
            "chunk": [lat for p, _ in pairs for lat in p.latencies()],
            "added_chunk": [a - b for p, d in pairs for a, b in zip(p.latencies(), d.latencies(), strict=True)],
            # Where the time to first token goes, from the moment the request is sent:
            "upstream_got_request": [p.arrived - p.sent for p, _ in pairs],
            "headers": [p.headers - p.sent for p, _ in pairs],
            "first_byte": [p.first_byte - p.sent for p, _ in pairs],
            "upstream_wait": [p.first_sent - p.arrived for p, _ in pairs],
            "first_token_relay": [p.ttft - (p.first_sent - p.sent) for p, _ in pairs],
            # The added TTFT, split at the upstream: before the request reached it, after its first token left.
            "added_to_upstream": [(p.arrived - p.sent) - (d.arrived - d.sent) for p, d in pairs],
            "added_first_token_relay": [
                (p.ttft - (p.first_sent - p.sent)) - (d.ttft - (d.first_sent - d.sent)) for p, d in pairs
            ],
        }
        if path == "direct":  # the baseline: nothing added to itself
            del f["added_to_upstream"], f["added_first_token_relay"]
        if path in ("new", "follow"):
            f["page_update"] = [p.page - p.sent for p, _ in pairs]
            f["page_after_upstream"] = [p.page - p.arrived for p, _ in pairs]
        out[path] = f
    return out


SPLIT_NAMES = [
    ("upstream_got_request", "upstream got the request"),
    ("headers", "response headers"),
    ("first_byte", "first bytes"),
    ("page_update", "page update (thread event)"),
    ("upstream_wait", "upstream: request → first token written"),
    ("first_token_relay", "first token: written → read here"),
    ("ttft", "first token read here (TTFT)"),
    ("added_to_upstream", "added: send → upstream got request"),
    ("added_first_token_relay", "added: first token written → read"),
]


def report(delay: int, f: dict[str, dict[str, list[float]]]) -> None:
    paths = [p for p in PATHS if p in f]
    ttft = ", ".join(f"{LABELS[p]} {p50(f[p]['ttft']):.1f}/{p95(f[p]['ttft']):.1f}" for p in paths)
    print(f"relay {delay} ms: TTFT p50/p95 {ttft} ms")
    added = ", ".join(f"{LABELS[p]} {p50(f[p]['added_ttft']):.1f}/{p95(f[p]['added_ttft']):.1f}" for p in paths[1:])
    print(f"relay {delay} ms: added TTFT p50/p95 {added} ms")
    chunk = ", ".join(f"{LABELS[p]} {p50(f[p]['chunk']):.2f}/{p95(f[p]['chunk']):.2f}" for p in paths)
    print(f"relay {delay} ms: per-chunk latency p50/p95 {chunk} ms")
    added = ", ".join(f"{LABELS[p]} {p50(f[p]['added_chunk']):.2f}/{p95(f[p]['added_chunk']):.2f}" for p in paths[1:])
    print(f"relay {delay} ms: added per-chunk p50/p95 {added} ms")
    if "litellm" in f:
        lite_ttft, lite_chunk = p50(f["litellm"]["added_ttft"]), p50(f["litellm"]["added_chunk"])
        ratios = ", ".join(
            f"{LABELS[p]} TTFT {ratio(p50(f[p]['added_ttft']), lite_ttft):.2f}, per-chunk "
            f"{ratio(p50(f[p]['added_chunk']), lite_chunk):.2f}"
            for p in ("new", "follow")
        )
        print(f"relay {delay} ms: studio/LiteLLM (added, p50): {ratios}")
    for p in paths:
        parts = [f"{label} {p50(f[p][key]):.1f}" for key, label in SPLIT_NAMES if key in f[p] and key != "ttft"]
        print(f"relay {delay} ms splits p50, {LABELS[p]}: " + "; ".join(parts) + " ms")
    if SPLITS:
        print(f"relay {delay} ms, where the time goes (ms from the moment the request is sent; p50 / p95):")
        print(f"  {'':44}" + "".join(f"{LABELS[p]:>18}" for p in paths))
        for key, label in [*SPLIT_NAMES, ("page_after_upstream", "page update after upstream got request")]:
            cells = [f"{p50(f[p][key]):8.2f} /{p95(f[p][key]):7.2f}" if key in f[p] else f"{'–':>17}" for p in paths]
            print(f"  {label:44}" + "".join(f"{c:>18}" for c in cells))


def ratio(value: float, reference: float) -> float:
    """value / reference; a reference at or below zero (noise around nothing) counts as 1 µs."""
    return value / max(reference, 0.001)


def rows(by_delay: dict[int, dict[str, dict[str, list[float]]]], litellm: bool) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    if 0 in by_delay:
        f = by_delay[0]
        for path in ("new", "follow"):
            for q, stat, limit in (("p50", p50, 5.0), ("p95", p95, 10.0)):
                value = stat(f[path]["added_ttft"])
                out.append(
                    {
                        "name": f"relay 0 ms: {LABELS[path]} added TTFT {q}",
                        "value": f"{value:.1f} ms",
                        "target": f"≤ {limit:.0f} ms",
                        "ok": value <= limit,
                        "ratio": value / limit,
                    }
                )
    if not litellm:
        return out
    studio_chunks = [v for f in by_delay.values() for p in ("new", "follow") for v in f[p]["added_chunk"]]
    lite_chunks = [v for f in by_delay.values() for v in f["litellm"]["added_chunk"]]
    studio, lite = p50(studio_chunks), p50(lite_chunks)
    out.append(
        {
            "name": "relay: added per-chunk p50 vs LiteLLM",
            "value": f"{studio:.2f} ms",
            "target": f"≤ LiteLLM's {lite:.2f} ms",
            "ok": studio <= lite,
            "ratio": ratio(studio, lite),
        }
    )
    if 300 in by_delay:
        f = by_delay[300]
        lite = p50(f["litellm"]["added_ttft"])
        for path in ("new", "follow"):
            value = p50(f[path]["added_ttft"])
            out.append(
                {
                    "name": f"relay 300 ms: {LABELS[path]} added TTFT p50",
                    "value": f"{value:.1f} ms",
                    "target": f"≤ 0.5 × LiteLLM's {lite:.1f} ms",
                    "ok": value <= 0.5 * lite,
                    "ratio": ratio(value, 0.5 * lite),
                }
            )
    return out


# --- Processes -------------------------------------------------------------------------------------------------


def litellm_command() -> list[str] | None:
    """LiteLLM's proxy CLI: ``BENCH_LITELLM``, else ``var/bench-litellm`` (``bench/requirements-litellm.txt``'s
    venv: it can't share the studio's, see there), else one installed beside this Python."""
    explicit = os.environ.get("BENCH_LITELLM")
    if explicit:
        return [explicit]
    own = ROOT / "var" / "bench-litellm" / "bin" / "litellm"
    if own.exists():
        return [str(own)]
    beside = Path(sys.executable).parent / "litellm"
    # The proxy extra, not just the library (found, not imported: importing litellm takes seconds).
    if beside.exists() and all(importlib.util.find_spec(name) for name in ("litellm", "fastapi", "backoff")):
        return [str(beside)]
    return None


def litellm_config(tmp: Path, upstream: str) -> Path:
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: anthropic/{MODEL}\n"
        f"      api_base: {upstream}/claude\n"
        "      api_key: bench-key\n"
    )
    return config


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run() -> list[dict[str, object]]:
    tmp = Path(tempfile.mkdtemp(prefix="kiestudio-bench-relay-"))
    up_port, web_port, lite_port = free_port(), free_port(), free_port()
    upstream, web = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{web_port}"
    env = studio_env(tmp, upstream, "bench-relay")
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    lite_cmd = litellm_command()
    procs: list[subprocess.Popen] = []
    started = loadavg()
    try:
        up_cmd = [py, "-m", "bench.stamped", "--port", str(up_port)]
        procs.append(subprocess.Popen(up_cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, start_new_session=True))
        web_cmd = [py, "-m", "uvicorn", "kiestudio.asgi:application", "--port", str(web_port), "--log-level", "warning"]
        procs.append(subprocess.Popen(web_cmd, cwd=ROOT, env=env, start_new_session=True))
        litellm = None
        if lite_cmd:
            lite_env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "ANTHROPIC_", "DATABASE_URL"))},
                "LITELLM_MASTER_KEY": MASTER_KEY,
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # or it fetches the price list from the internet first
                "LITELLM_LOG": "ERROR",
            }
            cmd = [*lite_cmd, "--config", str(litellm_config(tmp, upstream)), "--host", "127.0.0.1"]
            cmd += ["--port", str(lite_port), "--num_workers", "1"]
            log = (tmp / "litellm.log").open("wb")
            procs.append(subprocess.Popen(cmd, cwd=tmp, env=lite_env, stdout=log, stderr=log, start_new_session=True))
            litellm = f"http://127.0.0.1:{lite_port}"
        else:
            print(
                "relay: LiteLLM's proxy is not installed (see bench/requirements-litellm.txt, or set BENCH_LITELLM); "
                "its rows are skipped"
            )
        wait_port(up_port)
        wait_port(web_port)
        if litellm:
            try:
                wait_port(lite_port, timeout=180)
            except RuntimeError:
                print((tmp / "litellm.log").read_text()[-3000:])
                raise
        results = asyncio.run(measure(web, upstream, litellm))
    finally:
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"relay: {ROUNDS} rounds per delay (after {WARMUP} warm-up), {CHUNKS} chunks {EVERY} ms apart; load average "
        f"{started} at the start, {loadavg()} at the end ({os.cpu_count()} cores)"
    )
    by_delay = {delay: figures(rounds) for delay, rounds in results.items()}
    for delay, f in by_delay.items():
        report(delay, f)
    if DUMP:
        data = {str(d): [{p: asdict(r) for p, r in rd.items()} for rd in rounds] for d, rounds in results.items()}
        Path(DUMP).write_text(json.dumps(data))
    return rows(by_delay, litellm is not None)


if __name__ == "__main__":
    for row in run():
        print(row)
