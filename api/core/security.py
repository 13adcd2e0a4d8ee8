"""API keys: generation, keyed hashing and constant-time comparison.

A key is `nk_<prefix>_<secret>`; the prefix (public, indexed) finds the row, the whole key is
HMAC-SHA256'd with the server secret and compared with `hmac.compare_digest`. The plain key
is returned once, at creation, and never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "nk"


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly minted key: `plain` is shown to the caller once; the rest is stored."""

    plain: str
    prefix: str
    key_hash: str


def hash_key(plain: str, secret: str) -> str:
    """Keyed hash of an API key (hex HMAC-SHA256 with the server secret)."""
    return hmac.new(secret.encode(), plain.encode(), hashlib.sha256).hexdigest()


def key_prefix(plain: str) -> str | None:
    """The lookup prefix of a well-formed key, or None for anything else."""
    parts = plain.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


def mint_key(secret: str) -> NewKey:
    """A new random key with its prefix and keyed hash."""
    prefix = secrets.token_hex(6)
    plain = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(plain=plain, prefix=prefix, key_hash=hash_key(plain, secret))


def lookup_prefix(plain: str) -> str:
    """The prefix that finds a key's row: its own for minted keys, a digest for others."""
    return key_prefix(plain) or "op" + hashlib.sha256(plain.encode()).hexdigest()[:16]


def key_from_plain(plain: str, secret: str) -> NewKey:
    """Prefix and hash for a key chosen by the operator (the bootstrap admin key)."""
    return NewKey(plain=plain, prefix=lookup_prefix(plain), key_hash=hash_key(plain, secret))


def matches(plain: str, stored_hash: str, secret: str) -> bool:
    """Constant-time check of a presented key against a stored keyed hash."""
    return hmac.compare_digest(hash_key(plain, secret), stored_hash)
