"""Benchmark: Lighthouse 12 on Generate, the gallery, an item's detail page and chat, mobile and desktop profiles.

Lighthouse is an npm dev tool pinned in ``bench/lighthouse/`` (never a runtime dependency, never in CI): it is
installed there with ``npm ci`` on the first run when npm is present, and runs against the system Chromium
(``CHROME_PATH``, default /usr/bin/chromium). Without node, npm or Chromium the rows are skipped with a message.

The studio runs as in the other benchmarks: one uvicorn web process with production settings (DEBUG off, compressed
static files, the CSP), SQLite, and the simulator as Kie. ``manage.py seed_demo`` gives the gallery 300 items and a
member to sign in as; ``run.mjs`` signs in through the form and runs each page in a fresh Chromium with an empty
cache (simulated throttling: the mobile profile is a mid-range phone on slow 4G).

Targets, per page and profile: performance ≥ 0.95, cumulative layout shift ≤ 0.02, total blocking time ≤ 100 ms,
and at most 60 KB of gzipped JavaScript on first load. Load sensitivity: simulated throttling scales the measured
CPU work, so a busy machine lowers scores and raises TBT; layout shift and bytes don't move with load.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.chat import studio_env  # noqa: E402
from bench.generations import free_port, wait_port  # noqa: E402

TOOL = ROOT / "bench" / "lighthouse"
CHROME = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
PAGES = {"generate": "/generate/", "gallery": "/gallery/", "detail": None, "chat": "/chat/"}
TARGETS = {"performance": 0.95, "cls": 0.02, "tbt_ms": 100, "js_kb": 60}


def _tool_ready() -> str | None:
    """Why Lighthouse can't run here, or None when it can (installing the pinned tool with npm first if needed)."""
    if not Path(CHROME).exists():
        return f"no Chromium at {CHROME} (set CHROME_PATH)"
    if shutil.which("node") is None:
        return "node is not installed"
    if not (TOOL / "node_modules" / "lighthouse").is_dir():
        if shutil.which("npm") is None:
            return "npm is not installed, so bench/lighthouse has no Lighthouse"
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=TOOL, timeout=600, check=False
        )
        if done.returncode != 0:
            return "`npm ci` in bench/lighthouse failed"
    return None


def _row(page: str, form: str, result: dict[str, object]) -> dict[str, object]:
    perf, cls, tbt, js = (float(result[k]) for k in ("performance", "cls", "tbt_ms", "js_kb"))
    ratios = [
        TARGETS["performance"] / max(perf, 0.01),
        cls / TARGETS["cls"],
        tbt / TARGETS["tbt_ms"],
        js / TARGETS["js_kb"],
    ]
    return {
        "name": f"lighthouse: {page}, {form}",
        "value": f"{perf:.2f} · CLS {cls:.3f} · TBT {tbt:.0f} ms · JS {js:.0f} KB",
        "target": "≥ 0.95 · ≤ 0.02 · ≤ 100 ms · ≤ 60 KB",
        "ok": perf >= TARGETS["performance"] and cls <= TARGETS["cls"] and tbt <= TARGETS["tbt_ms"] and js <= 60,
        "ratio": max(ratios),
    }


def run() -> list[dict[str, object]]:
    why = _tool_ready()
    if why:
        print(f"lighthouse: skipped, {why}")
        return []
    tmp = Path(tempfile.mkdtemp(prefix="kiestudio-bench-lighthouse-"))
    sim_port, web_port = free_port(), free_port()
    sim_base, web = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{web_port}"
    env = studio_env(tmp, sim_base, "bench-lighthouse")
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    seeded = subprocess.run(
        [py, "manage.py", "seed_demo", "--generations", "300", "--workspace-name", "Lighthouse"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    email, password = seeded.rsplit("sign in as ", 1)[1].strip().split(" / ")
    detail = (
        subprocess.run(
            [
                py,
                "manage.py",
                "shell",
                "--no-imports",
                "-c",
                "from kiestudio.studio.models import Generation; "
                "print(Generation.objects.filter(status='succeeded', output='image').latest('created_at').pk)",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    paths = {**PAGES, "detail": f"/gallery/{detail}/"}
    sim_cmd = [py, "-m", "kiestudio.simulator", "--port", str(sim_port), "--api-key", "bench-key"]
    sim_cmd += ["--log-level", "warning", "--seed", "1"]
    web_cmd = [py, "-m", "uvicorn", "kiestudio.asgi:application", "--port", str(web_port), "--log-level", "warning"]
    procs = [
        subprocess.Popen(sim_cmd, cwd=ROOT, env=env, start_new_session=True),
        subprocess.Popen(web_cmd, cwd=ROOT, env=env, start_new_session=True),
    ]
    try:
        wait_port(sim_port)
        wait_port(web_port)
        out = subprocess.run(
            ["node", "run.mjs", web, email, password, *paths.values()],
            cwd=TOOL,
            env={**os.environ, "CHROME_PATH": CHROME},
            check=True,
            stdout=subprocess.PIPE,
            text=True,
            timeout=1800,
        ).stdout
    finally:
        from bench.relay import stop

        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)
    by_path = {path: page for page, path in paths.items()}
    rows = []
    for line in out.splitlines():
        if line.startswith("{"):
            result = json.loads(line)
            rows.append(_row(by_path[result["path"]], result["form"], result))
    if len(rows) != 2 * len(paths):
        raise RuntimeError(f"lighthouse: expected {2 * len(paths)} results, got {len(rows)}:\n{out}")
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
