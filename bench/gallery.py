"""Benchmark: the gallery stays fast at any size, and costs little beyond the cheapest signed-in page.

Two workspaces from ``manage.py seed_demo``'s seeder, 1,000 items and a large one, in a throwaway SQLite database
(100,000 items) and, when PostgreSQL answers, in a bench database there (1,000,000 items; seeded once and kept as
``kiestudio_bench_gallery`` for the next run, since a million rows take a few minutes to write). Then the real view,
``GET /gallery/``, is timed in-process through Django's test client (server time only: routing, middleware,
session, queries, template rendering; no network), with DEBUG off and persistent connections as in production, for
six pages: the first page, a page 90% of the way down (the htmx "next page" request with its keyset cursor), a
filtered page (videos that succeeded), a search for a word most prompts contain, a search for a word no prompt
contains (the worst case for a search that walks the newest items first), and the signed-in member's favourites.

**The floor.** Absolute times move with the machine and its load, so every round also times a minimal signed-in
page through the same middleware (``bench/floor.py``: the shared layout around an empty ``main``). Targets: every
page's p50 within 3x the floor's p50 measured in the same run, p95 ≤ 50 ms, p50 at the large size within 1.3x of
p50 at 1k, and the same number of queries for a page at both sizes.

Each page gets a few warm-up requests and then 40 timed rounds; a round times the page at both sizes and the floor,
in an order that alternates, so drift hits all alike. ``run()`` measures in a fresh process per database
(``python bench/gallery.py --measure``, which prints JSON), because Django can be set up only once per process.
``BENCH_GALLERY_ITEMS`` (SQLite, default 100000), ``BENCH_GALLERY_PG_ITEMS`` (default 1000000) and
``BENCH_PG_URL`` (default ``postgres://postgres@127.0.0.1:5432/kiestudio_bench_gallery``; ``off`` skips PostgreSQL) size it.
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
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SMALL = 1_000
SQLITE_LARGE = int(os.environ.get("BENCH_GALLERY_ITEMS", "100000"))
PG_LARGE = int(os.environ.get("BENCH_GALLERY_PG_ITEMS", "1000000"))
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/kiestudio_bench_gallery")
WARMUP = 5
REQUESTS = 40
FLOOR_TARGET = 3.0
P95_TARGET_MS = 50.0
RATIO_TARGET = 1.3
MIN_FAVORITES = 100  # the bench member's favourites in each workspace, so that page is full at 1k too
PAGES = ("first", "deep", "filtered", "search", "absent word", "favourites")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def _seeded(name: str, generations: int, seed: int, pool):
    """The named bench workspace with ``generations`` items: reused when a previous run left it complete."""
    from kiestudio.gallery.demo.people import demo_people
    from kiestudio.gallery.management.commands.seed_demo import seed_demo
    from kiestudio.studio.models import Generation
    from kiestudio.workspaces.models import Workspace

    workspace = Workspace.objects.filter(name=name).first()
    if workspace is not None:
        if Generation.objects.filter(workspace=workspace).count() == generations:
            return workspace, demo_people(5)
        raise SystemExit(f"The bench database holds a partial “{name}”; drop it and run again.")
    result = seed_demo(generations=generations, workspace_name=name, pool=pool, seed=seed)
    return result.workspace, result.users


def _top_up_favorites(workspace, user) -> None:
    from kiestudio.gallery.models import Favorite
    from kiestudio.studio.models import Generation

    have = Favorite.objects.filter(workspace=workspace, user=user).count()
    if have >= MIN_FAVORITES:
        return
    taken = Favorite.objects.filter(workspace=workspace, user=user).values("generation_id")
    live = Generation.objects.filter(workspace=workspace, deleted_at__isnull=True, status="succeeded")
    picks = live.exclude(id__in=taken).order_by("id")[: MIN_FAVORITES - have]
    Favorite.objects.bulk_create(
        Favorite(
            workspace=workspace, user=user, generation=g, created_at=g.created_at, generation_created_at=g.created_at
        )
        for g in picks
    )


def measure(large: int) -> dict[str, object]:
    """In a process of its own, with the environment set by ``run()``: seed, then time the view."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "kiestudio.settings"
    warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise: no collectstatic in a benchmark
    import django
    from django.conf import settings

    django.setup()
    settings.ROOT_URLCONF = "bench.floor"  # the studio's routes plus the floor page
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60  # as in production (testing mode would close per request)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from bench.floor import FLOOR_URL
    from kiestudio.gallery.management.commands.seed_demo import build_pool
    from kiestudio.gallery.selectors import encode_cursor, gallery_page, parse_filters
    from kiestudio.studio.models import Generation
    from kiestudio.workspaces.middleware import SESSION_KEY

    call_command("migrate", verbosity=0)
    pool = build_pool(images=12, videos=2, audios=2)
    started = time.monotonic()
    sizes = {"small": SMALL, "large": large}
    workspaces = {}
    for i, (size, n) in enumerate(sizes.items(), start=1):
        workspaces[size], users = _seeded(f"Bench {_label(n)}", n, i, pool)
    user = users[0]  # the same demo people are in both workspaces
    seed_seconds = time.monotonic() - started

    url = reverse("gallery")
    clients = {}
    requests: dict[tuple[str, str], tuple[dict[str, str], dict[str, str], int]] = {}
    params_of = {
        "first": {},
        "filtered": {"kind": "video", "status": "succeeded"},
        "search": {"q": "light"},
        "absent word": {"q": "quetzalcoatlus"},
        "favourites": {"favorites": "1"},
    }
    for size, workspace in workspaces.items():
        _top_up_favorites(workspace, user)
        client = Client()
        client.force_login(user)
        session = client.session
        session[SESSION_KEY] = workspace.pk
        session.save()
        clients[size] = client
        visible = Generation.objects.filter(workspace=workspace, deleted_at__isnull=True)
        deep = visible.order_by("-created_at", "-id")[int(visible.count() * 0.9)]
        for page in PAGES:
            params = {"cursor": encode_cursor(deep)} if page == "deep" else params_of[page]
            headers = {"HX-Request": "true"} if page == "deep" else {}
            filters = parse_filters(params, workspace=workspace, member_ids=set())
            tiles = len(
                gallery_page(workspace=workspace, user=user, filters=filters, cursor=params.get("cursor", "")).items
            )
            requests[size, page] = (params, headers, tiles)

    def once(size: str, page: str) -> float:
        params, headers, tiles = requests[size, page]
        t0 = time.perf_counter()
        response = clients[size].get(url, params, headers=headers)
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200 or response.content.count(b'class="tile-item"') != tiles:
            raise RuntimeError(f"{size} {page}: HTTP {response.status_code}, not the expected {tiles} tiles")
        return elapsed

    def floor() -> float:
        t0 = time.perf_counter()
        response = clients["small"].get(FLOOR_URL)
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200 or b"<h1>Floor</h1>" not in response.content:
            raise RuntimeError(f"floor page: HTTP {response.status_code}")
        return elapsed

    queries: dict[str, dict[str, int]] = {page: {} for page in PAGES}
    timings: dict[str, dict[str, list[float]]] = {page: {"small": [], "large": []} for page in PAGES}
    floors: list[float] = []
    for page in PAGES:
        for size in sizes:
            with CaptureQueriesContext(connection) as ctx:
                once(size, page)
            queries[page][size] = len(ctx.captured_queries)
        for _ in range(WARMUP):
            once("small", page)
            once("large", page)
            floor()
        for i in range(REQUESTS):
            steps = [("small", page), ("large", page), None]
            for step in steps[i % 3 :] + steps[: i % 3]:
                if step is None:
                    floors.append(floor())
                else:
                    timings[page][step[0]].append(once(*step))
    out: dict[str, object] = {
        "vendor": connection.vendor,
        "seed_seconds": round(seed_seconds, 1),
        "large": large,
        "floor": {"p50": statistics.median(floors), "p95": _percentile(floors, 0.95)},
        "queries": queries,
        "pages": {},
    }
    for page, by_size in timings.items():
        out["pages"][page] = {
            size: {"p50": statistics.median(values), "p95": _percentile(values, 0.95)}
            for size, values in by_size.items()
        }
    return out


def _postgres_ready() -> str | None:
    """The bench database's URL when PostgreSQL answers (creating the database if needed), else None."""
    if PG_URL.lower() in {"", "off", "no", "false"}:
        return None
    try:
        import psycopg
    except ImportError:
        return None
    parts = urlsplit(PG_URL)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        print(f"gallery bench: PostgreSQL at {parts.hostname}:{parts.port} not used ({exc.__class__.__name__})")
        return None
    return PG_URL


def _measure_in_child(*, large: int, database_url: str | None) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="kiestudio-bench-gallery-"))
    drop = ("KIE_", "DJANGO_", "KIESTUDIO_", "DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "DEBUG")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(drop)},
        # DEBUG off (no query log, cached templates); "testing" keeps production's start-up checks out of the way.
        "DEBUG": "false",
        "KIESTUDIO_TESTING": "true",
        "KIESTUDIO_VAR_DIR": str(tmp),  # without DATABASE_URL: the studio's own SQLite settings (WAL) in var/
        "MEDIA_ROOT": str(tmp / "media"),
        "LOG_LEVEL": "WARNING",
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--measure", str(large)],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _rows(data: dict[str, object]) -> list[dict[str, object]]:
    db = "PostgreSQL" if data["vendor"] == "postgresql" else "SQLite"
    large = _label(int(data["large"]))
    floor = data["floor"]["p50"]
    rows: list[dict[str, object]] = [
        {
            "name": f"gallery ({db}): floor, minimal signed-in page p50",
            "value": f"{floor:.1f} ms",
            "target": "(reference)",
            "ok": True,
            "ratio": 1.0,
        }
    ]
    for page in PAGES:
        small_t, large_t = data["pages"][page]["small"], data["pages"][page]["large"]
        worst = max(small_t["p50"], large_t["p50"]) / floor
        rows.append(
            {
                "name": f"gallery ({db}): {page} p50, 1k / {large}",
                "value": f"{small_t['p50']:.1f} / {large_t['p50']:.1f} ms",
                "target": f"≤ {FLOOR_TARGET:g}× floor ({FLOOR_TARGET * floor:.1f} ms)",
                "ok": worst <= FLOOR_TARGET,
                "ratio": worst / FLOOR_TARGET,
            }
        )
        worst95 = max(small_t["p95"], large_t["p95"])
        rows.append(
            {
                "name": f"gallery ({db}): {page} p95, 1k / {large}",
                "value": f"{small_t['p95']:.1f} / {large_t['p95']:.1f} ms",
                "target": f"≤ {P95_TARGET_MS:g} ms",
                "ok": worst95 <= P95_TARGET_MS,
                "ratio": worst95 / P95_TARGET_MS,
            }
        )
        ratio = large_t["p50"] / small_t["p50"]
        rows.append(
            {
                "name": f"gallery ({db}): {page} p50, {large} vs 1k",
                "value": f"{large_t['p50']:.1f} / {small_t['p50']:.1f} ms",
                "target": f"≤ {RATIO_TARGET:g}×",
                "ok": ratio <= RATIO_TARGET,
                "ratio": ratio,
            }
        )
    counts = data["queries"]
    grew = [page for page in PAGES if counts[page]["large"] != counts[page]["small"]]
    rows.append(
        {
            "name": f"gallery ({db}): queries per page, 1k = {large}",
            "value": ", ".join(f"{counts[page]['large']}" for page in PAGES),
            "target": "the same at both sizes",
            "ok": not grew,
            "ratio": 1.0 + len(grew),
        }
    )
    return rows


def run() -> list[dict[str, object]]:
    rows = _rows(_measure_in_child(large=SQLITE_LARGE, database_url=None))
    pg = _postgres_ready()
    if pg:
        rows.extend(_rows(_measure_in_child(large=PG_LARGE, database_url=pg)))
    return rows


if __name__ == "__main__":
    if "--measure" in sys.argv:
        print(json.dumps(measure(int(sys.argv[sys.argv.index("--measure") + 1]))))
        sys.exit(0)
    results = run()
    for r in results:
        print(
            f"{r['name']:<52} {r['value']:>22}  {r['target']:<26} {r['ratio']:>5.2f}  {'ok' if r['ok'] else 'MISSED'}"
        )
    sys.exit(0 if all(r["ok"] for r in results) else 1)
