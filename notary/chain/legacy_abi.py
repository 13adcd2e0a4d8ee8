"""The registry's earlier event formats, so logs of a registry deployed before them decode.

A registry is never upgraded in place (docs/operations.md, "Upgrading the registry"): the
registries deployed before the record events carried `prevHead` stay readable for ever, and
their QR codes name them. These are the first format's three record events, exactly as its
ABI declared them; `notary.chain.abi.ContractAbi` decodes them under the same event names
(the fields they lack are absent from the decoded values). Pure data, no I/O.
"""

from __future__ import annotations

from typing import Any


def _input(name: str, type_: str, *, indexed: bool = False) -> dict[str, Any]:
    return {"indexed": indexed, "internalType": type_, "name": name, "type": type_}


_RECORD = _input("recordId", "bytes32", indexed=True)
_SIGNER = _input("signer", "address")

FORMAT_1_EVENTS: tuple[dict[str, Any], ...] = (
    {
        "anonymous": False,
        "type": "event",
        "name": "RevisionAnchored",
        "inputs": [
            _RECORD,
            _SIGNER,
            _input("version", "uint32"),
            {**_input("kind", "uint8"), "internalType": "enum INotaryRegistry.Kind"},
            _input("validUntil", "uint64"),
            _input("contentHash", "bytes32"),
            _input("metadataHash", "bytes32"),
        ],
    },
    {
        "anonymous": False,
        "type": "event",
        "name": "RecordRevoked",
        "inputs": [_RECORD, _SIGNER, _input("reasonHash", "bytes32")],
    },
    {
        "anonymous": False,
        "type": "event",
        "name": "RecordReplaced",
        "inputs": [_RECORD, _input("byRecordId", "bytes32", indexed=True), _SIGNER],
    },
)
"""The record events of registry format 1 (before `prevHead` and the replace reason)."""
