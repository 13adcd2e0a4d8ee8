"""The whole flow: publish → anchor → stamped PDF → verify → revise → superseded.

Real anvil, real SQLite and PostgreSQL, the real app (TestClient) and the real worker; the
verdicts come from the independent verifier and from the citizen's verify page.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from eth_account import Account
from support.pdf_samples import PageSpec, page_count, reportlab_pdf
from support.publish_stack import BASE_URL, MD, Stack

from notary.formats.qr_payload import parse_verify_url
from notary.pdf.stamp import recover_original
from verifier.result import Verdict
from verifier.verify import verify_file


def _page(stack: Stack, url: str) -> str:
    r = stack.c.get(urlsplit(url).path, params={"lang": "en"})
    assert r.status_code == 200, r.text
    return r.text


def _stamped(stack: Stack, record_id: str, version: int | None = None, **headers) -> bytes:
    params = {"version": version} if version else {}
    r = stack.c.get(f"/api/v1/records/{record_id}/stamped", params=params, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    return r.content


def test_published_pdf_is_stamped_verified_then_superseded(stack: Stack) -> None:
    original = reportlab_pdf((PageSpec(), PageSpec()), title="关于公开2026年度部门预算的说明")
    rec = stack.publish(original)
    rid, rev1 = rec["id"], rec["current"]["id"]
    pending = stack.receipt(rev1)
    assert pending["state"] == "pending" and pending["verify_url"] is None
    too_early = stack.c.get(f"/api/v1/records/{rid}/stamped")
    assert too_early.status_code == 409 and "not anchored yet" in too_early.text

    stack.anchor()
    receipt = stack.receipt(rev1)
    assert receipt["state"] == "anchored"
    url = receipt["verify_url"]
    assert url.startswith(f"{BASE_URL}/v/")
    link = parse_verify_url(url)
    assert (link.payload.chain_id, link.payload.version) == (stack.chain.chain_id, 1)
    assert link.payload.record_id.hex() == rid and link.payload.salt is None

    stamped = _stamped(stack, rid)
    assert recover_original(stamped) == original and page_count(stamped) == 2
    assert _stamped(stack, rid) == stamped  # served from the cache, same bytes
    first = verify_file(stamped, stack.trust)
    assert first.verdict is Verdict.AUTHENTIC_CURRENT, first
    assert "Authentic and current" in _page(stack, url)

    revised = reportlab_pdf((PageSpec(),), title="关于公开2026年度部门预算的说明（修订）")
    r = stack.c.post(
        f"/api/v1/records/{rid}/revisions",
        files={"file": ("release.pdf", revised, "application/pdf")},
        data={"change_note": "corrected table 3"},
        headers=stack.publisher,
    )
    assert r.status_code == 201, r.text
    rev2 = r.json()["current"]["id"]
    stack.anchor()
    url2 = stack.receipt(rev2)["verify_url"]
    assert parse_verify_url(url2).payload.version == 2

    old = verify_file(stamped, stack.trust)
    assert old.verdict is Verdict.SUPERSEDED, old
    page = _page(stack, url)
    assert "Authentic but superseded" in page
    assert "/v/" + urlsplit(url2).path.removeprefix("/v/") in page  # link to the current version
    assert verify_file(_stamped(stack, rid), stack.trust).verdict is Verdict.AUTHENTIC_CURRENT
    assert verify_file(_stamped(stack, rid, 1), stack.trust).verdict is Verdict.SUPERSEDED
    assert "Authentic and current" in _page(stack, url2)


def test_stamped_honours_tier_and_type(stack: Stack) -> None:
    pdf = reportlab_pdf()
    restricted = stack.publish(pdf, tier="restricted")["id"]
    internal = stack.publish(reportlab_pdf(title="内部"), tier="internal")["id"]
    r = stack.c.post(
        "/api/v1/records",
        files={"file": ("notice.txt", b"a plain text notice", "text/plain")},
        data={"metadata": json.dumps({**MD, "title": "Notice"})},
        headers=stack.publisher,
    )
    assert r.status_code == 201, r.text
    text_id = r.json()["id"]
    stack.anchor()
    base = "/api/v1/records/{}/stamped"
    assert stack.c.get(base.format(restricted)).status_code == 401
    assert stack.c.get(base.format(restricted), headers=stack.admin).status_code == 403
    assert _stamped(stack, restricted, **stack.auditor).startswith(pdf)
    assert stack.c.get(base.format(internal), headers=stack.auditor).status_code == 403
    assert stack.c.get(base.format(internal)).status_code == 404
    assert stack.c.get(base.format(text_id)).status_code == 415
    assert stack.c.get(base.format(text_id), params={"version": 9}).status_code == 404


def test_auditor_reads_alerts_and_runs_the_audit(stack: Stack) -> None:
    stack.publish(reportlab_pdf())
    stack.anchor()
    r = stack.c.get("/api/v1/audit", headers=stack.auditor)
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True and r.json()["discrepancies"] == []
    assert stack.c.get("/api/v1/audit", headers=stack.publisher).status_code == 403
    for headers in (stack.auditor, stack.admin):
        alerts = stack.c.get("/api/v1/alerts", headers=headers)
        assert alerts.status_code == 200 and isinstance(alerts.json(), list)
    assert stack.c.get("/api/v1/alerts").status_code == 401
    assert stack.c.get("/api/v1/alerts", headers=stack.publisher).status_code == 403


def test_admin_lists_office_signers_from_the_chain(stack: Stack, registry_client, governance):
    (office,) = stack.c.get("/api/v1/offices", headers=stack.admin).json()
    url = f"/api/v1/offices/{office['id']}/signers"
    (only,) = stack.c.get(url, headers=stack.admin).json()
    assert only["address"].lower() == stack.signer.address.lower()
    assert only["active"] is True and only["until_block"] is None
    # Rotate on chain with the governance key (the API never holds it).
    new = Account.create()
    registry_client.grant_signer(governance, bytes.fromhex(office["id"]), new.address)
    registry_client.revoke_signer(governance, bytes.fromhex(office["id"]), stack.signer.address)
    signers = {s["address"].lower(): s for s in stack.c.get(url, headers=stack.admin).json()}
    old = signers[stack.signer.address.lower()]
    assert old["active"] is False and old["until_block"] >= old["from_block"]
    assert signers[new.address.lower()]["active"] is True
    assert stack.c.get(url, headers=stack.publisher).status_code == 403
    assert stack.c.get(url).status_code == 401
