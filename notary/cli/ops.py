"""What the `notary` commands do, as plain functions returning JSON-ready dicts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.db.models import Record, Revision, Revocation
from notary.db.types import OfficeStatus, RecordKind
from notary.errors import Conflict, InvalidInput, NotFound, Unavailable
from notary.formats.fields import check_free_text, check_note
from notary.local.setup import (
    check_slug,
    data_dir_from_env,
    load_settings,
    office_entry,
    read_password,
    require_init,
    save_local,
    setup_of,
)
from notary.storage.atomic import atomic_write_bytes


class FileMissing(NotFound):
    """A file named on the command line does not exist."""


@contextlib.contextmanager
def _session(data_dir: Path) -> Iterator[Session]:
    from notary.db.session import make_engine, session_factory, unit_of_work

    engine = make_engine(require_init(data_dir)["db_url"])
    try:
        with unit_of_work(session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


def _governance(root: Path, password_file: Path | None) -> tuple[Any, Any]:
    from notary.chain.client import RegistryClient
    from notary.chain.config import ChainConfig
    from notary.storage.keystore import key_path, load_key

    account = load_key(key_path(root, "governance"), read_password(password_file))
    return RegistryClient.connect(ChainConfig.load(root)), account


def _file(path: Path) -> Path:
    if not path.is_file():
        raise FileMissing(f"no such file: {path}")
    return path


# -- offices ---------------------------------------------------------------------------------


def office_add(
    data_dir: Path | None, password_file: Path | None, short: str, name: str
) -> dict[str, Any]:
    """Register an office with a new signer key; adds it to notary.json and the database."""
    from notary.local.setup import ensure_office_rows, register_office, scrypt_n
    from notary.storage.keystore import create_key, key_path, load_key

    root = data_dir_from_env(data_dir)
    data = require_init(root)
    check_slug(short)
    if not name.strip():
        raise InvalidInput("--name must not be empty")
    check_free_text(name, "--name")
    if short in data.get("offices", {}):
        raise InvalidInput(f"office {short!r} exists already in this data dir")
    client, governance = _governance(root, password_file)
    path = key_path(root, "office", short)
    password = read_password(password_file)
    # A key left by an attempt that failed before the office was registered is used again:
    # refusing it made the command impossible to retry.
    signer = load_key(path, password) if path.exists() else create_key(
        path, password, scrypt_n=scrypt_n()
    )  # fmt: skip
    entry = register_office(client, governance, name, signer.address)
    entry["key"] = str(path.relative_to(root))
    data.setdefault("offices", {})[short] = entry
    save_local(root, data)
    ensure_office_rows(data)
    return {"office": short, **entry, "signer": signer.address}


def office_suspend(data_dir: Path | None, password_file: Path | None, short: str) -> str:
    """Suspend an office on chain and in the database; returns the tx hash."""

    root = data_dir_from_env(data_dir)
    entry = office_entry(require_init(root), short)
    client, governance = _governance(root, password_file)
    office_id = bytes.fromhex(entry["office_id"])
    # Suspended on chain already (a run that failed before its database update): only the
    # database is left to do, so a retry completes the suspension instead of being refused.
    tx_hash = "" if client.office(office_id).suspended else (
        client.suspend_office(governance, office_id).tx_hash
    )  # fmt: skip
    from notary.db import repo

    with _session(root) as session:
        repo.get_office(session, office_id=entry["office_id"]).status = OfficeStatus.SUSPENDED
    return tx_hash or "already suspended on chain"


def signer_add(
    data_dir: Path | None, password_file: Path | None, short: str, key_name: str
) -> dict[str, Any]:
    """Create a new signer key file and grant it for the office."""
    from notary.local.setup import scrypt_n
    from notary.storage.keystore import create_key, key_path

    root = data_dir_from_env(data_dir)
    data = require_init(root)
    entry = office_entry(data, short)
    client, governance = _governance(root, password_file)
    path = key_path(root, "office", key_name)
    signer = create_key(path, read_password(password_file), scrypt_n=scrypt_n())
    result = client.grant_signer(governance, bytes.fromhex(entry["office_id"]), signer.address)
    entry["key"] = str(path.relative_to(root))  # the new key signs from now on
    save_local(root, data)
    return {"office": short, "signer": signer.address, "key": str(path), "tx": result.tx_hash}


def signer_revoke(
    data_dir: Path | None, password_file: Path | None, short: str, address: str
) -> dict[str, Any]:
    """Revoke a signer's authority for the office."""
    root = data_dir_from_env(data_dir)
    entry = office_entry(require_init(root), short)
    client, governance = _governance(root, password_file)
    result = client.revoke_signer(governance, bytes.fromhex(entry["office_id"]), address)
    return {"office": short, "signer": address, "tx": result.tx_hash}


# -- publishing ------------------------------------------------------------------------------


def _refuse_personal_data(fields: dict[str, str | None]) -> None:
    """Refuse personal data in text that becomes public (the API's text guard, same
    detectors): a text field cannot be masked, and the CLI takes no override."""
    from notary.pii import scan_fields

    findings = scan_fields({name: text for name, text in fields.items() if text})
    if findings:
        listed = "; ".join(f"{f.location}: {f.kind.value} {f.masked_preview}" for f in findings)
        raise InvalidInput(f"personal data found ({listed}); remove it from the text")


def _accept(
    session: Session,
    root: Path,
    path: Path,
    *,
    office: Any,
    title: str,
    category: str,
    reviewer: str,
    language: str,
    published_on: date,
    record_id: str | None = None,
    note: str | None = None,
) -> Revision:
    """Hash and store a file and add it as a pending revision (new record or next version)."""
    from notary.db import repo
    from notary.formats.hashing import hash_file
    from notary.formats.metadata import AccessTier, Metadata
    from notary.formats.revision import new_record_id
    from notary.storage.blobstore import BlobStore

    digests = hash_file(path, sm3=True)
    assert digests.sm3 is not None
    meta = Metadata(
        title=title,
        office=office.name,
        category=category,
        publication_date=published_on,
        reviewer=reviewer,
        language=language,
        access_tier=AccessTier.PUBLIC,
        sm3=digests.sm3,
    )  # validated before the file is stored: refused metadata leaves no blob behind
    common = {
        "title": title,
        "content_hash": digests.sha256.hex(),
        "metadata_json": meta.canonical_json().decode(),
        "metadata_hash": meta.metadata_hash().hex(),
        "category": category,
        "published_on": published_on,
        "sm3": digests.sm3.hex(),
    }
    # The rows first: what the database refuses (a closed record, a suspended office) must
    # leave no file behind. The file is still on disk before the transaction commits.
    if record_id is None:
        row = repo.create_record(
            session,
            record_id=new_record_id(office.number),
            office=office,
            kind="disclosure",
            access_tier="public",
            **common,
        )
    else:
        record = repo.get_record(session, record_id=record_id)
        row = repo.add_revision(
            session,
            record_id=record_id,
            version=record.head_version + 1,
            change_note=note,
            **common,
        )
    store = BlobStore(root / "blobs")
    with path.open("rb") as fh:
        sha, size = store.put_stream(fh)
    if sha != digests.sha256.hex():
        raise InvalidInput(f"{path} changed while it was being read; publish it again")
    repo.add_blob(session, sha256=sha, size=size, path=store.relative_path(sha))
    return row


def _describe(session: Session, root: Path, revision_id: int, file: str) -> dict[str, Any]:
    row = session.get(Revision, revision_id, populate_existing=True)
    assert row is not None
    link = None
    if row.leaf:
        link = _target(root).url(record_id=row.record_id, version=row.version, leaf=row.leaf)
    return {
        "file": file,
        "record_id": row.record_id,
        "version": row.version,
        "content_hash": row.content_hash,
        "anchor_state": row.anchor_state.value,
        "anchor_mode": row.anchor_mode.value if row.anchor_mode else None,
        "tx": None if row.tx_hash is None else "0x" + row.tx_hash,
        "block": row.block_number,
        "leaf": row.leaf,
        "error": row.anchor_error,
        "verify_url": link,
    }


def _target(root: Path) -> Any:
    """Where this data dir's verify URLs point (the embedded service serves plain HTTP)."""
    from notary.pdf.verify_links import VerifyTarget

    setup = setup_of(root)
    return VerifyTarget(
        scheme="http", host=setup.verify_host, chain_id=setup.chain_id, registry=setup.registry
    )


def stamp(data_dir: Path | None, record_id: str, file: Path, out: Path) -> dict[str, Any]:
    """Stamp FILE (an anchored version of RECORD) with a QR code on every page into OUT."""
    from notary.formats.hashing import sha256_file

    root = data_dir_from_env(data_dir)
    source = _file(file)
    digest = sha256_file(source).hex()
    with _session(root) as session:
        record = _find_record(session, record_id)
        rows = session.scalars(
            select(Revision).where(
                Revision.record_id == record.record_id, Revision.content_hash == digest
            )
        ).all()
        if not rows:
            raise InvalidInput(f"{file} is not a published version of record {record.record_id}")
        row = rows[-1]
        if not row.leaf:
            raise Conflict(f"version {row.version} is not anchored yet; run `notary worker`")
        version, leaf = row.version, row.leaf
    stamped = _target(root).stamp(
        source.read_bytes(), record_id=record.record_id, version=version, leaf=leaf
    )
    atomic_write_bytes(out, stamped, mode=0o644)
    return {"record_id": record.record_id, "version": version, "out": str(out)}


def _anchor(settings: Any, accepted: str) -> None:
    """Anchor what is pending; if the chain cannot be reached, say what was accepted.

    The change is committed before anchoring: it waits in the outbox and the next `notary`
    command or `notary worker` anchors it. Repeating the command would do it twice.
    """
    from notary.anchoring.worker import anchor_pending

    try:
        anchor_pending(settings)
    except Unavailable as exc:
        raise Unavailable(
            f"{exc}. Accepted and waiting to be anchored: {accepted}. Run `notary worker` "
            "when the chain is back; do not repeat this command"
        ) from None


def publish(
    data_dir: Path | None,
    password_file: Path | None,
    files: Sequence[Path],
    *,
    title: str,
    category: str,
    office: str,
    reviewer: str,
    language: str,
    published_on: date,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Accept every file as a new record, anchor them, and describe the results."""
    from notary.db import repo

    root = data_dir_from_env(data_dir)
    _refuse_personal_data({"--title": title, "--category": category, "--reviewer": reviewer})
    entry = office_entry(require_init(root), office)
    paths = [_file(p) for p in files]
    settings = load_settings(root, password_file=password_file)  # keys open, or fail now
    ids: list[tuple[int, str]] = []
    with _progress(progress, len(paths), "hashing") as advance, _session(root) as session:
        office_row = repo.get_office(session, office_id=entry["office_id"])
        for path in paths:
            name = title if len(paths) == 1 else f"{title} — {path.name}"
            row = _accept(
                session,
                root,
                path,
                office=office_row,
                title=name,
                category=category,
                reviewer=reviewer,
                language=language,
                published_on=published_on,
            )
            session.flush()
            ids.append((row.id, str(path)))
            advance()
    _anchor(settings, f"{len(ids)} file(s)")
    with _session(root) as session:
        return [_describe(session, root, rid, f) for rid, f in ids]


def revise(
    data_dir: Path | None,
    password_file: Path | None,
    record_id: str,
    file: Path,
    *,
    title: str | None,
    note: str | None,
) -> dict[str, Any]:
    """Add FILE as the next version of a record and anchor it."""
    from notary.db import repo
    from notary.formats.metadata import Metadata

    root = data_dir_from_env(data_dir)
    record_id = _record_id(record_id)
    if note is not None:
        check_note(note, "--note")
    _refuse_personal_data({"--title": title, "--note": note})
    path = _file(file)
    settings = load_settings(root, password_file=password_file)
    with _session(root) as session:
        record = repo.get_record(session, record_id=record_id)
        if record.kind is RecordKind.CERTIFICATE:  # its content is a salted commitment
            raise Conflict("a certificate cannot be revised: revoke it and issue a new one")
        head = record.revisions[-1]
        meta = Metadata.from_json(head.metadata_json)
        row = _accept(
            session,
            root,
            path,
            office=record.office,
            title=title or record.title,
            category=meta.category,
            reviewer=meta.reviewer,
            language=meta.language,
            published_on=date.today(),
            record_id=record_id,
            note=note,
        )
        session.flush()
        rid = row.id
    _anchor(settings, f"the new version of record {record_id}")
    with _session(root) as session:
        return _describe(session, root, rid, str(path))


def revoke(
    data_dir: Path | None, password_file: Path | None, record_id: str, reason: str
) -> dict[str, Any]:
    """Revoke a record with a reason and anchor the revocation."""
    from notary.db import repo

    root = data_dir_from_env(data_dir)
    record_id = _record_id(record_id)
    check_note(reason, "--reason")
    _refuse_personal_data({"--reason": reason})
    settings = load_settings(root, password_file=password_file)
    with _session(root) as session:
        repo.record_revocation(session, record_id=record_id, reason=reason)
    _anchor(settings, f"the revocation of record {record_id}")
    with _session(root) as session:
        row = session.scalars(select(Revocation).where(Revocation.record_id == record_id)).one()
        return {
            "record_id": record_id,
            "reason": row.reason,
            "reason_hash": row.reason_hash,
            "state": row.anchor_state.value,
            "tx": None if row.tx_hash is None else "0x" + row.tx_hash,
        }


# -- reading ---------------------------------------------------------------------------------


def _record_id(text: str) -> str:
    from notary.formats.revision import parse_record_id

    return parse_record_id(text).hex()


def _find_record(session: Session, target: str) -> Record:
    from notary.db import repo
    from notary.formats.hashing import sha256_file

    path = Path(target)
    if path.is_file():
        digest = sha256_file(path).hex()
        row = session.scalars(
            select(Revision).where(Revision.content_hash == digest).order_by(Revision.id)
        ).first()
        if row is None:
            raise NotFound(f"no record holds a file with SHA-256 {digest}")
        return repo.get_record(session, record_id=row.record_id)
    try:
        record_id = _record_id(target)
    except InvalidInput:
        raise NotFound(f"{target!r} is neither a file nor a record id") from None
    return repo.get_record(session, record_id=record_id)


def status(data_dir: Path | None, target: str) -> dict[str, Any]:
    """A record's status in the database and its head on chain."""
    from notary.chain.client import RegistryClient
    from notary.chain.config import ChainConfig

    root = data_dir_from_env(data_dir)
    with _session(root) as session:
        record = _find_record(session, target)
        head = record.revisions[-1]
        out = {
            "record_id": record.record_id,
            "title": record.title,
            "status": record.status.value,
            "version": head.version,
            "anchor_state": head.anchor_state.value,
            "tx": None if head.tx_hash is None else "0x" + head.tx_hash,
        }
    client = RegistryClient.connect(ChainConfig.load(root))
    chain_head = client.head(bytes.fromhex(out["record_id"]))
    out["chain_version"] = chain_head.version
    out["chain_status"] = chain_head.status.name.lower()
    return out


def history(data_dir: Path | None, record_id: str) -> dict[str, Any]:
    """Every revision of a record with its anchor (from the database)."""
    root = data_dir_from_env(data_dir)
    with _session(root) as session:
        record = _find_record(session, record_id)
        return {
            "record_id": record.record_id,
            "title": record.title,
            "status": record.status.value,
            "revisions": [
                {
                    "version": r.version,
                    "content_hash": r.content_hash,
                    "accepted_at": r.accepted_at.isoformat(),
                    "anchor_state": r.anchor_state.value,
                    "tx": None if r.tx_hash is None else "0x" + r.tx_hash,
                    "block": r.block_number,
                    "leaf": r.leaf,
                    "note": r.change_note,
                }
                for r in record.revisions
            ],
        }


@contextlib.contextmanager
def _progress(enabled: bool, total: int, label: str) -> Iterator[Any]:
    if not enabled:
        yield lambda: None
        return
    from rich.progress import Progress

    with Progress(transient=False) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)
