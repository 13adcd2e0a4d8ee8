"""Append an incremental update to a PDF without touching a byte of it (ISO 32000-1, 7.5.6).

An update is: an optional preamble (here, the stamp's marker comment), the new and replaced
objects, a cross-reference section of the same kind as the file's last one (a table, or a
stream for files that use cross-reference streams), a trailer carrying the previous
trailer's /Root, /Info and /ID with /Prev pointing at the previous section, and %%EOF.

We write it ourselves rather than through `pypdf.PdfWriter(incremental=True)`, which loads
and re-hashes every object of the document and always writes a cross-reference stream:
this appender touches only what it is given and puts the preamble at a known offset.
pypdf's object classes still do the serialising.
"""

from __future__ import annotations

import hashlib
import io
import re
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pypdf.generic import DictionaryObject, IndirectObject, PdfObject

TAIL = re.compile(rb"startxref\s+(\d+)\s+%%EOF[\r\n\t\f\0 ]*\Z")
"""The end of a PDF: `startxref`, the last section's offset, `%%EOF`, optional EOL bytes."""
UPDATE_END = re.compile(rb"\nstartxref\n(\d+)\n%%EOF\n")
"""How every update written here ends (the offset is that of its cross-reference section)."""
_PREV = re.compile(rb"/Prev (\d+)")
_OBJ_HEAD = re.compile(rb"\d+\s+\d+\s+obj")
_WHITESPACE = b"\r\n\t\f\0 "


def last_xref(data: bytes) -> tuple[int, bool] | None:
    """The offset of `data`'s last cross-reference section and whether it is a stream, or
    None when the file does not end with a startxref that points at one."""
    tail = TAIL.search(data, max(0, len(data) - 1024))
    if tail is None:
        return None
    offset = int(tail.group(1))
    if not 0 < offset < tail.start():
        return None
    head = data[offset : offset + 40].lstrip(_WHITESPACE)
    if head.startswith(b"xref"):
        return offset, False
    if _OBJ_HEAD.match(head):
        return offset, True
    return None


def chained_update_end(data: bytes, update_start: int, prefix: bytes | memoryview) -> int | None:
    """Where the update written at `update_start` of `data` ends (after its `%%EOF`), if it
    has /Prev = `prefix`'s last startxref, i.e. it continues exactly that file; else None."""
    tail = TAIL.search(prefix, max(0, len(prefix) - 1024))
    end = UPDATE_END.search(data, update_start)
    if tail is None or end is None:
        return None
    xref_at = int(end.group(1))
    if not update_start <= xref_at < end.start():
        return None
    prev = _PREV.search(data, xref_at, end.start())
    return end.end() if prev is not None and prev.group(1) == tail.group(1) else None


class Increment:
    """The objects of one update: new ones numbered from `next_id`, and replacements."""

    def __init__(self, next_id: int) -> None:
        self.next_id = next_id
        self.objects: dict[tuple[int, int], PdfObject] = {}

    def add(self, obj: PdfObject) -> IndirectObject:
        """Number `obj` as a new object of the update; return its reference."""
        from pypdf.generic import IndirectObject

        ref = IndirectObject(self.next_id, 0, None)  # type: ignore[arg-type]
        self.objects[(self.next_id, 0)] = obj
        self.next_id += 1
        return ref

    def replace(self, ref: IndirectObject, obj: PdfObject) -> None:
        """Give the existing object `ref` a new value in this update."""
        self.objects[(ref.idnum, ref.generation)] = obj

    def write(
        self,
        original: bytes,
        *,
        trailer: DictionaryObject,
        startxref: int,
        xref_stream: bool,
        preamble: bytes = b"",
        id_seed: bytes = b"",
    ) -> bytes:
        """`original` + `preamble` + this update. `trailer` is the original's (its /Root,
        /Info and the first half of /ID are carried over); `id_seed` feeds the new second
        half of /ID, which the standard asks to change with every update."""
        from pypdf.generic import (
            ArrayObject,
            ByteStringObject,
            DictionaryObject,
            NameObject,
            NumberObject,
        )

        out = io.BytesIO()
        out.write(original)
        out.write(preamble)
        offsets: dict[tuple[int, int], int] = {}
        for key in sorted(self.objects):
            offsets[key] = out.tell()
            out.write(b"%d %d obj\n" % key)
            self.objects[key].write_to_stream(out)
            out.write(b"\nendobj\n")

        new = DictionaryObject()
        for key in ("/Root", "/Info"):
            if key in trailer:
                new[NameObject(key)] = trailer.raw_get(key)
        new[NameObject("/ID")] = ArrayObject(
            [_first_id(trailer, original), ByteStringObject(_digest16(original, id_seed))]
        )
        new[NameObject("/Prev")] = NumberObject(startxref)
        if xref_stream:
            xref_id = self.next_id
            xref_at = out.tell()
            offsets[(xref_id, 0)] = xref_at
            rows, index = _stream_rows(offsets)
            xref = _flate_stream(rows)
            xref.update(new)
            xref[NameObject("/Type")] = NameObject("/XRef")
            xref[NameObject("/Size")] = NumberObject(xref_id + 1)
            xref[NameObject("/W")] = ArrayObject(NumberObject(w) for w in (1, 8, 2))
            xref[NameObject("/Index")] = ArrayObject(NumberObject(i) for i in index)
            out.write(b"%d 0 obj\n" % xref_id)
            xref.write_to_stream(out)
            out.write(b"\nendobj")
        else:
            xref_at = out.tell()
            new[NameObject("/Size")] = NumberObject(self.next_id)
            # Object 0, the head of the free list, opens the section as in a full table;
            # some readers take a section that starts elsewhere for a misnumbered one.
            out.write(b"xref\n0 1\n0000000000 65535 f \n")
            for start, keys in _subsections(offsets):
                out.write(b"%d %d\n" % (start, len(keys)))
                out.writelines(b"%010d %05d n \n" % (offsets[k], k[1]) for k in keys)
            out.write(b"trailer\n")
            new.write_to_stream(out)
        out.write(b"\nstartxref\n%d\n%%%%EOF\n" % xref_at)
        return out.getvalue()


def _first_id(trailer: DictionaryObject, original: bytes) -> PdfObject:
    from pypdf.generic import ByteStringObject

    ids = trailer.get("/ID")
    if isinstance(ids, list) and ids and isinstance(ids[0], str | bytes):
        return ByteStringObject(getattr(ids[0], "original_bytes", ids[0]))
    return ByteStringObject(_digest16(original, b""))


def _digest16(data: bytes, seed: bytes) -> bytes:
    return hashlib.sha256(seed + data).digest()[:16]


def _flate_stream(data: bytes) -> PdfObject:
    from pypdf.generic import NameObject, StreamObject

    stream = StreamObject()
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    stream.set_data(zlib.compress(data))
    return stream


def _subsections(offsets: dict[tuple[int, int], int]) -> list[tuple[int, list[tuple[int, int]]]]:
    """Runs of consecutive object numbers, as a cross-reference section lists them."""
    runs: list[tuple[int, list[tuple[int, int]]]] = []
    for key in sorted(offsets):
        if runs and runs[-1][0] + len(runs[-1][1]) == key[0]:
            runs[-1][1].append(key)
        else:
            runs.append((key[0], [key]))
    return runs


def _stream_rows(offsets: dict[tuple[int, int], int]) -> tuple[bytes, list[int]]:
    """Cross-reference stream rows (type 1, 8-byte offset, 2-byte generation) and /Index."""
    rows = bytearray()
    index: list[int] = []
    for start, keys in _subsections(offsets):
        index += [start, len(keys)]
        for key in keys:
            rows += b"\x01" + offsets[key].to_bytes(8, "big") + key[1].to_bytes(2, "big")
    return bytes(rows), index
