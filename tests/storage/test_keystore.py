"""Encrypted key files: create, open, refuse the wrong password, keep keys private."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from eth_account import Account

from notary.errors import Conflict, InvalidInput, NotFound, Unauthorised
from notary.storage.keystore import (
    FAST_SCRYPT_N,
    InsecureKeyFile,
    KeyExists,
    KeyNotFound,
    KeystoreError,
    PasswordMissing,
    WrongPassword,
    create_key,
    key_address,
    key_path,
    load_key,
    read_password,
)

PASSWORD = "correct horse battery staple"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_created_key_opens_with_its_password(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "governance.json"
    account = create_key(path, PASSWORD, scrypt_n=FAST_SCRYPT_N)
    loaded = load_key(path, PASSWORD)
    assert loaded.address == account.address
    assert loaded.key == account.key


def test_key_file_is_private_and_written_without_leftovers(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "office-tax.json"
    create_key(path, PASSWORD, scrypt_n=FAST_SCRYPT_N)
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    assert os.listdir(path.parent) == ["office-tax.json"]


def test_key_file_is_a_scrypt_keystore_without_the_key_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    account = create_key(path, PASSWORD, scrypt_n=FAST_SCRYPT_N)
    text = path.read_text()
    data = json.loads(text)
    assert data["version"] == 3
    assert data["crypto"]["kdf"] == "scrypt"
    assert data["crypto"]["kdfparams"]["n"] == FAST_SCRYPT_N
    assert account.key.hex() not in text
    assert key_address(path) == account.address


def test_wrong_password_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    account = create_key(path, PASSWORD, scrypt_n=FAST_SCRYPT_N)
    with pytest.raises(WrongPassword) as info:
        load_key(path, "not the password")
    assert isinstance(info.value, Unauthorised)
    assert "wrong password" in str(info.value)
    assert str(path) in str(info.value)
    assert account.address[2:].lower() in str(info.value).lower()


def test_missing_key_file_is_not_found(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(KeyNotFound) as info:
        load_key(path, PASSWORD)
    assert isinstance(info.value, NotFound)
    assert str(info.value) == f"no key file at {path}"


def test_existing_key_is_never_overwritten_by_accident(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    first = create_key(path, PASSWORD, scrypt_n=FAST_SCRYPT_N)
    with pytest.raises(KeyExists) as info:
        create_key(path, PASSWORD, scrypt_n=FAST_SCRYPT_N)
    assert isinstance(info.value, Conflict)
    assert load_key(path, PASSWORD).address == first.address
    second = create_key(path, PASSWORD, scrypt_n=FAST_SCRYPT_N, overwrite=True)
    assert load_key(path, PASSWORD).address == second.address != first.address


def test_import_of_an_existing_private_key(tmp_path: Path) -> None:
    original = Account.create()
    path = tmp_path / "k.json"
    imported = create_key(path, PASSWORD, private_key=original.key, scrypt_n=FAST_SCRYPT_N)
    assert imported.address == load_key(path, PASSWORD).address == original.address
    with pytest.raises(InvalidInput):
        create_key(tmp_path / "bad.json", PASSWORD, private_key=b"\x00" * 3)


def test_group_readable_key_file_is_refused_like_ssh_does(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    create_key(path, PASSWORD, scrypt_n=FAST_SCRYPT_N)
    path.chmod(0o644)
    with pytest.raises(InsecureKeyFile, match="chmod 600"):
        load_key(path, PASSWORD)
    assert load_key(path, PASSWORD, strict_permissions=False).address


@pytest.mark.parametrize(
    "content", [b"", b"not json", b"[]", b'{"version": 3}', b'{"version": 1, "crypto": {}}']
)
def test_a_file_that_is_not_a_keystore_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "k.json"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeystoreError):
        load_key(path, PASSWORD)


def test_empty_passwords_and_bad_costs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PasswordMissing):
        create_key(tmp_path / "k.json", "", scrypt_n=FAST_SCRYPT_N)
    with pytest.raises(InvalidInput):
        create_key(tmp_path / "k.json", PASSWORD, scrypt_n=1000)
    assert not (tmp_path / "k.json").exists()


def test_password_comes_from_a_named_environment_variable() -> None:
    environ = {"OFFICE_KEY_PASSWORD": PASSWORD}
    assert read_password(env="OFFICE_KEY_PASSWORD", environ=environ) == PASSWORD
    with pytest.raises(PasswordMissing, match="OFFICE_KEY_PASSWORD"):
        read_password(env="OFFICE_KEY_PASSWORD", environ={})
    with pytest.raises(PasswordMissing):
        read_password(env="OFFICE_KEY_PASSWORD", environ={"OFFICE_KEY_PASSWORD": ""})


def test_password_comes_from_a_file_without_its_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    assert read_password(file=path) == PASSWORD
    path.write_text("  spaces kept  ")
    assert read_password(file=path) == "  spaces kept  "
    path.write_text("\n")
    with pytest.raises(PasswordMissing, match="empty"):
        read_password(file=path)
    with pytest.raises(PasswordMissing, match="not found"):
        read_password(file=tmp_path / "missing")


def test_exactly_one_password_source_is_required(tmp_path: Path) -> None:
    with pytest.raises(PasswordMissing):
        read_password()
    with pytest.raises(PasswordMissing):
        read_password(env="X", file=tmp_path / "p")


def test_governance_and_office_keys_live_in_separate_files(tmp_path: Path) -> None:
    gov = key_path(tmp_path, "governance")
    tax = key_path(tmp_path, "office", "tax")
    tax2 = key_path(tmp_path, "office", "tax-2")
    assert len({gov, tax, tax2}) == 3
    assert gov == tmp_path / "keys" / "governance.json"
    assert tax.parent == gov.parent
    for bad in ("", "../evil", "Tax", "a/b", "x" * 65):
        with pytest.raises(InvalidInput):
            key_path(tmp_path, "office", bad)
    with pytest.raises(InvalidInput):
        key_path(tmp_path, "governance", "named")
