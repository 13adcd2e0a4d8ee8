"""The certificate holder commitment: what goes on chain instead of a certificate's hash.

A certificate's bytes carry personal data, so the chain must not let anyone confirm a guess
about them. Its revision's `contentHash` is therefore salted:

    contentHash = sha256(salt || exact certificate bytes)       (salt: 16 or 32 bytes)

The salt travels in the certificate's QR code (`QrPayload.salt`), so whoever holds the
certificate can prove it (`cat salt.bin cert.pdf | sha256sum`), and nobody else can.
Disclosures keep the plain `sha256(bytes)`.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib

SALT_LENGTHS = (16, 32)


def holder_commitment(salt: bytes, data: bytes) -> bytes:
    """The salted content commitment of a certificate's exact bytes."""
    if not isinstance(salt, bytes) or len(salt) not in SALT_LENGTHS:
        raise ValueError("salt must be 16 or 32 bytes")
    h = hashlib.sha256(salt)
    h.update(data)
    return h.digest()
