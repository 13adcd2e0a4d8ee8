"""The named steps of a verification, in the order `verifier.verify` runs them.

Each step reads the chain through the run's registry, records a `Step` and either adds facts
to the run or stops it with a verdict (`Run.fail`). Recomputing the leaves and the timeline
is `verifier.timeline.check_leaf_prefix`.
"""

from __future__ import annotations

import hashlib

from verifier.certificate import holder_commitment
from verifier.payload import PayloadError, page_fields_fit, parse_code
from verifier.result import Step, StepStatus, Verdict
from verifier.run import (
    CERTIFICATE,
    KIND_NAMES,
    MAX_INDEX_HITS,
    ContentHit,
    ContentIndex,
    Run,
    event_time,
)
from verifier.source import AnchorEvent, HeadState, RecordStatus, Registry, SourceUnavailable
from verifier.trust import TrustEntry


def parse_payload(run: Run, text: str) -> None:
    """Parse the code strictly; anything malformed is INVALID_CODE."""
    try:
        p = parse_code(text)
    except PayloadError as exc:
        raise run.fail("parse_payload", Verdict.INVALID_CODE, f"not a valid code: {exc}") from None
    run.payload = p
    run.record_id, run.version = p.record_id, p.version
    run.facts.update(
        record_id="0x" + p.record_id.hex(),
        version=p.version,
        page=p.page,
        page_count=p.page_count,
        chain_id=p.chain_id,
        registry="0x" + p.registry_prefix.hex() + "…",
    )
    page = f", page {p.page}/{p.page_count}" if p.page else ""
    run.ok("parse_payload", f"record 0x{p.record_id.hex()[:12]}…, v{p.version}{page}")


def find_trust_entry(run: Run) -> None:
    """The code's chain + registry must be in the trust list: else UNTRUSTED_ISSUER."""
    p = run.payload
    assert p is not None
    entry = run.trust.find_prefix(p.chain_id, p.registry_prefix)
    if entry is None:
        raise run.fail(
            "find_trust_entry",
            Verdict.UNTRUSTED_ISSUER,
            f"registry 0x{p.registry_prefix.hex()}… on chain {p.chain_id} is not in the trust list",
        )
    use_entry(run, entry)
    run.ok("find_trust_entry", f"{entry.name} (chain {entry.chain_id}, {entry.registry})")


def use_entry(run: Run, entry: TrustEntry) -> None:
    run.entry = entry
    run.facts.update(issuer_name=entry.name, chain_id=entry.chain_id, registry=entry.registry)
    run.registry = run.connect(entry)


def hash_content(run: Run, data: bytes, salt: bytes | None = None) -> None:
    """SHA-256 of the exact bytes (salted for a certificate), as contentHash commits to."""
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) == 0:
        raise run.fail("hash_content", Verdict.UNKNOWN, "the file is empty")
    if salt is not None:
        try:
            run.file_hash = holder_commitment(salt, bytes(data))
        except ValueError as exc:
            raise run.fail("hash_content", Verdict.INVALID_CODE, str(exc)) from None
    else:
        run.file_hash = hashlib.sha256(data).digest()
    run.facts["content_hash"] = "0x" + run.file_hash.hex()
    run.ok("hash_content", f"sha256 {run.file_hash.hex()}")


def _scan_registries(run: Run, digest: bytes) -> list[tuple[TrustEntry, Registry, AnchorEvent]]:
    """Every anchor of `digest` in every trusted registry (reads each one's whole history)."""
    found: list[tuple[TrustEntry, Registry, AnchorEvent]] = []
    for entry in run.trust:
        reg = run.connect(entry)
        found += [(entry, reg, ev) for ev in reg.find_content(digest)]
    return found


def _confirm_hits(
    run: Run, index: ContentIndex, digest: bytes
) -> list[tuple[TrustEntry, Registry, AnchorEvent]]:
    """The index's candidates that a trusted registry's own events back: the revision is
    anchored there with exactly this contentHash. An index entry the chain does not confirm
    is ignored (the database is not trusted for the verdict)."""
    found: list[tuple[TrustEntry, Registry, AnchorEvent]] = []
    for hit in list(index(digest))[:MAX_INDEX_HITS]:
        entry = run.trust.find(hit.chain_id, hit.registry)
        if entry is None:
            continue
        reg = run.connect(entry)
        head = reg.head(hit.record_id)
        if head.version == 0 or hit.version > head.version:
            continue
        found += [
            (entry, reg, ev)
            for ev in _index_anchor(reg, hit, head)
            if ev.version == hit.version and ev.content_hash == digest
        ]
    return found


def _index_anchor(reg: Registry, hit: ContentHit, head: HeadState) -> list[AnchorEvent]:
    """The anchor of the revision an index names: at the block it gives when the registry
    has that revision there (one block read), else read back from the head."""
    if hit.block is not None:
        ev = reg.anchor_in_block(hit.record_id, hit.version, hit.block)
        if ev is not None:
            return [ev]
    return reg.revisions(hit.record_id, head=head, from_version=hit.version)[:1]


def find_by_content(run: Run) -> None:
    """Find an anchored revision with this contentHash: through the index when there is
    one (only the revisions it names), else in every trusted registry's history."""
    assert run.file_hash is not None
    try:  # an unreachable index or a refused scan says why, not "chain unreachable"
        if run.index is not None:
            found = _confirm_hits(run, run.index, run.file_hash)
            missing = "no revision with exactly these bytes is known here and anchored on the chain"
        else:
            found = _scan_registries(run, run.file_hash)
            missing = "no trusted registry has anchored a revision with exactly these bytes"
    except SourceUnavailable as exc:
        raise run.fail("find_by_content", Verdict.UNAVAILABLE, str(exc)) from None
    if not found:
        raise run.fail("find_by_content", Verdict.UNKNOWN, missing)
    # Same bytes anchored more than once: the latest anchor speaks for them.
    entry, _reg, ev = max(found, key=lambda f: (f[2].block, f[2].log_index))
    use_entry(run, entry)
    run.record_id, run.version = ev.record_id, ev.version
    run.facts.update(record_id="0x" + ev.record_id.hex(), version=ev.version)
    run.ok("find_by_content", f"record 0x{ev.record_id.hex()[:12]}…, v{ev.version}")


def fetch_anchor(run: Run) -> None:
    """Read the record's head and events; the revision must be anchored."""
    reg, rid, version = run.registry, run.record_id, run.version
    assert reg is not None and rid is not None and version is not None
    head = reg.head(rid)
    if head.version == 0 or head.status is RecordStatus.NONE:
        raise run.fail("fetch_anchor", Verdict.UNKNOWN, "the registry has no such record")
    if version > head.version:
        raise run.fail(
            "fetch_anchor",
            Verdict.UNKNOWN,
            f"the record has no version {version} (latest is {head.version})",
        )
    # Only the versions from this one to the head: read back from the head's block.
    events = reg.revisions(rid, head=head, from_version=version)
    by_version = {e.version: e for e in events}
    event = by_version.get(version)
    if event is None or any(v not in by_version for v in range(version, head.version + 1)):
        raise run.fail(
            "fetch_anchor", Verdict.UNKNOWN, "the record's anchor events are missing or incomplete"
        )
    run.head, run.events, run.event = head, events, event
    anchored_at = event_time(reg, event)
    current_at = event_time(reg, by_version[head.version])
    run.facts.update(
        kind=KIND_NAMES.get(event.kind, str(event.kind)),
        content_hash="0x" + event.content_hash.hex(),
        metadata_hash="0x" + event.metadata_hash.hex(),
        anchored_at=anchored_at,
        current_version=head.version,
        current_anchored_at=current_at,
        valid_until=head.valid_until or None,
        signer=event.signer,
        office_id="0x" + head.office_id.hex(),
    )
    run.ok("fetch_anchor", f"v{version} anchored in block {event.block}; head is v{head.version}")


def check_office(run: Run) -> None:
    """The record's office as the registry names it (never the code's or the file's)."""
    reg, head, rid = run.registry, run.head, run.record_id
    assert reg is not None and head is not None and rid is not None
    office = reg.office(head.office_id)
    if office.number == 0 or office.number != int.from_bytes(rid[:4], "big"):
        raise run.fail(
            "check_office", Verdict.UNTRUSTED_ISSUER, "the record's office is not registered"
        )
    run.facts["office_name"] = office.name
    if office.suspended:
        run.warn("check_office", f"{office.name} (office currently suspended)")
    else:
        run.ok("check_office", office.name)


def check_signer(run: Run) -> None:
    """The anchoring signer was authorised for the office at the anchor's block."""
    reg, head, event = run.registry, run.head, run.event
    assert reg is not None and head is not None and event is not None
    if not reg.signer_authorised_at(head.office_id, event.signer, event.block):
        raise run.fail(
            "check_signer",
            Verdict.UNTRUSTED_ISSUER,
            f"signer {event.signer} was not authorised for the office at block {event.block}",
        )
    run.ok("check_signer", f"{event.signer} authorised at block {event.block}")


def check_payload_signature(run: Run) -> None:
    """If the code carries a signature, it must be by a signer authorised for the office."""
    p, reg, head, event = run.payload, run.registry, run.head, run.event
    assert p is not None and reg is not None and head is not None and event is not None
    if not p.signature:
        run.skip("check_payload_signature", "the code carries no signature")
        return
    try:
        from notary.formats.qr_payload import recover_signer

        signer = str(recover_signer(p.raw)).lower()
    except Exception as exc:  # an unrecoverable signature is a forged one
        raise run.fail(
            "check_payload_signature", Verdict.TAMPERED, f"the code's signature is invalid: {exc}"
        ) from None
    if signer != event.signer and not reg.signer_authorised_at(head.office_id, signer, event.block):
        raise run.fail(
            "check_payload_signature",
            Verdict.TAMPERED,
            f"the code is signed by {signer}, not by a signer of the office",
        )
    run.ok("check_payload_signature", f"signed by {signer}")


def check_content(run: Run, file_bytes: bytes | None) -> None:
    """The bytes in hand match the anchored contentHash (skipped without a file).

    For a certificate the anchored value is the salted commitment (verifier.certificate),
    so the code's salt must be the right one too.
    """
    event = run.event
    assert event is not None
    if file_bytes is None and run.file_hash is None:
        run.skip("check_content", "no file given; the code alone was checked")
        return
    if file_bytes is None:
        digest = run.file_hash
    elif event.kind == CERTIFICATE:
        salt = run.payload.salt if run.payload is not None else None
        if not salt:
            raise run.fail(
                "check_content", Verdict.TAMPERED, "a certificate code must carry its salt"
            )
        digest = holder_commitment(salt, file_bytes)
    else:
        digest = hashlib.sha256(file_bytes).digest()
    if digest != event.content_hash:
        what = "salted commitment" if event.kind == CERTIFICATE else "content hash"
        raise run.fail(
            "check_content",
            Verdict.TAMPERED,
            f"the file (or the code's salt) does not match the anchored revision ({what} differs)",
        )
    run.ok("check_content", f"{digest.hex()} matches the anchored contentHash")


def check_code_fields(run: Run, file_pages: int | None) -> None:
    """The fields of the code the chain does not back: only a certificate's code carries a
    salt, and the page fields must agree with the file's page count when it is known (the
    chain records none: without the file they stay "as the code says", `pages_checked`
    false)."""
    p, event = run.payload, run.event
    assert p is not None and event is not None
    if p.salt is not None and event.kind != CERTIFICATE:
        raise run.fail(
            "check_code_fields",
            Verdict.TAMPERED,
            "the code carries a salt, but the anchored revision is a disclosure (only a "
            "certificate's code has one)",
        )
    if not p.page:
        run.ok("check_code_fields", "no page fields")
        return
    where = f"page {p.page} of {p.page_count}"
    if file_pages is None:
        run.skip(
            "check_code_fields",
            f"{where} as the code says: the chain records no page count and no file was counted",
        )
        return
    fit = page_fields_fit(p.page, p.page_count, file_pages)
    if fit is False:
        raise run.fail(
            "check_code_fields",
            Verdict.TAMPERED,
            f"the code names {where}, but the file has {file_pages} page(s)",
        )
    if fit is None:
        run.ok("check_code_fields", f"a code of the whole record; the file has {file_pages} pages")
        return
    run.facts["pages_checked"] = True
    run.ok("check_code_fields", f"{where}: the file has {file_pages} page(s)")


def check_status(run: Run) -> tuple[Verdict, str]:
    """Revoked, replaced, superseded by a later version, expired — or current."""
    reg, head, event, rid = run.registry, run.head, run.event, run.record_id
    assert reg is not None and head is not None and event is not None and rid is not None
    if head.status is RecordStatus.REVOKED:
        rev = reg.closing(rid, head=head)
        if rev is not None:
            run.facts.update(
                revoked_reason_hash="0x" + rev.reason_hash.hex(),
                revoked_at=event_time(reg, rev),
            )
        run.steps.append(Step("check_status", StepStatus.FAIL, "revoked"))
        return Verdict.REVOKED, "the office revoked this record"
    if head.status is RecordStatus.REPLACED:
        by = head.replaced_by
        run.facts["replaced_by"] = "0x" + by.hex()
        rep = reg.closing(rid, head=head)
        if rep is not None:
            run.facts["current_anchored_at"] = event_time(reg, rep)
            reason = getattr(rep, "reason_hash", bytes(32))
            if any(reason):
                run.facts["replaced_reason_hash"] = "0x" + reason.hex()
        run.steps.append(Step("check_status", StepStatus.FAIL, f"replaced by 0x{by.hex()}"))
        return Verdict.SUPERSEDED, "the record was replaced by another record"
    if event.version < head.version:
        run.steps.append(
            Step("check_status", StepStatus.FAIL, f"v{event.version} superseded by v{head.version}")
        )
        return Verdict.SUPERSEDED, f"version {head.version} supersedes version {event.version}"
    if head.valid_until and head.valid_until <= run.now:
        run.steps.append(Step("check_status", StepStatus.FAIL, "validity ended"))
        return Verdict.EXPIRED, "the certificate's validity has ended"
    if head.status is not RecordStatus.ACTIVE:
        raise run.fail("check_status", Verdict.UNKNOWN, f"unexpected status {head.status.name}")
    run.ok("check_status", f"v{event.version} is the current version")
    return Verdict.AUTHENTIC_CURRENT, "the chain backs this revision and it is current"
