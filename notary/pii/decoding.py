"""Bytes to text and back, keeping the encoding (UTF-8, GB18030, UTF-16) and any BOM."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from notary.pii.model import UnreadableDocument

_GB_ALIASES = frozenset({"gb2312", "gbk", "cp936", "x-gbk", "gb_2312-80", "euc-cn", "gb18030"})


@dataclass(frozen=True, slots=True)
class Decoded:
    """Decoded text and how to turn an edited copy back into bytes of the same encoding."""

    text: str
    codec: str
    bom: bytes

    def encode(self, text: str) -> bytes:
        return self.bom + text.encode(self.codec)


def _codec(name: str) -> str:
    name = name.strip().lower()
    if name in _GB_ALIASES:
        return "gb18030"  # a superset of GB2312 and GBK, byte for byte
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise UnreadableDocument(f"unknown text encoding {name[:40]!r}") from None


def strip_bom(data: bytes) -> tuple[bytes, str | None, bytes]:
    """(`data` without its BOM, the codec the BOM names or None, the BOM itself)."""
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :], codec, bom
    return data, None, b""


def _decode(data: bytes, codec: str, bom: bytes) -> Decoded:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        raise UnreadableDocument(f"the text is not valid {codec}") from None
    if "\x00" in text:
        # No text has NULs; UTF-16 read as UTF-8 has one beside every digit, which would
        # hide ID numbers from the scan.
        raise UnreadableDocument(
            f"the text read as {codec} contains NUL characters (UTF-16 needs a BOM "
            "or a declared charset)"
        )
    return Decoded(text, codec, bom)


def utf16_without_bom(body: bytes) -> str | None:
    """The UTF-16 byte order of a BOM-less text, told by where its NUL bytes fall (the
    high byte of every ASCII character, digits included), else None."""
    if len(body) % 2 or b"\x00" not in body:
        return None
    high_odd, high_even = body[1::2].count(0), body[0::2].count(0)
    if high_odd > high_even:
        return "utf-16-le"
    if high_even > high_odd:
        return "utf-16-be"
    return None


def decode_text(data: bytes, charset: str | None) -> Decoded:
    """Plain text: BOM, else the declared charset, else UTF-16 told by its NUL bytes, else
    UTF-8, else GB18030. Text with NUL characters is refused whatever its encoding."""
    body, codec, bom = strip_bom(data)
    if codec:
        return _decode(body, codec, bom)
    if charset:
        return _decode(body, _codec(charset), b"")
    if codec := utf16_without_bom(body):
        return _decode(body, codec, b"")
    for candidate in ("utf-8", "gb18030"):
        try:
            body.decode(candidate)
        except UnicodeDecodeError:
            continue
        return _decode(body, candidate, b"")
    raise UnreadableDocument("the text is neither UTF-8 nor GB18030")


_XML_DECL_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def decode_xml(data: bytes) -> Decoded:
    """XML: BOM, else the encoding in the XML declaration, else UTF-8."""
    body, codec, bom = strip_bom(data)
    if codec:
        return _decode(body, codec, bom)
    declared = _XML_DECL_ENCODING.match(body[:256])
    return _decode(body, _codec(declared.group(1).decode("ascii")) if declared else "utf-8", b"")
