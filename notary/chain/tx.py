"""Sending transactions: local signing, one nonce sequence per key, resend, confirmations.

`TxSender` is the part of the chain client that knows nothing about the registry:

- each key gets one writer whose nonce is kept locally (initialised from the node's
  `pending` count, then incremented under a lock), so many threads can prepare
  transactions for the same key without asking the node for a nonce each time;
- transactions are signed locally and sent raw (the node never holds a key);
- gas is estimated (with the configured margin) and priced by the configured policy;
- `wait` polls for the receipt, re-broadcasts the *same* signed bytes (same nonce, same
  hash) every `resend_timeout` seconds while there is none, notices when a different
  transaction took the nonce, and waits for `confirmations` blocks on top, re-reading the
  receipt so a reorged-out receipt is not trusted.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from notary.chain.config import ChainConfig
from notary.chain.errors import (
    GasPriceTooHigh,
    NodeError,
    NodeUnavailable,
    NonceConsumed,
    TxRejected,
    TxTimeout,
)
from notary.chain.types import SignedTx
from notary.errors import NotaryError

MAX_POLL_INTERVAL = 1.0
"""Receipt polling starts at `poll_interval` and slows down by half each time up to this."""
FEE_CACHE_SECONDS = 1.0
"""How long a fee quote from the node is reused (base fees move at most 12.5 % a block)."""

# Answers to a re-broadcast that mean "the node has (or had) this transaction".
_ALREADY_KNOWN = re.compile(r"already known|known transaction|already imported|already in", re.I)
_NONCE_TOO_LOW = re.compile(r"nonce too low|nonce is too low|OldNonce|invalid nonce", re.I)


def rpc_error_message(exc: BaseException) -> str:
    """The node's own error message inside a web3 RPC exception (or the exception text)."""
    response = getattr(exc, "rpc_response", None)
    if isinstance(response, dict):
        error = response.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(exc)


@contextlib.contextmanager
def node_errors(what: str) -> Iterator[None]:
    """Turn transport failures into `NodeUnavailable` (reverts and RPC errors pass through)."""
    try:
        yield
    except NotaryError:
        raise  # ours already (`Unavailable` is itself a ConnectionError)
    except (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError) as exc:
        raise NodeUnavailable(
            f"{what}: the chain node did not answer ({type(exc).__name__})"
        ) from exc


@dataclass(slots=True)
class _Writer:
    """The nonce sequence of one key."""

    address: str
    lock: threading.Lock
    next_nonce: int | None = None


class TxSender:
    """Signs, sends and waits for transactions against one node, per `ChainConfig`."""

    def __init__(self, web3: Web3, config: ChainConfig) -> None:
        self.web3 = web3
        self.config = config
        self._writers: dict[str, _Writer] = {}
        self._writers_lock = threading.Lock()
        self._fee_lock = threading.Lock()
        self._fee_quote: tuple[float, dict[str, int]] | None = None

    # -- nonces -----------------------------------------------------------------------------

    def _writer(self, address: str) -> _Writer:
        with self._writers_lock:
            writer = self._writers.get(address)
            if writer is None:
                writer = self._writers[address] = _Writer(address, threading.Lock())
            return writer

    def reset_nonce(self, address: str) -> None:
        """Forget the local nonce of `address`; the next transaction asks the node again.

        Call it after abandoning a prepared transaction that was never broadcast, so later
        transactions do not wait behind a nonce gap.
        """
        writer = self._writer(address)
        with writer.lock:
            writer.next_nonce = None

    def next_nonce(self, address: str) -> int:
        """The nonce the next prepared transaction of `address` will use."""
        writer = self._writer(address)
        with writer.lock:
            if writer.next_nonce is None:
                writer.next_nonce = self._pending_count(address)
            return writer.next_nonce

    def _pending_count(self, address: str) -> int:
        with node_errors("eth_getTransactionCount"):
            return int(self.web3.eth.get_transaction_count(address, "pending"))

    # -- fees -------------------------------------------------------------------------------

    def fee_fields(self) -> dict[str, int]:
        """The fee fields of a new transaction under the configured gas policy."""
        policy = self.config.gas
        if policy.policy == "zero":
            return {"gasPrice": 0}
        if policy.policy == "fixed":
            return {"gasPrice": int(policy.gas_price or 0)}
        with self._fee_lock:
            now = time.monotonic()
            if self._fee_quote is not None and now - self._fee_quote[0] < FEE_CACHE_SECONDS:
                return dict(self._fee_quote[1])
            fields = self._node_fees()
            self._fee_quote = (now, fields)
            return dict(fields)

    def _node_fees(self) -> dict[str, int]:
        policy = self.config.gas
        cap = policy.max_fee_per_gas
        with node_errors("fee lookup"):
            block = self.web3.eth.get_block("latest")
            base_fee = int(block.get("baseFeePerGas") or 0)
            if base_fee > 0:
                tip = policy.priority_fee
                if tip is None:
                    try:
                        tip = int(self.web3.eth.max_priority_fee)
                    except Web3RPCError:
                        tip = 0
                if cap is not None and base_fee > cap:
                    raise GasPriceTooHigh(
                        f"the node's base fee {base_fee} wei exceeds the cap {cap} wei"
                    )
                max_fee = 2 * base_fee + tip
                if cap is not None:
                    max_fee = min(max_fee, cap)
                return {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": min(tip, max_fee)}
            price = int(self.web3.eth.gas_price)
        if cap is not None and price > cap:
            raise GasPriceTooHigh(f"the node's gas price {price} wei exceeds the cap {cap} wei")
        return {"gasPrice": price}

    # -- building ---------------------------------------------------------------------------

    def estimate_gas(
        self,
        sender: str,
        to: str | None,
        data: bytes,
        on_revert: Callable[[bytes | None], Exception],
    ) -> int:
        """Estimated gas times the configured margin. A revert raises `on_revert(data)`."""
        tx: dict[str, Any] = {"from": sender, "data": data}
        if to is not None:
            tx["to"] = to
        try:
            with node_errors("eth_estimateGas"):
                estimate = int(self.web3.eth.estimate_gas(tx))  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise on_revert(revert_data(exc)) from None
        except Web3RPCError as exc:
            raise NodeError(f"eth_estimateGas failed: {rpc_error_message(exc)}") from exc
        return math.ceil(estimate * self.config.gas.margin)

    def prepare(
        self,
        account: LocalAccount,
        *,
        to: str | None,
        data: bytes,
        gas: int | None = None,
        function: str = "",
        on_revert: Callable[[bytes | None], Exception],
    ) -> SignedTx:
        """Estimate (unless `gas` is given), price, number and sign a transaction.

        Nothing is sent. The nonce is reserved: broadcast the result, or call `reset_nonce`
        if you abandon it.
        """
        fees = self.fee_fields()
        if gas is None:
            gas = self.estimate_gas(account.address, to, data, on_revert)
        writer = self._writer(account.address)
        with writer.lock:
            if writer.next_nonce is None:
                writer.next_nonce = self._pending_count(account.address)
            nonce = writer.next_nonce
            tx: dict[str, Any] = {
                "chainId": self.config.chain_id,
                "nonce": nonce,
                "gas": gas,
                "value": 0,
                "data": data,
                **fees,
            }
            if to is not None:
                tx["to"] = to
            signed = account.sign_transaction(tx)
            writer.next_nonce = nonce + 1
        return SignedTx(
            raw=bytes(signed.raw_transaction),
            tx_hash="0x" + bytes(signed.hash).hex(),
            sender=account.address,
            nonce=nonce,
            gas=gas,
            to=to,
            function=function,
        )

    # -- sending ----------------------------------------------------------------------------

    def broadcast(self, signed: SignedTx) -> str:
        """Send the signed bytes to the node and return the transaction hash.

        A transport timeout is not an error here (the node may have taken it; `wait`
        re-broadcasts). A node that definitely refuses the transaction raises `TxRejected`
        (`NonceConsumed` when another transaction already used its nonce), and the key's
        local nonce is re-read from the node.
        """
        try:
            self._send_raw(signed)
        except NodeUnavailable:
            pass
        except Web3RPCError as exc:
            message = rpc_error_message(exc)
            if _ALREADY_KNOWN.search(message):
                return signed.tx_hash
            self.reset_nonce(signed.sender)
            if _NONCE_TOO_LOW.search(message):
                if self._receipt(signed.tx_hash) is not None:
                    return signed.tx_hash  # ours, mined already
                raise NonceConsumed(
                    f"transaction {signed.tx_hash} cannot be sent: another transaction of "
                    f"{signed.sender} used nonce {signed.nonce}",
                    tx_hash=signed.tx_hash,
                    nonce=signed.nonce,
                ) from exc
            raise TxRejected(f"the node refused transaction {signed.tx_hash}: {message}") from exc
        return signed.tx_hash

    def _send_raw(self, signed: SignedTx) -> None:
        with node_errors("eth_sendRawTransaction"):
            self.web3.eth.send_raw_transaction(signed.raw)

    def _rebroadcast(self, signed: SignedTx) -> None:
        # "already known", "nonce too low" or a hiccup: the caller checks the nonce next.
        with contextlib.suppress(NodeUnavailable, Web3RPCError):
            self._send_raw(signed)

    def _receipt(self, tx_hash: str) -> dict[str, Any] | None:
        try:
            with node_errors("eth_getTransactionReceipt"):
                receipt = self.web3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        return dict(receipt) if receipt is not None else None

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """The receipt of a mined transaction, or None (no waiting, no confirmations)."""
        return self._receipt(tx_hash)

    def wait(self, signed: SignedTx, *, sent_at: float | None = None) -> dict[str, Any]:
        """The receipt once mined with `confirmations` blocks on top.

        Re-broadcasts the same signed transaction every `resend_timeout` seconds while it
        has no receipt. Raises `NonceConsumed` when another transaction took its nonce and
        `TxTimeout` after `receipt_timeout` seconds (it may still be mined later: look it
        up by hash).
        """
        cfg = self.config
        start = time.monotonic()
        last_sent = start if sent_at is None else sent_at
        deadline = start + cfg.receipt_timeout
        interval = cfg.poll_interval
        while True:
            receipt = self._tolerant(self._receipt, signed.tx_hash)
            if receipt:
                confirmed = self._confirmed(signed.tx_hash, receipt)
                if confirmed is not None:
                    return confirmed
            elif receipt is None and time.monotonic() - last_sent >= cfg.resend_timeout:
                self._rebroadcast(signed)
                last_sent = time.monotonic()
                self._check_nonce(signed)
            if time.monotonic() >= deadline:
                raise TxTimeout(
                    f"no receipt for transaction {signed.tx_hash} (nonce {signed.nonce}) "
                    f"within {cfg.receipt_timeout:g} s; it may still be mined",
                    tx_hash=signed.tx_hash,
                    nonce=signed.nonce,
                )
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            interval = min(max(cfg.poll_interval, MAX_POLL_INTERVAL), interval * 1.5)

    def _tolerant(self, fn: Callable[[str], Any], arg: str) -> Any:
        """Call `fn(arg)`; a node hiccup while waiting counts as "not yet" (False)."""
        try:
            return fn(arg)
        except NodeUnavailable:
            return False

    def _confirmed(self, tx_hash: str, receipt: dict[str, Any]) -> dict[str, Any] | None:
        depth = self.config.confirmations
        if depth == 0:
            return receipt
        with node_errors("eth_blockNumber"):
            head = int(self.web3.eth.block_number)
        if head < int(receipt["blockNumber"]) + depth:
            return None
        again = self._receipt(tx_hash)
        if again is not None and bytes(again["blockHash"]) == bytes(receipt["blockHash"]):
            return again
        return None  # reorged: wait for the new receipt (or resend)

    def _check_nonce(self, signed: SignedTx) -> None:
        try:
            with node_errors("eth_getTransactionCount"):
                mined = int(self.web3.eth.get_transaction_count(signed.sender, "latest"))  # type: ignore[arg-type]
        except NodeUnavailable:
            return
        if mined > signed.nonce and self._tolerant(self._receipt, signed.tx_hash) is None:
            self.reset_nonce(signed.sender)
            raise NonceConsumed(
                f"transaction {signed.tx_hash} was not mined: another transaction of "
                f"{signed.sender} used nonce {signed.nonce}",
                tx_hash=signed.tx_hash,
                nonce=signed.nonce,
            )


def revert_data(exc: ContractLogicError) -> bytes | None:
    """The raw revert bytes inside a web3 revert exception, if the node gave any."""
    data = exc.data
    if isinstance(data, dict):
        data = data.get("data") or next((v for v in data.values() if isinstance(v, str)), None)
    if not isinstance(data, str):
        return None
    text = data.removeprefix("Reverted ").strip()
    if not text.startswith("0x"):
        return None
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        return None
