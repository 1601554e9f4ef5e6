"""Benchmark: the gallery stays fast at 100,000 items.

A throwaway SQLite database in a temporary directory gets two workspaces from ``manage.py seed_demo``'s seeder: 1,000
items and 100,000 items. Then the real view, ``GET /gallery/``, is timed in-process through Django's test client
(server time only: URL routing, middleware, session, queries, template rendering; no network), with DEBUG off, for
four pages: the first page, a page 90% of the way down (the htmx "next page" request with its keyset cursor), a
filtered page (videos that succeeded) and a search page (a word most prompts contain). Each page gets a few warm-up
requests and then 40 timed ones, alternating between the two workspaces so drift hits both alike.

Targets: p95 ≤ 50 ms for every page at both sizes, and p50 at 100k within 1.3× of p50 at 1k.

``run()`` measures in a fresh process (``python bench/gallery.py --measure``, which prints JSON), because Django
can be set up only once per process and another benchmark may already have done it with other settings.
``BENCH_GALLERY_ITEMS=20000`` seeds a smaller large workspace.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SMALL = 1_000
LARGE = int(os.environ.get("BENCH_GALLERY_ITEMS", "100000"))
WARMUP = 5
REQUESTS = 40
P95_TARGET_MS = 50.0
RATIO_TARGET = 1.3
PAGES = ("first", "deep", "filtered", "search")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def measure() -> dict[str, object]:
    """In a process of its own, with the environment set by ``run()``: seed, then time the view."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "kiestudio.settings"
    warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise: no collectstatic in a benchmark
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from kiestudio.gallery.management.commands.seed_demo import build_pool, seed_demo
    from kiestudio.gallery.selectors import encode_cursor
    from kiestudio.studio.models import Generation
    from kiestudio.workspaces.middleware import SESSION_KEY

    call_command("migrate", verbosity=0)
    pool = build_pool(images=12, videos=2, audios=2)
    started = time.monotonic()
    seeded = {
        "1k": seed_demo(generations=SMALL, workspace_name="Bench 1k", pool=pool, seed=1),
        "100k": seed_demo(generations=LARGE, workspace_name="Bench 100k", pool=pool, seed=2),
    }
    seed_seconds = time.monotonic() - started

    url = reverse("gallery")
    user = seeded["1k"].users[0]  # the same demo people are in both workspaces
    clients: dict[str, Client] = {}
    requests: dict[tuple[str, str], tuple[dict[str, str], dict[str, str]]] = {}
    for label, result in seeded.items():
        client = Client()
        client.force_login(user)
        session = client.session
        session[SESSION_KEY] = result.workspace.pk
        session.save()
        clients[label] = client
        visible = Generation.objects.filter(workspace=result.workspace, deleted_at__isnull=True)
        deep = visible.order_by("-created_at", "-id")[int(visible.count() * 0.9)]
        requests[label, "first"] = ({}, {})
        requests[label, "deep"] = ({"cursor": encode_cursor(deep)}, {"HX-Request": "true"})
        requests[label, "filtered"] = ({"kind": "video", "status": "succeeded"}, {})
        requests[label, "search"] = ({"q": "light"}, {})

    def once(label: str, page: str) -> float:
        params, headers = requests[label, page]
        t0 = time.perf_counter()
        response = clients[label].get(url, params, headers=headers)
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200 or response.content.count(b'class="tile-item"') != 48:
            raise RuntimeError(f"{label} {page}: HTTP {response.status_code}, not a full page of tiles")
        return elapsed

    timings: dict[str, dict[str, list[float]]] = {page: {"1k": [], "100k": []} for page in PAGES}
    for page in PAGES:
        for _ in range(WARMUP):
            once("1k", page)
            once("100k", page)
        for i in range(REQUESTS):
            order = ("1k", "100k") if i % 2 == 0 else ("100k", "1k")
            for label in order:
                timings[page][label].append(once(label, page))
    out: dict[str, object] = {"seed_seconds": round(seed_seconds, 1), "large": LARGE, "pages": {}}
    for page, by_size in timings.items():
        out["pages"][page] = {
            label: {"p50": statistics.median(values), "p95": _percentile(values, 0.95)}
            for label, values in by_size.items()
        }
    return out


def run() -> list[dict[str, object]]:
    tmp = Path(tempfile.mkdtemp(prefix="kiestudio-bench-gallery-"))
    drop = ("KIE_", "DJANGO_", "KIESTUDIO_", "DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "DEBUG")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(drop)},
        # DEBUG off (no query log, cached templates); "testing" keeps production's start-up checks out of the way.
        "DEBUG": "false",
        "KIESTUDIO_TESTING": "true",
        "KIESTUDIO_VAR_DIR": str(tmp),  # no DATABASE_URL: the studio's own SQLite settings (WAL) in var/db.sqlite3
        "MEDIA_ROOT": str(tmp / "media"),
        "LOG_LEVEL": "WARNING",
    }
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--measure"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    rows: list[dict[str, object]] = []
    large = f"{data['large'] // 1000}k"
    for page in PAGES:
        small_t, large_t = data["pages"][page]["1k"], data["pages"][page]["100k"]
        worst = max(small_t["p95"], large_t["p95"])
        rows.append(
            {
                "name": f"gallery: {page} page p95, 1k / {large}",
                "value": f"{small_t['p95']:.1f} / {large_t['p95']:.1f} ms",
                "target": f"≤ {P95_TARGET_MS:g} ms",
                "ok": worst <= P95_TARGET_MS,
                "ratio": worst / P95_TARGET_MS,
            }
        )
        ratio = large_t["p50"] / small_t["p50"]
        rows.append(
            {
                "name": f"gallery: {page} page p50, {large} vs 1k",
                "value": f"{large_t['p50']:.1f} / {small_t['p50']:.1f} ms",
                "target": f"≤ {RATIO_TARGET:g}×",
                "ok": ratio <= RATIO_TARGET,
                "ratio": ratio,
            }
        )
    return rows


if __name__ == "__main__":
    if "--measure" in sys.argv:
        print(json.dumps(measure()))
        sys.exit(0)
    results = run()
    for r in results:
        print(
            f"{r['name']:<40} {r['value']:>22}  {r['target']:<10} {r['ratio']:>5.2f}  {'ok' if r['ok'] else 'MISSED'}"
        )
    sys.exit(0 if all(r["ok"] for r in results) else 1)
