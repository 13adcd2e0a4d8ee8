"""Registry reverts and chain failures as `notary` exceptions.

Every custom error the registry (and the OpenZeppelin code it uses) can revert with maps to
one Python class in `REVERTS`, the single table to read or change. Each class derives from
the `notary.errors` base that says what a caller can do about it (`Conflict`, `NotFound`,
`Unauthorised`, `InvalidInput`), and carries the decoded values as attributes in snake case
(`VersionOutOfOrder(...).expected`) and in `.values` under their Solidity names.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from notary.chain.abi import ContractAbi
from notary.chain.types import RecordStatus
from notary.errors import Conflict, InvalidInput, NotaryError, NotFound, Unauthorised, Unavailable

# ---------------------------------------------------------------------------------------------
# Reverts
# ---------------------------------------------------------------------------------------------


class RegistryRevert(NotaryError):
    """The registry refused the call. `error_name` is the Solidity error, `values` its args.

    `tx_hash` is set when the revert happened in a mined transaction (its nonce is spent)
    rather than during estimation or a call (nothing was sent).
    """

    error_name: ClassVar[str] = ""

    def __init__(
        self, message: str, *, values: dict[str, Any] | None = None, tx_hash: str | None = None
    ) -> None:
        super().__init__(message)
        self.values: dict[str, Any] = dict(values or {})
        self.tx_hash = tx_hash
        for key, value in self.values.items():
            setattr(self, _snake(key), value)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


class ContractReverted(RegistryRevert):
    """A revert that is not one of the registry's custom errors (Panic, Error(string), raw)."""


class OfficeAlreadyRegistered(RegistryRevert, Conflict):
    """The office id is zero or already registered."""


class OfficeUnknown(RegistryRevert, NotFound):
    """No office with this id."""


class OfficeSuspended(RegistryRevert, Unauthorised):
    """The office is suspended (its signers can change nothing), or suspended already."""


class OfficeNotSuspended(RegistryRevert, Conflict):
    """Reinstating an office that is not suspended."""


class SignerNotAuthorised(RegistryRevert, Unauthorised):
    """The sender is not a current signer of any office."""


class SignerAlreadyActive(RegistryRevert, Conflict):
    """The address already signs for an office (one office per key at a time)."""


class SignerNotActive(RegistryRevert, Conflict):
    """The address is not an active signer of this office."""


class RecordOfOtherOffice(RegistryRevert, Unauthorised):
    """The record id names another office than the signer's."""


class VersionOutOfOrder(RegistryRevert, Conflict):
    """The version is not the head's + 1."""


class PrevLeafMismatch(RegistryRevert, Conflict):
    """`prevLeaf` is not the leaf of the record's head."""


class RecordClosed(RegistryRevert, Conflict):
    """The record was revoked or replaced and can no longer change."""


class RecordUnknown(RegistryRevert, NotFound):
    """No anchored record with this id."""


class InvalidReplacement(RegistryRevert, Conflict):
    """The replacement is not another anchored, open record of the same office."""


class BatchAlreadyAnchored(RegistryRevert, Conflict):
    """A batch with this root was anchored already."""


class EmptyInput(RegistryRevert, InvalidInput):
    """An empty list, name, or a zero root, count, head or reason hash."""


class ValidityOnDisclosure(RegistryRevert, InvalidInput):
    """A disclosure was given a validity end."""


class NotGovernance(RegistryRevert, Unauthorised):
    """The sender lacks the role the call needs (OpenZeppelin AccessControl)."""


class BadRoleConfirmation(RegistryRevert, InvalidInput):
    """`renounceRole` was called for another account (OpenZeppelin AccessControl)."""


class ValueOutOfRange(RegistryRevert, InvalidInput):
    """A value did not fit its storage type (OpenZeppelin SafeCast)."""


REVERTS: dict[str, tuple[type[RegistryRevert], str]] = {
    # Solidity error name: (Python class, message template over the decoded values)
    "OfficeAlreadyRegistered": (
        OfficeAlreadyRegistered,
        "office id {officeId} is zero or already registered",
    ),
    "OfficeUnknown": (OfficeUnknown, "no office with id {officeId}"),
    "OfficeSuspended": (OfficeSuspended, "office {officeId} is suspended"),
    "OfficeNotSuspended": (OfficeNotSuspended, "office {officeId} is not suspended"),
    "SignerNotAuthorised": (SignerNotAuthorised, "{signer} is not an active signer of any office"),
    "SignerAlreadyActive": (SignerAlreadyActive, "{signer} already signs for office {officeId}"),
    "SignerNotActive": (SignerNotActive, "{signer} is not an active signer of office {officeId}"),
    "RecordOfOtherOffice": (
        RecordOfOtherOffice,
        "record {recordId} does not belong to the signer's office (number {signerOffice})",
    ),
    "VersionOutOfOrder": (
        VersionOutOfOrder,
        "record {recordId}: expected version {expected}, got {got}",
    ),
    "PrevLeafMismatch": (
        PrevLeafMismatch,
        "record {recordId}: prevLeaf {got} is not the head's leaf (prefix {headPrefix})",
    ),
    "RecordClosed": (RecordClosed, "record {recordId} is {status} and can no longer change"),
    "RecordUnknown": (RecordUnknown, "no anchored record {recordId}"),
    "InvalidReplacement": (
        InvalidReplacement,
        "record {byRecordId} cannot replace {recordId}: "
        "it must be another open record of the same office",
    ),
    "BatchAlreadyAnchored": (BatchAlreadyAnchored, "batch root {root} was anchored already"),
    "EmptyInput": (
        EmptyInput,
        "empty input: an empty list or name, or a zero root, count, head or reason hash",
    ),
    "ValidityOnDisclosure": (
        ValidityOnDisclosure,
        "record {recordId}: a disclosure cannot have a validity end",
    ),
    "AccessControlUnauthorizedAccount": (
        NotGovernance,
        "{account} lacks role {neededRole}: only governance may do this",
    ),
    "AccessControlBadConfirmation": (
        BadRoleConfirmation,
        "an account can only renounce its own roles",
    ),
    "SafeCastOverflowedUintDowncast": (
        ValueOutOfRange,
        "value {value} does not fit in {bits} bits",
    ),
}


def revert_from_data(
    abi: ContractAbi, data: bytes | None, *, context: str = "", tx_hash: str | None = None
) -> RegistryRevert:
    """The exception for revert `data` (raw bytes as returned by the node)."""
    prefix = f"{context}: " if context else ""
    decoded = abi.decode_error(data or b"")
    if decoded is None:
        shown = "no revert data" if not data else f"unknown revert data 0x{data.hex()[:200]}"
        return ContractReverted(f"{prefix}reverted ({shown})", tx_hash=tx_hash)
    name, values = decoded
    if name in ("RecordClosed",) and "status" in values:
        values["status"] = RecordStatus(values["status"])
    entry = REVERTS.get(name)
    if entry is None:
        detail = ", ".join(f"{k}={_show(v)}" for k, v in values.items())
        exc: RegistryRevert = ContractReverted(
            f"{prefix}reverted with {name}({detail})", values=values, tx_hash=tx_hash
        )
        exc.error_name = name  # type: ignore[misc]
        return exc
    cls, template = entry
    message = template.format(**{k: _show(v) for k, v in values.items()})
    exc = cls(f"{prefix}{message}", values=values, tx_hash=tx_hash)
    exc.error_name = name  # type: ignore[misc]
    return exc


def _show(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, RecordStatus):
        return value.name.lower()
    return str(value)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# ---------------------------------------------------------------------------------------------
# Node and transaction failures
# ---------------------------------------------------------------------------------------------


class NodeUnavailable(Unavailable):
    """The JSON-RPC node cannot be reached or did not answer in time."""


class NodeError(Unavailable):
    """The node answered a request with an error that is not a revert."""


class WrongChain(InvalidInput):
    """The node serves another chain than the configuration names."""


class RegistryNotFound(NotFound):
    """No registry is configured, or there is no contract code at its address."""


class TxRejected(Unavailable):
    """The node refused to accept a transaction (underpriced, no funds, pool full…)."""


class TxTimeout(Unavailable):
    """No receipt within the receipt timeout; the transaction may still be mined later."""

    def __init__(self, message: str, *, tx_hash: str, nonce: int) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash
        self.nonce = nonce


class NonceConsumed(Conflict):
    """A different transaction with the same sender and nonce was mined instead of ours."""

    def __init__(self, message: str, *, tx_hash: str, nonce: int) -> None:
        super().__init__(message)
        self.tx_hash = tx_hash
        self.nonce = nonce


class GasPriceTooHigh(Unavailable):
    """The fee the node asks for is above the configured cap."""


class LogRangeRefused(Unavailable):
    """The node refuses `eth_getLogs` even for a single block."""
