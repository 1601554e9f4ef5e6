"""Production refuses to start without what it needs, with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "DEBUG": "false",
    "KIESTUDIO_TESTING": "false",
    "SECRET_KEY": "x" * 20 + "-production-secret-key-for-tests-0123456789",
    "ALLOWED_HOSTS": "studio.example.com",
    "EMAIL_HOST": "smtp.example.com",
    "FIELD_ENCRYPTION_KEY": "a-long-random-key-for-encrypting-kie-keys-at-rest",
    "DATABASE_URL": "sqlite:////tmp/kiestudio-prod-test.sqlite3",
}


def start(env_overrides: dict[str, str | None]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIE_", "DJANGO_SETTINGS"))}
    env.update(GOOD)
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_complete_production_environment_starts():
    result = start({})
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ("SECRET_KEY", "Configuration error: SECRET_KEY is required but not set."),
        ("ALLOWED_HOSTS", "Configuration error: ALLOWED_HOSTS is required in production"),
        ("EMAIL_HOST", "Configuration error: EMAIL_HOST is required in production"),
        ("FIELD_ENCRYPTION_KEY", "Configuration error: FIELD_ENCRYPTION_KEY is required but not set."),
    ],
)
def test_missing_setting_stops_startup_with_one_line(missing, expected):
    result = start({missing: None})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SECRET_KEY", "short", "SECRET_KEY must be a random string of at least 40 characters"),
        ("DEBUG", "perhaps", "DEBUG must be true or false"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL must be a URL starting with redis://"),
        ("EMAIL_PORT", "smtp", "EMAIL_PORT must be a whole number"),
    ],
)
def test_invalid_setting_stops_startup_with_one_line(name, value, expected):
    result = start({name: value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


def test_setting_kie_api_key_switches_to_real_kie():
    code = "from django.conf import settings as s; print(s.KIE_USE_SIMULATOR, s.KIE_BASE_URL, s.KIE_UPLOAD_BASE_URL)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIE_")}
    env["DJANGO_SETTINGS_MODULE"] = "kiestudio.settings"
    run = lambda extra: subprocess.run(  # noqa: E731
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=60,
    )
    simulated = run({"KIESTUDIO_TESTING": "false"})
    assert simulated.stdout.split() == ["True", "http://127.0.0.1:8765", "http://127.0.0.1:8765"]
    real = run({"KIESTUDIO_TESTING": "false", "KIE_API_KEY": "a-real-key-1234"})
    assert real.stdout.split() == ["False", "https://api.kie.ai", "https://kieai.redpandaai.co"]
