"""The trust list: which chains and registries this verifier accepts, and what to call them.

A JSON file, one entry per trusted registry (several regions can be trusted at once):

    {"version": 1, "entries": [
      {"chain_id": 31337, "registry": "0x5FbD…", "name": "Demo consortium",
       "rpc_url": "http://127.0.0.1:8545",
       "signers": [{"address": "0xf39F…", "office": "Demo City Bureau"}],
       "verify_hosts": ["verify.demo.gov.example"]}
    ]}

`rpc_url` names one node; `rpc_urls` (a list) names several nodes of the same chain, read
in order with fail-over (`rpc_url`, when given too, must be the first of them).
`deployment_block` is the block the registry was deployed in (written by `notary init`):
no event is older, so every log query starts there (0 when unknown). `confirmations` is how
many blocks must be on top of an event before the verifier acts on it (0 on a chain with
immediate finality such as Besu/QBFT; a chain that can reorg needs more).

`signers` is optional: a cache of office signer addresses, used only offline to say "issued by
office X, status unchecked" when a payload carries a signature and the chain is unreachable.
`verify_hosts` is optional: the hosts (name, optional `:port`) whose verify URLs codes of that
registry may carry without a warning on a service's upload results (docs/qr-payload.md); it
never changes a verdict.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notary.formats.qr_payload import REGISTRY_PREFIX_LEN

TRUST_FORMAT_VERSION = 1
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class TrustListError(ValueError):
    """The trust list file is missing or malformed (an operator error, not a verdict)."""


def normalise_address(value: object) -> str:
    """A 20-byte address as lowercase `0x…` hex; raises TrustListError if it is not one."""
    if isinstance(value, bytes | bytearray) and len(value) == 20:
        return "0x" + bytes(value).hex()
    if isinstance(value, str) and _ADDRESS.fullmatch(value):
        return value.lower()
    raise TrustListError(f"not a 20-byte hex address: {value!r}")


_HOST = re.compile(r"[a-z0-9.\-\[\]:]{1,260}")


def _hosts(value: object) -> tuple[str, ...]:
    """Verify hosts as lowercase `name[:port]` strings; TrustListError if one is not."""
    if not isinstance(value, list | tuple):
        raise TrustListError("trust entry `verify_hosts` must be a list of host names")
    out = []
    for host in value:
        if not isinstance(host, str) or not _HOST.fullmatch(host.strip().lower()):
            raise TrustListError(f"not a host name (name or address, optional :port): {host!r}")
        out.append(host.strip().lower())
    return tuple(out)


def _urls(first: object, many: object) -> tuple[str, ...]:
    """The entry's node URLs: `rpc_urls`, else `rpc_url` alone; TrustListError if malformed."""
    if isinstance(many, str) or not isinstance(many, list | tuple):
        raise TrustListError("trust entry `rpc_urls` must be a list of URLs")
    urls = tuple(many) if many else (() if first is None else (first,))
    for url in urls:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise TrustListError(f"not an http(s) RPC URL: {url!r}")
    if len(set(urls)) != len(urls):
        raise TrustListError("trust entry `rpc_urls` names a node twice")
    if many and first is not None and first != urls[0]:
        raise TrustListError("trust entry `rpc_url` must be the first of its `rpc_urls`")
    return urls


@dataclass(frozen=True, slots=True)
class OfflineSigner:
    """A signer address known to sign for a named office (for offline checks only)."""

    address: str
    office: str


@dataclass(frozen=True, slots=True)
class TrustEntry:
    """One trusted registry: chain id + address, its display name and how to reach it."""

    chain_id: int
    registry: str
    name: str
    rpc_url: str | None = None
    signers: tuple[OfflineSigner, ...] = field(default_factory=tuple)
    verify_hosts: tuple[str, ...] = field(default_factory=tuple)
    """Hosts whose verify URLs this registry's codes may carry (lowercase, optional :port)."""
    rpc_urls: tuple[str, ...] = field(default_factory=tuple)
    """Every node to read from, in order (`rpc_url` is the first; empty when none)."""
    deployment_block: int = 0
    """The registry's deployment block: the lower bound of every log query."""
    confirmations: int = 0
    """Blocks on top of an event before it counts."""

    def __post_init__(self) -> None:
        urls = _urls(self.rpc_url, self.rpc_urls)
        object.__setattr__(self, "rpc_urls", urls)
        object.__setattr__(self, "rpc_url", urls[0] if urls else None)
        for name in ("deployment_block", "confirmations"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value < 2**63:
                raise TrustListError(f"trust entry `{name}` must be a non-negative integer")
        if isinstance(self.chain_id, bool) or not isinstance(self.chain_id, int):
            raise TrustListError(f"chain_id must be an integer, got {self.chain_id!r}")
        if not 0 < self.chain_id < 2**64:
            raise TrustListError(f"chain_id out of range: {self.chain_id}")
        object.__setattr__(self, "registry", normalise_address(self.registry))
        if not isinstance(self.name, str) or not self.name.strip():
            raise TrustListError("every trust entry needs a display name")
        object.__setattr__(self, "verify_hosts", _hosts(self.verify_hosts))

    def matches(self, chain_id: int, registry: str | bytes) -> bool:
        """True when this entry is for exactly that chain and registry."""
        try:
            return self.chain_id == chain_id and self.registry == normalise_address(registry)
        except TrustListError:
            return False

    def offline_office(self, signer: str) -> str | None:
        """The office a cached signer address signs for, if it is in the cache."""
        signer = signer.lower()
        return next((s.office for s in self.signers if s.address == signer), None)


@dataclass(frozen=True, slots=True)
class TrustList:
    """The registries a verifier accepts. Lookup is by exact (chain id, registry address)."""

    entries: tuple[TrustEntry, ...]

    def find(self, chain_id: int, registry: str | bytes) -> TrustEntry | None:
        """The entry for that chain and registry, or None (= untrusted issuer)."""
        return next((e for e in self.entries if e.matches(chain_id, registry)), None)

    def find_prefix(self, chain_id: int, registry_prefix: bytes) -> TrustEntry | None:
        """The one entry on `chain_id` whose address starts with `registry_prefix` (QR codes
        carry only the first 8 bytes). None when none, or more than one, matches."""
        if not registry_prefix:
            return None
        found = [
            e
            for e in self.entries
            if e.chain_id == chain_id and bytes.fromhex(e.registry[2:]).startswith(registry_prefix)
        ]
        return found[0] if len(found) == 1 else None

    def __iter__(self):  # plain iterator over entries
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def of(cls, entries: Iterable[TrustEntry]) -> TrustList:
        """A trust list from entries: no two on one chain whose registries share the prefix
        QR codes name them by (docs/qr-payload.md), duplicates included."""
        entries = tuple(entries)
        seen: dict[tuple[int, str], TrustEntry] = {}
        for e in entries:
            key = (e.chain_id, e.registry[2:].lower()[: 2 * REGISTRY_PREFIX_LEN])
            if (other := seen.get(key)) is not None:
                what = "duplicate trust entry" if other.registry == e.registry else (
                    f"registries {other.registry} and {e.registry} share the prefix QR codes "
                    "name them by:"
                )  # fmt: skip
                raise TrustListError(f"{what} {e.chain_id}/{e.registry}")
            seen[key] = e
        return cls(entries)

    @classmethod
    def single(
        cls,
        *,
        chain_id: int,
        registry: str,
        name: str,
        rpc_url: str | None = None,
        rpc_urls: tuple[str, ...] = (),
        deployment_block: int = 0,
        confirmations: int = 0,
    ) -> TrustList:
        """A trust list of one registry (the CLI's `--rpc --registry --name` form)."""
        entry = TrustEntry(
            chain_id=chain_id,
            registry=registry,
            name=name,
            rpc_url=rpc_url,
            rpc_urls=tuple(rpc_urls),
            deployment_block=deployment_block,
            confirmations=confirmations,
        )
        return cls((entry,))

    def to_json(self) -> str:
        """The file form of this trust list."""
        return json.dumps(
            {
                "version": TRUST_FORMAT_VERSION,
                "entries": [
                    {
                        "chain_id": e.chain_id,
                        "registry": e.registry,
                        "name": e.name,
                        "rpc_url": e.rpc_url,
                        **({"rpc_urls": list(e.rpc_urls)} if len(e.rpc_urls) > 1 else {}),
                        "deployment_block": e.deployment_block,
                        "confirmations": e.confirmations,
                        "signers": [{"address": s.address, "office": s.office} for s in e.signers],
                        "verify_hosts": list(e.verify_hosts),
                    }
                    for e in self.entries
                ],
            },
            ensure_ascii=False,
            indent=2,
        )


def parse_trust(data: str | bytes | dict[str, Any]) -> TrustList:
    """Parse a trust list from JSON text or an already-decoded dict."""
    try:
        doc = json.loads(data) if isinstance(data, str | bytes) else data
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrustListError(f"trust list is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("version") != TRUST_FORMAT_VERSION:
        raise TrustListError(f"trust list must be an object with version {TRUST_FORMAT_VERSION}")
    raw = doc.get("entries")
    if not isinstance(raw, list) or not raw:
        raise TrustListError("trust list has no entries")
    entries = []
    for item in raw:
        if not isinstance(item, dict):
            raise TrustListError(f"trust entry must be an object, got {item!r}")
        signers = item.get("signers") or []
        if not isinstance(signers, list):
            raise TrustListError("trust entry `signers` must be a list")
        try:
            entries.append(
                TrustEntry(
                    chain_id=item["chain_id"],
                    registry=item["registry"],
                    name=item["name"],
                    rpc_url=item.get("rpc_url"),
                    signers=tuple(
                        OfflineSigner(normalise_address(s["address"]), str(s["office"]))
                        for s in signers
                    ),
                    verify_hosts=item.get("verify_hosts") or (),
                    rpc_urls=item.get("rpc_urls") or (),
                    deployment_block=item.get("deployment_block", 0),
                    confirmations=item.get("confirmations", 0),
                )
            )
        except (KeyError, TypeError) as exc:
            raise TrustListError(f"trust entry is missing a field: {exc}") from exc
    return TrustList.of(entries)


def load_trust(path: str | os.PathLike[str]) -> TrustList:
    """Read a trust list file."""
    try:
        return parse_trust(Path(path).read_bytes())
    except OSError as exc:
        raise TrustListError(f"cannot read trust list {path}: {exc}") from exc
