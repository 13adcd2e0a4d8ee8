"""Bounds on what an anonymous caller can make the service do: an upload is looked up in the
service's own database (never a scan of the chain's history), photos and PDFs are refused or
reduced before they are decoded, `page.png` stays within a pixel budget, and the expensive
routes are rate limited per client. Real anvil, real database, real files."""

from __future__ import annotations

import hashlib
import io
import time

import pytest
from fastapi.testclient import TestClient
from support.uploads import own_app, record_anchored, tall_pdf

from notary.formats.qr_payload import QrPayload, encode
from verifier.chainsource import ChainRegistry, RegistryPool


def test_an_upload_is_found_through_the_database_and_never_scans_the_chain(
    verifier_registry, tmp_path, db_url, monkeypatch
) -> None:
    # Unknown bytes used to make the service read every anchor of the chain (linear in
    # history); now the database's content-hash index names the candidates, the chain
    # confirms them, and bytes it does not know are unknown at once.
    reg = verifier_registry
    notice = b"public notice: road works on Zhongshan Road"
    rid, version, leaf = reg.anchor(notice)
    other_rid, _, _ = reg.anchor(b"anchored on the chain but unknown to this database")
    scans = []
    monkeypatch.setattr(
        ChainRegistry, "find_content", lambda self, h: scans.append(h) or [], raising=True
    )
    app = own_app(reg, tmp_path, db_url)
    with TestClient(app) as client:
        record_anchored(app, reg, rid, version, leaf, notice)
        found = client.post("/verify?lang=en", files={"file": ("n.txt", notice, "text/plain")})
        chain_only = client.post(
            "/verify?lang=en",
            files={"file": ("x.txt", b"anchored on the chain but unknown to this database")},
        )
        unknown = client.post("/verify?lang=en", files={"file": ("u.bin", b"\x01" * 64)})
    assert found.status_code == 200 and 'data-verdict="authentic_current"' in found.text
    assert rid.hex()[:12] in found.text
    assert chain_only.status_code == 404 and 'data-verdict="unknown"' in chain_only.text
    assert unknown.status_code == 404 and 'data-verdict="unknown"' in unknown.text
    assert scans == []  # the upload never scanned a registry's history
    assert other_rid  # anchored, and still only the independent verifier would find it


def test_a_database_row_the_chain_does_not_back_is_not_believed(
    verifier_registry, tmp_path
) -> None:
    # The index only names candidates: a row claiming bytes the chain anchored differently
    # gives "unknown", not "authentic".
    reg = verifier_registry
    rid, version, leaf = reg.anchor(b"what was really anchored")
    app = own_app(reg, tmp_path)
    with TestClient(app) as client:
        record_anchored(app, reg, rid, version, leaf, b"what the database claims")
        r = client.post("/verify", files={"file": ("f.txt", b"what the database claims")})
    assert r.status_code == 404 and 'data-verdict="unknown"' in r.text


def test_the_independent_verifier_still_scans_the_chain(verifier_registry) -> None:
    from verifier.verify import verify_file

    reg = verifier_registry
    reg.anchor(b"found by the independent verifier")
    r = verify_file(b"found by the independent verifier", reg.trust(), connect=RegistryPool())
    assert r.verdict.value == "authentic_current"


def _png(width: int, height: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (width, height), 255).save(buf, "PNG")
    return buf.getvalue()


def test_a_huge_blank_png_is_refused_from_its_header() -> None:
    # 59 megapixels in 74 kB: it used to be inflated (177 MB) and cleaned up before any QR
    # code was looked for. PNG cannot be decoded at a reduced scale, so it is refused.
    from verifier.imaging import ImageError, _load

    data = _png(7680, 7680)
    assert len(data) < 200_000
    with pytest.raises(ImageError, match="too many pixels"):
        _load(data)


def test_a_large_jpeg_is_decoded_at_a_reduced_scale() -> None:
    from PIL import Image

    from verifier.imaging import WORK_PIXELS, _load

    buf = io.BytesIO()
    Image.new("RGB", (6000, 4000), "white").save(buf, "JPEG")
    img = _load(buf.getvalue())
    assert img.width * img.height <= WORK_PIXELS


def test_page_png_of_a_tall_narrow_page_stays_within_the_pixel_budget() -> None:
    from PIL import Image

    from api.pages.verify import PageBounds, _render_pdf_page

    png = _render_pdf_page(tall_pdf(), 0, bounds=PageBounds(max_pixels=2_000_000))
    assert png is not None
    img = Image.open(io.BytesIO(png))
    assert img.width * img.height <= 2_000_000 and img.height > img.width * 100
    a4 = Image.open(io.BytesIO(_render_pdf_page(tall_pdf(595, 842), 0)))
    assert a4.width == 720  # ordinary pages keep their width


def test_page_png_refuses_a_pdf_over_the_page_cap_without_opening_it(monkeypatch) -> None:
    import pypdfium2

    from api.pages.verify import PageBounds, _render_pdf_page

    opened = []
    real = pypdfium2.PdfDocument
    monkeypatch.setattr(pypdfium2, "PdfDocument", lambda *a, **k: opened.append(1) or real(*a))
    many = tall_pdf(200, 200, pages=60)
    assert _render_pdf_page(many, 0, bounds=PageBounds(max_pages=50)) is None
    assert opened == []
    assert _render_pdf_page(many, 0, bounds=PageBounds(max_pages=100)) is not None


def test_an_uploaded_pdf_over_the_page_cap_gets_a_clear_413(verifier_registry, tmp_path) -> None:
    app = own_app(verifier_registry, tmp_path, anon_max_pdf_pages=50)
    with TestClient(app) as client:
        r = client.post(
            "/verify?lang=en",
            files={"file": ("big.pdf", tall_pdf(200, 200, pages=60), "application/pdf")},
        )
    assert r.status_code == 413 and "too many pages" in r.text


def test_expensive_anonymous_requests_are_rate_limited_per_client(
    verifier_registry, tmp_path
) -> None:
    app = own_app(verifier_registry, tmp_path, rate_limit_per_minute=6, rate_limit_burst=2)
    files = {"file": ("u.bin", b"\x02" * 64)}
    with TestClient(app) as client:
        first = [client.post("/verify?lang=en", files=files).status_code for _ in range(2)]
        limited = client.post("/verify?lang=en", files=files)
    assert first == [404, 404]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 10
    assert "Too many checks" in limited.text and "<form" in limited.text


def test_the_token_bucket_refills_and_keys_by_client() -> None:
    from api.core.limits import RateLimiter, client_address

    bucket = RateLimiter(per_minute=60, burst=1)
    assert bucket.take("a", now=0.0) is None
    assert bucket.take("a", now=0.1) == pytest.approx(0.9)
    assert bucket.take("b", now=0.1) is None  # another client has its own bucket
    assert bucket.take("a", now=1.1) is None
    assert RateLimiter(per_minute=0, burst=1).take("a") is None  # off
    scope = {"client": ("10.0.0.1", 1), "headers": [(b"x-forwarded-for", b"1.2.3.4, 10.0.0.2")]}
    assert client_address(scope) == "10.0.0.1"  # not a trusted proxy: header ignored
    assert client_address(scope, frozenset({"10.0.0.1", "10.0.0.2"})) == "1.2.3.4"


def test_page_png_is_rate_limited_when_it_must_render(verifier_registry, tmp_path) -> None:
    from api.pages.verify import _PAGE_IMAGES

    reg = verifier_registry
    pdf = tall_pdf(595, 842)
    rid, version, leaf = reg.anchor(pdf)
    app = own_app(reg, tmp_path, rate_limit_per_minute=1, rate_limit_burst=1)
    from api.services import blobs

    code = encode(
        QrPayload.for_page(
            chain_id=reg.chain_id, registry=reg.address, record_id=rid, version=version,
            leaf=leaf,
        )
    )  # fmt: skip
    _PAGE_IMAGES.clear()
    with TestClient(app) as client:
        record_anchored(app, reg, rid, version, leaf, pdf)
        with app.state.db.session() as s:
            sha = hashlib.sha256(pdf).hexdigest()
            blobs.put(
                s, app.state.settings.blobs, sha256=sha, data=pdf, media_type="application/pdf"
            )
            s.commit()
        first = client.get(f"/v/{code}/page.png")
        cached = client.get(f"/v/{code}/page.png")  # already rendered: free
        _PAGE_IMAGES.clear()
        again = client.get(f"/v/{code}/page.png")
    assert first.status_code == 200 and cached.status_code == 200
    assert again.status_code == 429 and "retry-after" in again.headers


def test_a_trickled_request_body_is_cut_off(tmp_path) -> None:
    import anyio

    from api.core.limits import BodyLimit

    async def app(scope, receive, send):
        while (await receive()).get("more_body"):
            pass

    async def slow_receive():
        await anyio.sleep(5)
        return {"type": "http.request", "body": b"x", "more_body": True}

    async def send(_message):
        pass

    async def run() -> float:
        started = time.monotonic()
        with pytest.raises(Exception, match="did not arrive in time"):
            await BodyLimit(app, limit=1000, body_seconds=0.2)(
                {"type": "http", "headers": []}, slow_receive, send
            )
        return time.monotonic() - started

    assert anyio.run(run) < 2
