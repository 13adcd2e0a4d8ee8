"""Registries on the session's anvil for tests: one driven by unlocked accounts (verifier
suites), and offices registered through `notary.chain.client` (service suites)."""

from __future__ import annotations

from notary.chain.local import LocalChain


class VerifierRegistry:
    """A freshly deployed NotaryRegistry with one office, driven with web3 and anvil's
    unlocked accounts (no worker, no API): enough to put every verdict on a real chain."""

    OFFICE_NAME = "示范市政务服务数据管理局"

    def __init__(self, chain: LocalChain) -> None:
        from web3 import Web3

        from notary.chain.abi import load_artifact

        self.chain = chain
        self.w3 = Web3(Web3.HTTPProvider(chain.url))
        self.admin, self.signer = self.w3.eth.accounts[0], self.w3.eth.accounts[1]
        artifact = load_artifact()
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        deploy = factory.constructor(self.admin).transact({"from": self.admin, "gasPrice": 0})
        receipt = self._wait(deploy)
        self.address = receipt["contractAddress"]
        self.contract = self.w3.eth.contract(address=self.address, abi=artifact["abi"])
        self.chain_id = chain.chain_id
        self.office_id = b"\x0f" * 32
        fns = self.contract.functions
        self._tx(fns.registerOffice(self.office_id, self.OFFICE_NAME), self.admin)
        self._tx(self.contract.functions.grantSigner(self.office_id, self.signer), self.admin)
        self.office_number = self.contract.functions.office(self.office_id).call()[0]
        self.leaves: dict[bytes, bytes] = {}
        self.versions: dict[bytes, int] = {}

    def _wait(self, tx_hash: bytes) -> dict:
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
        assert receipt["status"] == 1, receipt
        return receipt

    def _tx(self, fn, sender: str | None = None) -> dict:
        return self._wait(fn.transact({"from": sender or self.signer, "gasPrice": 0}))

    def new_record_id(self) -> bytes:
        from notary.formats.revision import new_record_id

        return new_record_id(self.office_number)

    def anchor(
        self,
        content: bytes,
        *,
        record_id: bytes | None = None,
        kind: int = 0,
        valid_until: int = 0,
        metadata_hash: bytes = b"\x11" * 32,
        content_hash: bytes | None = None,
    ) -> tuple[bytes, int, bytes]:
        """Anchor `content` as the next version of `record_id` (new record if None).
        Returns (record_id, version, leaf)."""
        import hashlib

        from notary.formats.revision import Kind, Revision, compute_leaf

        record_id = record_id or self.new_record_id()
        version = self.versions.get(record_id, 0) + 1
        rev = Revision(
            record_id=record_id,
            version=version,
            kind=Kind(kind),
            valid_until=valid_until,
            content_hash=content_hash or hashlib.sha256(content).digest(),
            metadata_hash=metadata_hash,
            prev_leaf=self.leaves.get(record_id, bytes(32)),
        )
        self._tx(self.contract.functions.anchor(rev.as_tuple()))
        leaf = compute_leaf(rev, chain_id=self.chain_id, registry=self.address)
        self.leaves[record_id], self.versions[record_id] = leaf, version
        return record_id, version, leaf

    def revoke(self, record_id: bytes, reason: str) -> bytes:
        from notary.formats.revision import reason_hash

        h = reason_hash(reason)
        self._tx(self.contract.functions.revoke(record_id, h))
        return h

    def replace(self, record_id: bytes, by_record_id: bytes, reason: str = "") -> bytes:
        from notary.formats.revision import reason_hash

        h = reason_hash(reason) if reason else bytes(32)
        self._tx(self.contract.functions.replace(record_id, by_record_id, h))
        return h

    def trust(self, name: str = "示范区域公证链"):  # -> verifier.trust.TrustList
        from verifier.trust import TrustList

        return TrustList.single(
            chain_id=self.chain_id, registry=self.address, name=name, rpc_url=self.chain.url
        )


class RegistryOffice:
    """An office registered on `registry_deployment` with one fresh signer key."""

    def __init__(self, client, governance, name: str = "Tax office") -> None:
        import os

        from eth_account import Account

        from notary.chain.events import OfficeRegistered

        self.office_id = os.urandom(32)
        self.name = name
        result = client.register_office(governance, self.office_id, name)
        self.number = result.events_of(OfficeRegistered)[0].number
        self.signer = Account.create()  # zero gas price: a key needs no funds
        client.grant_signer(governance, self.office_id, self.signer.address)

    def record_id(self) -> bytes:
        """A fresh record id of this office."""
        from notary.formats.revision import new_record_id

        return new_record_id(self.number)
