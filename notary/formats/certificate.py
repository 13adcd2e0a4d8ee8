"""E-certificate commitments (docs/formats.md, "Certificate commitment").

A certificate carries personal data, so the chain must never let anyone confirm a guess
about it. Two salted commitments, one salt (32 random bytes, handed to the holder once):

    contentHash       = sha256(salt || exact bytes of the certificate document)
    holder_commitment = sha256(salt || RFC 8785 canonical JSON of the holder data)

`contentHash` goes on chain as the revision's content hash; `holder_commitment` goes into
the revision's metadata (so into `metadataHash`). Whoever holds the document and the salt
can prove the document (`cat salt.bin cert.pdf | sha256sum`) and, with the holder data,
prove that data too; nobody else learns anything from the chain.

The document is the office's own PDF/OFD/XML file if it supplied one, else a PDF rendered
from the holder data by `api.services.certificate_pdf`.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785

SALT_LENGTH = 32
"""Length of the salt the service draws for a new certificate."""
SALT_LENGTHS = (16, 32)
"""Salt lengths a verifier accepts (the QR payload can carry either)."""


def holder_commitment(salt: bytes, data: bytes) -> bytes:
    """`sha256(salt || data)`: the salted commitment of a certificate's exact bytes.

    The on-chain `contentHash` of a certificate is this over the document's bytes; the
    metadata's `holder_commitment` is this over the canonical holder JSON.
    """
    if not isinstance(salt, bytes) or len(salt) not in SALT_LENGTHS:
        raise ValueError("salt must be 16 or 32 bytes")
    h = hashlib.sha256(salt)
    h.update(data)
    return h.digest()


def canonical_holder(holder: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of the holder data (the preimage after the salt)."""
    return rfc8785.dumps(dict(holder))


def holder_data_commitment(salt: bytes, holder: Mapping[str, Any]) -> bytes:
    """`sha256(salt || RFC 8785 JSON of holder)`: the metadata's `holder_commitment`."""
    return holder_commitment(salt, canonical_holder(holder))


HOLDER_CAPABILITY_TAG = b"holder"
"""Domain tag of the holder's capability, so it is no other hash of the salt."""


def holder_capability(salt: bytes, record_id: bytes) -> bytes:
    """`sha256("holder" || salt || record id)`: what the holder shows to download their
    certificate (docs/privacy.md, "The holder's link"). Bound to the record, so one
    certificate's salt opens no other record."""
    if not isinstance(salt, bytes) or len(salt) not in SALT_LENGTHS:
        raise ValueError("salt must be 16 or 32 bytes")
    if not isinstance(record_id, bytes) or len(record_id) != 32:
        raise ValueError("record id must be 32 bytes")
    return hashlib.sha256(HOLDER_CAPABILITY_TAG + salt + record_id).digest()


def capability_digest(capability: bytes) -> str:
    """`sha256(capability)` in hex: all the service keeps of a holder's capability."""
    return hashlib.sha256(capability).hexdigest()
