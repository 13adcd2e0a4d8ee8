"""A local deployment in one data dir: embedded chain, keys, registry, demo office, database.

`init_local(data_dir)` is what `notary init` (and `make run` through `scripts/run_local.py`)
calls. It is idempotent: every piece that exists already is found and reused.

Data dir layout (default `./.notary`, env `NOTARY_DATA_DIR`):

| path                         | what                                                    |
| ---------------------------- | ------------------------------------------------------- |
| `chain.json`                 | `ChainConfig` (RPC URL, chain id, registry, start block) |
| `notary.json`                | database URL, offices (id, number, key), verify host    |
| `keys/governance.json`       | governance keystore (encrypted)                         |
| `keys/office-<name>.json`    | office signer keystores (encrypted)                     |
| `anvil/state.json`           | the embedded chain's state (anvil `--state`)            |
| `anvil/anvil.json`           | port and pid of the embedded chain                      |
| `notary.sqlite3`, `blobs/`   | the default database and the content-addressed files    |

The data dir and every folder in it are 0700 (an existing one is tightened), every file
0600: see `notary.storage.private_files`.

Passwords come from `NOTARY_KEYSTORE_PASSWORD` or a password file, never from arguments.
`NOTARY_SCRYPT_N` (a power of two) lowers the keystore KDF cost for tests only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from notary.anchoring.worker import WorkerSettings
from notary.audit.schedule import ScheduleConfig
from notary.chain.config import ChainConfig, GasPolicy
from notary.errors import InvalidInput, NotFound, Unavailable
from notary.storage.atomic import atomic_write_bytes
from notary.storage.keystore import (
    DEFAULT_PASSWORD_ENV,
    DEFAULT_SCRYPT_N,
    KEYS_DIR_NAME,
    create_key,
    key_address,
    key_path,
    load_key,
)
from notary.storage.keystore import read_password as _read_password
from notary.storage.private_files import private_dir

SETTINGS_FILE = "notary.json"
DEFAULT_DATA_DIR = ".notary"
DEMO_OFFICE = "demo"
DEMO_OFFICE_NAME = "示范市政务服务数据管理局"
DEFAULT_VERIFY_HOST = "127.0.0.1:8000"
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class OfficeUnknownLocally(NotFound):
    """No office of this name in the data dir."""


@dataclass(frozen=True)
class LocalSetup:
    """Everything a local deployment consists of (what `init_local` returns)."""

    data_dir: Path
    chain_url: str
    chain_id: int
    registry: str
    start_block: int
    db_url: str
    governance_key: Path
    office_ids: dict[str, str] = field(default_factory=dict)
    """office name → bytes32 office id (hex)."""
    office_numbers: dict[str, int] = field(default_factory=dict)
    office_keys: dict[str, Path] = field(default_factory=dict)
    verify_host: str = DEFAULT_VERIFY_HOST

    def to_json(self) -> dict[str, Any]:
        """For `notary init --json`."""
        return {
            "data_dir": str(self.data_dir),
            "chain_url": self.chain_url,
            "chain_id": self.chain_id,
            "registry": self.registry,
            "start_block": self.start_block,
            "db_url": shown_db_url(self.db_url),
            "governance_key": str(self.governance_key),
            "offices": {
                name: {
                    "office_id": self.office_ids[name],
                    "number": self.office_numbers[name],
                    "key": str(self.office_keys[name]),
                }
                for name in self.office_ids
            },
        }


def data_dir_from_env(value: str | os.PathLike[str] | None = None) -> Path:
    """The data dir: `value`, else `NOTARY_DATA_DIR`, else `./.notary` (absolute)."""
    raw = value or os.environ.get("NOTARY_DATA_DIR") or DEFAULT_DATA_DIR
    return Path(raw).expanduser().resolve()


def read_password(password_file: Path | None = None) -> str:
    """The keystore password: the file if given, else `NOTARY_KEYSTORE_PASSWORD`."""
    if password_file is not None:
        return _read_password(file=password_file)
    return _read_password(env=DEFAULT_PASSWORD_ENV)


def scrypt_n() -> int:
    """The keystore KDF cost (`NOTARY_SCRYPT_N` lowers it for tests)."""
    raw = os.environ.get("NOTARY_SCRYPT_N")
    return int(raw) if raw else DEFAULT_SCRYPT_N


# -- notary.json -------------------------------------------------------------------------------


def load_local(data_dir: Path) -> dict[str, Any]:
    """The data dir's `notary.json` (empty if `notary init` never ran)."""
    path = data_dir / SETTINGS_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: not a JSON object")
    return data


def save_local(data_dir: Path, data: dict[str, Any]) -> None:
    """Write `notary.json` atomically, readable by its owner only (its database URL may
    carry a password)."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write_bytes(data_dir / SETTINGS_FILE, text.encode(), mode=0o600)


def shown_db_url(url: str) -> str:
    """A database URL fit to print: its password replaced by `***`."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable database URL)"


def require_init(data_dir: Path) -> dict[str, Any]:
    """`notary.json`, or `NotFound` telling the user to run `notary init`."""
    data = load_local(data_dir)
    if not data.get("db_url"):
        raise NotFound(f"{data_dir} is not a notary data dir: run `notary init` first")
    return data


def office_entry(data: dict[str, Any], name: str) -> dict[str, Any]:
    """One office of `notary.json` by name."""
    entry = data.get("offices", {}).get(name)
    if entry is None:
        raise OfficeUnknownLocally(f"no office {name!r} in this data dir (see `notary init`)")
    return entry


# -- chain -------------------------------------------------------------------------------------


def ensure_chain(data_dir: Path) -> ChainConfig:
    """Find the chain of `chain.json` (or `NOTARY_RPC_URL`), else start the embedded anvil."""
    from notary.chain.local import LocalChain, is_up

    config = ChainConfig.load(data_dir)
    configured = (data_dir / "chain.json").exists()
    explicit = os.environ.get("NOTARY_RPC_URL") or configured
    if explicit and is_up(config.rpc_url):
        return config
    if os.environ.get("NOTARY_RPC_URL"):
        raise Unavailable(f"no chain node answers at {config.rpc_url} (NOTARY_RPC_URL)")
    anvil_dir = data_dir / "anvil"
    embedded = (anvil_dir / "state.json").exists() or (anvil_dir / "anvil.json").exists()
    if configured and not embedded:
        # chain.json names a node of its own: never swap it for a new, empty local chain
        # (the registry would be redeployed at the same address and every record look unknown).
        raise Unavailable(
            f"no chain node answers at {config.rpc_url} (chain.json): start it, or set "
            "NOTARY_RPC_URL"
        )
    private_dir(anvil_dir)
    meta_path = anvil_dir / "anvil.json"
    port = _anvil_port(meta_path)
    chain = LocalChain(state_file=anvil_dir / "state.json", log_file=anvil_dir / "anvil.log")
    if port:
        chain.port = int(port)
    if not is_up(chain.url):
        chain.start()
        meta = {"port": chain.port, "pid": chain.process.pid if chain.process else None}
        atomic_write_bytes(meta_path, json.dumps(meta).encode(), mode=0o600)
    return config.replace(
        rpc_url=chain.url,
        chain_id=chain.chain_id,
        gas=GasPolicy(policy="zero") if config.gas.policy == "node" else config.gas,
    )


def _anvil_port(meta_path: Path) -> int | None:
    """The port `anvil.json` recorded; None when missing or garbled (it is only a cache: a
    new port is chosen and recorded)."""
    try:
        port = json.loads(meta_path.read_text())["port"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return port if isinstance(port, int) and 0 < port < 65536 else None


def embedded_chain_pid(data_dir: Path) -> int | None:
    """The pid of this data dir's embedded anvil if it runs, else None.

    Read from `anvil/anvil.json` and checked against the process's command line (it must be
    anvil with this data dir's state file), so a pid the system has since given to another
    process is never taken for the chain. Linux (`/proc`); elsewhere always None.
    """
    meta_path = data_dir / "anvil" / "anvil.json"
    try:
        pid = int(json.loads(meta_path.read_text())["pid"])
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    state = str(data_dir / "anvil" / "state.json").encode()
    if not argv or not argv[0].endswith(b"anvil") or state not in argv:
        return None
    return pid


def stop_embedded_chain(data_dir: Path, *, timeout: float = 15.0) -> bool:
    """Stop this data dir's embedded anvil (SIGTERM: it writes its state); True if it ran.

    The next `ensure_chain` starts it again from its state file.
    """
    pid = embedded_chain_pid(data_dir)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):  # it may have just ended on its own
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:  # our own child (started by this process) must be reaped to be gone
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            if embedded_chain_pid(data_dir) is None:
                return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


# -- init --------------------------------------------------------------------------------------


def _key(data_dir: Path, role: str, name: str, password: str) -> tuple[Path, LocalAccount]:
    path = key_path(data_dir, role, name)  # type: ignore[arg-type]
    if path.exists():
        return path, load_key(path, password)
    return path, create_key(path, password, scrypt_n=scrypt_n())


def init_local(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    password: str | None = None,
    db_url: str | None = None,
    office_name: str = DEMO_OFFICE_NAME,
) -> LocalSetup:
    """Create or find everything of a local deployment (see the module docstring)."""
    from sqlalchemy.exc import OperationalError

    from notary.chain.client import RegistryClient, deploy_registry, make_web3
    from notary.chain.errors import RegistryNotFound
    from notary.db.migrate import upgrade

    root = private_dir(data_dir_from_env(data_dir))
    private_dir(root / KEYS_DIR_NAME)
    password = password if password is not None else read_password()
    config = ensure_chain(root)
    _gov_path, governance = _key(root, "governance", "", password)
    office_path, signer = _key(root, "office", DEMO_OFFICE, password)

    client = None
    if config.registry is not None:
        try:
            client = RegistryClient.connect(config)
        except RegistryNotFound:
            client = None
    if client is None:
        deployment = deploy_registry(make_web3(config), governance, config=config)
        config = config.replace(registry=deployment.address, start_block=deployment.block_number)
        client = RegistryClient.connect(config)
    config.save(root)

    data = load_local(root)
    if db_url:  # an explicit URL wins: a first one that failed must not stick for good
        data["db_url"] = db_url
    data.setdefault("db_url", f"sqlite:///{root / 'notary.sqlite3'}")
    data.setdefault("verify_host", DEFAULT_VERIFY_HOST)
    offices = data.setdefault("offices", {})
    entry = offices.get(DEMO_OFFICE)
    if entry is None or not client.office(bytes.fromhex(entry["office_id"])).exists:
        entry = register_office(client, governance, office_name, signer.address)
        entry["key"] = str(office_path.relative_to(root))
        offices[DEMO_OFFICE] = entry
    elif not _is_signer(client, signer.address):
        client.grant_signer(governance, bytes.fromhex(entry["office_id"]), signer.address)
    save_local(root, data)
    try:
        upgrade(data["db_url"])
    except OperationalError as exc:
        raise Unavailable(
            f"database unavailable at {shown_db_url(data['db_url'])}: {exc.orig}"
        ) from None
    ensure_office_rows(data)
    return setup_of(root)


def register_office(
    client: Any, governance: LocalAccount, name: str, signer: str | None
) -> dict[str, Any]:
    """Register a new office on chain (random id) and grant `signer`; its notary.json entry."""
    from notary.chain.events import OfficeRegistered

    office_id = os.urandom(32)
    result = client.register_office(governance, office_id, name)
    number = result.events_of(OfficeRegistered)[0].number
    if signer is not None:
        client.grant_signer(governance, office_id, signer)
    return {"office_id": office_id.hex(), "number": number, "name": name}


def _is_signer(client: Any, address: str) -> bool:
    return any(p.is_open for p in client.signer_periods(address))


def ensure_office_rows(data: dict[str, Any]) -> None:
    """Add every office of `notary.json` to the database if missing."""
    from notary.db import repo
    from notary.db.session import make_engine, session_factory, unit_of_work

    engine = make_engine(data["db_url"])
    try:
        with unit_of_work(session_factory(engine)) as session:
            for entry in data.get("offices", {}).values():
                try:
                    repo.get_office(session, office_id=entry["office_id"])
                except NotFound:
                    repo.create_office(
                        session,
                        office_id=entry["office_id"],
                        number=entry["number"],
                        name=entry["name"],
                    )
    finally:
        engine.dispose()


def setup_of(data_dir: Path) -> LocalSetup:
    """The `LocalSetup` described by an initialised data dir (no network, no passwords)."""
    data = require_init(data_dir)
    config = ChainConfig.load(data_dir)
    if config.registry is None:
        raise NotFound(f"{data_dir}: no registry configured; run `notary init`")
    offices = data.get("offices", {})
    return LocalSetup(
        data_dir=data_dir,
        chain_url=config.rpc_url,
        chain_id=config.chain_id,
        registry=config.registry,
        start_block=config.start_block,
        db_url=data["db_url"],
        governance_key=key_path(data_dir, "governance"),
        office_ids={n: e["office_id"] for n, e in offices.items()},
        office_numbers={n: e["number"] for n, e in offices.items()},
        office_keys={n: data_dir / e["key"] for n, e in offices.items() if e.get("key")},
        verify_host=data.get("verify_host", DEFAULT_VERIFY_HOST),
    )


def load_settings(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    password: str | None = None,
    password_file: Path | None = None,
    **overrides: Any,
) -> WorkerSettings:
    """`WorkerSettings` for an initialised data dir, with every office key it holds."""
    root = data_dir_from_env(data_dir)
    setup = setup_of(root)
    password = password if password is not None else read_password(password_file)
    signers = tuple(load_key(p, password) for p in setup.office_keys.values() if p.exists())
    if "audit" not in overrides:  # the scheduled audit keeps its replay state and checks blobs here
        audit = ScheduleConfig.from_env()
        overrides["audit"] = dataclasses.replace(
            audit,
            state_path=audit.state_path or root / "audit-state.json",
            blobs=audit.blobs or root / "blobs",
        )
    return WorkerSettings(
        db_url=setup.db_url, chain=ChainConfig.load(root), signers=signers, **overrides
    )


def signer_address(path: Path) -> str:
    """The address of a keystore (no password needed)."""
    return key_address(path)


def check_slug(name: str) -> str:
    """An office's short name in the data dir (used in its key file name)."""
    if not _SLUG.fullmatch(name):
        raise InvalidInput(f"office short name must be [a-z0-9_-], up to 64; got {name!r}")
    return name
