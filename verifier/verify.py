"""Verification as ordered, named steps that end in a verdict.

docs/design.md, "Verification as named steps".

`verify_payload` checks a QR code (URL or bare payload), optionally with the file it was
printed on; `verify_file` checks any bytes (a stamped PDF through its own QR codes, anything
else by its SHA-256 among the anchored revisions); `verify_image` decodes every QR code in a
photo or scan and checks each. Each returns a frozen `VerificationResult`.

Invariant 4 (docs/design.md, "What must always hold"): nothing is AUTHENTIC_CURRENT unless a
trusted registry backs this exact revision: the code's chain and registry are in the trust
list, the revision is anchored there by a signer authorised for the record's office at that
block, the leaf recomputed from the chain's events matches both the head and the code, the
content hash matches the bytes in hand (when given), and the record's head says it is the
latest active version.
Failure is a verdict with a reason; no exception escapes for any input.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from verifier.certificate import holder_commitment
from verifier.payload import PayloadError, PayloadView, page_fields_fit, parse_code
from verifier.result import (
    RevisionInfo,
    Step,
    StepStatus,
    Verdict,
    VerificationResult,
    worst,
)
from verifier.source import (
    AnchorEvent,
    HeadState,
    RecordStatus,
    Registry,
    SourceUnavailable,
)
from verifier.trust import TrustEntry, TrustList

log = logging.getLogger(__name__)

Connector = Callable[[TrustEntry], Registry]
"""How a trust entry becomes a readable registry (default: JSON-RPC via `RegistryPool`)."""


@dataclass(frozen=True, slots=True)
class ContentHit:
    """A revision an index says holds some content: a candidate, confirmed on the chain."""

    chain_id: int
    registry: str
    record_id: bytes
    version: int
    block: int | None = None
    """The block the index saw the revision anchored in (a hint: the chain confirms it)."""


ContentIndex = Callable[[bytes], Sequence[ContentHit]]
"""Content hash → the revisions that may hold it (a service's own database). With an index
the verifier never scans a registry's history: it reads only the named records."""

LEAF_PREFIX_ON_CHAIN = 23
CERTIFICATE = 1
KIND_NAMES = {0: "disclosure", CERTIFICATE: "certificate"}

_default_pool: Any = None


def default_connector() -> Connector:
    """A process-wide pool of JSON-RPC registries, one per trust entry."""
    global _default_pool  # one shared pool of connections per process
    if _default_pool is None:
        from verifier.chainsource import RegistryPool  # web3 only when needed

        _default_pool = RegistryPool()
    return _default_pool


class _Stop(Exception):
    def __init__(self, verdict: Verdict, reason: str) -> None:
        super().__init__(reason)
        self.verdict = verdict
        self.reason = reason


@dataclass
class _Run:
    """Mutable state of one verification while its steps run."""

    trust: TrustList
    connect: Connector
    now: int
    steps: list[Step] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    payload: PayloadView | None = None
    entry: TrustEntry | None = None
    registry: Registry | None = None
    record_id: bytes | None = None
    version: int | None = None
    head: HeadState | None = None
    events: list[AnchorEvent] = field(default_factory=list)
    event: AnchorEvent | None = None
    leaves: dict[int, bytes] = field(default_factory=dict)
    file_hash: bytes | None = None
    index: ContentIndex | None = None

    def ok(self, name: str, detail: str = "") -> None:
        self.steps.append(Step(name, StepStatus.PASS, detail))

    def skip(self, name: str, detail: str = "") -> None:
        self.steps.append(Step(name, StepStatus.SKIP, detail))

    def warn(self, name: str, detail: str = "") -> None:
        self.steps.append(Step(name, StepStatus.WARN, detail))

    def fail(self, name: str, verdict: Verdict, reason: str) -> _Stop:
        self.steps.append(Step(name, StepStatus.FAIL, reason))
        return _Stop(verdict, reason)

    def result(self, verdict: Verdict, reason: str) -> VerificationResult:
        return VerificationResult(
            verdict=verdict, reason=reason, steps=tuple(self.steps), **self.facts
        )


# --- public API ---------------------------------------------------------------------------


def verify_payload(
    text_or_url: str,
    trust: TrustList,
    file_bytes: bytes | None = None,
    *,
    connect: Connector | None = None,
    now: int | None = None,
    file_pages: int | None = None,
) -> VerificationResult:
    """Verify a QR code (verify URL or bare payload), and the file it came with if given.

    The code's page fields are checked against the file's page count: `file_pages` when the
    caller knows it (a stamped PDF's pages), else counted from `file_bytes` if it is a PDF.
    """
    run = _Run(trust=trust, connect=connect or default_connector(), now=_now(now))
    return _execute(run, lambda: _payload_steps(run, text_or_url, file_bytes, file_pages))


def verify_file(
    data: bytes,
    trust: TrustList,
    *,
    salt: bytes | None = None,
    connect: Connector | None = None,
    now: int | None = None,
    index: ContentIndex | None = None,
) -> VerificationResult:
    """Verify any bytes: a stamped PDF through its QR codes, anything else by its SHA-256.

    An unstamped certificate (OFD, XML …) is found by its salted commitment: pass the salt
    printed with it. Without `index` the hash is searched for in every trusted registry's
    whole history (work linear in the chain); with it only the revisions the index names
    are read and confirmed on the chain, and bytes it does not know are UNKNOWN.
    """
    connect = connect or default_connector()
    try:
        stamped = _stamped_codes(data)
    except _Stop as stop:
        step = Step("read_stamp", StepStatus.FAIL, stop.reason)
        return VerificationResult(stop.verdict, stop.reason, (step,))
    if stamped:
        original, urls = stamped
        read = Step(
            "read_stamp",
            StepStatus.PASS,
            f"{len(urls)} stamped page(s); original recovered ({len(original)} bytes)",
        )
        results = [
            verify_payload(u, trust, original, connect=connect, now=now, file_pages=len(urls))
            for u in dict.fromkeys(urls)
        ]
        combined = _combine(results)
        return replace(combined, steps=(read, *combined.steps))
    run = _Run(trust=trust, connect=connect, now=_now(now), index=index)
    return _execute(run, lambda: _content_steps(run, data, salt))


def verify_image(
    image: bytes,
    trust: TrustList,
    *,
    connect: Connector | None = None,
    now: int | None = None,
) -> VerificationResult:
    """Decode every QR code in a photo or scan (PNG, JPEG …) and verify each."""
    return verify_image_codes(image, trust, connect=connect, now=now)[0]


def verify_image_codes(
    image: bytes,
    trust: TrustList,
    *,
    connect: Connector | None = None,
    now: int | None = None,
) -> tuple[VerificationResult, tuple[str, ...]]:
    """`verify_image`, with the distinct texts of the QR codes it decoded (a caller that
    checks the hosts the codes point to needs them, and decoding a photo is costly)."""
    from verifier.imaging import ImageError, decode_qr_texts  # zxing lazily

    try:
        texts = decode_qr_texts(image)
    except ImageError as exc:
        step = Step("decode_image", StepStatus.FAIL, str(exc))
        return VerificationResult(Verdict.INVALID_CODE, str(exc), (step,)), ()
    if not texts:
        reason = "no QR code found in the image"
        step = Step("decode_image", StepStatus.FAIL, reason)
        return VerificationResult(Verdict.INVALID_CODE, reason, (step,)), ()
    distinct = tuple(dict.fromkeys(texts))
    decoded = Step("decode_image", StepStatus.PASS, f"{len(texts)} QR code(s) found")
    results = [verify_payload(t, trust, connect=connect, now=now) for t in distinct]
    # Other QR codes on a page (an office's WeChat account, a payment code) are not verify
    # codes: they do not turn the page's own codes red. Only they alone say "invalid".
    codes = [r for r in results if r.verdict is not Verdict.INVALID_CODE]
    combined = _combine(codes or results)
    return replace(combined, steps=(decoded, *combined.steps)), distinct


def verify_image_each(
    image: bytes, trust: TrustList, *, connect: Connector | None = None, now: int | None = None
) -> list[VerificationResult]:
    """One result per distinct QR code in the image (empty when none is found)."""
    from verifier.imaging import ImageError, decode_qr_texts

    try:
        texts = decode_qr_texts(image)
    except ImageError:
        return []
    return [verify_payload(t, trust, connect=connect, now=now) for t in dict.fromkeys(texts)]


# --- running steps ------------------------------------------------------------------------


def _now(now: int | None) -> int:
    return int(time.time()) if now is None else now


def _execute(run: _Run, body: Callable[[], tuple[Verdict, str]]) -> VerificationResult:
    """Run the steps; every way out becomes a verdict."""
    try:
        verdict, reason = body()
    except _Stop as stop:
        verdict, reason = stop.verdict, stop.reason
    except SourceUnavailable as exc:
        verdict, reason = _offline(run, str(exc))
    except Exception as exc:  # invariant: no exception escapes verification
        log.exception("verification failed unexpectedly")
        run.steps.append(Step("internal", StepStatus.FAIL, f"{type(exc).__name__}: {exc}"))
        verdict, reason = Verdict.UNKNOWN, "the verification could not be completed"
    return run.result(verdict, reason)


def _combine(results: list[VerificationResult]) -> VerificationResult:
    """Several codes (pages, QR codes in one photo) → the worst; all must agree to be green."""
    bad = worst(results)
    if bad.verdict is not Verdict.AUTHENTIC_CURRENT:
        return bad
    records = {(r.record_id, r.version) for r in results}
    if len(records) > 1:
        step = Step("check_codes_agree", StepStatus.FAIL, "the codes name different revisions")
        return replace(
            results[0],
            verdict=Verdict.TAMPERED,
            reason="the QR codes on this document name different records or versions",
            steps=(*results[0].steps, step),
        )
    return results[0]


def _offline(run: _Run, why: str) -> tuple[Verdict, str]:
    """Chain unreachable: fall back to the payload signature against cached signers."""
    run.steps.append(Step("fetch_anchor", StepStatus.FAIL, f"chain unreachable: {why}"))
    p, entry = run.payload, run.entry
    if p is None or entry is None or not p.signature:
        return Verdict.UNAVAILABLE, "the chain could not be reached; try again later"
    try:
        from notary.formats.qr_payload import recover_signer

        signer = str(recover_signer(p.raw)).lower()
    except Exception as exc:  # a bad signature is simply not a signature
        run.steps.append(Step("check_offline_signature", StepStatus.FAIL, str(exc)))
        return Verdict.UNAVAILABLE, "the chain could not be reached and the signature is invalid"
    office = entry.offline_office(signer)
    if office is None:
        run.steps.append(
            Step("check_offline_signature", StepStatus.FAIL, f"{signer} is not a known signer")
        )
        return Verdict.UNAVAILABLE, "the chain could not be reached; the signer is not known"
    run.steps.append(Step("check_offline_signature", StepStatus.PASS, f"signed by {signer}"))
    run.facts.update(office_name=office, signer=signer)
    return (
        Verdict.ISSUED_BY_OFFICE_STATUS_UNCHECKED,
        f"signed by an authorised signer of {office}; current status could not be checked",
    )


# --- the steps ------------------------------------------------------------------------------


def _payload_steps(
    run: _Run, text: str, file_bytes: bytes | None, file_pages: int | None
) -> tuple[Verdict, str]:
    parse_payload(run, text)
    find_trust_entry(run)
    fetch_anchor(run)
    check_office(run)
    check_signer(run)
    check_leaf_prefix(run)
    check_payload_signature(run)
    check_content(run, file_bytes)
    if file_pages is None and file_bytes is not None:
        from notary.pdf.pages import count_pages  # pypdf only for a file in hand

        file_pages = count_pages(file_bytes)
    check_code_fields(run, file_pages)
    return check_status(run)


def _content_steps(run: _Run, data: bytes, salt: bytes | None) -> tuple[Verdict, str]:
    hash_content(run, data, salt)
    find_by_content(run)
    fetch_anchor(run)
    check_office(run)
    check_signer(run)
    check_leaf_prefix(run)
    check_content(run, None)
    return check_status(run)


def parse_payload(run: _Run, text: str) -> None:
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


def find_trust_entry(run: _Run) -> None:
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
    _use_entry(run, entry)
    run.ok("find_trust_entry", f"{entry.name} (chain {entry.chain_id}, {entry.registry})")


def _use_entry(run: _Run, entry: TrustEntry) -> None:
    run.entry = entry
    run.facts.update(issuer_name=entry.name, chain_id=entry.chain_id, registry=entry.registry)
    run.registry = run.connect(entry)


def hash_content(run: _Run, data: bytes, salt: bytes | None = None) -> None:
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


MAX_INDEX_HITS = 8
"""Candidates from a content index confirmed on the chain, newest first: the same bytes in
more records than this are rare, and each costs a chain read."""


def _scan_registries(run: _Run, digest: bytes) -> list[tuple[TrustEntry, Registry, AnchorEvent]]:
    """Every anchor of `digest` in every trusted registry (reads each one's whole history)."""
    found: list[tuple[TrustEntry, Registry, AnchorEvent]] = []
    for entry in run.trust:
        reg = run.connect(entry)
        found += [(entry, reg, ev) for ev in reg.find_content(digest)]
    return found


def _confirm_hits(
    run: _Run, index: ContentIndex, digest: bytes
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


def find_by_content(run: _Run) -> None:
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
    _use_entry(run, entry)
    run.record_id, run.version = ev.record_id, ev.version
    run.facts.update(record_id="0x" + ev.record_id.hex(), version=ev.version)
    run.ok("find_by_content", f"record 0x{ev.record_id.hex()[:12]}…, v{ev.version}")


def fetch_anchor(run: _Run) -> None:
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
    anchored_at = _block_time(reg, event)
    current_at = _block_time(reg, by_version[head.version])
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


def _block_time(reg: Registry, event: Any) -> int:
    """The timestamp of an event's block: from its log when the node gave it, else read."""
    stamp = getattr(event, "block_time", None)
    return stamp if stamp is not None else reg.block_time(event.block)


def check_office(run: _Run) -> None:
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


def check_signer(run: _Run) -> None:
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


def check_leaf_prefix(run: _Run) -> None:
    """Recompute every leaf from the events; it must match the head and the code."""
    from notary.formats.revision import Kind, Revision, compute_leaf  # pure module

    entry, head, event = run.entry, run.head, run.event
    assert entry is not None and head is not None and event is not None
    prev = bytes(32)
    timeline = []
    reg = run.registry
    assert reg is not None
    for ev in sorted(run.events, key=lambda e: e.version):
        link = ev.prev_leaf_prefix
        if link is not None:
            # The event names the leaf it follows; a version read after another must follow
            # the leaf just recomputed, or the events do not form one history.
            if ev.version - 1 in run.leaves and run.leaves[ev.version - 1][:23] != link:
                raise run.fail(
                    "check_leaf_prefix",
                    Verdict.TAMPERED,
                    f"version {ev.version}'s event does not follow version {ev.version - 1}",
                )
            prev = link + bytes(32 - len(link))
        elif ev.version != 1 and ev.version - 1 not in run.leaves:
            raise run.fail(
                "check_leaf_prefix", Verdict.UNKNOWN, "the record's anchor events are incomplete"
            )
        rev = Revision(
            record_id=ev.record_id,
            version=ev.version,
            kind=Kind(ev.kind),
            valid_until=ev.valid_until,
            content_hash=ev.content_hash,
            metadata_hash=ev.metadata_hash,
            prev_leaf=prev,
        )
        prev = compute_leaf(rev, chain_id=entry.chain_id, registry=entry.registry)
        run.leaves[ev.version] = prev
        timeline.append(
            RevisionInfo(
                version=ev.version,
                content_hash="0x" + ev.content_hash.hex(),
                metadata_hash="0x" + ev.metadata_hash.hex(),
                signer=ev.signer,
                block=ev.block,
                anchored_at=_block_time(reg, ev),
                leaf="0x" + prev.hex(),
            )
        )
    run.facts["timeline"] = tuple(timeline)
    if run.leaves[head.version][:LEAF_PREFIX_ON_CHAIN] != head.leaf_prefix[:LEAF_PREFIX_ON_CHAIN]:
        raise run.fail(
            "check_leaf_prefix",
            Verdict.TAMPERED,
            "the leaf recomputed from the chain's events disagrees with the record's head",
        )
    leaf = run.leaves[event.version]
    p = run.payload
    if p is None:
        run.ok("check_leaf_prefix", f"leaf 0x{leaf.hex()[:16]}… matches the head")
        return
    if not p.leaf_prefix or leaf[: len(p.leaf_prefix)] != p.leaf_prefix:
        raise run.fail(
            "check_leaf_prefix",
            Verdict.TAMPERED,
            "the code does not match the anchored revision (leaf prefix differs)",
        )
    run.ok("check_leaf_prefix", f"code matches leaf 0x{leaf.hex()[:16]}…")


def check_payload_signature(run: _Run) -> None:
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


def check_content(run: _Run, file_bytes: bytes | None) -> None:
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


def check_code_fields(run: _Run, file_pages: int | None) -> None:
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


def check_status(run: _Run) -> tuple[Verdict, str]:
    """Revoked, replaced, superseded by a later version, expired — or current."""
    reg, head, event, rid = run.registry, run.head, run.event, run.record_id
    assert reg is not None and head is not None and event is not None and rid is not None
    if head.status is RecordStatus.REVOKED:
        rev = reg.closing(rid, head=head)
        if rev is not None:
            run.facts.update(
                revoked_reason_hash="0x" + rev.reason_hash.hex(),
                revoked_at=_block_time(reg, rev),
            )
        run.steps.append(Step("check_status", StepStatus.FAIL, "revoked"))
        return Verdict.REVOKED, "the office revoked this record"
    if head.status is RecordStatus.REPLACED:
        by = head.replaced_by
        run.facts["replaced_by"] = "0x" + by.hex()
        rep = reg.closing(rid, head=head)
        if rep is not None:
            run.facts["current_anchored_at"] = _block_time(reg, rep)
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


# --- stamped PDFs -------------------------------------------------------------------------


def _stamped_codes(data: bytes) -> tuple[bytes, list[str]] | None:
    """(original bytes, QR URLs) of a stamped PDF; None when the bytes are not one.

    The stamp is checked completely (`notary.pdf.stamp.check_stamp`: made again from its links,
    byte for byte), so the URLs are what the drawn codes hold and the pages show the
    original. Any difference, and pages whose codes do not agree (`_check_pages_agree`),
    raises `_Stop(TAMPERED)`; a link that is not a valid code raises `_Stop(INVALID_CODE)`.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        return None
    if not bytes(data[:1024]).lstrip().startswith(b"%PDF"):
        return None
    from notary.pdf import stamp  # pypdf only for PDFs

    try:
        checked = stamp.check_stamp(bytes(data))
    except stamp.StampMismatch as exc:
        raise _Stop(Verdict.TAMPERED, f"the stamped file was altered: {exc}") from None
    except Exception as exc:  # not stamped, or not a PDF at all: check the bytes as they are
        log.debug("not a stamped PDF: %s", exc)
        return None
    _check_pages_agree(checked.urls)
    return checked.original, checked.urls


def _check_pages_agree(urls: list[str]) -> None:
    """Page i of n must carry a code for page i of n of one revision: the same chain,
    registry, record, version, leaf and salt on every page (docs/qr-payload.md)."""
    views: list[PayloadView] = []
    for number, url in enumerate(urls, start=1):
        try:
            views.append(parse_code(url))
        except PayloadError as exc:
            raise _Stop(
                Verdict.INVALID_CODE, f"page {number}'s code is not a valid code: {exc}"
            ) from None

    def revision(view: PayloadView) -> tuple[object, ...]:
        v = view
        return (v.chain_id, v.registry_prefix, v.record_id, v.version, v.leaf_prefix, v.salt)

    for number, view in enumerate(views, start=1):
        if revision(view) != revision(views[0]):
            raise _Stop(
                Verdict.TAMPERED,
                f"page {number}'s code names another record or version than page 1's",
            )
        if (view.page, view.page_count) != (number, len(urls)):
            raise _Stop(
                Verdict.TAMPERED,
                f"page {number} of {len(urls)} carries the code of page "
                f"{view.page} of {view.page_count}",
            )
