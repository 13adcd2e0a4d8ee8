"""The PII guard cannot be sidestepped: the bytes decide a file's type, and every text that
becomes public is scanned (real app on SQLite and PostgreSQL, real PDFs)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from support.api_client import MD, Api, sql, valid_resident_id

from notary.pii import UnsupportedDocument, scan_document
from notary.pii.sniff import sniff

# The API suite's fixtures (a module-level name is how pytest finds them).

RESIDENT_ID = valid_resident_id()
MOBILE = "13812345678"


def id_pdf() -> bytes:
    """A PDF whose text layer holds a resident ID number (CID font: hex-coded strings)."""
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.setFont("STSong-Light", 12)
    pdf.drawString(72, 760, f"申请人身份证号：{RESIDENT_ID}")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def docx_like() -> bytes:
    """A zip container (as DOCX and OFD are) with an ID number inside."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", f"<w:t>{RESIDENT_ID}</w:t>")
    return buf.getvalue()


def _rows(api: Api, table: str) -> int:
    return sql(api, f"SELECT count(*) FROM {table}")[0][0]


def _blob_files(api: Api) -> list:
    return sorted(p for p in api.settings.blobs.rglob("*") if p.is_file())


# --- the bytes decide the type --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (id_pdf(), "text/plain"),
        (id_pdf(), "application/xml"),
        (b"\n" * 10 + id_pdf(), "text/plain"),  # %PDF- a little way in: readers still open it
        (docx_like(), "text/plain"),
    ],
    ids=["pdf-as-text", "pdf-as-xml", "pdf-header-late", "zip-as-text"],
)
def test_a_file_declared_as_another_type_is_refused(api: Api, data: bytes, declared: str) -> None:
    office = api.office()
    r = api.publish(office, data, ctype=declared)
    assert r.status_code == 415, r.text
    assert f"declared {declared} but the bytes are" in r.json()["detail"]
    assert _rows(api, "records") == 0 and _blob_files(api) == []


def test_the_same_pdf_declared_as_a_pdf_is_scanned_and_refused(api: Api) -> None:
    office = api.office()
    r = api.publish(office, id_pdf(), ctype="application/pdf")
    assert r.status_code == 422, r.text
    assert [f["kind"] for f in r.json()["findings"]] == ["id_card"]


def test_text_that_is_xml_is_scanned_as_xml_too() -> None:
    """Character references hide digits from a text scan; an XML reader expands them."""
    hidden = "".join(f"&#{ord(c)};" for c in RESIDENT_ID)
    data = f'<?xml version="1.0"?><r><id>{hidden}</id></r>'.encode()
    findings = scan_document(data, "text/plain")
    assert [f.kind.value for f in findings] == ["id_card"]
    assert findings[0].location == "/r/id/text()"


def test_sniff_names_binary_formats_and_leaves_text_alone() -> None:
    assert sniff(id_pdf()) == "application/pdf"
    assert sniff(docx_like()) == "application/zip"
    assert sniff(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff("申请人 budget 2026".encode()) is None
    assert sniff(b"<?xml version='1.0'?><a/>") is None
    with pytest.raises(UnsupportedDocument, match="declared text/plain but the bytes are"):
        scan_document(id_pdf(), "text/plain")
    assert [f.kind.value for f in scan_document(id_pdf(), "application/octet-stream")] == [
        "id_card"
    ]


# --- every public text is scanned ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("md", "location"),
    [
        ({**MD, "title": f"关于{RESIDENT_ID}的答复"}, "metadata.title"),
        ({**MD, "category": f"申请人{MOBILE}"}, "metadata.category"),
        ({**MD, "extra": {"doc_no": f"答复〔2026〕{RESIDENT_ID}"}}, "metadata.extra.doc_no"),
    ],
    ids=["title", "category", "extra"],
)
def test_personal_data_in_metadata_text_is_refused(api: Api, md: dict, location: str) -> None:
    office = api.office()
    r = api.publish(office, md=md)
    assert r.status_code == 422, r.text
    body = r.json()
    assert location in body["detail"]
    assert [f["location"] for f in body["findings"]] == [location]
    assert RESIDENT_ID not in r.text and MOBILE not in r.text  # only masked previews
    assert _rows(api, "records") == 0 and _blob_files(api) == []
    assert api.c.get("/api/v1/records", params={"q": RESIDENT_ID[:10]}).json()["total"] == 0


def test_an_override_reason_records_the_title_findings(api: Api) -> None:
    office = api.office()
    r = api.publish(
        office,
        md={**MD, "title": f"关于{RESIDENT_ID}的答复"},
        pii_override_reason="the applicant asked for the answer to be published",
    )
    assert r.status_code == 201, r.text
    ((findings,),) = sql(api, "SELECT findings FROM pii_overrides")
    findings = json.loads(findings) if isinstance(findings, str) else findings
    assert [(f["kind"], f["location"]) for f in findings] == [("id_card", "metadata.title")]


def test_personal_data_in_a_change_note_or_reason_is_refused(api: Api) -> None:
    office = api.office()
    record = api.published(office)["id"]
    r = api.c.post(
        f"/api/v1/records/{record}/revisions",
        data={
            "change_note": f"申请人 {RESIDENT_ID} 要求更正",
            "metadata": json.dumps({"title": "t2"}),
        },
        headers=office.publisher,
    )
    assert r.status_code == 422, r.text
    assert [f["location"] for f in r.json()["findings"]] == ["change_note"]
    r = api.c.post(
        f"/api/v1/records/{record}/revoke",
        json={"reason": f"联系人电话 {MOBILE}"},
        headers=office.publisher,
    )
    assert r.status_code == 422, r.text
    assert [f["kind"] for f in r.json()["findings"]] == ["mobile"]
    other = api.published(office, b"other")["id"]
    r = api.c.post(
        f"/api/v1/records/{record}/supersede",
        json={"by": other, "reason": f"replaces the answer to {RESIDENT_ID}"},
        headers=office.publisher,
    )
    assert r.status_code == 422, r.text
    assert _rows(api, "revisions") == 2 and _rows(api, "revocations") == 0
    assert _rows(api, "replacements") == 0


def test_personal_data_in_a_certificate_title_is_refused(api: Api) -> None:
    office = api.office()
    r = api.c.post(
        "/api/v1/certificates",
        data={
            "holder": json.dumps({"id_number": RESIDENT_ID}),  # private: not scanned
            "metadata": json.dumps({**MD, "title": f"证书 {RESIDENT_ID}"}),
        },
        headers=office.publisher,
    )
    assert r.status_code == 422, r.text
    assert [f["location"] for f in r.json()["findings"]] == ["metadata.title"]
    assert _rows(api, "records") == 0
