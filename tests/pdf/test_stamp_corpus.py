"""A stamped copy shows everything its original shows, and a second decoder reads its codes.

Over a corpus of PDFs from many producers (`tests/support/pdf_corpus.py`: Ghostscript image and text
files, cairo, pdfTeX, xdvipdfmx, reportlab, fpdf2, qpdf-linearised with object streams, an
AcroForm, hand-made pages with indirect resources), every page of the original and of the
stamped copy is rendered with pypdfium2 and compared outside the stamp's rectangle (taken
from the stamper's own layout, `check_stamp(...).areas`): not one pixel may differ. Every
stamped page is decoded at 150 dpi by zbar (`zbarimg`, an implementation independent of the
project's zxing-cpp).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest
from PIL import Image, ImageDraw
from support import pdf_corpus as corpus

from notary.formats.qr_payload import QrPayload, verify_url
from notary.pdf.stamp import check_stamp, stamp_pdf

DPI = 100
REGISTRY = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
RECORD_ID = (3).to_bytes(4, "big") + hashlib.sha256(b"corpus").digest()[:28]


def urls(page: int, pages: int) -> str:
    payload = QrPayload.for_page(
        chain_id=31337,
        registry=REGISTRY,
        record_id=RECORD_ID,
        version=2,
        leaf=hashlib.sha256(b"corpus leaf").digest(),
        page=page,
        pages=pages,
    )
    return verify_url("verify.gov.example.cn", payload)


@pytest.fixture(scope="module")
def made() -> dict[str, bytes]:
    pdfs, missing = corpus.build_corpus()
    assert not missing, f"producers missing here (see the Makefile's .system-deps): {missing}"
    return pdfs


def differing_pages(original: bytes, stamped: bytes, areas: list) -> list[int]:
    before = corpus.render_pages(original, DPI)
    after = corpus.render_pages(stamped, DPI)
    assert len(before) == len(after) == len(areas)
    return [
        number
        for number, (a, b, area) in enumerate(zip(before, after, areas, strict=True), start=1)
        if corpus.differing_outside(a, b, area, DPI)
    ]


@pytest.mark.parametrize("name", list(corpus.PRODUCERS))
def test_stamped_copy_shows_every_page_as_the_original_does(made, name: str, tmp_path) -> None:
    original = made[name]
    stamped = stamp_pdf(original, make_payload=urls)
    checked = check_stamp(stamped)
    assert checked.original == original and checked.version == 2
    assert differing_pages(original, stamped, checked.areas) == []
    if shutil.which("qpdf"):
        (tmp_path / "stamped.pdf").write_bytes(stamped)
        run = subprocess.run(["qpdf", "--check", tmp_path / "stamped.pdf"], capture_output=True)
        assert run.returncode in (0, 3), run.stdout[-500:]  # 3: warnings only


@pytest.mark.parametrize("name", ["ghostscript-image", "hand-made-indirect-resources"])
def test_version_1_lost_what_an_indirect_xobject_dictionary_holds(made, name: str) -> None:
    # Why the old stamper blanked these pages: it copied the page's /XObject entry only when
    # the dictionary was written inside /Resources, so a reference (Ghostscript writes one)
    # became an empty dictionary and the page's images and forms were gone.
    original = made[name]
    areas = check_stamp(stamp_pdf(original, make_payload=urls)).areas  # v1 draws inside them
    old = stamp_pdf(original, make_payload=urls, version=1)
    assert differing_pages(original, old, areas)[:1] == [1]


def test_page_with_its_own_indirect_stamp_name_keeps_both_forms() -> None:
    # A page whose indirect /XObject dictionary already uses the stamp's name: the stamp
    # takes a numbered name instead of replacing the page's form.
    original = corpus.hand_made_indirect_resources(b"/DisclosureNotaryStamp")
    stamped = stamp_pdf(original, make_payload=urls)
    assert b"/DisclosureNotaryStamp1 Do" in stamped
    assert differing_pages(original, stamped, check_stamp(stamped).areas) == []


def zbar(image: Image.Image) -> list[str]:
    if shutil.which("zbarimg") is None:
        pytest.fail("zbarimg is missing: apt-get install zbar-tools (Makefile .system-deps)")
    run = subprocess.run(
        ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", "-"],
        input=corpus.as_png(image),
        capture_output=True,
        timeout=60,
    )
    return run.stdout.decode("ascii", "replace").splitlines()


def test_zbar_reads_every_stamped_page_at_150_dpi(made) -> None:
    for name, original in made.items():
        stamped = stamp_pdf(original, make_payload=urls)
        pages = corpus.render_pages(stamped, 150)
        for number, image in enumerate(pages, start=1):
            assert zbar(image) == [urls(number, len(pages))], (name, number)


def dark_page() -> bytes:
    """A page inked to its edges (a certificate printed on a coloured background)."""
    import io

    image = Image.new("RGB", (595, 842), (40, 40, 90))
    ImageDraw.Draw(image).text((60, 60), "CERTIFICATE", fill="white")
    out = io.BytesIO()
    image.save(out, format="PDF", resolution=72)
    return out.getvalue()


def test_a_dark_page_keeps_the_standard_quiet_zone_around_the_code() -> None:
    # On a page inked to its edges the white square is all the light margin a code has:
    # 4 modules (ISO/IEC 18004) from version 2, where version 1 left 2.
    original = dark_page()
    stamped = stamp_pdf(original, make_payload=urls)
    assert zbar(corpus.render_pages(stamped, 150)[0]) == [urls(1, 1)]
    module_px = 56 / 49 * 300 / 72  # a version-7 code (45 modules) at 300 dpi
    area = check_stamp(stamped).areas[0]
    assert quiet_zone_px(stamped, area) >= 4 * module_px - 1.5
    old = stamp_pdf(original, make_payload=urls, version=1)
    assert quiet_zone_px(old, area) <= 2 * module_px + 1.5


def quiet_zone_px(stamped: bytes, area: tuple[float, float, float, float]) -> int:
    """The narrowest light run, at 300 dpi, between the dark page left of the code's white
    square and the code's first dark module (rows through a finder pattern set it)."""
    image = corpus.render_pages(stamped, 300)[0]
    scale = 300 / 72
    left, top, right, bottom = (round(v * scale) for v in area)
    runs = []
    for y in range(top + 2, bottom - 2):
        row = [image.getpixel((x, y)) for x in range(left, right)]
        start = next((i for i, v in enumerate(row) if v > 200), None)
        if start is None:
            continue
        end = next((i for i, v in enumerate(row[start:]) if v < 100), None)
        if end is not None:
            runs.append(end)
    return min(runs)
