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

The run's state is `verifier.run`, the steps `verifier.steps` and `verifier.timeline`, the
stamped-PDF reading `verifier.stamped`; this module is the entry points and the step order.
"""

from __future__ import annotations

from dataclasses import replace

from verifier.result import Step, StepStatus, Verdict, VerificationResult
from verifier.run import (
    MAX_INDEX_HITS,
    Connector,
    ContentHit,
    ContentIndex,
    Run,
    Stop,
    clock,
    combine,
    default_connector,
    execute,
)
from verifier.stamped import stamped_codes
from verifier.steps import (
    check_code_fields,
    check_content,
    check_office,
    check_payload_signature,
    check_signer,
    check_status,
    fetch_anchor,
    find_by_content,
    find_trust_entry,
    hash_content,
    parse_payload,
)
from verifier.timeline import check_leaf_prefix
from verifier.trust import TrustList

__all__ = [
    "MAX_INDEX_HITS",
    "Connector",
    "ContentHit",
    "ContentIndex",
    "verify_file",
    "verify_image",
    "verify_image_codes",
    "verify_image_each",
    "verify_payload",
]

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
    run = Run(trust=trust, connect=connect or default_connector(), now=clock(now))
    return execute(run, lambda: _payload_steps(run, text_or_url, file_bytes, file_pages))


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
        stamped = stamped_codes(data)
    except Stop as stop:
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
        combined = combine(results)
        return replace(combined, steps=(read, *combined.steps))
    run = Run(trust=trust, connect=connect, now=clock(now), index=index)
    return execute(run, lambda: _content_steps(run, data, salt))


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
    combined = combine(codes or results)
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


# --- the step order ----------------------------------------------------------------------


def _payload_steps(
    run: Run, text: str, file_bytes: bytes | None, file_pages: int | None
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


def _content_steps(run: Run, data: bytes, salt: bytes | None) -> tuple[Verdict, str]:
    hash_content(run, data, salt)
    find_by_content(run)
    fetch_anchor(run)
    check_office(run)
    check_signer(run)
    check_leaf_prefix(run)
    check_content(run, None)
    return check_status(run)
