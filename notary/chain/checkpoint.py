"""Signed checkpoints of a registry's state, for outside witnesses (docs/design.md, "Trust and
witnessing").

A checkpoint names one block of one registry on one chain and quotes the registry's
accumulator (hash + count) at that block, signed by the governance key as EIP-712 typed
data. Anyone holding it can later ask a node whether the chain still agrees: same block
hash at that height, same accumulator. A rewritten history (a fresh chain anchoring other
revisions up to the same count) fails with a reason naming what differs. The format is in
docs/formats.md ("Checkpoint").

`verify` runs named steps (`parse`, `signature`, `chain_id`, `block_hash`, `accumulator`,
`governor`) and returns a frozen result with every step's outcome: a mismatch is a verdict
with a reason, never an exception.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from notary.chain.client import RegistryClient
from notary.errors import InvalidInput, NotaryError
from notary.formats.revision import parse_address, to_checksum_address
from notary.storage.atomic import atomic_write_bytes

CHECKPOINT_FORMAT = "disclosure-notary/checkpoint/v1"
DOMAIN_NAME = "disclosure-notary checkpoint"
DOMAIN_VERSION = "1"
TYPES = {
    "Checkpoint": [
        {"name": "chainId", "type": "uint256"},
        {"name": "registry", "type": "address"},
        {"name": "blockNumber", "type": "uint256"},
        {"name": "blockHash", "type": "bytes32"},
        {"name": "accumulatorHash", "type": "bytes24"},
        {"name": "accumulatorCount", "type": "uint64"},
    ]
}
_FIELDS = {
    "format",
    "chain_id",
    "registry",
    "block_number",
    "block_hash",
    "accumulator",
    "signer",
    "signature",
}


class CheckpointError(InvalidInput):
    """A checkpoint file that is not well formed."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One signed checkpoint (see the module docstring)."""

    chain_id: int
    registry: str
    block_number: int
    block_hash: bytes
    acc_hash: bytes
    acc_count: int
    signer: str
    signature: bytes

    def typed_data(self) -> dict[str, Any]:
        """The EIP-712 document that the signature covers."""
        return typed_data(
            self.chain_id,
            self.registry,
            self.block_number,
            self.block_hash,
            self.acc_hash,
            self.acc_count,
        )

    def recover_signer(self) -> str:
        """The address that produced `signature` over `typed_data()`."""
        message = encode_typed_data(full_message=self.typed_data())
        return Account.recover_message(message, signature=self.signature)

    def to_json(self) -> dict[str, Any]:
        """The file's JSON object."""
        return {
            "format": CHECKPOINT_FORMAT,
            "chain_id": self.chain_id,
            "registry": self.registry,
            "block_number": self.block_number,
            "block_hash": "0x" + self.block_hash.hex(),
            "accumulator": {"hash": "0x" + self.acc_hash.hex(), "count": self.acc_count},
            "signer": self.signer,
            "signature": "0x" + self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        """Parse strictly: exact members, bounded hex lengths, a known format version."""
        if not isinstance(data, dict):
            raise CheckpointError("a checkpoint is a JSON object")
        if data.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"unknown checkpoint format {data.get('format')!r}")
        if set(data) != _FIELDS:
            raise CheckpointError(f"checkpoint members must be exactly {sorted(_FIELDS)}")
        acc = data["accumulator"]
        if not isinstance(acc, dict) or set(acc) != {"hash", "count"}:
            raise CheckpointError("accumulator must be {hash, count}")
        try:
            return cls(
                chain_id=_uint(data["chain_id"], "chain_id", 2**64 - 1, minimum=1),
                registry=to_checksum_address(parse_address(data["registry"])),
                block_number=_uint(data["block_number"], "block_number", 2**63),
                block_hash=_hex(data["block_hash"], 32, "block_hash"),
                acc_hash=_hex(acc["hash"], 24, "accumulator.hash"),
                acc_count=_uint(acc["count"], "accumulator.count", 2**64 - 1),
                signer=to_checksum_address(parse_address(data["signer"])),
                signature=_hex(data["signature"], 65, "signature"),
            )
        except CheckpointError:
            raise
        except InvalidInput as exc:
            raise CheckpointError(str(exc)) from None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the checkpoint file (pretty JSON, newline-terminated)."""
        text = json.dumps(self.to_json(), indent=2) + "\n"
        return atomic_write_bytes(Path(path), text.encode(), mode=0o644)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Checkpoint:
        """Read and parse a checkpoint file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path}: cannot read a checkpoint ({exc})") from None
        return cls.from_json(data)


def typed_data(
    chain_id: int,
    registry: str,
    block_number: int,
    block_hash: bytes,
    acc_hash: bytes,
    acc_count: int,
) -> dict[str, Any]:
    """The EIP-712 message of a checkpoint (domain bound to the chain and the registry)."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            **TYPES,
        },
        "primaryType": "Checkpoint",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": chain_id,
            "verifyingContract": registry,
        },
        "message": {
            "chainId": chain_id,
            "registry": registry,
            "blockNumber": block_number,
            "blockHash": block_hash,
            "accumulatorHash": acc_hash,
            "accumulatorCount": acc_count,
        },
    }


def export(
    client: RegistryClient, governance: LocalAccount, *, block: int | None = None
) -> Checkpoint:
    """Take and sign a checkpoint of `client`'s registry at `block` (default: latest safe)."""
    number = client.latest_safe_block() if block is None else block
    header = client.web3.eth.get_block(number)
    acc = client.accumulator(block=number)
    registry = to_checksum_address(parse_address(client.address))
    block_hash = bytes(header["hash"])
    message = typed_data(client.chain_id, registry, number, block_hash, acc.hash, acc.count)
    signed = governance.sign_message(encode_typed_data(full_message=message))
    return Checkpoint(
        chain_id=client.chain_id,
        registry=registry,
        block_number=number,
        block_hash=block_hash,
        acc_hash=acc.hash,
        acc_count=acc.count,
        signer=governance.address,
        signature=bytes(signed.signature),
    )


# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One verification step and its outcome."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The verdict: `ok` only when every step passed; `reason` names the first failure."""

    ok: bool
    reason: str
    steps: tuple[Step, ...]

    def to_json(self) -> dict[str, Any]:
        """For `--json` output."""
        return {
            "ok": self.ok,
            "reason": self.reason,
            "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in self.steps],
        }


def verify(
    checkpoint: Checkpoint | dict[str, Any],
    web3: Any,
    *,
    expected_signer: str | None = None,
    abi: Any = None,
) -> VerifyResult:
    """Does the chain behind `web3` still agree with the checkpoint?

    Steps, all run when they can be: `parse`, `signature` (EIP-712, and the expected signer
    if given), `chain_id`, `block_hash` (the chain still has that block hash at that
    height), `accumulator` (the registry's accumulator at that block is the checkpoint's),
    `governor` (the signer held GOVERNOR_ROLE on the registry at that block).
    """
    steps: list[Step] = []
    try:
        cp = checkpoint if isinstance(checkpoint, Checkpoint) else Checkpoint.from_json(checkpoint)
    except CheckpointError as exc:
        return _result([Step("parse", False, str(exc))])
    steps.append(Step("parse", True, f"block {cp.block_number} of {cp.registry}"))
    steps.append(_check_signature(cp, expected_signer))
    try:
        chain_id = int(web3.eth.chain_id)
    except Exception as exc:  # a node failure is a verdict, not a crash
        steps.append(Step("chain_id", False, f"the node cannot be reached: {exc}"))
        return _result(steps)
    if chain_id != cp.chain_id:
        steps.append(
            Step("chain_id", False, f"the node serves chain {chain_id}, not {cp.chain_id}")
        )
        return _result(steps)
    steps.append(Step("chain_id", True, f"chain {chain_id}"))
    steps.append(_check_block(cp, web3))
    steps.append(_check_accumulator(cp, web3, abi))
    steps.append(_check_governor(cp, web3, abi))
    return _result(steps)


def _result(steps: list[Step]) -> VerifyResult:
    failed = [s for s in steps if not s.ok]
    reason = f"{failed[0].name}: {failed[0].detail}" if failed else "the chain agrees"
    return VerifyResult(not failed, reason, tuple(steps))


def _check_signature(cp: Checkpoint, expected: str | None) -> Step:
    try:
        recovered = cp.recover_signer()
    except Exception as exc:  # a node failure is a verdict, not a crash
        return Step("signature", False, f"the signature does not verify ({exc})")
    if recovered.lower() != cp.signer.lower():
        return Step(
            "signature",
            False,
            f"signed by {recovered}, not by the stated signer {cp.signer} "
            "(the checkpoint was altered or the signature is not its own)",
        )
    if expected is not None and expected.lower() != cp.signer.lower():
        return Step("signature", False, f"signed by {cp.signer}, not by the trusted {expected}")
    return Step("signature", True, f"EIP-712 signature by {cp.signer}")


def _check_block(cp: Checkpoint, web3: Any) -> Step:
    try:
        head = int(web3.eth.block_number)
        if head < cp.block_number:
            return Step(
                "block_hash",
                False,
                f"the chain has no block {cp.block_number} (its head is {head}): "
                "it is not the chain the checkpoint was taken on, or it was rolled back",
            )
        actual = bytes(web3.eth.get_block(cp.block_number)["hash"])
    except Exception as exc:  # a node failure is a verdict, not a crash
        return Step("block_hash", False, f"cannot read block {cp.block_number}: {exc}")
    if actual != cp.block_hash:
        return Step(
            "block_hash",
            False,
            f"block {cp.block_number} has hash 0x{actual.hex()}, the checkpoint says "
            f"0x{cp.block_hash.hex()}: the history was rewritten",
        )
    return Step("block_hash", True, f"block {cp.block_number} is 0x{actual.hex()}")


def _registry_call(cp: Checkpoint, web3: Any, abi: Any, function: str, *args: Any) -> Any:
    from notary.chain.abi import ContractAbi, load_artifact

    contract_abi = abi if isinstance(abi, ContractAbi) else ContractAbi(load_artifact()["abi"])
    fn = contract_abi.function(function)
    if not web3.eth.get_code(cp.registry, cp.block_number):
        raise NotaryError(f"no registry contract at {cp.registry} at block {cp.block_number}")
    out = web3.eth.call({"to": cp.registry, "data": fn.encode(args)}, cp.block_number)
    return fn.decode(bytes(out))


def _check_accumulator(cp: Checkpoint, web3: Any, abi: Any) -> Step:
    try:
        acc_hash, count = _registry_call(cp, web3, abi, "accumulator")
    except Exception as exc:  # a node failure is a verdict, not a crash
        return Step("accumulator", False, f"cannot read the registry's accumulator: {exc}")
    if bytes(acc_hash) != cp.acc_hash or count != cp.acc_count:
        return Step(
            "accumulator",
            False,
            f"the registry's accumulator at block {cp.block_number} is "
            f"0x{bytes(acc_hash).hex()} over {count} leaves, the checkpoint says "
            f"0x{cp.acc_hash.hex()} over {cp.acc_count}: a different history",
        )
    return Step("accumulator", True, f"0x{cp.acc_hash.hex()} over {count} leaves")


def _check_governor(cp: Checkpoint, web3: Any, abi: Any) -> Step:
    try:
        (role,) = _registry_call(cp, web3, abi, "GOVERNOR_ROLE")
        (ok,) = _registry_call(cp, web3, abi, "hasRole", bytes(role), cp.signer)
    except Exception as exc:  # a node failure is a verdict, not a crash
        return Step("governor", False, f"cannot read the registry's governors: {exc}")
    if not ok:
        return Step(
            "governor", False, f"{cp.signer} was not a governor of the registry at that block"
        )
    return Step("governor", True, f"{cp.signer} is a governor of the registry")


def _uint(value: Any, name: str, maximum: int, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise CheckpointError(f"{name} must be an integer in [{minimum}, {maximum}]")
    return value


def _hex(value: Any, size: int, name: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 2 + 2 * size:
        raise CheckpointError(f"{name} must be 0x + {2 * size} hex digits")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise CheckpointError(f"{name} must be 0x + {2 * size} hex digits") from None
