"""A corpus of PDFs from many real producers, made on this machine, for render-compare checks.

Shared by `tests/pdf/test_stamp_corpus.py` and `scripts/bench_stamp.py`: each producer is a
function returning the PDF's bytes, or raising `ProducerMissing` when its tool is not
installed (Debian packages: ghostscript, qpdf, poppler-utils, librsvg2-bin,
texlive-binaries + texlive-base; see the Makefile's `.system-deps`). Nothing large is
committed: every file is generated here, in a temporary directory.

Producers: Ghostscript (`pdfwrite` of a JPEG "scan", of PostScript text, and a re-distilled
reportlab file: Ghostscript writes each page's `/XObject` dictionary as an indirect object),
cairo (`rsvg-convert` of an SVG, `pdftocairo -pdf`), pdfTeX and xdvipdfmx (plain TeX),
reportlab, fpdf2, qpdf (`--linearize --object-streams=generate`), a reportlab AcroForm, and
hand-made pages whose `/Resources`, `/XObject` and `/Font` dictionaries are indirect or
inherited from the page tree.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageChops, ImageDraw

from support import pdf_samples as samples
from support.pdf_samples import A4, PageSpec, letter

Rect = tuple[float, float, float, float]
TOOL_TIMEOUT_S = 120


class ProducerMissing(RuntimeError):
    """The tool a producer needs is not installed here."""


def _run(args: list[str], cwd: Path) -> None:
    if shutil.which(args[0]) is None:
        raise ProducerMissing(f"{args[0]} is not installed")
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, timeout=TOOL_TIMEOUT_S)


def _in_tmp(work: Callable[[Path], Path]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="pdf-corpus-") as tmp:
        return work(Path(tmp)).read_bytes()


# --- hand-made pages -------------------------------------------------------------------


def _assemble(objects: list[bytes]) -> bytes:
    """A classic PDF from numbered object bodies (object i+1 = objects[i]), root = 1."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n%s\nendstream" % (dictionary, len(data), data)


def hand_made_indirect_resources(form_name: bytes = b"/Fm1") -> bytes:
    """Two A4 pages drawn by hand: page 1's `/Resources` is an indirect object whose
    `/XObject` and `/Font` are indirect too (an "AMOUNT" box form named `form_name` and a
    grey image); page 2 inherits indirect resources from the page tree."""
    box = b"q 0 0 1 rg 0 0 200 60 re f 1 g BT /F1 18 Tf 20 22 Td (AMOUNT 5,000) Tj ET Q"
    pixels = bytes((x * 16 + y * 8) % 256 for y in range(16) for x in range(16))
    content1 = b"BT /F1 14 Tf 72 760 Td (Hand-made page, indirect XObject dict) Tj ET\n"
    content1 += b"q 1 0 0 1 72 600 cm %s Do Q q 120 0 0 120 300 400 cm /Im1 Do Q" % form_name
    content2 = b"BT /F1 14 Tf 72 760 Td (Page 2 inherits its resources) Tj ET\n"
    content2 += b"q 1 0 0 1 72 500 cm %s Do Q" % form_name
    return _assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /MediaBox [0 0 595 842]"
            b" /Resources 5 0 R >>",
            b"<< /Type /Page /Parent 2 0 R /Resources 5 0 R /Contents 9 0 R >>",
            b"<< /Type /Page /Parent 2 0 R /Contents 10 0 R >>",
            b"<< /XObject 6 0 R /Font 11 0 R >>",
            b"<< %s 7 0 R /Im1 8 0 R >>" % form_name,
            _stream(b"/Type /XObject /Subtype /Form /BBox [0 0 200 60] /Resources 5 0 R", box),
            _stream(
                b"/Type /XObject /Subtype /Image /Width 16 /Height 16 /ColorSpace /DeviceGray"
                b" /BitsPerComponent 8",
                pixels,
            ),
            _stream(b"", content1),
            _stream(b"", content2),
            b"<< /F1 12 0 R >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


# --- Ghostscript -----------------------------------------------------------------------


def _scan_jpeg(path: Path) -> None:
    """A page image as a scanner makes it: text, a table and a red seal."""
    image = Image.new("RGB", (850, 1100), "white")
    draw = ImageDraw.Draw(image)
    for line in range(28):
        draw.text((70, 70 + 32 * line), f"Scanned notice, line {line}: AMOUNT 1,234.56", "black")
    draw.rectangle((60, 60, 790, 1040), outline="black", width=3)
    draw.ellipse((520, 780, 740, 1000), outline=(200, 20, 20), width=10)
    image.save(path, quality=85)


def gs_image_pdf() -> bytes:
    """Ghostscript `pdfwrite` of a JPEG scan (what a scanned, signed paper document is)."""

    def work(tmp: Path) -> Path:
        if shutil.which("gs") is None:
            raise ProducerMissing("gs is not installed")
        _scan_jpeg(tmp / "scan.jpg")
        viewjpeg = next(Path("/usr/share/ghostscript").glob("*/lib/viewjpeg.ps"))
        _run(
            [
                "gs", "-q", "-dNOSAFER", "-sDEVICE=pdfwrite", "-o", "scan.pdf", str(viewjpeg),
                "-c", "(scan.jpg) << /PageSize 2 index viewJPEGgetsize 2 array astore >> "
                "setpagedevice viewJPEG",
            ],
            tmp,
        )  # fmt: skip
        return tmp / "scan.pdf"

    return _in_tmp(work)


def gs_text_pdf() -> bytes:
    """Ghostscript `pdfwrite` of two pages of PostScript text and lines."""
    program = b"%!PS\n/Helvetica findfont 14 scalefont setfont\n"
    for page in (1, 2):
        program += b"72 760 moveto (Ghostscript page %d) show\n" % page
        for line in range(20):
            program += b"72 %d moveto (Line %d: total 9,876.54) show\n" % (720 - 24 * line, line)
        program += b"2 setlinewidth 72 72 moveto 523 72 lineto stroke showpage\n"

    def work(tmp: Path) -> Path:
        (tmp / "text.ps").write_bytes(program)
        _run(["gs", "-q", "-sDEVICE=pdfwrite", "-sPAPERSIZE=a4", "-o", "text.pdf", "text.ps"], tmp)
        return tmp / "text.pdf"

    return _in_tmp(work)


def gs_redistilled_pdf() -> bytes:
    """A reportlab PDF with Chinese text re-written by Ghostscript's `pdfwrite`."""
    return _convert(samples.reportlab_pdf([PageSpec(A4), PageSpec(letter, 90)]), "gs")


def _convert(data: bytes, tool: str) -> bytes:
    commands = {
        "gs": ["gs", "-q", "-sDEVICE=pdfwrite", "-o", "out.pdf", "in.pdf"],
        "pdftocairo": ["pdftocairo", "-pdf", "in.pdf", "out.pdf"],
        "qpdf": ["qpdf", "--linearize", "--object-streams=generate", "in.pdf", "out.pdf"],
    }

    def work(tmp: Path) -> Path:
        (tmp / "in.pdf").write_bytes(data)
        _run(commands[tool], tmp)
        return tmp / "out.pdf"

    return _in_tmp(work)


# --- cairo -----------------------------------------------------------------------------


def cairo_svg_pdf() -> bytes:
    """cairo's PDF surface, through `rsvg-convert -f pdf` of an SVG form with a gradient."""
    svg = b"""<svg xmlns="http://www.w3.org/2000/svg" width="595pt" height="842pt"
      viewBox="0 0 595 842"><defs><linearGradient id="g"><stop offset="0" stop-color="#36c"/>
      <stop offset="1" stop-color="#fc3"/></linearGradient></defs>
      <rect x="60" y="60" width="475" height="120" fill="url(#g)"/>
      <text x="72" y="240" font-family="DejaVu Sans" font-size="20">cairo: AMOUNT 42.00</text>
      <circle cx="300" cy="500" r="120" fill="none" stroke="#c00" stroke-width="8"/>
      <rect x="60" y="700" width="475" height="60" fill="none" stroke="#000"/></svg>"""

    def work(tmp: Path) -> Path:
        (tmp / "in.svg").write_bytes(svg)
        _run(["rsvg-convert", "-f", "pdf", "-o", "out.pdf", "in.svg"], tmp)
        return tmp / "out.pdf"

    return _in_tmp(work)


def cairo_reprinted_pdf() -> bytes:
    """A reportlab PDF re-drawn by poppler onto cairo's PDF surface (`pdftocairo -pdf`)."""
    return _convert(samples.reportlab_pdf([PageSpec(A4)] * 2), "pdftocairo")


# --- TeX -------------------------------------------------------------------------------

_TEX = rb"""\pdfpagewidth=210mm \pdfpageheight=297mm
\hsize=150mm \vsize=230mm
\font\big=cmr12 at 20pt
{\big Notice of the Finance Bureau}\par
\bigskip
Total expenditure: $\sum_{i=1}^{n} x_i = 1\,234.56$ thousand.\par
\vrule width 40mm height 10mm\par
\vfill\eject
Page two: $\int_0^1 f(t)\,dt$.\par
\bye
"""


def pdftex_pdf() -> bytes:
    """pdfTeX (plain TeX format): two pages, Computer Modern Type 1 fonts, a rule."""

    def work(tmp: Path) -> Path:
        (tmp / "doc.tex").write_bytes(_TEX)
        _run(["pdftex", "-interaction=batchmode", "doc.tex"], tmp)
        return tmp / "doc.pdf"

    return _in_tmp(work)


def xdvipdfmx_pdf() -> bytes:
    """TeX to DVI, then xdvipdfmx (the dvipdfmx driver) to PDF."""
    source = _TEX.replace(
        rb"\pdfpagewidth=210mm \pdfpageheight=297mm", rb"\special{papersize=210mm,297mm}"
    )

    def work(tmp: Path) -> Path:
        (tmp / "doc.tex").write_bytes(source)
        _run(["etex", "-interaction=batchmode", "doc.tex"], tmp)
        _run(["xdvipdfmx", "-q", "-o", "doc.pdf", "doc.dvi"], tmp)
        return tmp / "doc.pdf"

    return _in_tmp(work)


# --- the corpus ------------------------------------------------------------------------


PRODUCERS: dict[str, Callable[[], bytes]] = {
    "ghostscript-image": gs_image_pdf,
    "ghostscript-text": gs_text_pdf,
    "ghostscript-redistilled": gs_redistilled_pdf,
    "cairo-svg": cairo_svg_pdf,
    "cairo-pdftocairo": cairo_reprinted_pdf,
    "pdftex": pdftex_pdf,
    "xdvipdfmx": xdvipdfmx_pdf,
    "reportlab": lambda: samples.reportlab_pdf([PageSpec(A4), PageSpec(letter, 270)]),
    "fpdf2": lambda: samples.fpdf2_pdf(2),
    "qpdf-linearized-objstm": lambda: _convert(samples.reportlab_pdf([PageSpec(A4)] * 2), "qpdf"),
    "qpdf-linearized-gs-image": lambda: _convert(gs_image_pdf(), "qpdf"),
    "acroform": samples.form_and_annotations_pdf,
    "hand-made-indirect-resources": hand_made_indirect_resources,
}


def build_corpus(names: list[str] | None = None) -> tuple[dict[str, bytes], dict[str, str]]:
    """(name → PDF bytes for every producer available here, name → why one is missing)."""
    made: dict[str, bytes] = {}
    missing: dict[str, str] = {}
    for name in names or list(PRODUCERS):
        try:
            made[name] = PRODUCERS[name]()
        except ProducerMissing as exc:
            missing[name] = str(exc)
    return made, missing


# --- comparing pages -------------------------------------------------------------------


def render_pages(data: bytes, dpi: float) -> list[Image.Image]:
    """Every page as displayed (forms and annotations drawn), in grey levels."""
    doc = pdfium.PdfDocument(data)
    try:
        doc.init_forms()
        return [
            page.render(scale=dpi / 72, may_draw_forms=True).to_pil().convert("L") for page in doc
        ]
    finally:
        doc.close()


def differing_outside(
    before: Image.Image, after: Image.Image, area: Rect, dpi: float, pad_px: int = 3
) -> int:
    """How many pixels differ (by more than a rounding step) outside `area`, a rectangle in
    points from the displayed page's top-left corner, padded by `pad_px`."""
    if before.size != after.size:
        return before.width * before.height
    scale = dpi / 72
    left, top, right, bottom = area
    box = (
        max(0, int(left * scale) - pad_px),
        max(0, int(top * scale) - pad_px),
        min(before.width, int(right * scale + 1) + pad_px),
        min(before.height, int(bottom * scale + 1) + pad_px),
    )
    diff = ImageChops.difference(before, after).point(lambda v: 255 if v > 8 else 0)
    diff.paste(0, box)
    return sum(diff.histogram()[1:])


def as_png(image: Image.Image) -> bytes:
    """PNG bytes of an image (for a decoder that reads files)."""
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
