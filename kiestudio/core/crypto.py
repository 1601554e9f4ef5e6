"""Secrets at rest (a workspace's Kie key, its webhook key): Fernet with a key from the environment."""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["SecretUnreadable", "decrypt", "encrypt"]


class SecretUnreadable(Exception):
    """A stored secret can't be decrypted with FIELD_ENCRYPTION_KEY (or its fallbacks)."""


def _fernet(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


@cache
def _keys(current: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_fernet(current), *(_fernet(old) for old in fallbacks)])


def _box() -> MultiFernet:
    return _keys(settings.FIELD_ENCRYPTION_KEY, tuple(settings.FIELD_ENCRYPTION_KEY_FALLBACKS))


def encrypt(plain: str) -> str:
    return _box().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("The stored secret can't be read with FIELD_ENCRYPTION_KEY.") from exc
