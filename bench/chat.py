"""Benchmark: the chat relay measured against the simulator directly, side by side in one run.

Two processes, as in production: the Kie simulator (recording when each text chunk leaves it) and one studio
web process (uvicorn, the studio's ASGI app, SQLite). This process is the browser.

1. Latency: the same question, in turn, straight to the simulator and through the studio (POST /chat/new/, then
   the reply's SSE stream), ``BENCH_CHAT_SAMPLES`` times.
   - added time to first token: studio minus direct, per pair, both timed from the moment the question is sent;
   - added per-chunk latency: for each text chunk, (arrival - moment the simulator sent it) through the studio
     minus the same for that chunk sent directly;
   - spacing: each gap between arrivals against the gap between the simulator's sends.
2. Concurrency: ``BENCH_CHAT_STREAMS`` replies streaming through the one web process at the same time; all must
   complete, and the process's resident memory is read before and while they all stream.

Both servers and this client share the host's monotonic clock, so the simulator's send times and the client's
arrival times can be compared directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generations import free_port, wait_port  # noqa: E402
from kiestudio.kie.sse import aiter_sse  # noqa: E402  (plain Python, no Django)

SAMPLES = int(os.environ.get("BENCH_CHAT_SAMPLES", "40"))
STREAMS = int(os.environ.get("BENCH_CHAT_STREAMS", "1000"))
WARMUP = 5
MODEL = "claude-sonnet-4-6"  # the studio sends it with max_tokens 8192 and no thinking, as the direct call does
PASSWORD = "bench-password-1234"
TEXT_EVENTS = ("delta", "block")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


class Studio:
    """A signed-in browser session against the studio.

    The studio runs with production settings, whose cookies are marked Secure; over plain HTTP on loopback an
    HTTP client won't send those back by itself, so this one keeps its two cookies by hand.
    """

    def __init__(self, base: str) -> None:
        limits = httpx.Limits(max_connections=STREAMS + 50, max_keepalive_connections=STREAMS + 50)
        self.http = httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(120, connect=30), limits=limits)
        self.cookies: dict[str, str] = {}

    def _keep(self, response: httpx.Response) -> None:
        for name in ("sessionid", "csrftoken"):
            if name in response.cookies:
                self.cookies[name] = response.cookies[name]
        self.http.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    async def sign_up(self) -> None:
        self._keep(await self.http.get("/accounts/signup/"))
        email = f"bench-{os.getpid()}@example.com"
        data = {"email": email, "password1": PASSWORD, "password2": PASSWORD}
        data["csrfmiddlewaretoken"] = self.cookies["csrftoken"]
        response = await self.http.post("/accounts/signup/", data=data)
        self._keep(response)
        if "sessionid" not in self.cookies:
            raise RuntimeError(f"sign-up failed ({response.status_code})")
        self._keep(await self.http.get("/chat/"))
        self.http.headers.update({"X-CSRFToken": self.cookies["csrftoken"], "Accept": "text/event-stream"})

    async def ask(self, path: str, text: str, on_first=None) -> tuple[dict, list[float], str, str]:
        """Ask as the browser does: one POST whose response is the reply's event stream.

        Returns the page update (the stream's first event), the arrival times of the text events, the reply's
        text and its final status.
        """
        first: dict = {}
        arrivals: list[float] = []
        text_parts: list[str] = []
        async with self.http.stream("POST", path, data={"text": text, "model": MODEL}) as response:
            if response.status_code != 200:
                raise RuntimeError(f"send failed ({response.status_code}): {(await response.aread())[:200]!r}")
            async for event in aiter_sse(response.aiter_bytes()):
                now = time.monotonic()
                if event.event in TEXT_EVENTS:
                    if not arrivals and on_first is not None:
                        on_first()
                    arrivals.append(now)
                    text_parts.append(json.loads(event.data)["t"])
                elif event.event == "thread":
                    first = json.loads(event.data)
                elif event.event == "done":
                    return first, arrivals, "".join(text_parts), json.loads(event.data)["status"]
        return first, arrivals, "".join(text_parts), "cut"


async def direct(sim: httpx.AsyncClient, messages: list[dict]) -> tuple[float, list[float]]:
    """The same request straight to the simulator: (time to first token, arrival times of text chunks)."""
    body = {"model": MODEL, "messages": messages, "max_tokens": 8192, "stream": True, "thinkingFlag": False}
    started = time.monotonic()
    arrivals: list[float] = []
    async with sim.stream("POST", "/claude/v1/messages", json=body) as response:
        async for event in aiter_sse(response.aiter_bytes()):
            now = time.monotonic()
            if event.event == "content_block_delta" and '"text_delta"' in event.data:
                arrivals.append(now)
    return arrivals[0] - started, arrivals


async def latency(studio: Studio, sim: httpx.AsyncClient, sim_base: str) -> dict[str, object]:
    """Each sample is a follow-up in a conversation (the usual case), sent as the studio would send it upstream:
    the whole thread so far. The direct call sends exactly that thread, so the simulator answers both the same."""
    pairs = []
    for i in range(WARMUP + SAMPLES):
        opener = f"Sample {i}: hello [sim:words 8]"
        first, _, answer, status = await studio.ask("/chat/new/", opener)
        if status != "complete":
            raise RuntimeError(f"opening reply ended {status}")
        conversation = first["url"]
        question = f"Sample {i}: ideas for a lighthouse shoot [sim:delay 0.02] [sim:words 60]"
        thread = [
            {"role": "user", "content": opener},
            {"role": "assistant", "content": answer},
            {"role": "user", "content": question},
        ]
        d_ttft, d_arrivals = await direct(sim, thread)
        started = time.monotonic()
        _, r_arrivals, _, status = await studio.ask(f"{conversation}send/", question)
        if status != "complete":
            raise RuntimeError(f"reply ended {status}")
        if i >= WARMUP:
            pairs.append((d_ttft, d_arrivals, r_arrivals[0] - started, r_arrivals))
    # Three streams per sample in the simulator's log: the opener, the direct call, the studio's call.
    sent = (await sim.get(f"{sim_base}/_sim/chat-timings")).json()["streams"][3 * WARMUP :]
    added_ttft, added_chunk, gap_error, direct_gap_error = [], [], [], []
    for i, (d_ttft, d_arrivals, r_ttft, r_arrivals) in enumerate(pairs):
        d_sent, r_sent = sent[3 * i + 1], sent[3 * i + 2]
        if not (len(d_sent) == len(d_arrivals) == len(r_sent) == len(r_arrivals)):
            counts = (len(d_sent), len(d_arrivals), len(r_sent), len(r_arrivals))
            raise RuntimeError(f"sample {i}: chunk counts differ {counts}")
        added_ttft.append(r_ttft - d_ttft)
        chunks = zip(r_arrivals, r_sent, d_arrivals, d_sent, strict=True)
        added_chunk += [(ra - rs) - (da - ds) for ra, rs, da, ds in chunks]
        for arrivals, sends, out in ((r_arrivals, r_sent, gap_error), (d_arrivals, d_sent, direct_gap_error)):
            steps = zip(arrivals, arrivals[1:], sends, sends[1:], strict=False)
            out += [abs((a2 - a1) - (s2 - s1)) for a1, a2, s1, s2 in steps]
    direct_ttft = [d for d, _, _, _ in pairs]
    studio_ttft = [r for _, _, r, _ in pairs]
    return {
        "direct_p50": statistics.median(direct_ttft) * 1000,
        "direct_p95": percentile(direct_ttft, 0.95) * 1000,
        "studio_p50": statistics.median(studio_ttft) * 1000,
        "studio_p95": percentile(studio_ttft, 0.95) * 1000,
        "ttft_p50": statistics.median(added_ttft) * 1000,
        "ttft_p95": percentile(added_ttft, 0.95) * 1000,
        "chunk_p50": statistics.median(added_chunk) * 1000,
        "chunk_p95": percentile(added_chunk, 0.95) * 1000,
        "spaced": sum(1 for e in gap_error if e <= 0.005) / len(gap_error),
        "direct_spaced": sum(1 for e in direct_gap_error if e <= 0.005) / len(direct_gap_error),
        "gap_p95": percentile(gap_error, 0.95) * 1000,
        "chunks": len(added_chunk),
    }


CHUNK_GAP = 0.4  # [sim:delay 0.4]: the simulator sends each of a concurrent reply's chunks 0.4 s after the last


async def streams_at_once(studio: Studio, web_pid: int, label: str) -> tuple[int, int, int, list[float]]:
    """``STREAMS`` replies streaming at the same time; returns (peak RSS KiB, peak threads, completed, and every
    gap between two text chunks' arrivals minus the simulator's gap, in seconds)."""
    opened = asyncio.Event()
    open_count = 0
    errors: list[float] = []
    gate = asyncio.Semaphore(25)  # how fast replies are started; they all stream at once afterwards

    def first() -> None:
        nonlocal open_count
        open_count += 1
        if open_count == STREAMS:
            opened.set()

    async def one(i: int) -> str:
        await gate.acquire()
        text = f"{label} {i}: a slow story about harbours [sim:delay 0.4] [sim:words 100]"

        def opened_one() -> None:
            gate.release()
            first()

        _, arrivals, _, status = await studio.ask("/chat/new/", text, on_first=opened_one)
        errors.extend(abs(later - earlier - CHUNK_GAP) for earlier, later in zip(arrivals, arrivals[1:], strict=False))
        return status

    tasks = [asyncio.create_task(one(i)) for i in range(STREAMS)]
    await asyncio.wait_for(opened.wait(), 180)
    await asyncio.sleep(1.0)
    peak, peak_threads = 0, 0
    for _ in range(5):
        peak, peak_threads = max(peak, rss_kib(web_pid)), max(peak_threads, threads(web_pid))
        await asyncio.sleep(0.3)
    statuses = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 300)
    return peak, peak_threads, sum(1 for s in statuses if s == "complete"), errors


async def concurrency(studio: Studio, web_pid: int) -> dict[str, object]:
    # A first round warms the process (allocator arenas, connection pools, caches) as any server is warm; the
    # memory a stream costs is what the second round adds on top of the warm process at rest.
    await streams_at_once(studio, web_pid, "Warm-up")
    await asyncio.sleep(2)
    baseline, base_threads = rss_kib(web_pid), threads(web_pid)
    peak, peak_threads, completed, gap_errors = await streams_at_once(studio, web_pid, "Stream")
    return {
        "completed": completed,
        "gaps": len(gap_errors),
        "spaced": sum(1 for e in gap_errors if e <= 0.005) / max(len(gap_errors), 1),
        "gap_p95": percentile(gap_errors, 0.95) * 1000 if gap_errors else float("nan"),
        "gap_p50": percentile(gap_errors, 0.5) * 1000 if gap_errors else float("nan"),
        "per_stream_kib": (peak - baseline) / STREAMS,
        "baseline_mib": baseline / 1024,
        "peak_mib": peak / 1024,
        "threads": (base_threads, peak_threads),
    }


async def measure(web: str, sim_base: str, web_pid: int) -> tuple[dict, dict]:
    studio = Studio(web)
    await studio.sign_up()
    auth = {"Authorization": "Bearer bench-key"}
    async with httpx.AsyncClient(base_url=sim_base, headers=auth, timeout=60) as sim:
        lat = await latency(studio, sim, sim_base)
    conc = await concurrency(studio, web_pid)
    await studio.http.aclose()
    return lat, conc


def studio_env(tmp: Path, kie_base: str, name: str) -> dict[str, str]:
    """The studio's environment for a benchmark: the embedded default (SQLite, one web process, no Redis), in
    production mode, on plain HTTP over loopback, talking to the Kie at ``kie_base``; its files under ``tmp``."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KIE_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))},
        "DEBUG": "false",
        "KIESTUDIO_TESTING": "false",
        "SECRET_KEY": os.urandom(32).hex(),
        "FIELD_ENCRYPTION_KEY": os.urandom(32).hex(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "EMAIL_HOST": "127.0.0.1",
        "ACCOUNT_EMAIL_VERIFICATION": "none",
        "KIESTUDIO_VAR_DIR": str(tmp),
        "STATIC_ROOT": str(tmp / "static"),
        "DATABASE_URL": f"sqlite:///{tmp / (name + '.sqlite3')}",
        "KIE_API_KEY": "bench-key",
        "KIE_BASE_URL": kie_base,
        "KIE_UPLOAD_BASE_URL": kie_base,
        "LOG_LEVEL": "WARNING",
    }


def run() -> list[dict[str, object]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of sockets; children inherit it
    tmp = Path(tempfile.mkdtemp(prefix="kiestudio-bench-chat-"))
    sim_port, web_port = free_port(), free_port()
    sim_base, web = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{web_port}"
    env = studio_env(tmp, sim_base, "bench-chat")
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    sim_cmd = [py, "-m", "kiestudio.simulator", "--port", str(sim_port), "--time-scale", "0", "--chat-timings", "true"]
    sim_cmd += ["--balance", "100000000", "--api-key", "bench-key", "--log-level", "warning", "--seed", "1"]
    web_cmd = [py, "-m", "uvicorn", "kiestudio.asgi:application", "--port", str(web_port), "--log-level", "warning"]
    procs = [
        subprocess.Popen(sim_cmd, cwd=ROOT, env=env, start_new_session=True),
        subprocess.Popen(web_cmd, cwd=ROOT, env=env, start_new_session=True),
    ]
    try:
        wait_port(sim_port)
        wait_port(web_port)
        lat, conc = asyncio.run(measure(web, sim_base, procs[1].pid))
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"chat: time to first token direct p50 {lat['direct_p50']:.1f} / p95 {lat['direct_p95']:.1f} ms, through the "
        f"studio p50 {lat['studio_p50']:.1f} / p95 {lat['studio_p95']:.1f} ms"
    )
    print(
        f"chat: {SAMPLES} pairs, {lat['chunks']} chunks; added TTFT p50 {lat['ttft_p50']:.1f} ms, "
        f"p95 {lat['ttft_p95']:.1f} ms; added per-chunk p50 {lat['chunk_p50']:.2f} ms, p95 {lat['chunk_p95']:.2f} ms; "
        f"gaps within 5 ms: studio {lat['spaced']:.1%}, direct {lat['direct_spaced']:.1%} (p95 error "
        f"{lat['gap_p95']:.2f} ms)"
    )
    print(
        f"chat: {conc['completed']}/{STREAMS} concurrent replies completed in one web process; RSS "
        f"{conc['baseline_mib']:.0f} → {conc['peak_mib']:.0f} MiB, {conc['per_stream_kib']:.1f} KiB per stream; "
        f"threads {conc['threads'][0]} → {conc['threads'][1]}; {conc['gaps']:,} chunk gaps, {conc['spaced']:.1%} within "
        f"5 ms of the simulator's {CHUNK_GAP * 1000:.0f} ms (error p50 {conc['gap_p50']:.2f}, p95 {conc['gap_p95']:.2f} ms)"
    )
    return [
        {
            "name": "chat: added time to first token p95",
            "value": f"{lat['ttft_p95']:.1f} ms",
            "target": "≤ 15 ms",
            "ok": lat["ttft_p95"] <= 15,
            "ratio": lat["ttft_p95"] / 15,
        },
        {
            "name": "chat: added per-chunk latency p95",
            "value": f"{lat['chunk_p95']:.2f} ms",
            "target": "≤ 2 ms",
            "ok": lat["chunk_p95"] <= 2,
            "ratio": lat["chunk_p95"] / 2,
        },
        {
            "name": "chat: chunk gaps kept within 5 ms",
            "value": f"{lat['spaced']:.1%}",
            "target": "≥ 99%",
            "ok": lat["spaced"] >= 0.99,
            "ratio": 0.99 / max(lat["spaced"], 1e-9),
        },
        {
            "name": "chat: concurrent streams in one process",
            "value": f"{conc['completed']} / {STREAMS}",
            "target": "≥ 1000, all complete",
            "ok": conc["completed"] == STREAMS >= 1000,
            "ratio": 1000 / max(conc["completed"], 1),
        },
        {
            "name": f"chat: chunk gaps kept within 5 ms, {STREAMS} at once",
            "value": f"{conc['spaced']:.1%}",
            "target": "≥ 99%",
            "ok": conc["spaced"] >= 0.99,
            "ratio": 0.99 / max(conc["spaced"], 1e-9),
        },
        {
            "name": "chat: memory per stream",
            "value": f"{conc['per_stream_kib']:.1f} KiB",
            "target": "≤ 100 KB",
            "ok": conc["per_stream_kib"] * 1024 <= 100_000,
            "ratio": conc["per_stream_kib"] * 1024 / 100_000,
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
