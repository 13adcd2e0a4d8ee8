"""keccak256, the EVM's hash, through safe-pysha3's C extension.

Leaves, Merkle nodes and accumulator steps each cost one keccak; a replay of 100,000
revisions makes about 200,000 calls. eth_hash's default pycryptodome backend spends ~9 µs a
call here on ctypes and object set-up, the C extension ~1 µs.
"""

from __future__ import annotations

from sha3 import keccak_256


def keccak(data: bytes) -> bytes:
    """keccak256(`data`) as 32 bytes (not SHA3-256: the pre-standard padding)."""
    return keccak_256(data).digest()
