"""The certificate holder commitment, re-exported from `notary.formats.certificate`.

A certificate's on-chain `contentHash` is salted (`sha256(salt || exact certificate
bytes)`, salt of 16 or 32 bytes, carried in the certificate's QR code); see
docs/formats.md, "Certificate commitment". Disclosures keep the plain `sha256(bytes)`.
"""

from __future__ import annotations

from notary.formats.certificate import SALT_LENGTHS, holder_commitment, holder_data_commitment

__all__ = ["SALT_LENGTHS", "holder_commitment", "holder_data_commitment"]
