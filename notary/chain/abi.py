"""The registry's ABI as a small codec: encode calls, decode results, errors and logs.

Built once from the compiled artifact's ABI (`notary/chain/artifact/NotaryRegistry.json`). It uses
`eth_abi` directly rather than web3's contract objects: it is pure (no node, no web3
import), fast on the anchoring hot path, and the verifier can reuse it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import eth_abi
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address
from eth_utils.abi import collapse_if_tuple

from notary.errors import InvalidInput, NotaryError

CONTRACT_NAME = "NotaryRegistry"
ARTIFACT = Path(__file__).resolve().parent / "artifact" / f"{CONTRACT_NAME}.json"


class ArtifactError(NotaryError, RuntimeError):
    """The artifact is missing or malformed, or the sources do not compile."""


def load_artifact(path: Path = ARTIFACT) -> dict[str, Any]:
    """The committed artifact: `contractName`, `abi`, `bytecode` (0x-hex) and `compiler`.

    Reads the JSON file only; no compiler is needed (`notary.chain.build` makes it).
    """
    try:
        artifact = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"{path} is missing: run `make abi`") from exc
    missing = {"contractName", "abi", "bytecode", "compiler"} - artifact.keys()
    if missing:
        raise ArtifactError(f"{path} lacks {sorted(missing)}")
    return artifact


def _types(params: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    return tuple(collapse_if_tuple(dict(p)) for p in params)


def _norm(abi_type: str, value: Any) -> Any:
    """Addresses as EIP-55 strings (eth_abi may return them in lower case)."""
    return to_checksum_address(value) if abi_type == "address" else value


def _signature(name: str, params: Sequence[Mapping[str, Any]]) -> str:
    return f"{name}({','.join(_types(params))})"


@dataclass(frozen=True, slots=True)
class AbiFunction:
    """One contract function: selector and argument/result types."""

    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    mutability: str

    def encode(self, args: Sequence[Any]) -> bytes:
        """Calldata for a call with `args` (ABI-encoded after the selector)."""
        try:
            return self.selector + eth_abi.encode(self.inputs, list(args))
        except Exception as exc:  # eth_abi raises several unrelated types for bad values
            raise InvalidInput(f"{self.name}: bad arguments ({exc})") from None

    def decode(self, data: bytes) -> tuple[Any, ...]:
        """The decoded return values."""
        return tuple(eth_abi.decode(self.outputs, data))


@dataclass(frozen=True, slots=True)
class AbiError:
    """One custom error: selector, name and named arguments."""

    name: str
    selector: bytes
    names: tuple[str, ...]
    types: tuple[str, ...]

    def decode(self, data: bytes) -> dict[str, Any]:
        """Decode the revert data after the selector into named values."""
        values = eth_abi.decode(self.types, data)
        return {n: _norm(t, v) for n, t, v in zip(self.names, self.types, values, strict=True)}


@dataclass(frozen=True, slots=True)
class AbiEvent:
    """One event: topic 0 and how its fields split between topics and data."""

    name: str
    topic: bytes
    names: tuple[str, ...]
    types: tuple[str, ...]
    indexed: tuple[bool, ...]

    def decode(self, topics: Sequence[bytes], data: bytes) -> dict[str, Any]:
        """Decode a log's topics (after topic 0) and data into named values."""
        idx_types = [t for t, i in zip(self.types, self.indexed, strict=True) if i]
        data_types = [t for t, i in zip(self.types, self.indexed, strict=True) if not i]
        if len(topics) != len(idx_types):
            raise DecodingError(f"{self.name}: expected {len(idx_types)} indexed topics")
        indexed = iter(
            [
                eth_abi.decode([t], bytes(topic))[0]
                for t, topic in zip(idx_types, topics, strict=True)
            ]
        )
        plain = iter(eth_abi.decode(data_types, bytes(data)))
        return {
            n: _norm(t, next(indexed) if i else next(plain))
            for n, t, i in zip(self.names, self.types, self.indexed, strict=True)
        }


class ContractAbi:
    """Lookup tables over a contract ABI: functions by name, errors by selector, events by topic."""

    def __init__(self, abi: Sequence[Mapping[str, Any]]) -> None:
        self.abi = tuple(abi)
        self.functions: dict[str, AbiFunction] = {}
        self.errors: dict[bytes, AbiError] = {}
        self.events: dict[bytes, AbiEvent] = {}
        self.events_by_name: dict[str, AbiEvent] = {}
        self.legacy_topics: dict[str, tuple[bytes, ...]] = {}
        self.constructor_inputs: tuple[str, ...] = ()
        for item in self.abi:
            kind = item.get("type")
            inputs = item.get("inputs", [])
            if kind == "function":
                name = item["name"]
                if name in self.functions:
                    raise InvalidInput(f"overloaded function {name} is not supported")
                self.functions[name] = AbiFunction(
                    name=name,
                    selector=keccak(text=_signature(name, inputs))[:4],
                    inputs=_types(inputs),
                    outputs=_types(item.get("outputs", [])),
                    mutability=item.get("stateMutability", "nonpayable"),
                )
            elif kind == "error":
                err = AbiError(
                    name=item["name"],
                    selector=keccak(text=_signature(item["name"], inputs))[:4],
                    names=tuple(p["name"] for p in inputs),
                    types=_types(inputs),
                )
                self.errors[err.selector] = err
            elif kind == "event" and not item.get("anonymous", False):
                ev = _event(item)
                self.events[ev.topic] = ev
                self.events_by_name[ev.name] = ev
            elif kind == "constructor":
                self.constructor_inputs = _types(inputs)
        if "RevisionAnchored" in self.events_by_name:
            self._add_legacy_events()

    def _add_legacy_events(self) -> None:
        """Decode the registry's earlier record events too (`notary.chain.legacy_abi`): by
        topic only, so `event(name)` and every filter built from it name the current format."""
        from notary.chain.legacy_abi import FORMAT_1_EVENTS

        for item in FORMAT_1_EVENTS:
            ev = _event(item)
            if ev.topic in self.events:
                continue
            self.events[ev.topic] = ev
            self.legacy_topics[ev.name] = (*self.legacy_topics.get(ev.name, ()), ev.topic)

    def topics(self, name: str) -> tuple[bytes, ...]:
        """Topic 0 of event `name` in every format this codec decodes, the current first."""
        return (self.event(name).topic, *self.legacy_topics.get(name, ()))

    def function(self, name: str) -> AbiFunction:
        """The function called `name` (KeyError-compatible `InvalidInput` if absent)."""
        try:
            return self.functions[name]
        except KeyError:
            raise InvalidInput(f"the registry ABI has no function {name}") from None

    def event(self, name: str) -> AbiEvent:
        """The event called `name`."""
        try:
            return self.events_by_name[name]
        except KeyError:
            raise InvalidInput(f"the registry ABI has no event {name}") from None

    def decode_error(self, data: bytes) -> tuple[str, dict[str, Any]] | None:
        """(name, named values) for revert data of a known custom error, else None.

        The standard `Error(string)` and `Panic(uint256)` are recognised too.
        """
        if len(data) < 4:
            return None
        selector, body = data[:4], data[4:]
        try:
            if selector == _ERROR_STRING:
                return "Error", {"message": eth_abi.decode(["string"], body)[0]}
            if selector == _PANIC:
                return "Panic", {"code": eth_abi.decode(["uint256"], body)[0]}
            err = self.errors.get(selector)
            return None if err is None else (err.name, err.decode(body))
        except (DecodingError, ValueError):
            return None

    def deploy_data(self, bytecode: bytes, args: Sequence[Any]) -> bytes:
        """Creation code followed by the ABI-encoded constructor arguments."""
        return bytecode + eth_abi.encode(self.constructor_inputs, list(args))


def _event(item: Mapping[str, Any]) -> AbiEvent:
    inputs = item.get("inputs", [])
    return AbiEvent(
        name=item["name"],
        topic=keccak(text=_signature(item["name"], inputs)),
        names=tuple(p["name"] for p in inputs),
        types=_types(inputs),
        indexed=tuple(bool(p.get("indexed")) for p in inputs),
    )


_ERROR_STRING = keccak(text="Error(string)")[:4]
_PANIC = keccak(text="Panic(uint256)")[:4]
