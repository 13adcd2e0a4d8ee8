"""Reading the PDF a stamp is made on or read from: pages vetted, markers parsed, repairs refused.

`open_pdf` opens an original and vets every page within an entry budget
(`notary.pdf.bounds.EntryBudget`), refusing what pypdf would have to repair; `parse_marker`
reads a stamp's marker line; `stamp_link_url` reads a page's stamp link. `notary.pdf.stamp`
builds and checks stamps on top of these.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from notary.errors import InvalidInput
from notary.pdf.bounds import EntryBudget, PdfTooLarge
from notary.pdf.increment import last_xref
from notary.pdf.layout import CORNERS, Corner

if TYPE_CHECKING:
    from pypdf import PageObject, PdfReader
    from pypdf.generic import DictionaryObject, IndirectObject

STAMP_VERSIONS = (1, 2)
"""Every format a stamp can be made and checked in; older ones stay rebuildable."""
MARKER_PREFIX = b"\n%DisclosureNotaryStamp/"
"""How the stamp's update begins, at byte offset = the original's length; the format
version and a space follow."""
ANNOTATION_NAME_PREFIX = "DisclosureNotaryStamp"
"""The `/NM` of every link annotation the stamp adds starts with this."""
MAX_INPUT_BYTES = 512 * 1024 * 1024

_REPAIR = re.compile(
    r"repair|rebuild|not defined|startxref|root|xref|eof marker|object stream|"
    r"can ?not be read|invalid object|wrong pointing|not zero-indexed",
    re.IGNORECASE,
)


class PdfRejected(InvalidInput):
    """A file that cannot be stamped or read as stamped: not a PDF, damaged, encrypted,
    already stamped, or (when reading) not stamped at all."""


class Page(NamedTuple):
    ref: IndirectObject
    dictionary: PageObject
    box: tuple[float, float, float, float]  # visible area: CropBox ∩ MediaBox
    rotate: int  # 0, 90, 180 or 270
    user_unit: float
    contents: list[Any]
    resources: DictionaryObject
    xobjects: DictionaryObject | None  # the page's /XObject dictionary, resolved
    xobjects_direct: bool  # whether it is written inside /Resources (not a reference)
    annots: list[Any]


class Doc(NamedTuple):
    trailer: DictionaryObject
    startxref: int
    xref_stream: bool
    next_id: int
    pages: list[Page]


def as_bytes(data: object) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    raise InvalidInput(f"expected PDF bytes, not {type(data).__name__}")


class Marker(NamedTuple):
    version: int
    sha256: str
    size: int  # bytes of the marker line, its leading and final newline included
    corner: Corner


def parse_marker(data: bytes, pos: int) -> Marker | None:
    """The marker line starting at `pos`, if it is one of a known version, written exactly
    as that version writes it, and declares exactly `pos` as the original's length."""
    end = data.find(b"\n", pos + 1)
    if end == -1 or end - pos > 240:
        return None
    head, _, rest = data[pos + len(MARKER_PREFIX) : end].partition(b" ")
    version = {b"%d" % v: v for v in STAMP_VERSIONS}.get(head)
    if version is None:
        return None
    fields = rest.split(b" ")
    if len(fields) != (2 if version == 1 else 3):
        return None
    length, digest = fields[0], fields[1]
    if not (length.startswith(b"original-length=") and digest.startswith(b"original-sha256=")):
        return None
    length, digest = length[16:], digest[16:]
    if not length.isdigit() or length != b"%d" % pos or len(digest) != 64:
        return None
    if digest.strip(b"0123456789abcdef"):
        return None
    corner = "bottom-right"
    if version >= 2:
        corner = fields[2].removeprefix(b"corner=").decode("ascii", "replace")
        if not fields[2].startswith(b"corner=") or corner not in CORNERS:
            return None
    return Marker(version, digest.decode("ascii"), end + 1 - pos, corner)  # type: ignore[arg-type]


def open_reader(data: bytes) -> PdfReader:
    from pypdf import PdfReader

    try:
        return PdfReader(io.BytesIO(data), strict=False)
    except Exception as exc:  # pypdf raises many types on hostile input
        raise PdfRejected(f"damaged PDF: {exc}") from exc


def open_pdf(original: object, *, stamped: Callable[[bytes], bool]) -> Doc:
    """Parse and vet the original; raise `PdfRejected` for anything we will not stamp
    (including a file that `stamped` says carries a stamp already)."""
    data = as_bytes(original)
    if not data.startswith(b"%PDF-"):
        raise PdfRejected("not a PDF: the file does not start with %PDF-")
    if len(data) > MAX_INPUT_BYTES:
        raise PdfRejected(f"the PDF is larger than {MAX_INPUT_BYTES} bytes")
    xref = last_xref(data)
    if xref is None:
        raise PdfRejected(
            "damaged or truncated PDF: it does not end with startxref and %%EOF pointing "
            "at a cross-reference section"
        )
    if stamped(data):
        raise PdfRejected("the PDF is already stamped; stamp the original instead")
    with _PypdfRepairs() as repairs:
        reader = open_reader(data)
        try:
            if reader.is_encrypted:
                raise PdfRejected("the PDF is encrypted; publish an unencrypted file")
            budget, vetted = EntryBudget(), set[int]()
            pages = [read_page(page, budget, vetted) for page in reader.pages]
            trailer = reader.trailer
            root = trailer.raw_get("/Root").get_object()
            if root.get("/Type") != "/Catalog" or "/Pages" not in root:
                raise PdfRejected("damaged PDF: /Root is not a catalog with a page tree")
            next_id = next_object_id(reader)
        except PdfRejected:
            raise
        except PdfTooLarge as exc:
            raise PdfRejected(str(exc)) from None
        except Exception as exc:  # any malformed structure in an untrusted file
            raise PdfRejected(f"damaged PDF: {exc}") from exc
    if repairs.messages:
        raise PdfRejected(f"damaged PDF: {repairs.messages[0]} (re-save it and try again)")
    if not pages:
        raise PdfRejected("the PDF has no pages")
    refs = {(p.ref.idnum, p.ref.generation) for p in pages}
    if len(refs) != len(pages):
        raise PdfRejected("damaged PDF: the page tree lists the same page twice")
    return Doc(trailer, xref[0], xref[1], next_id, pages)


class _PypdfRepairs(logging.Handler):
    """Collects, for the current thread, pypdf's warnings that it had to repair the file's
    structure (cross-reference, trailer, object numbering). Stamping on top of a repaired
    structure would chain the update to a broken one, so such files are refused."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self._thread = threading.get_ident()
        self._logger = logging.getLogger("pypdf")
        self._level = self._logger.level

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.thread == self._thread and _REPAIR.search(message):
            self.messages.append(message)

    def __enter__(self) -> _PypdfRepairs:
        self._logger.addHandler(self)
        if not self._logger.isEnabledFor(logging.WARNING):
            self._logger.setLevel(logging.WARNING)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)


def read_page(page: PageObject, budget: EntryBudget, vetted: set[int]) -> Page:
    """The page's parts the stamp uses. Every container's length is taken from `budget`
    before it is walked or copied, and an `/Annots` array shared with a page already read
    (`vetted`: their ids) is not walked again."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    ref = page.indirect_reference
    if not isinstance(ref, IndirectObject):
        raise PdfRejected("damaged PDF: a page is not an indirect object")
    media = rect(page.get("/MediaBox"), "MediaBox")
    crop = rect(page.get("/CropBox"), "CropBox") if "/CropBox" in page else media
    box = (max(media[0], crop[0]), max(media[1], crop[1]))
    box += (min(media[2], crop[2]), min(media[3], crop[3]))
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        raise PdfRejected("damaged PDF: a page has an empty visible area")
    rotate = page.get("/Rotate", 0)
    if isinstance(rotate, bool) or not isinstance(rotate, int) or rotate % 90:
        raise PdfRejected(f"damaged PDF: /Rotate {rotate!r} is not a multiple of 90")
    user_unit = float(page.get("/UserUnit", 1))
    if not 0.01 <= user_unit <= 75_000:
        raise PdfRejected("damaged PDF: /UserUnit out of range")

    contents_raw = page.raw_get("/Contents") if "/Contents" in page else None
    contents_target = contents_raw.get_object() if contents_raw is not None else None
    resources = page.get("/Resources")
    resources = resources.get_object() if resources is not None else None
    if not isinstance(resources, DictionaryObject):
        resources = DictionaryObject()
    raw_xobjects = resources.get("/XObject")  # dict.get: a reference stays a reference
    xobjects = raw_xobjects.get_object() if raw_xobjects is not None else None
    if not isinstance(xobjects, DictionaryObject):
        xobjects = None
    annots_target = page.raw_get("/Annots").get_object() if "/Annots" in page else None
    if not isinstance(annots_target, ArrayObject):
        annots_target = None
    budget.take(
        len(page)
        + len(resources)
        + len(xobjects or ())
        + (len(contents_target) if isinstance(contents_target, ArrayObject) else 1)
        + len(annots_target or ())
    )
    contents: list[Any] = []
    if isinstance(contents_target, ArrayObject):
        contents = list(contents_target)
    elif isinstance(contents_raw, IndirectObject):
        contents = [contents_raw]
    annots: list[Any] = list(annots_target or ())
    if annots_target is not None and id(annots_target) not in vetted:
        vetted.add(id(annots_target))  # pypdf resolves a shared array to one object
        for annot in annots:
            annot_dict = annot.get_object()
            name = annot_dict.get("/NM") if isinstance(annot_dict, DictionaryObject) else None
            if isinstance(name, str) and name.startswith(ANNOTATION_NAME_PREFIX):
                raise PdfRejected("the PDF already carries a notary stamp; stamp the original")
    return Page(
        ref=ref,
        dictionary=page,
        box=box,
        rotate=rotate % 360,
        user_unit=user_unit,
        contents=contents,
        resources=resources,
        xobjects=xobjects,
        xobjects_direct=isinstance(raw_xobjects, DictionaryObject),
        annots=annots,
    )


def rect(value: object, name: str) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError) as exc:
        raise PdfRejected(f"damaged PDF: a page has a bad /{name}") from exc
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def next_object_id(reader: PdfReader) -> int:
    candidates = [int(reader.trailer.get("/Size", 0))]
    candidates += [max(table, default=0) + 1 for table in reader.xref.values()]
    candidates.append(max(reader.xref_objStm, default=0) + 1)
    return max(candidates)


def stamp_link_url(page: PageObject, budget: EntryBudget) -> str | None:
    annots = page.get("/Annots")
    items = annots.get_object() if annots is not None else ()
    if not isinstance(items, list):  # pypdf's ArrayObject is a list
        items = ()
    budget.take(len(items))  # before the walk: pages may share one huge array
    for item in items:
        annot = item.get_object()
        name = annot.get("/NM")
        if (
            annot.get("/Subtype") == "/Link"
            and isinstance(name, str)
            and name.startswith(ANNOTATION_NAME_PREFIX)
        ):
            uri = annot["/A"]["/URI"]
            return uri if isinstance(uri, str) else bytes(uri).decode("ascii")
    return None
