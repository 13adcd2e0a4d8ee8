"""The registry client: deploy, write (direct, many, batch), read views and events.

Connects by configuration (`ChainConfig`: RPC URL, chain id, registry address,
confirmations, gas policy) and works unchanged against the embedded anvil (zero gas price,
instant blocks) and a production node (base fee, block time, confirmations).

Writes take the signing account first (`client.anchor(signer, revision)`); each key gets one
nonce sequence (see `notary.chain.tx`). Every write either returns a frozen `TxResult` with
the decoded registry events, or raises: a revert as the `notary.chain.errors` class of its
custom error (with the decoded values), a node failure as `Unavailable`. For the outbox,
`prepare_*` builds and signs without sending, `broadcast` sends, `wait` collects the result,
and `find_revision_event` / `result_of` reconcile after a crash.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.providers.rpc.utils import ExceptionRetryConfiguration

from notary.chain.abi import ContractAbi
from notary.chain.config import ChainConfig
from notary.chain.errors import (
    ContractReverted,
    NodeError,
    RegistryNotFound,
    RegistryRevert,
    WrongChain,
    revert_from_data,
)
from notary.chain.events import (
    BatchAnchored,
    RegistryEvent,
    RevisionAnchored,
    decode_log,
)
from notary.chain.logs import LogReader
from notary.chain.tx import TxSender, node_errors, revert_data, rpc_error_message
from notary.chain.types import (
    BatchInfo,
    Head,
    Office,
    RecordStatus,
    SignedTx,
    SignerPeriod,
    TxResult,
)
from notary.errors import InvalidInput
from notary.formats.accumulator import Accumulator
from notary.formats.revision import Revision, parse_address

BlockId = int | str


class RevisionLike(Protocol):
    """Anything with the Solidity struct as a tuple (`notary.formats.revision.Revision`)."""

    def as_tuple(self) -> tuple[Any, ...]: ...


RevisionArg = Revision | RevisionLike | Sequence[Any]


# ---------------------------------------------------------------------------------------------
# Connection and deployment
# ---------------------------------------------------------------------------------------------


def make_web3(config: ChainConfig) -> Web3:
    """A web3 instance over HTTP with the configured timeout and no middleware.

    Transport errors are retried briefly for idempotent calls; timeouts are not retried
    here (the sender resends, the log reader shrinks its range instead).
    """
    import requests

    provider = HTTPProvider(
        config.rpc_url,
        request_kwargs={"timeout": config.rpc_timeout},
        exception_retry_configuration=ExceptionRetryConfiguration(
            errors=(requests.ConnectionError, ConnectionError), retries=3, backoff_factor=0.05
        ),
    )
    return Web3(provider, middleware=[])


def load_registry_artifact() -> dict[str, Any]:
    """The committed registry artifact (`abi`, `bytecode`, …); no compiler needed."""
    from notary.chain.abi import load_artifact

    return load_artifact()


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where a registry was deployed."""

    address: str
    block_number: int
    tx_hash: str


def deploy_registry(
    web3: Web3,
    governance: LocalAccount,
    *,
    config: ChainConfig | None = None,
    artifact: dict[str, Any] | None = None,
) -> Deployment:
    """Deploy a registry whose admin and governor is `governance`."""
    artifact = artifact if artifact is not None else load_registry_artifact()
    abi = ContractAbi(artifact["abi"])
    if config is None:
        with node_errors("eth_chainId"):
            config = ChainConfig(chain_id=int(web3.eth.chain_id))
    sender = TxSender(web3, config)
    bytecode = bytes.fromhex(str(artifact["bytecode"]).removeprefix("0x"))
    data = abi.deploy_data(bytecode, [governance.address])

    def on_revert(raw: bytes | None) -> Exception:
        return revert_from_data(abi, raw, context="deploying the registry")

    signed = sender.prepare(
        governance, to=None, data=data, function="constructor", on_revert=on_revert
    )
    sender.broadcast(signed)
    receipt = sender.wait(signed)
    if int(receipt["status"]) != 1 or not receipt.get("contractAddress"):
        raise ContractReverted(f"deploying the registry failed in {signed.tx_hash}")
    return Deployment(
        address=to_checksum_address(receipt["contractAddress"]),
        block_number=int(receipt["blockNumber"]),
        tx_hash=signed.tx_hash,
    )


def deploy(
    web3: Web3,
    governance_account: LocalAccount,
    *,
    config: ChainConfig | None = None,
    artifact: dict[str, Any] | None = None,
) -> str:
    """Deploy a registry from the committed artifact and return its address."""
    return deploy_registry(web3, governance_account, config=config, artifact=artifact).address


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


class RegistryClient:
    """One registry on one chain: writes, views, events. Thread-safe."""

    def __init__(
        self,
        web3: Web3,
        config: ChainConfig,
        *,
        abi: ContractAbi | Sequence[dict[str, Any]] | None = None,
    ) -> None:
        """Wrap an existing web3 without checks; prefer `connect`."""
        if config.registry is None:
            raise RegistryNotFound("no registry address is configured (deploy one first)")
        self.web3 = web3
        self.config = config
        self.address: str = config.registry
        if abi is None:
            abi = load_registry_artifact()["abi"]
        self.abi = abi if isinstance(abi, ContractAbi) else ContractAbi(abi)
        self.sender = TxSender(web3, config)
        self.logs = LogReader(web3, self.address, self.abi, config)

    @classmethod
    def connect(
        cls,
        config: ChainConfig,
        *,
        web3: Web3 | None = None,
        abi: ContractAbi | Sequence[dict[str, Any]] | None = None,
    ) -> RegistryClient:
        """Connect and check that the node serves `config.chain_id` and the registry exists."""
        web3 = web3 if web3 is not None else make_web3(config)
        with node_errors(f"connecting to {config.rpc_url}"):
            chain_id = int(web3.eth.chain_id)
        if chain_id != config.chain_id:
            raise WrongChain(
                f"the node at {config.rpc_url} serves chain {chain_id}, "
                f"but the configuration expects chain {config.chain_id}"
            )
        client = cls(web3, config, abi=abi)
        with node_errors("eth_getCode"):
            code = web3.eth.get_code(client.address)  # type: ignore[arg-type]
        if not code:
            raise RegistryNotFound(f"no contract at {client.address} on chain {chain_id}")
        return client

    @property
    def chain_id(self) -> int:
        """The chain id (checked against the node by `connect`)."""
        return self.config.chain_id

    # -- low level --------------------------------------------------------------------------

    def _revert(self, function: str) -> Any:
        def on_revert(data: bytes | None) -> Exception:
            return revert_from_data(self.abi, data, context=function)

        return on_revert

    def prepare(
        self, account: LocalAccount, function: str, *args: Any, gas: int | None = None
    ) -> SignedTx:
        """Build and sign a call of any registry function without sending it.

        Gas is estimated unless given, so a call that would revert raises its
        `RegistryRevert` here and reserves no nonce.
        """
        fn = self.abi.function(function)
        return self.sender.prepare(
            account,
            to=self.address,
            data=fn.encode(args),
            gas=gas,
            function=function,
            on_revert=self._revert(function),
        )

    def broadcast(self, signed: SignedTx) -> str:
        """Send a prepared transaction; returns its hash (see `TxSender.broadcast`)."""
        return self.sender.broadcast(signed)

    def wait(self, signed: SignedTx) -> TxResult:
        """Wait for a broadcast transaction (resending it if needed) and return its result.

        A transaction mined but reverted raises its `RegistryRevert` with `tx_hash` set.
        """
        receipt = self.sender.wait(signed)
        return self._result(receipt, signed)

    def send(self, signed: SignedTx) -> TxResult:
        """`broadcast` then `wait`."""
        self.broadcast(signed)
        return self.wait(signed)

    def transact(
        self, account: LocalAccount, function: str, *args: Any, gas: int | None = None
    ) -> TxResult:
        """Prepare, send and wait for a call of any registry function."""
        return self.send(self.prepare(account, function, *args, gas=gas))

    def result_of(self, tx_hash: str) -> TxResult | None:
        """The result of a mined transaction by hash, or None if it is not mined (yet).

        For reconciliation: raises the decoded revert if it was mined but reverted.
        """
        receipt = self.sender.receipt(tx_hash)
        return None if receipt is None else self._result(receipt, None)

    def reset_nonce(self, account: LocalAccount | str) -> None:
        """Re-read a key's nonce from the node (after abandoning a prepared transaction)."""
        address = account if isinstance(account, str) else account.address
        self.sender.reset_nonce(address)

    def _result(self, receipt: dict[str, Any], signed: SignedTx | None) -> TxResult:
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        if int(receipt["status"]) != 1:
            raise self._explain_failure(receipt, signed, tx_hash)
        events = []
        for log in receipt.get("logs", ()):
            if str(log.get("address", "")).lower() != self.address.lower():
                continue
            event = decode_log(self.abi, log)
            if event is not None:
                events.append(event)
        contract = receipt.get("contractAddress")
        return TxResult(
            tx_hash=tx_hash,
            block_number=int(receipt["blockNumber"]),
            block_hash="0x" + bytes(receipt["blockHash"]).hex(),
            gas_used=int(receipt["gasUsed"]),
            effective_gas_price=int(receipt.get("effectiveGasPrice") or 0),
            events=tuple(events),
            contract_address=to_checksum_address(contract) if contract else None,
        )

    def _explain_failure(
        self, receipt: dict[str, Any], signed: SignedTx | None, tx_hash: str
    ) -> RegistryRevert:
        """Replay a failed transaction as a call on the state it left, to learn the reason."""
        with node_errors("eth_getTransactionByHash"):
            tx = dict(self.web3.eth.get_transaction(tx_hash))  # type: ignore[arg-type]
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}
        function = signed.function if signed is not None else "transaction"
        try:
            with node_errors("eth_call"):
                self.web3.eth.call(call, int(receipt["blockNumber"]))  # type: ignore[arg-type]
        except ContractLogicError as exc:
            return revert_from_data(self.abi, revert_data(exc), context=function, tx_hash=tx_hash)
        except Web3RPCError:
            pass
        hint = " (out of gas?)" if int(receipt["gasUsed"]) >= int(tx["gas"]) else ""
        return ContractReverted(
            f"{function}: transaction {tx_hash} reverted on chain{hint}", tx_hash=tx_hash
        )

    def _call(self, function: str, *args: Any, block: BlockId = "latest") -> tuple[Any, ...]:
        fn = self.abi.function(function)
        tx = {"to": self.address, "data": fn.encode(args)}
        try:
            with node_errors(f"eth_call {function}"):
                out = self.web3.eth.call(tx, block)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise revert_from_data(self.abi, revert_data(exc), context=function) from None
        except Web3RPCError as exc:
            raise NodeError(f"eth_call {function} failed: {rpc_error_message(exc)}") from exc
        return fn.decode(bytes(out))

    # -- governance -------------------------------------------------------------------------

    def register_office(self, governance: LocalAccount, office_id: bytes, name: str) -> TxResult:
        """Register an office; its number is in the `OfficeRegistered` event."""
        return self.transact(governance, "registerOffice", _b32(office_id, "office_id"), name)

    def suspend_office(self, governance: LocalAccount, office_id: bytes) -> TxResult:
        """Suspend an office: its signers can no longer anchor or revoke."""
        return self.transact(governance, "suspendOffice", _b32(office_id, "office_id"))

    def reinstate_office(self, governance: LocalAccount, office_id: bytes) -> TxResult:
        """Lift an office's suspension."""
        return self.transact(governance, "reinstateOffice", _b32(office_id, "office_id"))

    def grant_signer(self, governance: LocalAccount, office_id: bytes, signer: str) -> TxResult:
        """Let `signer` sign for the office from the next block on."""
        return self.transact(
            governance, "grantSigner", _b32(office_id, "office_id"), _address(signer)
        )

    def revoke_signer(self, governance: LocalAccount, office_id: bytes, signer: str) -> TxResult:
        """End `signer`'s authority for the office; its earlier anchors stay valid."""
        return self.transact(
            governance, "revokeSigner", _b32(office_id, "office_id"), _address(signer)
        )

    def rotate_signer(
        self, governance: LocalAccount, office_id: bytes, old: str, new: str
    ) -> tuple[TxResult, TxResult]:
        """Key rotation: grant `new`, then revoke `old` (so the office is never without one)."""
        granted = self.grant_signer(governance, office_id, new)
        return granted, self.revoke_signer(governance, office_id, old)

    # -- office signers ---------------------------------------------------------------------

    def prepare_anchor(
        self, signer: LocalAccount, revision: RevisionArg, *, gas: int | None = None
    ) -> SignedTx:
        """A signed `anchor(revision)` transaction, not sent."""
        return self.prepare(signer, "anchor", _revision(revision), gas=gas)

    def prepare_anchor_many(
        self, signer: LocalAccount, revisions: Iterable[RevisionArg], *, gas: int | None = None
    ) -> SignedTx:
        """A signed `anchorMany(revisions)` transaction, not sent."""
        return self.prepare(signer, "anchorMany", [_revision(r) for r in revisions], gas=gas)

    def prepare_anchor_batch(
        self, signer: LocalAccount, root: bytes, leaf_count: int, *, gas: int | None = None
    ) -> SignedTx:
        """A signed `anchorBatch(root, leafCount)` transaction, not sent."""
        return self.prepare(signer, "anchorBatch", _b32(root, "root"), leaf_count, gas=gas)

    def anchor(self, signer: LocalAccount, revision: RevisionArg) -> TxResult:
        """Anchor one revision (direct mode)."""
        return self.send(self.prepare_anchor(signer, revision))

    def anchor_many(self, signer: LocalAccount, revisions: Iterable[RevisionArg]) -> TxResult:
        """Anchor many revisions in one transaction, all or nothing."""
        return self.send(self.prepare_anchor_many(signer, revisions))

    def anchor_batch(self, signer: LocalAccount, root: bytes, leaf_count: int) -> TxResult:
        """Anchor a Merkle root over `leaf_count` leaves (batch mode)."""
        return self.send(self.prepare_anchor_batch(signer, root, leaf_count))

    def revoke(self, signer: LocalAccount, record_id: bytes, reason_hash: bytes) -> TxResult:
        """Revoke a record; `reason_hash` is `notary.formats.revision.reason_hash(text)`."""
        return self.transact(
            signer, "revoke", _b32(record_id, "record_id"), _b32(reason_hash, "reason_hash")
        )

    def replace(
        self,
        signer: LocalAccount,
        record_id: bytes,
        by_record_id: bytes,
        reason_hash: bytes = bytes(32),
    ) -> TxResult:
        """Mark `record_id` as replaced by another record of the same office; `reason_hash`
        is `notary.formats.revision.reason_hash(text)` of the supersede reason, zero for none."""
        return self.transact(
            signer,
            "replace",
            _b32(record_id, "record_id"),
            _b32(by_record_id, "by_record_id"),
            _b32(reason_hash, "reason_hash"),
        )

    def anchor_access_log(self, signer: LocalAccount, head: bytes, entries: int) -> TxResult:
        """Anchor the head of the office's hash-chained access log."""
        return self.transact(signer, "anchorAccessLog", _b32(head, "head"), entries)

    # -- views ------------------------------------------------------------------------------

    def head(self, record_id: bytes, *, block: BlockId = "latest") -> Head:
        """The head of a record (`version` 0 when it was never anchored)."""
        (view,) = self._call("head", _b32(record_id, "record_id"), block=block)
        office_id, version, status, prefix, anchored, valid_until, replaced_by = view
        return Head(
            office_id=office_id,
            version=version,
            status=RecordStatus(status),
            leaf_prefix=prefix,
            anchored_block=anchored,
            valid_until=valid_until,
            replaced_by=replaced_by,
        )

    def is_current(self, record_id: bytes, leaf: bytes, *, block: BlockId = "latest") -> bool:
        """True when `leaf` is the record's latest leaf and the record is active."""
        (ok,) = self._call(
            "isCurrent", _b32(record_id, "record_id"), _b32(leaf, "leaf"), block=block
        )
        return bool(ok)

    def compute_leaf(self, revision: RevisionArg) -> bytes:
        """The leaf the registry computes for `revision` (must equal `revision.compute_leaf`)."""
        (leaf,) = self._call("computeLeaf", _revision(revision))
        return bytes(leaf)

    def office(self, office_id: bytes, *, block: BlockId = "latest") -> Office:
        """An office by id (`number` 0 when not registered)."""
        (view,) = self._call("office", _b32(office_id, "office_id"), block=block)
        number, suspended, name = view
        return Office(office_id=bytes(office_id), number=number, suspended=suspended, name=name)

    def office_id_of(self, number: int, *, block: BlockId = "latest") -> bytes:
        """The office id behind an office number (zero bytes if none)."""
        (office_id,) = self._call("officeIdOf", number, block=block)
        return bytes(office_id)

    def signer_authorised_at(
        self, office_id: bytes, signer: str, block_number: int, *, block: BlockId = "latest"
    ) -> bool:
        """Whether `signer` could sign for the office at `block_number`."""
        (ok,) = self._call(
            "signerAuthorisedAt",
            _b32(office_id, "office_id"),
            _address(signer),
            block_number,
            block=block,
        )
        return bool(ok)

    def signer_periods(self, signer: str, *, block: BlockId = "latest") -> tuple[SignerPeriod, ...]:
        """Every authority period the signer ever had (the open one last)."""
        (periods,) = self._call("signerPeriods", _address(signer), block=block)
        return tuple(SignerPeriod(*p) for p in periods)

    def accumulator(self, *, block: BlockId = "latest") -> Accumulator:
        """The running accumulator over every anchored leaf and batch root."""
        hash24, count = self._call("accumulator", block=block)
        return Accumulator(bytes(hash24), count)

    def batch(self, root: bytes, *, block: BlockId = "latest") -> BatchInfo:
        """Where a batch root was anchored (`block_number` 0 when unknown)."""
        office_id, block_number = self._call("batch", _b32(root, "root"), block=block)
        return BatchInfo(root=bytes(root), office_id=office_id, block_number=block_number)

    def verify_batch_leaf(
        self, root: bytes, leaf: bytes, proof: Sequence[bytes], *, block: BlockId = "latest"
    ) -> bool:
        """Check a Merkle inclusion proof against an anchored root, on chain."""
        (ok,) = self._call(
            "verifyBatchLeaf",
            _b32(root, "root"),
            _b32(leaf, "leaf"),
            [_b32(p, "proof element") for p in proof],
            block=block,
        )
        return bool(ok)

    # -- events -----------------------------------------------------------------------------

    def latest_safe_block(self) -> int:
        """The newest block with `confirmations` blocks on top (-1 if none)."""
        return self.logs.latest_safe_block()

    def iter_logs(
        self,
        from_block: int | None = None,
        to_block: int | None = None,
        event_names: Iterable[str] | None = None,
    ) -> Iterator[RegistryEvent]:
        """Every registry event from `from_block` (default: `config.start_block`) on.

        Paginated (see `notary.chain.logs`); stops at `latest_safe_block()`.
        """
        start = self.config.start_block if from_block is None else from_block
        return self.logs.iter_logs(start, to_block, event_names=event_names)

    def find_revision_event(
        self,
        record_id: bytes,
        version: int,
        *,
        from_block: int | None = None,
        include_unconfirmed: bool = False,
    ) -> RevisionAnchored | None:
        """The `RevisionAnchored` event of one revision, if it is on chain.

        For crash recovery: a revision whose transaction was sent but not recorded is found
        here and must not be sent again. Only confirmed blocks are searched unless
        `include_unconfirmed`.
        """
        record_id = _b32(record_id, "record_id")
        start = self.config.start_block if from_block is None else from_block
        for event in self.logs.iter_logs(
            start,
            event_names=["RevisionAnchored"],
            topics=[record_id],
            confirmed=not include_unconfirmed,
        ):
            if isinstance(event, RevisionAnchored) and event.version == version:
                return event
        return None

    def find_batch_event(
        self, root: bytes, *, from_block: int | None = None, include_unconfirmed: bool = False
    ) -> BatchAnchored | None:
        """The `BatchAnchored` event of a Merkle root, if it is on chain."""
        root = _b32(root, "root")
        start = self.config.start_block if from_block is None else from_block
        for event in self.logs.iter_logs(
            start, event_names=["BatchAnchored"], topics=[root], confirmed=not include_unconfirmed
        ):
            if isinstance(event, BatchAnchored):
                return event
        return None


# ---------------------------------------------------------------------------------------------
# Argument checks (eth_abi would silently pad a short bytes32)
# ---------------------------------------------------------------------------------------------


def _b32(value: object, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise InvalidInput(f"{name} must be 32 bytes")
    return bytes(value)


def _address(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"not an address: {value!r}")
    return to_checksum_address(parse_address(value))


def _revision(value: RevisionArg) -> tuple[Any, ...]:
    as_tuple = getattr(value, "as_tuple", None)
    fields = tuple(as_tuple()) if callable(as_tuple) else tuple(value)  # type: ignore[arg-type]
    if len(fields) != 7:
        raise InvalidInput("a revision has 7 fields (recordId … prevLeaf)")
    record_id, version, kind, valid_until, content_hash, metadata_hash, prev_leaf = fields
    return (
        _b32(record_id, "record_id"),
        int(version),
        int(kind),
        int(valid_until),
        _b32(content_hash, "content_hash"),
        _b32(metadata_hash, "metadata_hash"),
        _b32(prev_leaf, "prev_leaf"),
    )
