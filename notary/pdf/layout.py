"""Where a page's stamp goes and what it looks like: geometry, label, QR code, link.

All geometry is worked out on the page *as displayed* (after /Rotate, within the visible
CropBox ∩ MediaBox, in points scaled by /UserUnit) and mapped back into the page's default
user space by one matrix, so the stamp sits upright in the chosen corner whatever the
page's rotation or origin. The stamp itself is one Form XObject: a white square, the QR
modules as filled rectangles (crisp at any zoom and in print), and the label in reportlab's
built-in CID font STSong-Light (not embedded: every Chinese-capable viewer has it or a
substitute).

Used by `notary.pdf.stamp`; pure, no I/O.
"""

from __future__ import annotations

import functools
import io
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from notary.errors import InvalidInput

if TYPE_CHECKING:
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

Corner = Literal["bottom-right", "bottom-left", "top-right", "top-left"]
Matrix = tuple[float, float, float, float, float, float]
Rect = tuple[float, float, float, float]
WidthFn = Callable[[str, float], float]

CORNERS: tuple[Corner, ...] = ("bottom-right", "bottom-left", "top-right", "top-left")
FONT_NAME = "STSong-Light"
QUIET_MODULES = {1: 2, 2: 4}
"""Light modules around the symbol inside the white square, per stamp format version: 2 in
version 1 (half the ISO/IEC 18004 minimum, which some decoders miss), 4 from version 2. The
square keeps its size; the symbol shrinks inside it."""
LEADING = 1.25

_DARK_RUN = re.compile(rb"\x00+")
_NUMBERS = [b"%d " % i for i in range(178)]  # the widest QR symbol is 177 modules


@dataclass(frozen=True, slots=True)
class StampStyle:
    """Sizes of the stamp in points (1/72 inch) on the page as displayed.

    The default code is 56 pt square (≈ 20 mm; ≈ 1.1 pt per module at QR version 7)
    placed 14 pt (≈ 5 mm, clear of most printers' dead zone) from the edges, so code and
    inset fit in a one-inch margin. On a page too small for it everything shrinks, so that
    code plus inset take at most half of the shorter side.
    """

    qr_size: float = 56.0
    inset: float = 14.0
    gap: float = 5.0
    font_size: float = 6.5
    min_font_size: float = 4.0

    def __post_init__(self) -> None:
        for name in ("qr_size", "inset", "gap", "font_size", "min_font_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidInput(f"{name} must be a non-negative number")
        if self.qr_size < 10 or not 0 < self.min_font_size <= self.font_size:
            raise InvalidInput("qr_size must be >= 10 pt and 0 < min_font_size <= font_size")


class Frame(NamedTuple):
    """A page as displayed, and the stamp's sizes for it, in the page's user units."""

    width: float
    height: float
    to_user: Matrix  # display (u, v) -> default user space (x, y)
    qr: float
    inset: float
    gap: float
    font_size: float
    min_font_size: float


class Placement(NamedTuple):
    """The stamp as a form: its size, where it goes, and what sits where inside it."""

    width: float
    height: float
    matrix: Matrix  # form space -> default user space
    qr_x: float  # left edge of the code's white square in form space (its bottom is at 0)
    lines: list[tuple[float, float, str]]  # (x, baseline, text) in form space
    font_size: float
    display: tuple[float, float, float, float]  # the form on the page as displayed:
    # (left, top, right, bottom) in user units from the visible area's top-left corner
    grow: tuple[int, int]  # where a wider quiet zone widens the white square, in form
    # space (x, y) = ±1: horizontally towards the label, vertically towards the page edge

    def qr_rect(self) -> tuple[float, float, float, float]:
        """The code's square in default user space: (x0, y0, x1, y1)."""
        corners = [
            _apply(self.matrix, self.qr_x + du, dv)
            for du in (0.0, self.height)
            for dv in (0.0, self.height)
        ]
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        return min(xs), min(ys), max(xs), max(ys)


def frame(
    box: tuple[float, float, float, float], rotate: int, user_unit: float, style: StampStyle
) -> Frame:
    """The display frame of a page with visible `box`, `/Rotate` (0, 90, 180, 270) and
    `/UserUnit`, with the style's sizes converted (and shrunk for a small page)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    width, height = (w, h) if rotate in (0, 180) else (h, w)
    # /Rotate turns the page clockwise for display; map display (u, v) back to (x, y).
    to_user: Matrix = {
        0: (1.0, 0.0, 0.0, 1.0, x0, y0),
        90: (0.0, 1.0, -1.0, 0.0, x1, y0),
        180: (-1.0, 0.0, 0.0, -1.0, x1, y1),
        270: (0.0, -1.0, 1.0, 0.0, x0, y1),
    }[rotate]
    unit = 1 / user_unit
    fit = min(1.0, 0.5 * min(width, height) / ((style.qr_size + style.inset) * unit))
    scale = unit * fit
    return Frame(
        width=width,
        height=height,
        to_user=to_user,
        qr=style.qr_size * scale,
        inset=style.inset * scale,
        gap=style.gap * scale,
        font_size=style.font_size * scale,
        min_font_size=style.min_font_size * scale,
    )


def layout_label(label: str, frame: Frame, width: WidthFn) -> tuple[list[str], float]:
    """The label's lines (broken at " · " where needed) and font size; none if no room.

    Tries the style's size, then smaller ones down to its minimum; the lines must fit
    beside the code and within its height. Characters outside the Basic Multilingual
    Plane (which the font's UCS-2 encoding cannot show) become "?".
    """
    label = "".join(c if c.isprintable() and ord(c) <= 0xFFFF else "?" for c in label)
    segments = [s.strip() for s in label.split(" · ") if s.strip()]
    room = frame.width - 2 * frame.inset - frame.qr - frame.gap
    if not segments or room <= 0:
        return [], 0.0
    size = frame.font_size
    step = frame.font_size / 26
    while size >= frame.min_font_size - 1e-9:
        lines = _wrap(segments, room, size, width)
        if lines is not None and len(lines) * size * LEADING <= frame.qr:
            return lines, size
        size -= step
    return [], 0.0


def _wrap(segments: Sequence[str], room: float, size: float, width: WidthFn) -> list[str] | None:
    lines: list[str] = []
    for segment in segments:
        if width(segment, size) > room:
            return None
        joined = f"{lines[-1]} · {segment}" if lines else segment
        if lines and width(joined, size) <= room:
            lines[-1] = joined
        else:
            lines.append(segment)
    return lines


def place(frame: Frame, corner: Corner, lines: list[str], size: float, width: WidthFn) -> Placement:
    """Put the code in `corner` and the label beside it, towards the page's middle."""
    right, bottom = corner.endswith("right"), corner.startswith("bottom")
    widths = [width(line, size) for line in lines]
    form_w = frame.qr + (frame.gap + max(widths) if lines else 0.0)
    form_h = frame.qr
    u0 = frame.width - frame.inset - form_w if right else frame.inset
    v0 = frame.inset if bottom else frame.height - frame.inset - form_h
    qr_x = form_w - frame.qr if right else 0.0
    lead = size * LEADING
    block_bottom = 0.0 if bottom else form_h - lead * len(lines)
    placed = []
    for i, (line, w) in enumerate(zip(lines, widths, strict=True)):
        baseline = block_bottom + lead * (len(lines) - 1 - i) + 0.3 * size
        x = qr_x - frame.gap - w if right else frame.qr + frame.gap
        placed.append((x, baseline, line))
    a, b, c, d, e, f = frame.to_user
    matrix = (a, b, c, d, a * u0 + c * v0 + e, b * u0 + d * v0 + f)
    display = (u0, frame.height - v0 - form_h, u0 + form_w, frame.height - v0)
    grow = (-1 if right else 1, -1 if bottom else 1)
    return Placement(form_w, form_h, matrix, qr_x, placed, size, display, grow)


# ---------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------


class Font(NamedTuple):
    dictionary: DictionaryObject
    width: WidthFn


@functools.cache
def cid_font() -> Font:
    """reportlab's STSong-Light Type0 font dictionary and width function, built once.

    The dictionary is lifted from a one-line PDF that reportlab writes, so it is exactly
    what reportlab emits for `UnicodeCIDFont("STSong-Light")` (UniGB-UCS2-H encoding).
    """
    from pypdf import PdfReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT_NAME))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, invariant=1)
    pdf.setFont(FONT_NAME, 10)
    pdf.drawString(0, 0, "验 v")
    pdf.showPage()
    pdf.save()
    fonts = PdfReader(buf).pages[0]["/Resources"]["/Font"]
    font = next(f for f in fonts.values() if f.get_object()["/BaseFont"] == "/" + FONT_NAME)
    dictionary = _detached(font.get_object())
    dictionary.pop("/Name", None)

    def width(text: str, size: float) -> float:
        return float(pdfmetrics.stringWidth(text, FONT_NAME, size))

    return Font(dictionary, width)


def qr_modules(url: str) -> tuple[int, bytes]:
    """The QR symbol for `url` at error correction M: side in modules and the modules
    row by row from the top, one byte each, 0 = dark.

    zxing-cpp's encoder (C++) picks the smallest version and the best mask in about a
    millisecond, which is what keeps a 100-page stamp fast.
    """
    import zxingcpp

    try:
        code = zxingcpp.create_barcode(url, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    except Exception as exc:  # too long for any QR version
        raise InvalidInput(f"cannot encode the URL as a QR code: {exc}") from exc
    image = memoryview(code.to_image(scale=1, add_quiet_zones=False))
    return image.shape[0], image.tobytes()  # type: ignore[index]


def qr_path(side: int, modules: bytes) -> bytes:
    """The dark modules as one `re` per horizontal run, in module units with y up."""
    ops: list[bytes] = []
    numbers = _NUMBERS
    for row in range(side):
        y = numbers[side - 1 - row]
        start = row * side
        for run in _DARK_RUN.finditer(modules, start, start + side):
            x0, x1 = run.span()
            ops.append(numbers[x0 - start] + y + numbers[x1 - x0] + b"1 re")
    return b"\n".join(ops)


def stamp_form(
    url: str, placement: Placement, font_ref: IndirectObject, version: int
) -> tuple[StreamObject, Rect]:
    """The stamp's Form XObject (white square, code, label; placed by its /Matrix) and its
    /BBox in form space (x0, y0, x1, y1), which holds everything it draws.

    Version 1 fills the placement's square with the symbol and 2 light modules. From
    version 2 the symbol keeps that size and has 4 light modules: the white square grows
    by 4 modules horizontally towards the label (into the gap the stamp already takes)
    and vertically towards the page's edge (into the inset), so it covers no more of the
    page's content; the symbol moves 2 modules towards the label and 2 towards that edge.
    """
    from pypdf.generic import DictionaryObject, NameObject, StreamObject

    side, modules = qr_modules(url)
    size = placement.height
    module = size / (side + 2 * QUIET_MODULES[1])
    grow = 2 * (QUIET_MODULES[version] - QUIET_MODULES[1]) * module
    white_x = placement.qr_x - (grow if placement.grow[0] < 0 else 0.0)
    white_y = -grow if placement.grow[1] < 0 else 0.0
    white = size + grow
    quiet = QUIET_MODULES[version] * module
    bbox = (min(0.0, white_x), white_y, max(placement.width, white_x + white), white_y + white)
    bbox = (bbox[0], min(0.0, bbox[1]), bbox[2], max(placement.height, bbox[3]))
    ops = [
        b"q 1 g %s %s %s %s re f Q" % (_num(white_x), _num(white_y), _num(white), _num(white)),
        b"q 0 g %s 0 0 %s %s %s cm"
        % (_num(module), _num(module), _num(white_x + quiet), _num(white_y + quiet)),
        qr_path(side, modules),
        b"f Q",
    ]
    if placement.lines:
        ops.append(b"BT 0 g /F0 %s Tf" % _num(placement.font_size))
        for x, baseline, text in placement.lines:
            glyphs = text.encode("utf-16-be").hex().encode("ascii")
            ops.append(b"1 0 0 1 %s %s Tm <%s> Tj" % (_num(x), _num(baseline), glyphs))
        ops.append(b"ET")
    form = StreamObject()
    form.set_data(zlib.compress(b"\n".join(ops), 6))
    form.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/BBox"): numbers_array(bbox),
            NameObject("/Matrix"): numbers_array(placement.matrix),
            NameObject("/Resources"): DictionaryObject(
                {NameObject("/Font"): DictionaryObject({NameObject("/F0"): font_ref})}
            ),
            NameObject("/Filter"): NameObject("/FlateDecode"),
        }
    )
    return form, bbox


def display_area(placement: Placement, bbox: Rect) -> Rect:
    """The form's `bbox` on the page as displayed: (left, top, right, bottom) in user units
    from the visible area's top-left corner (the form is placed without scaling)."""
    left, top, right, bottom = placement.display
    return (
        left + bbox[0],
        top - (bbox[3] - placement.height),
        right + (bbox[2] - placement.width),
        bottom - bbox[1],
    )


def link_annotation(
    url: str, label: str, name: str, placement: Placement, page_ref: IndirectObject
) -> DictionaryObject:
    """A printable, borderless /URI link over the code, named `name` (its /NM), with the
    label as its description for screen readers."""
    from pypdf.generic import DictionaryObject, NameObject, NumberObject, create_string_object

    return DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): numbers_array(placement.qr_rect()),
            NameObject("/Border"): numbers_array([0, 0, 0]),
            NameObject("/F"): NumberObject(4),  # Print
            NameObject("/NM"): create_string_object(name),
            NameObject("/Contents"): create_string_object(label),
            NameObject("/P"): page_ref,
            NameObject("/A"): DictionaryObject(
                {
                    NameObject("/S"): NameObject("/URI"),
                    NameObject("/URI"): create_string_object(url),
                }
            ),
        }
    )


def numbers_array(values: Sequence[float]) -> ArrayObject:
    """A PDF array of numbers, integers where exact, else rounded to 4 decimals."""
    from pypdf.generic import ArrayObject, FloatObject, NumberObject

    return ArrayObject(
        NumberObject(int(v)) if float(v).is_integer() else FloatObject(round(v, 4)) for v in values
    )


def _num(value: float) -> bytes:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return b"0" if text in ("", "-0") else text.encode("ascii")


def _apply(m: Matrix, u: float, v: float) -> tuple[float, float]:
    return m[0] * u + m[2] * v + m[4], m[1] * u + m[3] * v + m[5]


def _detached(obj: Any) -> Any:
    """A deep copy of a small acyclic object with every indirect reference resolved."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    if isinstance(obj, IndirectObject):
        return _detached(obj.get_object())
    if isinstance(obj, DictionaryObject):
        return DictionaryObject({key: _detached(value) for key, value in obj.items()})
    if isinstance(obj, ArrayObject):
        return ArrayObject(_detached(v) for v in obj)
    return obj
