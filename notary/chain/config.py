"""Chain settings: which node, which chain, which registry, how many confirmations, what gas.

Configuration, not code, switches between the embedded anvil and a production network
(docs/design.md, "The chain"). Settings come from `<data dir>/chain.json`, overridden by
`NOTARY_*` environment variables; both are parsed strictly into a frozen `ChainConfig`.

| env var                     | JSON key                   | meaning                               |
| --------------------------- | -------------------------- | ------------------------------------- |
| `NOTARY_RPC_URL`            | `rpc_url`                  | JSON-RPC endpoint (http/https)        |
| `NOTARY_RPC_URLS`           | `rpc_urls`                 | several nodes, comma-separated / list |
| `NOTARY_CHAIN_ID`           | `chain_id`                 | expected chain id (checked on connect)|
| `NOTARY_REGISTRY`           | `registry`                 | registry contract address             |
| `NOTARY_START_BLOCK`        | `start_block`              | first block to scan for events        |
| `NOTARY_CONFIRMATIONS`      | `confirmations`            | blocks on top before a result counts  |
| `NOTARY_GAS_POLICY`         | `gas.policy`               | `zero`, `node` or `fixed`             |
| `NOTARY_GAS_PRICE`          | `gas.gas_price`            | wei, for `fixed`                      |
| `NOTARY_MAX_FEE_PER_GAS`    | `gas.max_fee_per_gas`      | wei cap for `node`                    |
| `NOTARY_PRIORITY_FEE`       | `gas.priority_fee`         | wei tip for EIP-1559 (else the node's)|
| `NOTARY_GAS_MARGIN`         | `gas.margin`               | multiplier on estimated gas           |
| `NOTARY_RPC_TIMEOUT`        | `rpc_timeout`              | seconds per HTTP request              |
| `NOTARY_RECEIPT_TIMEOUT`    | `receipt_timeout`          | seconds to wait for a receipt         |
| `NOTARY_RESEND_TIMEOUT`     | `resend_timeout`           | seconds before re-broadcasting a tx   |
| `NOTARY_POLL_INTERVAL`      | `poll_interval`            | seconds between receipt polls         |
| `NOTARY_LOG_PAGE_SIZE`      | `log_page_size`            | blocks per `eth_getLogs` request      |

`rpc_urls` names every node of the chain, in the order they are tried (`rpc_url` is always
its first; giving only `rpc_url` means one node, giving a different `rpc_url` later — a
`replace`, `NOTARY_RPC_URL` — means that one node alone). `start_block` is the registry's
deployment block (written by `notary init`): every log query starts there.

Pure: no network access; reading the JSON file is the only I/O.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self, get_args
from urllib.parse import urlparse

from notary.errors import InvalidInput
from notary.formats.revision import parse_address, to_checksum_address
from notary.storage.atomic import atomic_write_bytes

CONFIG_FILE_NAME = "chain.json"
DEFAULT_RPC_URL = "http://127.0.0.1:8545"
DEFAULT_CHAIN_ID = 31337
MAX_CONFIRMATIONS = 1000

GasPolicyName = Literal["zero", "node", "fixed"]


class ConfigError(InvalidInput):
    """A chain setting is missing, malformed or out of range."""


@dataclass(frozen=True, slots=True)
class GasPolicy:
    """How transactions are priced.

    - `zero`: legacy transactions at gas price 0, as on the embedded anvil and a consortium
      chain that charges nothing.
    - `node`: follow the node. When the latest block has a base fee, send EIP-1559
      transactions with `maxFeePerGas = 2 × baseFee + tip` (tip: `priority_fee` or the
      node's suggestion); otherwise legacy at the node's `eth_gasPrice`. Both are capped at
      `max_fee_per_gas` when set (a fee above the cap is refused rather than paid).
    - `fixed`: legacy transactions at `gas_price` wei.

    `margin` multiplies every gas estimate so a small state change between estimation and
    inclusion does not run the transaction out of gas.
    """

    policy: GasPolicyName = "node"
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    priority_fee: int | None = None
    margin: float = 1.25

    def __post_init__(self) -> None:
        if self.policy not in get_args(GasPolicyName):
            raise ConfigError(
                f"gas policy must be one of {', '.join(get_args(GasPolicyName))}; "
                f"got {self.policy!r}"
            )
        for name in ("gas_price", "max_fee_per_gas", "priority_fee"):
            value = getattr(self, name)
            if value is not None and (type(value) is not int or value < 0):
                raise ConfigError(f"gas.{name} must be a non-negative integer (wei)")
        if self.policy == "fixed" and self.gas_price is None:
            raise ConfigError("gas policy 'fixed' needs gas.gas_price (wei)")
        if not (isinstance(self.margin, int | float) and 1.0 <= self.margin <= 10.0):
            raise ConfigError(f"gas.margin must be between 1.0 and 10.0; got {self.margin!r}")

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored under `gas` in chain.json."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True, slots=True)
class ChainConfig:
    """Everything the chain client needs to talk to one registry on one chain."""

    rpc_url: str = DEFAULT_RPC_URL
    rpc_urls: tuple[str, ...] = ()
    """Every node, in order; `rpc_url` is the first (filled in from `rpc_url` when empty)."""
    chain_id: int = DEFAULT_CHAIN_ID
    registry: str | None = None
    start_block: int = 0
    confirmations: int = 0
    gas: GasPolicy = field(default_factory=GasPolicy)
    rpc_timeout: float = 10.0
    receipt_timeout: float = 120.0
    resend_timeout: float = 30.0
    poll_interval: float = 0.05
    log_page_size: int = 1000

    def __post_init__(self) -> None:
        urls = self.rpc_urls
        if isinstance(urls, str) or not isinstance(urls, list | tuple):
            raise ConfigError(f"rpc_urls must be a list of http(s) URLs; got {urls!r}")
        if not urls or urls[0] != self.rpc_url:
            urls = (self.rpc_url,)  # a single (or a newly set) rpc_url is the only node
        for value in urls:
            url = urlparse(value) if isinstance(value, str) else None
            if url is None or url.scheme not in ("http", "https") or not url.netloc:
                raise ConfigError(f"rpc_url must be an http(s) URL; got {value!r}")
        if len(set(urls)) != len(urls):
            raise ConfigError("rpc_urls names a node twice")
        object.__setattr__(self, "rpc_urls", tuple(urls))
        _check_int("chain_id", self.chain_id, 1, 2**64 - 1)
        _check_int("start_block", self.start_block, 0, 2**63)
        _check_int("confirmations", self.confirmations, 0, MAX_CONFIRMATIONS)
        _check_int("log_page_size", self.log_page_size, 1, 1_000_000)
        for name in ("rpc_timeout", "receipt_timeout", "resend_timeout", "poll_interval"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a positive number of seconds; got {value!r}")
        if self.registry is not None:
            object.__setattr__(self, "registry", checked_address(self.registry, "registry"))
        if not isinstance(self.gas, GasPolicy):
            raise ConfigError("gas must be a GasPolicy")

    # -- construction ---------------------------------------------------------------------

    def replace(self, **changes: Any) -> Self:
        """A copy with some settings changed (validated like the original)."""
        return dataclasses.replace(self, **_urls_first(changes))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, base: ChainConfig | None = None) -> Self:
        """Build from a JSON-like mapping; unknown keys are an error, missing keys keep `base`."""
        if not isinstance(data, Mapping):
            raise ConfigError("chain settings must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown chain setting(s): {', '.join(unknown)}")
        base = base if base is not None else cls()
        changes = dict(data)
        if "gas" in changes:
            gas = changes["gas"]
            if not isinstance(gas, Mapping):
                raise ConfigError("gas must be a JSON object")
            gas_known = {f.name for f in dataclasses.fields(GasPolicy)}
            if set(gas) - gas_known:
                raise ConfigError(
                    f"unknown gas setting(s): {', '.join(sorted(set(gas) - gas_known))}"
                )
            changes["gas"] = dataclasses.replace(base.gas, **gas)
        return dataclasses.replace(base, **_urls_first(changes))  # type: ignore[return-value]

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, base: ChainConfig | None = None) -> Self:
        """Read a chain.json file."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"chain settings file not found: {path}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from None
        try:
            return cls.from_mapping(data, base=base)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, base: ChainConfig | None = None
    ) -> Self:
        """Apply the `NOTARY_*` environment variables (see the module docstring) to `base`."""
        env = os.environ if environ is None else environ
        top: dict[str, Any] = {}
        gas: dict[str, Any] = {}
        for var, (target, key, parse) in _ENV.items():
            raw = env.get(var)
            if raw is None or raw.strip() == "":
                continue
            try:
                value = parse(raw.strip())
            except ValueError:
                raise ConfigError(f"{var}={raw!r} is not a valid {parse.__name__}") from None
            (gas if target == "gas" else top)[key] = value
        if gas:
            top["gas"] = gas
        try:
            return cls.from_mapping(top, base=base)
        except ConfigError as exc:
            raise ConfigError(f"environment: {exc}") from None

    @classmethod
    def load(
        cls,
        data_dir: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Self:
        """Defaults, then `<data_dir>/chain.json` if it exists, then the environment."""
        config = cls()
        if data_dir is not None:
            path = Path(data_dir) / CONFIG_FILE_NAME
            if path.exists():
                config = cls.from_file(path)
        return cls.from_env(environ, base=config)

    # -- output ---------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """A JSON object that `from_mapping` reads back to an equal config."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, GasPolicy):
                value = value.to_json()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    def save(self, data_dir: str | os.PathLike[str]) -> Path:
        """Write `<data_dir>/chain.json` atomically and return its path."""
        text = json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"
        return atomic_write_bytes(Path(data_dir) / CONFIG_FILE_NAME, text.encode(), mode=0o600)


def _urls_first(changes: dict[str, Any]) -> dict[str, Any]:
    """Changes with `rpc_url` set to the first of `rpc_urls` when only the list is given."""
    urls = changes.get("rpc_urls")
    if urls and "rpc_url" not in changes and isinstance(urls, list | tuple):
        changes = {**changes, "rpc_url": urls[0], "rpc_urls": tuple(urls)}
    return changes


def url_list(text: str) -> list[str]:
    """Parse comma-separated URLs."""
    urls = [u.strip() for u in text.split(",") if u.strip()]
    if not urls:
        raise ValueError(text)
    return urls


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if type(value) is not int or not low <= value <= high:
        raise ConfigError(f"{name} must be an integer in [{low}, {high}]; got {value!r}")


def integer(text: str) -> int:
    """Parse a decimal or 0x-hex integer."""
    return int(text, 0)


def number(text: str) -> float:
    """Parse a finite decimal number."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def checked_address(value: object, name: str = "address") -> str:
    """`value` as an EIP-55 address; mixed case must carry a valid checksum."""
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a hex address string; got {value!r}")
    try:
        return to_checksum_address(parse_address(value))
    except InvalidInput as exc:
        raise ConfigError(f"{name}: {exc}") from None


def address(text: str) -> str:
    """Parse a hex address."""
    try:
        return checked_address(text)
    except ConfigError:
        raise ValueError(text) from None


def text(value: str) -> str:
    """Any string."""
    return value


_ENV: dict[str, tuple[str, str, Any]] = {
    "NOTARY_RPC_URL": ("top", "rpc_url", text),
    "NOTARY_RPC_URLS": ("top", "rpc_urls", url_list),
    "NOTARY_CHAIN_ID": ("top", "chain_id", integer),
    "NOTARY_REGISTRY": ("top", "registry", address),
    "NOTARY_START_BLOCK": ("top", "start_block", integer),
    "NOTARY_CONFIRMATIONS": ("top", "confirmations", integer),
    "NOTARY_RPC_TIMEOUT": ("top", "rpc_timeout", number),
    "NOTARY_RECEIPT_TIMEOUT": ("top", "receipt_timeout", number),
    "NOTARY_RESEND_TIMEOUT": ("top", "resend_timeout", number),
    "NOTARY_POLL_INTERVAL": ("top", "poll_interval", number),
    "NOTARY_LOG_PAGE_SIZE": ("top", "log_page_size", integer),
    "NOTARY_GAS_POLICY": ("gas", "policy", text),
    "NOTARY_GAS_PRICE": ("gas", "gas_price", integer),
    "NOTARY_MAX_FEE_PER_GAS": ("gas", "max_fee_per_gas", integer),
    "NOTARY_PRIORITY_FEE": ("gas", "priority_fee", integer),
    "NOTARY_GAS_MARGIN": ("gas", "margin", number),
}
