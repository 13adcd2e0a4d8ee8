"""What the `notary` commands do, as plain functions returning JSON-ready dicts."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.db.models import Record, Revision, Revocation
from notary.db.types import OfficeStatus
from notary.errors import Conflict, InvalidInput, NotFound, Unauthorised, Unavailable
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


MAX_FILE_BYTES = 50 * 1024 * 1024
"""The largest file the CLI publishes: the API's default (`NOTARY_MAX_UPLOAD_BYTES`)."""


def _max_bytes() -> int:
    try:
        return int(os.environ.get("NOTARY_MAX_UPLOAD_BYTES", MAX_FILE_BYTES))
    except ValueError:
        raise InvalidInput("NOTARY_MAX_UPLOAD_BYTES must be a number of bytes") from None


def _guard_text(fields: dict[str, str | None], override: str | None) -> list[dict[str, Any]] | None:
    """The publishing path's text guard (`notary.publishing.content.guard_text`), its
    refusal naming each option and kind with a masked preview only."""
    from notary.publishing.content import guard_text
    from notary.publishing.errors import PiiFound

    try:
        return guard_text(fields, override_reason=override)
    except PiiFound as exc:
        listed = "; ".join(
            f"{f['location']}: {f['kind']} {f['masked_preview']}" for f in exc.findings
        )
        raise PiiFound(
            exc.findings,
            f"personal data found ({listed}); remove it from the text, or pass "
            "--pii-override-reason",
        ) from None


def _content(path: Path, *, mask: bool, override: str | None, text_findings: Any) -> Any:
    """The file through the publishing path: size, type from its bytes, the PII guard
    (`--mask`, or an override recorded with `--pii-override-reason`), hashes."""
    from notary.publishing.content import prepare, with_text_findings

    limit = _max_bytes()
    if path.stat().st_size > limit:  # refused before it is read into memory
        from notary.publishing.errors import PayloadTooLarge

        raise PayloadTooLarge(f"{path}: file over the limit of {limit} bytes")
    content = prepare(
        path.read_bytes(), None, limit=limit, mask=mask, override_reason=override,
        filename=path.name,
    )  # fmt: skip
    return dataclasses.replace(content, guarded=with_text_findings(content.guarded, text_findings))


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
    tier: str = "public",
    document_number: str | None = None,
    mask: bool = False,
    override: str | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Accept every file as a new record through the publishing path (the API's rules: type
    from the bytes, PII guard, tier, blob, access-log entry), anchor them, describe them."""
    from notary.db import repo
    from notary.publishing import blobs
    from notary.publishing.metadata import DOCUMENT_NUMBER, precheck_metadata, tier_of
    from notary.publishing.records import Draft, OfficeActor, insert_drafts, office_row

    root = data_dir_from_env(data_dir)
    client: dict[str, Any] = {
        "title": title,
        "category": category,
        "publication_date": published_on.isoformat(),
        "reviewer": reviewer,
        "language": language,
    }
    if document_number is not None:
        client["extra"] = {DOCUMENT_NUMBER: document_number}
    access = tier_of(client, tier)
    fields = {"--title": title, "--category": category, "--reviewer": reviewer,
              "--document-number": document_number}  # fmt: skip
    text_found = _guard_text(fields, override)
    check_free_text(title, "--title")
    precheck_metadata(client, access)  # refused metadata leaves no blob behind
    entry = office_entry(require_init(root), office)
    paths = [_file(p) for p in files]
    settings = load_settings(root, password_file=password_file)  # keys open, or fail now
    drafts = []
    with _progress(progress, len(paths), "checking") as advance:
        for path in paths:
            name = title if len(paths) == 1 else f"{title} — {path.name}"
            content = _content(path, mask=mask, override=override, text_findings=text_found)
            drafts.append((path, {**client, "title": name}, content))
            advance()
    with _session(root) as session:
        row = repo.get_office(session, office_id=entry["office_id"])
        if row.status is OfficeStatus.SUSPENDED:
            raise Unauthorised(f"office {office} is suspended")
        actor = OfficeActor(office_pk=row.id)
        for _, _, content in drafts:  # on disk before the rows that name it
            blobs.write_file(root / "blobs", content.sha256, content.guarded.data)
        done = insert_drafts(
            session,
            [Draft(actor, c, meta, access, override_reason=override) for _, meta, c in drafts],
            {row.id: office_row(row)},
        )
        session.flush()
        ids = [(d.revision["id"], str(p)) for d, (p, _, _) in zip(done, drafts, strict=True)]
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
    mask: bool = False,
    override: str | None = None,
) -> dict[str, Any]:
    """Add FILE as the next version of a record through the publishing path and anchor it."""
    from notary.db import repo
    from notary.publishing.records import OfficeActor, revisable, revise_record

    root = data_dir_from_env(data_dir)
    record_id = _record_id(record_id)
    if note is not None:
        check_note(note, "--note")
    text_found = _guard_text({"--title": title, "--note": note}, override)
    path = _file(file)
    settings = load_settings(root, password_file=password_file)
    with _session(root) as session:  # refused before the file is read or stored
        revisable(session, repo.get_record(session, record_id=record_id))
    content = _content(path, mask=mask, override=override, text_findings=text_found)
    with _session(root) as session:
        record = repo.get_record(session, record_id=record_id)
        if record.office.status is OfficeStatus.SUSPENDED:
            raise Unauthorised("the record's office is suspended")
        rev = revise_record(
            session,
            root / "blobs",
            OfficeActor(office_pk=record.office_pk),
            record,
            content=content,
            client_metadata={"title": title} if title else None,
            change_note=note or "",
            override_reason=override,
        )
        session.flush()
        rid = rev.id
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
    _guard_text({"--reason": reason}, None)  # shown on the verify page
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
