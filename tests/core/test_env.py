from __future__ import annotations

import pytest

from kiestudio.env import EnvError, env_bool, env_int, env_list, env_secret, env_str, env_url


def test_env_bool_reads_true_false_and_default(monkeypatch):
    monkeypatch.setenv("X_FLAG", "True")
    assert env_bool("X_FLAG", False) is True
    monkeypatch.setenv("X_FLAG", "off")
    assert env_bool("X_FLAG", True) is False
    monkeypatch.delenv("X_FLAG")
    assert env_bool("X_FLAG", True) is True


def test_env_bool_rejects_anything_else_naming_the_variable(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(EnvError) as info:
        env_bool("X_FLAG", False)
    assert str(info.value.code) == "Configuration error: X_FLAG must be true or false, not 'maybe'."


def test_env_int_bounds(monkeypatch):
    monkeypatch.setenv("X_NUM", "12")
    assert env_int("X_NUM", 1, minimum=1, maximum=20) == 12
    monkeypatch.setenv("X_NUM", "0")
    with pytest.raises(EnvError, match="X_NUM must be at least 1"):
        env_int("X_NUM", 1, minimum=1)
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(EnvError, match="X_NUM must be a whole number"):
        env_int("X_NUM", 1)


def test_env_list_and_str(monkeypatch):
    monkeypatch.setenv("X_HOSTS", " a.example.com, b.example.com ,,")
    assert env_list("X_HOSTS") == ["a.example.com", "b.example.com"]
    monkeypatch.setenv("X_EMPTY", "   ")
    assert env_str("X_EMPTY", "fallback") == "fallback"
    with pytest.raises(EnvError, match="X_MISSING is required"):
        env_str("X_MISSING", required=True)


def test_env_secret_reads_file(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s3cret-value\n")
    monkeypatch.setenv("X_KEY_FILE", str(secret))
    assert env_secret("X_KEY") == "s3cret-value"
    monkeypatch.setenv("X_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(EnvError, match="X_KEY_FILE points at a file that can't be read"):
        env_secret("X_KEY")


def test_env_url_checks_scheme(monkeypatch):
    monkeypatch.setenv("X_URL", "https://api.example.com/")
    assert env_url("X_URL") == "https://api.example.com"
    monkeypatch.setenv("X_URL", "api.example.com")
    with pytest.raises(EnvError, match="X_URL must be a URL starting with http:// or https://"):
        env_url("X_URL")
