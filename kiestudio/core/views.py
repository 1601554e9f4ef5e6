from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from kiestudio.core.health import health_names, health_run
from kiestudio.core.params import BadParameter
from kiestudio.kie.catalog import load_catalog


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:

    return render(request, "core/home.html", {"model_count": len(load_catalog().originals)})


def _check_database() -> dict[str, object]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # a health probe reports, it never raises
        return {"ok": False, "vendor": connection.vendor, "error": exc.__class__.__name__}
    return {"ok": True, "vendor": connection.vendor, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def _check_broker() -> dict[str, object]:
    started = time.perf_counter()
    if settings.REDIS_URL:
        try:
            import redis

            client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
            client.ping()
            client.close()
        except Exception as exc:
            return {"ok": False, "kind": "redis", "error": exc.__class__.__name__}
        return {"ok": True, "kind": "redis", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    try:
        from django_q.models import OrmQ

        queued = OrmQ.objects.count()
    except Exception as exc:
        return {"ok": False, "kind": "orm", "error": exc.__class__.__name__}
    return {"ok": True, "kind": "orm", "queued": queued}


def _check_features() -> dict[str, dict[str, object]]:
    """The checks features registered (``jobs``: whether background work is moving; a stuck worker cluster makes
    it 503 until it recovers)."""
    return {name: health_run(name) or {"ok": True} for name in health_names()}


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    database = _check_database()
    broker = _check_broker()
    features = _check_features() if database["ok"] else {}
    ok = bool(database["ok"] and broker["ok"] and all(check["ok"] for check in features.values()))
    body = {
        "status": "ok" if ok else "error",
        "database": database,
        "broker": broker,
        **features,
        "kie": {"mode": "simulator" if settings.KIE_USE_SIMULATOR else "kie"},
    }
    return JsonResponse(body, status=200 if ok else 503)


def error_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Malformed request data. A ``BadParameter``'s message is written for people (it names the value); any
    other reason stays generic."""

    reason = exception.message if isinstance(exception, BadParameter) else "Something in the request was malformed."
    return render(request, "400.html", {"reason": reason}, status=400)


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    reason = str(exception) if exception and str(exception) else "You don't have permission to do that here."
    return render(request, "403.html", {"reason": reason}, status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)
