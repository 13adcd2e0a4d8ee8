"""Revisions for registry tests: random content, the registry's leaf, chains of versions."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from notary.chain.client import RegistryClient
from notary.chain.config import ChainConfig
from notary.formats.revision import Kind, Revision, compute_leaf

ZERO = bytes(32)
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
"""anvil's first deployment address (a registry that need not exist)."""


def digest(text: str) -> bytes:
    """SHA-256 of a label: a stable 32-byte value for a test."""
    return hashlib.sha256(text.encode()).digest()


def new_rev(
    record_id: bytes,
    version: int = 1,
    prev_leaf: bytes = ZERO,
    *,
    kind: Kind = Kind.DISCLOSURE,
    valid_until: int = 0,
) -> Revision:
    """A revision of `record_id` with random content and metadata hashes."""
    return Revision(
        record_id=record_id,
        version=version,
        kind=kind,
        valid_until=valid_until,
        content_hash=os.urandom(32),
        metadata_hash=os.urandom(32),
        prev_leaf=prev_leaf,
    )


def leaf_of(client: RegistryClient, rev: Revision) -> bytes:
    """The leaf `client`'s registry computes for `rev`."""
    return compute_leaf(rev, chain_id=client.chain_id, registry=client.address)


def anchor_versions(
    client: RegistryClient, office: Any, versions: int
) -> tuple[bytes, list[bytes]]:
    """Anchor `versions` versions of a new record; returns (record id, leaves)."""
    record_id, leaves = office.record_id(), []
    for version in range(1, versions + 1):
        rev = new_rev(record_id, version, leaves[-1] if leaves else ZERO)
        client.anchor(office.signer, rev)
        leaves.append(leaf_of(client, rev))
    return record_id, leaves


def client_with(config: ChainConfig, **changes: Any) -> RegistryClient:
    """A client of the same registry with some settings changed (node URL, page size…)."""
    return RegistryClient.connect(config.replace(**changes))
