"""Encrypted signing keys: one Ethereum V3 JSON keystore file per key.

The governance key and every office signer key live in separate files under
`<data dir>/keys/` (see `key_path`), each written atomically with mode 0600 and encrypted with
scrypt. The password never travels on a command line or through the database: it is read
from an environment variable (named, not given) or from a password file (see
`read_password`).

Key rotation is done on chain (grant the new signer, revoke the old one; see
`notary.chain.client.RegistryClient`); this module only creates and opens key files, and refuses to
overwrite an existing one unless asked, so a key is never lost by accident.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, Literal

from eth_account import Account
from eth_account.signers.local import LocalAccount

from notary.errors import Conflict, InvalidInput, NotFound, Unauthorised
from notary.storage.atomic import atomic_write_bytes

DEFAULT_SCRYPT_N = 2**18
"""The standard scrypt cost (geth's, ~1 s and 256 MiB per open): for real keys."""
FAST_SCRYPT_N = 2**10
"""A cheap scrypt cost for tests and throw-away demo keys; never for production keys."""
DEFAULT_PASSWORD_ENV = "NOTARY_KEYSTORE_PASSWORD"
"""The environment variable every command reads the keystore password from."""
KEYS_DIR_NAME = "keys"
MAX_PASSWORD_FILE_BYTES = 4096

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

_Path = str | os.PathLike[str]


class KeystoreError(InvalidInput):
    """A key file exists but is not a readable keystore."""


class KeyNotFound(NotFound):
    """No key file at the given path."""


class KeyExists(Conflict):
    """A key file already exists where a new one would be written."""


class WrongPassword(Unauthorised):
    """The password does not open the key file."""


class InsecureKeyFile(Unauthorised):
    """The key file can be read by other users of this machine."""


class PasswordMissing(InvalidInput):
    """No usable password source was given, or it was empty."""


# ---------------------------------------------------------------------------------------------
# Passwords
# ---------------------------------------------------------------------------------------------


def read_password(
    *,
    env: str | None = None,
    file: _Path | None = None,
    environ: dict[str, str] | os._Environ[str] | None = None,
) -> str:
    """The keystore password from an environment variable *name* or a password file *path*.

    Exactly one source must be given. A password file may end with one newline (as `echo`
    writes it); that newline is not part of the password. An empty password is refused.
    """
    if (env is None) == (file is None):
        raise PasswordMissing("give the password through exactly one of: env var name, file")
    if env is not None:
        value = (os.environ if environ is None else environ).get(env)
        if not value:
            raise PasswordMissing(f"environment variable {env} is not set or empty")
        return value
    path = Path(file)  # type: ignore[arg-type]
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_PASSWORD_FILE_BYTES + 1)
    except FileNotFoundError:
        raise PasswordMissing(f"password file not found: {path}") from None
    except IsADirectoryError:
        raise PasswordMissing(f"password file is a directory: {path}") from None
    if len(raw) > MAX_PASSWORD_FILE_BYTES:
        raise PasswordMissing(f"password file is larger than {MAX_PASSWORD_FILE_BYTES} bytes")
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PasswordMissing(f"password file is not UTF-8: {path}") from None
    value = value.removesuffix("\n").removesuffix("\r")
    if not value:
        raise PasswordMissing(f"password file is empty: {path}")
    return value


# ---------------------------------------------------------------------------------------------
# Key files
# ---------------------------------------------------------------------------------------------


def key_path(data_dir: _Path, role: Literal["governance", "office"], name: str = "") -> Path:
    """Where a key lives: `keys/governance.json` or `keys/office-<name>.json`.

    `name` (for office keys) is a short lowercase label such as the office slug plus a
    rotation suffix (`tax-2`), so old and new signer keys can coexist during a rotation.
    """
    keys = Path(data_dir) / KEYS_DIR_NAME
    if role == "governance":
        if name:
            raise InvalidInput("the governance key has no name")
        return keys / "governance.json"
    if role == "office":
        if not _NAME.fullmatch(name):
            raise InvalidInput(
                f"office key name must be 1-64 of [a-z0-9_-], starting alphanumeric; got {name!r}"
            )
        return keys / f"office-{name}.json"
    raise InvalidInput(f"unknown key role {role!r}")


def create_key(
    path: _Path,
    password: str,
    *,
    private_key: bytes | str | None = None,
    scrypt_n: int = DEFAULT_SCRYPT_N,
    overwrite: bool = False,
) -> LocalAccount:
    """Create (or import `private_key` into) an encrypted keystore file at `path`.

    The file is written atomically with mode 0600 in a folder created with mode 0700.
    Refuses to replace an existing file unless `overwrite` is true. Returns the account.
    """
    if not isinstance(password, str) or not password:
        raise PasswordMissing("refusing to encrypt a key with an empty password")
    if type(scrypt_n) is not int or scrypt_n < 2 or scrypt_n & (scrypt_n - 1):
        raise InvalidInput(f"scrypt_n must be a power of two ≥ 2; got {scrypt_n!r}")
    target = Path(path)
    if target.exists() and not overwrite:
        raise KeyExists(f"a key file already exists at {target}; refusing to overwrite it")
    account = Account.create() if private_key is None else _from_key(private_key)
    keyfile = Account.encrypt(account.key, password, kdf="scrypt", iterations=scrypt_n)
    # atomic_write_bytes makes missing folders 0700 (parents too) and the file 0600.
    atomic_write_bytes(target, json.dumps(keyfile, indent=2).encode() + b"\n", mode=0o600)
    return account


def load_key(path: _Path, password: str, *, strict_permissions: bool = True) -> LocalAccount:
    """Open the keystore at `path` with `password` and return the signing account.

    Raises `KeyNotFound` for a missing file, `InsecureKeyFile` when other users could read
    it (like ssh does; pass `strict_permissions=False` to skip), `KeystoreError` for a file
    that is not a keystore, and `WrongPassword` when the password does not open it.
    """
    target = Path(path)
    try:
        st = target.stat()
    except FileNotFoundError:
        raise KeyNotFound(f"no key file at {target}") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeystoreError(f"{target} is not a regular file")
    if strict_permissions and st.st_mode & 0o077:
        raise InsecureKeyFile(
            f"key file {target} is accessible by other users (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run: chmod 600 {target}"
        )
    keyfile = read_keyfile(target)
    if not isinstance(password, str) or not password:
        raise PasswordMissing("an empty password cannot open a key file")
    try:
        key = Account.decrypt(keyfile, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise WrongPassword(
                f"wrong password for key file {target} (address 0x{keyfile.get('address', '?')})"
            ) from None
        raise KeystoreError(f"{target}: cannot decrypt keystore ({exc})") from None
    except (KeyError, TypeError) as exc:
        raise KeystoreError(f"{target}: malformed keystore ({exc!r})") from None
    return Account.from_key(key)


def read_keyfile(path: _Path) -> dict[str, Any]:
    """The parsed keystore JSON (no password needed; the address is readable in clear)."""
    target = Path(path)
    try:
        raw = target.read_bytes()
    except FileNotFoundError:
        raise KeyNotFound(f"no key file at {target}") from None
    try:
        keyfile = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise KeystoreError(f"{target} is not a JSON keystore") from None
    if not isinstance(keyfile, dict) or "crypto" not in keyfile or keyfile.get("version") != 3:
        raise KeystoreError(f"{target} is not a version 3 keystore")
    return keyfile


def key_address(path: _Path) -> str:
    """The checksummed address stored in a keystore, read without decrypting it."""
    from eth_utils import to_checksum_address

    keyfile = read_keyfile(path)
    try:
        return to_checksum_address("0x" + str(keyfile["address"]).removeprefix("0x"))
    except (KeyError, ValueError):
        raise KeystoreError(f"{path}: keystore has no valid address") from None


def _from_key(private_key: bytes | str) -> LocalAccount:
    try:
        return Account.from_key(private_key)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"not a valid private key ({type(exc).__name__})") from None
