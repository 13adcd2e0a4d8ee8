"""The public record: each revision's metadata served exactly as hashed, as its tier allows
(real app, SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib

from support.api_client import MD

from notary.formats.metadata import Metadata
from notary.publishing.metadata import DOCUMENT_NUMBER


def test_metadata_is_served_byte_for_byte_as_hashed(api) -> None:
    office = api.office()
    md = {**MD, "extra": {DOCUMENT_NUMBER: "京财预〔2026〕12号"}}
    record = api.published(office, md=md)
    r = api.c.get(f"/api/v1/records/{record['id']}/metadata")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    digest = hashlib.sha256(r.content).hexdigest()
    assert digest == record["current"]["metadata_hash"] == r.headers["x-metadata-hash"]
    parsed = Metadata.from_json(r.content)  # what an independent verifier does with it
    assert parsed.metadata_hash().hex() == digest and parsed.canonical_json() == r.content
    assert parsed.extra[DOCUMENT_NUMBER] == "京财预〔2026〕12号"
    assert parsed.reviewer == MD["reviewer"] and parsed.office == "Office 1"
    revised = api.c.post(
        f"/api/v1/records/{record['id']}/revisions",
        data={"change_note": "corrected", "metadata": '{"title": "2026 budget, corrected"}'},
        headers=office.publisher,
    )
    assert revised.status_code == 201, revised.text
    v1 = api.c.get(f"/api/v1/records/{record['id']}/metadata?version=1")
    v2 = api.c.get(f"/api/v1/records/{record['id']}/metadata")
    assert v1.content == r.content and v2.content != r.content
    assert hashlib.sha256(v2.content).hexdigest() == revised.json()["current"]["metadata_hash"]
    assert api.c.get(f"/api/v1/records/{record['id']}/metadata?version=3").status_code == 404
    assert api.c.get(f"/api/v1/records/{record['id']}/metadata?version=0").status_code == 422


def test_internal_metadata_is_its_office_only(api) -> None:
    office, other = api.office(), api.office()
    record = api.published(office, tier="internal")
    url = f"/api/v1/records/{record['id']}/metadata"
    assert api.c.get(url).status_code == 404
    assert api.c.get(url, headers=other.publisher).status_code == 404
    own = api.c.get(url, headers=office.publisher)
    assert own.status_code == 200
    assert hashlib.sha256(own.content).hexdigest() == record["current"]["metadata_hash"]
    assert api.c.get("/api/v1/records/" + "ab" * 32 + "/metadata").status_code == 404
    assert api.c.get("/api/v1/records/not-an-id/metadata").status_code == 404
