"""`GET /api/v1/content/{sha256}`: the public lookup the independent verifier asks
(`verifier check FILE --index URL`), honouring tiers: internal bytes answer as unknown bytes."""

from __future__ import annotations

import hashlib

from support.pdf_samples import reportlab_pdf
from support.publish_stack import Stack

from verifier.content_lookup import LOOKUP_PATH, parse_answer
from verifier.result import Verdict
from verifier.verify import verify_file


def lookup(stack: Stack, data: bytes):
    return stack.c.get(LOOKUP_PATH + hashlib.sha256(data).hexdigest())


def test_public_bytes_name_their_anchor_and_the_chain_confirms(stack: Stack) -> None:
    pdf = reportlab_pdf(title="Annual report")
    rec = stack.publish(pdf)
    assert lookup(stack, pdf).status_code == 404, "not anchored yet: nothing to name"
    stack.anchor()
    r = lookup(stack, pdf)
    assert r.status_code == 200, r.text
    (anchor,) = r.json()["anchors"]
    assert anchor["record_id"] == rec["id"].removeprefix("0x") and anchor["version"] == 1
    assert anchor["registry"].lower() == str(stack.chain.registry).lower()
    assert anchor["block_number"] is not None
    # The verifier's index over this route: the chain confirms what the service names.
    result = verify_file(
        pdf, stack.trust, index=lambda d: parse_answer(stack.c.get(LOOKUP_PATH + d.hex()).content)
    )
    assert result.verdict is Verdict.AUTHENTIC_CURRENT, result.reason


def test_internal_bytes_answer_exactly_like_unknown_bytes(stack: Stack) -> None:
    internal = reportlab_pdf(title="内部")
    restricted = reportlab_pdf(title="Restricted")
    stack.publish(internal, tier="internal")
    stack.publish(restricted, tier="restricted")
    stack.anchor()
    never = b"bytes nobody published"
    hidden, unknown = lookup(stack, internal), lookup(stack, never)
    assert hidden.status_code == unknown.status_code == 404
    mask = (hashlib.sha256(internal).hexdigest(), hashlib.sha256(never).hexdigest())
    assert hidden.json()["detail"].replace(mask[0], "H") == unknown.json()["detail"].replace(
        mask[1], "H"
    )
    assert set(hidden.headers) == set(unknown.headers)
    # A restricted record's title and id are public (its file is not): it is named.
    assert lookup(stack, restricted).status_code == 200


def test_a_malformed_hash_is_a_400_with_its_reason(stack: Stack) -> None:
    for bad in ("nothex", "ab" * 31, "zz" * 32):
        r = stack.c.get(LOOKUP_PATH + bad)
        assert r.status_code == 400, (bad, r.status_code)
        assert "64 hex digits" in r.json()["detail"]
