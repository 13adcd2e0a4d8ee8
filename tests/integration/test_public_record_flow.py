"""The complete public record, end to end: publish with a document number → anchor → the API's
record, history and search carry the metadata → the verify page shows it (zh, en, large
print; screenshots in a real browser) → the independent verifier checks the served JSON
against the chain's metadataHash; a supersede reason anchored, stored and shown with the
replacing record's title; a certificate before its valid_from is NOT_YET_VALID everywhere.

Real anvil, real SQLite and PostgreSQL, the real app (TestClient) and the real worker.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from support import paths
from support.pdf_samples import PageSpec, reportlab_pdf
from support.publish_stack import MD, Stack
from support.verify_site import PHONE, SHOTS

from notary.formats.revision import reason_hash
from notary.publishing.metadata import DOCUMENT_NUMBER
from verifier.metadata import check_metadata, public_record
from verifier.result import StepStatus, Verdict
from verifier.verify import verify_payload

NUMBER = "京财预〔2026〕12号"


def _anchored(stack: Stack, data: bytes, **md) -> tuple[dict, str]:
    """A published, anchored record and its verify URL."""
    rec = stack.publish(data, md={**MD, **md})
    stack.anchor()
    return rec, stack.receipt(rec["current"]["id"])["verify_url"]


def _page(stack: Stack, url: str, **params) -> str:
    r = stack.c.get(urlsplit(url).path, params=params)
    assert r.status_code == 200, r.text
    return r.text


def test_the_public_record_is_in_the_api_the_page_and_the_verifier(stack: Stack, browser) -> None:
    pdf = reportlab_pdf((PageSpec(),), title="关于公开2026年度部门预算的说明")
    md = {"title": "2026年度部门预算", "category": "预算", "extra": {DOCUMENT_NUMBER: NUMBER}}
    rec, url = _anchored(stack, pdf, **md)
    rid = rec["id"]

    got = stack.c.get(f"/api/v1/records/{rid}").json()
    assert got["document_number"] == NUMBER
    assert got["current"]["metadata"]["reviewer"] == "Li Wei"
    assert got["current"]["metadata"]["extra"][DOCUMENT_NUMBER] == NUMBER
    history = stack.c.get(f"/api/v1/records/{rid}/history").json()
    assert history["events"][0]["revision"]["metadata"]["office"] == "Tax office"
    found = stack.c.get("/api/v1/records", params={"number": NUMBER}).json()
    assert [r["id"] for r in found["items"]] == [rid]
    assert (
        stack.c.get("/api/v1/records", params={"number": "京财预〔2026〕1号"}).json()["total"] == 0
    )
    hidden = "京财内〔2026〕3号"
    stack.publish(pdf + b"\n", tier="internal", md={**MD, "extra": {DOCUMENT_NUMBER: hidden}})
    assert stack.c.get("/api/v1/records", params={"number": hidden}).json()["total"] == 0
    own = stack.c.get("/api/v1/records", params={"number": hidden}, headers=stack.publisher).json()
    assert own["total"] == 1 and own["items"][0]["document_number"] == hidden

    zh, en = _page(stack, url), _page(stack, url, lang="en")
    for text, labels in ((zh, ("发布部门", "审核人", "文号", "类别")), (en, ("Department",))):
        assert all(label in text for label in labels)
        assert 'id="pr-office"><bdi>Tax office' in text and "Li Wei" in text
        assert NUMBER in text and "2026-01-15" in text and 'id="pr-updated"' in text
        assert rec["current"]["metadata_hash"] in text
    assert "Document number" in en and "Reviewer" in en and "Last updated" in en

    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=PHONE, device_scale_factor=2)

    def through_app(route) -> None:  # the browser's requests answered by the real app
        r = stack.c.get(urlsplit(route.request.url).path + "?" + urlsplit(route.request.url).query)
        route.fulfill(status=r.status_code, headers=dict(r.headers), body=r.content)

    page.route("http://testserver/**", through_app)
    try:
        for name, params in (("", {}), ("-en", {"lang": "en"}), ("-large", {"large": "1"})):
            query = "&".join(f"{k}={v}" for k, v in params.items())
            page.goto(f"http://testserver{urlsplit(url).path}?{query}")
            assert page.locator("#pr-number").inner_text() == NUMBER
            page.screenshot(path=str(SHOTS / f"public-record{name}.png"), full_page=True)
    finally:
        page.close()

    # The independent verifier: the chain's verdict, then the served bytes against it.
    result = verify_payload(url, stack.trust)
    assert result.verdict is Verdict.AUTHENTIC_CURRENT, result
    served = stack.c.get(f"/api/v1/records/{rid}/metadata").content
    checked = check_metadata(result, served)
    assert checked.steps[-1].status is StepStatus.PASS
    assert public_record(checked) == {
        "office": "Tax office",
        "category": "预算",
        "publication_date": "2026-01-15",
        "reviewer": "Li Wei",
        "language": "zh-CN",
        "title": "2026年度部门预算",
        "document_number": NUMBER,
    }
    forged = served.replace(NUMBER.encode(), "京财预〔2026〕99号".encode())
    refused = check_metadata(result, forged)
    assert refused.metadata is None and refused.steps[-1].status is StepStatus.WARN
    assert refused.verdict is Verdict.AUTHENTIC_CURRENT  # the file's verdict stands


def test_the_verifier_cli_checks_served_metadata(stack: Stack, tmp_path: Path) -> None:
    pdf = reportlab_pdf((PageSpec(),), title="公示")
    rec, url = _anchored(stack, pdf, extra={DOCUMENT_NUMBER: NUMBER})
    served = tmp_path / "metadata.json"
    served.write_bytes(stack.c.get(f"/api/v1/records/{rec['id']}/metadata").content)
    forged = tmp_path / "forged.json"
    forged.write_bytes(served.read_bytes().replace(b"Li Wei", b"Li Wai"))
    trust = tmp_path / "trust.json"
    t = stack.trust.entries[0]
    entry = {"chain_id": t.chain_id, "registry": t.registry, "name": t.name, "rpc_url": t.rpc_url}
    trust.write_text(json.dumps({"version": 1, "entries": [entry]}))

    def run(meta: Path) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "verifier", "--trust", str(trust), "--json", "url", url]
        return subprocess.run(
            [*argv, "--metadata", str(meta)], capture_output=True, text=True, cwd=paths.ROOT
        )

    good, bad = run(served), run(forged)
    assert good.returncode == 0, good.stderr
    out = json.loads(good.stdout)
    assert out["metadata"]["extra"][DOCUMENT_NUMBER] == NUMBER
    assert bad.returncode == 0 and json.loads(bad.stdout)["metadata"] is None
    assert json.loads(bad.stdout)["steps"][-1]["status"] == "warn"
    missing = run(tmp_path / "absent.json")
    assert missing.returncode == 2 and "cannot read input" in missing.stderr


def test_a_supersede_reason_is_anchored_stored_and_shown_with_the_new_title(stack: Stack) -> None:
    old, old_url = _anchored(stack, reportlab_pdf((PageSpec(),), title="旧"), title="旧办法")
    new, _ = _anchored(stack, reportlab_pdf((PageSpec(),), title="新"), title="新办法（2026）")
    reason = "政策调整，由新办法替代"
    r = stack.c.post(
        f"/api/v1/records/{old['id']}/supersede",
        json={"by": new["id"], "reason": reason},
        headers=stack.publisher,
    )
    assert r.status_code == 200, r.text
    stack.anchor()

    events = stack.c.get(f"/api/v1/records/{old['id']}/history").json()["events"]
    sup = events[-1]
    assert sup["event"] == "supersession" and sup["superseded_by"] == new["id"]
    assert sup["reason"] == reason and sup["reason_hash"] == reason_hash(reason).hex()

    result = verify_payload(old_url, stack.trust)
    assert result.verdict is Verdict.SUPERSEDED
    assert result.replaced_reason_hash == "0x" + reason_hash(reason).hex()
    for lang, label in (("zh", "替代原因"), ("en", "Reason for the replacement")):
        page = _page(stack, old_url, lang=lang)
        assert label in page and reason in page
        assert 'id="replaced-by-title"' in page and "新办法（2026）" in page
        link = page.split('id="replaced-by-title"')[1].split('href="')[1].split('"')[0]
        assert link.startswith("/v/")
        target = stack.c.get(link.replace("&amp;", "&"))
        assert target.status_code == 200 and 'data-verdict="authentic_current"' in target.text


def test_a_certificate_before_its_valid_from_is_not_yet_valid(stack: Stack) -> None:
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).replace(microsecond=0)
    r = stack.c.post(
        "/api/v1/certificates",
        data={
            "holder": json.dumps({"name": "张三", "licence": "BL-2026-001"}, ensure_ascii=False),
            "metadata": json.dumps({**MD, "title": "营业执照"}),
            "valid_from": start.isoformat(),
            "valid_until": (start + dt.timedelta(days=365)).isoformat(),
        },
        headers=stack.publisher,
    )
    assert r.status_code == 201, r.text
    issued = r.json()
    rid = issued["record"]["id"]
    stack.anchor()
    assert stack.c.get(f"/api/v1/records/{rid}").json()["status"] == "not_yet_valid"
    url = stack.receipt(issued["record"]["current"]["id"])["verify_url"]

    chain_only = verify_payload(url, stack.trust)
    assert chain_only.verdict is Verdict.AUTHENTIC_CURRENT  # the chain alone cannot know
    unchecked = check_metadata(chain_only, None)
    last = unchecked.steps[-1]
    assert last.status is StepStatus.WARN and "valid_from" in last.detail
    served = stack.c.get(f"/api/v1/records/{rid}/metadata").content
    checked = check_metadata(chain_only, served)
    assert checked.verdict is Verdict.NOT_YET_VALID and checked.exit_code == 20
    assert checked.valid_from == int(start.timestamp())
    later = check_metadata(chain_only, served, now=int(start.timestamp()) + 1)
    assert later.verdict is Verdict.AUTHENTIC_CURRENT

    zh, en = _page(stack, url), _page(stack, url, lang="en")
    assert 'data-verdict="not_yet_valid"' in zh and "尚未生效" in zh and 'id="valid-from"' in zh
    assert "not yet valid" in en.lower()
