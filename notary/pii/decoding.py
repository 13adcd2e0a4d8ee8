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
        return Decoded(data.decode(codec), codec, bom)
    except UnicodeDecodeError:
        raise UnreadableDocument(f"the text is not valid {codec}") from None


def decode_text(data: bytes, charset: str | None) -> Decoded:
    """Plain text: BOM, else the declared charset, else UTF-8, else GB18030."""
    body, codec, bom = strip_bom(data)
    if codec:
        return _decode(body, codec, bom)
    if charset:
        return _decode(body, _codec(charset), b"")
    for candidate in ("utf-8", "gb18030"):
        try:
            return Decoded(body.decode(candidate), candidate, b"")
        except UnicodeDecodeError:
            continue
    raise UnreadableDocument("the text is neither UTF-8 nor GB18030")


_XML_DECL_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def decode_xml(data: bytes) -> Decoded:
    """XML: BOM, else the encoding in the XML declaration, else UTF-8."""
    body, codec, bom = strip_bom(data)
    if codec:
        return _decode(body, codec, bom)
    declared = _XML_DECL_ENCODING.match(body[:256])
    return _decode(body, _codec(declared.group(1).decode("ascii")) if declared else "utf-8", b"")
