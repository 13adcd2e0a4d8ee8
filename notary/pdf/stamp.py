"""Stamp a QR code and a short bilingual line on every page of a PDF, as an incremental update.

The original bytes stay a byte-for-byte prefix of the stamped file, so the content hash on
chain (SHA-256 of the original) can be checked from a stamped copy: `recover_original`
cuts it back to the original. The update (docs/stamped-pdf.md) starts at byte offset L,
the original's length, with one comment line (format version 2; version 1 lacks `corner`)

    \\n%DisclosureNotaryStamp/2 original-length=<L> original-sha256=<64 hex> corner=<c>\\n

followed by the new and replaced objects, a cross-reference section whose /Prev is the
original's startxref, and %%EOF.

Per page the update adds a Form XObject with the code and label (`notary.pdf.layout`),
a link annotation over the code (`/URI` = the verify URL: clickable on screen, read back by
`read_stamp_urls`), and the page dictionary again with its content wrapped as
`q <original> Q <stamp>`, so the original's graphics state cannot leak into the stamp.
Nothing else of the original is rewritten, so earlier updates, form fields and annotations
keep working.

Stamping is deterministic, so a verifier can check a stamp by making it again
(`check_stamp`): recover the original, read each page's URL from its link, stamp the
original with those URLs and the marker's version, and require the same bytes and the
one corner the stamper uses (`STAMP_CORNER`).
Whatever the update draws or links is then exactly what the stamper draws for those URLs.

Reading and vetting the original (pages, markers, links) is `notary.pdf.original`.

Pure: no web3, database or web framework; the only input is the bytes given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from notary.errors import InvalidInput
from notary.formats.qr_payload import PAGES_MAX, InvalidPayload, parse_verify_url
from notary.pdf import layout
from notary.pdf.bounds import EntryBudget, PdfTooLarge
from notary.pdf.increment import Increment, chained_update_end
from notary.pdf.layout import CORNERS, Corner, StampStyle
from notary.pdf.original import (
    ANNOTATION_NAME_PREFIX,
    MARKER_PREFIX,
    STAMP_VERSIONS,
    Page,
    PdfRejected,
    as_bytes,
    open_pdf,
    open_reader,
    parse_marker,
    stamp_link_url,
)

if TYPE_CHECKING:
    from pypdf.generic import DictionaryObject, IndirectObject, StreamObject

__all__ = [
    "STAMP_CORNER",
    "STAMP_VERSION",
    "STAMP_VERSIONS",
    "Corner",
    "PdfRejected",
    "StampCheck",
    "StampMismatch",
    "StampStyle",
    "changed_after_stamping",
    "check_stamp",
    "default_label",
    "is_stamped",
    "read_stamp_urls",
    "recover_original",
    "split_stamped",
    "stamp_pdf",
]

PayloadFn = Callable[[int, int], str]
"""`make_payload(page, pages)` -> the verify URL of page `page` (from 1) of `pages`."""
LabelFn = Callable[[str, int, int], str]
"""`label_fn(url, page, pages)` -> the line printed beside the code."""

STAMP_VERSION = 2
"""The stamp format `stamp_pdf` writes by default (docs/stamped-pdf.md, "Versions")."""
MARKER_TAG = MARKER_PREFIX + b"%d " % STAMP_VERSION
"""The marker's start as the current version writes it."""
TRAILING_WHITESPACE = b"\r\n\t\f\0 "
"""The PDF white-space bytes (ISO 32000-1, 7.2.2), in any number, are all that may follow a
stamp's own update in a stamped copy (mail and web tools append line ends)."""
MAX_PAGES = PAGES_MAX
"""Most pages a stamp has: a verify URL's page count (docs/qr-payload.md). `check_stamp`
refuses a file with more links before rebuilding anything."""
XOBJECT_NAME = "/DisclosureNotaryStamp"
STAMP_CORNER: Corner = "bottom-right"
"""The corner every checkable stamp sits in. The corner is not the stamp holder's choice: a
stamp is made again to be checked, and a stamp made again in another corner would put its
white square over whatever the original shows there (a "VOID" note, a reference number)
and still rebuild byte for byte. So `check_stamp` refuses any other corner."""
MAX_URL_LEN = 2048
DEFAULT_STYLE = StampStyle()

_ARTIFACT = b"/Artifact <</Type /Pagination /Subtype /Footer>> BDC "


class StampMismatch(PdfRejected):
    """A stamped file whose part before the stamp no longer matches what the stamp recorded:
    it was altered after stamping (for a verifier: tampered)."""


def default_label(url: str, page: int, pages: int) -> str:
    """`扫码验真 Verify at <host> · 记录 <short id> v<n> · 第 p/n 页 page p/n`.

    Falls back to host and page alone when `url` is not a verify URL of this project.
    """
    where = f"第 {page}/{pages} 页 page {page}/{pages}"
    try:
        link = parse_verify_url(url)
    except InvalidPayload:
        host = url.split("://", 1)[-1].split("/", 1)[0]
        return f"扫码验真 Verify at {host} · {where}"
    record = f"记录 {link.payload.short_id} v{link.payload.version}"
    return f"扫码验真 Verify at {link.host} · {record} · {where}"


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


def stamp_pdf(
    original: bytes,
    *,
    make_payload: PayloadFn,
    corner: Corner = STAMP_CORNER,
    label_fn: LabelFn = default_label,
    style: StampStyle = DEFAULT_STYLE,
    version: int = STAMP_VERSION,
) -> bytes:
    """`original` followed by an incremental update that puts a code on every page.

    `make_payload(page, pages)` gives each page's verify URL (pages counted from 1) and
    `label_fn(url, page, pages)` the line beside it; `version` is the stamp format (older
    ones only to check old stamps). Only stamps with the default corner, label and style can
    be checked (`check_stamp`); the corner is recorded in the marker. Raises `PdfRejected` for
    input that is not an intact, unencrypted PDF or is already stamped, and `InvalidInput`
    for bad arguments; nothing is produced in either case.
    """
    return _stamp(original, make_payload, corner, label_fn, style, version).data


class _Built(NamedTuple):
    data: bytes
    urls: list[str]
    areas: list[tuple[float, float, float, float]]
    hidden_pages: list[int]  # pages whose own XObjects a version 1 stamp drops


def _stamp(
    original: bytes,
    make_payload: PayloadFn,
    corner: Corner,
    label_fn: LabelFn,
    style: StampStyle,
    version: int,
) -> _Built:
    """`stamp_pdf`, also returning what a check needs: URLs, stamp areas, lossy pages."""
    if isinstance(version, bool) or version not in STAMP_VERSIONS:
        raise InvalidInput(f"stamp version must be one of {STAMP_VERSIONS}, not {version!r}")
    if corner not in CORNERS:
        raise InvalidInput(f"corner must be one of {', '.join(CORNERS)}, not {corner!r}")
    if not callable(make_payload) or not callable(label_fn):
        raise InvalidInput("make_payload and label_fn must be callables")
    if not isinstance(style, StampStyle):
        raise InvalidInput("style must be a StampStyle")
    doc = open_pdf(original, stamped=is_stamped)
    font = layout.cid_font()
    update = Increment(doc.next_id)
    font_ref = update.add(font.dictionary)
    open_ref = update.add(_raw_stream(b"q\n"))
    close_ref = update.add(_raw_stream(_close_ops(XOBJECT_NAME)))
    count = len(doc.pages)
    urls: list[str] = []
    areas: list[tuple[float, float, float, float]] = []
    hidden: list[int] = []
    for number, page in enumerate(doc.pages, start=1):
        url = make_payload(number, count)
        _check_url(url, number)
        label = label_fn(url, number, count)
        if not isinstance(label, str):
            raise InvalidInput(f"label_fn returned {type(label).__name__}, not text")
        frame = layout.frame(page.box, page.rotate, page.user_unit, style)
        lines, size = layout.layout_label(label, frame, font.width)
        placement = layout.place(frame, corner, lines, size, font.width)
        form, bbox = layout.stamp_form(url, placement, font_ref, version)
        form_ref = update.add(form)
        link = layout.link_annotation(
            url, label, f"{ANNOTATION_NAME_PREFIX} p{number}", placement, page.ref
        )
        xobjects = _kept_xobjects(page, version)
        if version == 1 and page.xobjects and not xobjects:
            hidden.append(number)
        name, suffix_ref = XOBJECT_NAME, close_ref
        if name in xobjects:  # the page already uses our name: give it its own
            name = _unique_name(XOBJECT_NAME, frozenset(xobjects))
            suffix_ref = update.add(_raw_stream(_close_ops(name)))
        new_page = _stamped_page(
            page, xobjects, open_ref, suffix_ref, name, form_ref, update.add(link)
        )
        update.replace(page.ref, new_page)
        urls.append(url)
        areas.append(layout.display_area(placement, bbox))
    marker = _marker(version, original, corner)
    stamped = update.write(
        original,
        trailer=doc.trailer,
        startxref=doc.startxref,
        xref_stream=doc.xref_stream,
        preamble=marker,
        id_seed="\n".join(urls).encode("ascii"),
    )
    if recover_original(stamped) != original:  # the recovery contract, checked every time
        raise AssertionError("stamp self-check failed: the original is not recoverable")
    return _Built(stamped, urls, areas, hidden)


def _marker(version: int, original: bytes, corner: Corner) -> bytes:
    line = MARKER_PREFIX + b"%d original-length=%d original-sha256=%s" % (
        version,
        len(original),
        hashlib.sha256(original).hexdigest().encode("ascii"),
    )
    if version >= 2:
        line += b" corner=" + corner.encode("ascii")
    return line + b"\n"


MAX_MARKERS_TRIED = 4
"""Marker lines checked at most, from the end. A stamped file has one; the bound keeps a
file stuffed with marker lines from costing a scan of the whole file per line."""


class _Located(NamedTuple):
    length: int  # of the original
    end: int  # of the stamp's own update (after its %%EOF line)
    version: int
    corner: Corner


def _locate_stamp(data: bytes) -> _Located:
    """Where the original and the stamp's own update end, and the marker's fields.

    Finds the stamp's marker line and checks that it sits at exactly the offset it
    declares, that the stamp's cross-reference section chains (/Prev) to the startxref
    that ends the bytes before it, and that those bytes have the SHA-256 the marker
    declares. Raises `PdfRejected` for a file without a stamp and `StampMismatch` when
    the part before the stamp was altered.
    """
    view = memoryview(data)
    tried = 0
    pos = data.rfind(MARKER_PREFIX)
    while pos != -1 and tried < MAX_MARKERS_TRIED:
        declared = parse_marker(data, pos)
        if declared is not None:
            tried += 1
            prefix = view[:pos]
            end = chained_update_end(data, pos + declared.size, prefix)
            if end is not None:
                if hashlib.sha256(prefix).hexdigest() != declared.sha256:
                    raise StampMismatch(
                        "the stamped file was altered: the part before the stamp no longer "
                        "has the SHA-256 the stamp recorded"
                    )
                return _Located(pos, end, declared.version, declared.corner)
        pos = data.rfind(MARKER_PREFIX, 0, pos)
    if tried:
        raise StampMismatch("damaged stamp: its update does not continue an intact original")
    raise PdfRejected("not a stamped PDF: no notary stamp found")


def recover_original(stamped: bytes) -> bytes:
    """The original bytes of a stamped PDF: what the chain's content hash is of.

    Raises `PdfRejected` for a file without a stamp and `StampMismatch` when the part
    before the stamp was altered (see `_locate_stamp`).
    """
    data = as_bytes(stamped)
    return data[: _locate_stamp(data).length]


def split_stamped(stamped: bytes) -> tuple[bytes, bool]:
    """(the original, whether anything but whitespace follows the stamp's own update) in
    one pass: a later incremental update (an annotation, a signature, or new page content
    painted over the original) means the pages a reader shows may not be the published
    ones. Raises as `recover_original` does."""
    data = as_bytes(stamped)
    located = _locate_stamp(data)
    return data[: located.length], bool(data[located.end :].strip(TRAILING_WHITESPACE))


class StampCheck(NamedTuple):
    """What `check_stamp` established about a stamped PDF."""

    original: bytes
    urls: list[str]  # page i's verify URL at index i - 1: what its drawn code holds
    version: int  # the stamp format
    corner: Corner
    areas: list[tuple[float, float, float, float]]
    # per page, the stamp's rectangle on the page as displayed, in user units from the
    # visible area's top-left corner (left, top, right, bottom): the only place it draws


def check_stamp(stamped: bytes) -> StampCheck:
    """Check a stamped PDF completely: its stamp must be exactly the one the stamper makes.

    Recovers the original (as `recover_original`), refuses anything but white space after
    the stamp's own update, reads each page's URL from its link, stamps the original again
    with those URLs, the marker's version and corner and the default label and style, and
    requires the stamped file to be those bytes followed only by `TRAILING_WHITESPACE`.
    The marker's corner must be `STAMP_CORNER`. So the codes drawn on the pages are the
    links' URLs, and nothing else is drawn, hidden or added. A version 1 stamp that
    dropped a page's own images or forms (its `/XObject` dictionary was an indirect
    object) is refused too: the copy does not show what the original shows.

    Costs one parse and one stamp of the file: linear in its size, at most `MAX_PAGES`
    pages. Raises `PdfRejected` for a file without a stamp and `StampMismatch` (a
    verifier's "tampered") with the reason for any difference.
    """
    data = as_bytes(stamped)
    located = _locate_stamp(data)
    if data[located.end :].strip(TRAILING_WHITESPACE):
        raise StampMismatch(
            "the stamped file was changed after stamping (a later update can alter what its "
            "pages show); ask the office for the published file"
        )
    if located.corner != STAMP_CORNER:
        raise StampMismatch(
            f"the stamp sits in the {located.corner} corner, but stamps are made in the "
            f"{STAMP_CORNER} corner: a stamp moved elsewhere can cover what the page shows"
        )
    original = data[: located.length]
    urls = _links_for_rebuild(data[: located.end])
    try:
        built = _stamp(
            original,
            lambda page, pages: urls[page - 1] if pages == len(urls) else "",
            located.corner,
            default_label,
            DEFAULT_STYLE,
            located.version,
        )
    except InvalidInput as exc:  # PdfRejected included: the original or a link is unusable
        raise StampMismatch(f"the stamp cannot be made again from its links: {exc}") from None
    if built.urls != urls:
        raise StampMismatch("the stamp's links do not match the original's pages")
    rebuilt = built.data
    if data[: len(rebuilt)] != rebuilt or data[len(rebuilt) :].strip(TRAILING_WHITESPACE):
        at = _first_difference(data, rebuilt)
        raise StampMismatch(
            f"the stamp update is not the one the stamper makes for its links (first "
            f"difference at byte {at}): its pages may show other content or other codes"
        )
    if built.hidden_pages:
        raise StampMismatch(
            f"stamped by stamp format version 1, which hides the images and forms of page "
            f"{built.hidden_pages[0]}: the copy does not show what the original shows; ask "
            "the office for a new stamped copy"
        )
    return StampCheck(original, urls, located.version, located.corner, built.areas)


def _links_for_rebuild(stamp_bytes: bytes) -> list[str]:
    """Each page's stamp link URL, as `read_stamp_urls`, as the rebuild's input (a lie in
    them only makes the rebuild differ)."""
    try:
        urls = read_stamp_urls(stamp_bytes)
    except StampMismatch:
        raise
    except PdfRejected as exc:
        raise StampMismatch(f"the stamp's links cannot be read: {exc}") from None
    if len(urls) > MAX_PAGES:
        raise StampMismatch(f"the stamped file has more than {MAX_PAGES} pages")
    return urls


def _first_difference(data: bytes, rebuilt: bytes) -> int:
    for at, (a, b) in enumerate(zip(data, rebuilt, strict=False)):
        if a != b:
            return at
    return min(len(data), len(rebuilt))


def changed_after_stamping(stamped: bytes) -> bool:
    """Whether the stamped file was updated after stamping (see `split_stamped`)."""
    return split_stamped(stamped)[1]


def read_stamp_urls(stamped: bytes) -> list[str]:
    """The verify URL stamped on each page, in page order, read from the stamp's links.

    Raises `PdfRejected` if the file is not a stamped PDF or a page lacks its stamp link.
    """
    data = as_bytes(stamped)
    recover_original(data)
    reader = open_reader(data)
    urls: list[str] = []
    budget = EntryBudget()
    try:
        for number, page in enumerate(reader.pages, start=1):
            url = stamp_link_url(page, budget)
            if url is None:
                raise PdfRejected(f"page {number} carries no notary stamp link")
            urls.append(url)
    except PdfRejected:
        raise
    except PdfTooLarge as exc:
        raise PdfRejected(str(exc)) from None
    except Exception as exc:  # any malformed structure in an untrusted file
        raise PdfRejected(f"damaged PDF: {exc}") from exc
    return urls


def is_stamped(data: bytes) -> bool:
    """Whether `data` carries an intact notary stamp (cheap: no PDF parsing)."""
    try:
        recover_original(data)
    except PdfRejected:
        return False
    return True


# ---------------------------------------------------------------------------------------
# Building the page
# ---------------------------------------------------------------------------------------


def _kept_xobjects(page: Page, version: int) -> DictionaryObject:
    """The entries of the page's /XObject dictionary that its stamped copy keeps: all of
    them. Version 1 read only a dictionary written inside /Resources and lost one given by
    reference (as Ghostscript writes them); it stays so to rebuild old stamps exactly."""
    from pypdf.generic import DictionaryObject

    if page.xobjects is None or (version == 1 and not page.xobjects_direct):
        return DictionaryObject()
    return page.xobjects


def _stamped_page(
    page: Page,
    xobjects: DictionaryObject,
    open_ref: IndirectObject,
    suffix_ref: IndirectObject,
    name: str,
    form_ref: IndirectObject,
    link_ref: IndirectObject,
) -> DictionaryObject:
    """The page dictionary again: wrapped content, the form as a resource, the link added.

    Inherited attributes (pypdf copies them onto the page) are written on the page itself,
    which means the same; resources and annotation arrays are copied, never edited in
    place, since other pages may share them.
    """
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject

    new = DictionaryObject(page.dictionary.items())  # raw values: references stay references
    new[NameObject("/Contents")] = ArrayObject([open_ref, *page.contents, suffix_ref])
    resources = DictionaryObject(page.resources.items())
    xobjects = DictionaryObject(xobjects.items())  # raw values: references stay references
    xobjects[NameObject(name)] = form_ref
    resources[NameObject("/XObject")] = xobjects
    new[NameObject("/Resources")] = resources
    new[NameObject("/Annots")] = ArrayObject([*page.annots, link_ref])
    return new


def _raw_stream(data: bytes) -> StreamObject:
    from pypdf.generic import StreamObject

    stream = StreamObject()
    stream.set_data(data)
    return stream


def _close_ops(name: str) -> bytes:
    """Content appended to a page: restore the state before the original, draw the stamp
    (marked as a pagination artifact, so tagged-PDF readers skip it)."""
    return b"\nQ\nq " + _ARTIFACT + name.encode("ascii") + b" Do EMC Q\n"


def _unique_name(base: str, taken: frozenset[str]) -> str:
    n = 1
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


def _check_url(url: object, page: int) -> None:
    if not isinstance(url, str) or not url:
        raise InvalidInput(f"make_payload returned {type(url).__name__} for page {page}")
    if len(url) > MAX_URL_LEN or not url.isascii() or any(c.isspace() for c in url):
        raise InvalidInput(f"make_payload returned an unusable URL for page {page}")
