"""Webhook shared secrets at rest: Fernet (AES-128-CBC + HMAC) keyed from SECRET_KEY.

``NOTIFICATIONS_SECRET_KEY`` (optional setting) decouples the key from SECRET_KEY; the
current key encrypts, and SECRET_KEY_FALLBACKS still decrypt, so rotating SECRET_KEY the
Django way keeps existing secrets readable.
"""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

_CONTEXT = b"opsportal.notifications.secret"


def _fernet_for(key: str) -> Fernet:
    digest = hashlib.sha256(_CONTEXT + b"\x00" + key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _keys() -> list[str]:
    explicit = getattr(settings, "NOTIFICATIONS_SECRET_KEY", "")
    if explicit:
        return [explicit]
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def encrypt(plain: str) -> str:
    return MultiFernet([_fernet_for(k) for k in _keys()]).encrypt(plain.encode()).decode()


@functools.lru_cache(maxsize=512)
def decrypt(token: str) -> str | None:
    """The secret, or None when no configured key can read it (key rotated away).
    Cached per token: a batch of webhooks to one endpoint decrypts its secret once."""
    try:
        return MultiFernet([_fernet_for(k) for k in _keys()]).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None
