"""XML: parse safely (no DTD entities, no XXE), scan and mask values in place."""

from __future__ import annotations

import pyexpat
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from notary.pii.decoding import decode_xml
from notary.pii.limits import DEFAULT_LIMITS, Deadline, ScanLimits
from notary.pii.model import DocumentTooLarge, Finding, UnreadableDocument, UnsafeXml
from notary.pii.text import mask_text, scan_text

_XML_TOKEN = re.compile(
    r"""
      <!--(?P<comment>.*?)-->
    | <!\[CDATA\[(?P<cdata>.*?)\]\]>
    | <\?(?P<pi>.*?)\?>
    | <!DOCTYPE[^>]*>
    | <(?P<close>/)?(?P<name>[^\s/>]+)(?P<attrs>(?:[^>"']|"[^"]*"|'[^']*')*?)(?P<empty>/)?>
    """,
    re.VERBOSE | re.DOTALL,
)
_XML_ATTR = re.compile(r"""(?P<name>[^\s=]+)\s*=\s*(?P<q>["'])(?P<value>.*?)(?P=q)""", re.DOTALL)
_XML_REF = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|lt|gt|amp|quot|apos);")
_XML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def _xml_unescape(raw: str, *, attribute: bool = False) -> str:
    """The value a parser reports for raw text or a raw attribute value (XML 1.0 2.11, 3.3.3)."""

    def ref(m: re.Match[str]) -> str:
        body = m.group(1)
        if body.startswith("#x"):
            return chr(int(body[2:], 16))
        if body.startswith("#"):
            return chr(int(body[1:]))
        return _XML_NAMED[body]

    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if attribute:  # literal whitespace becomes a space; character references stay as they are
        raw = raw.replace("\t", " ").replace("\n", " ")
    return _XML_REF.sub(ref, raw)


def _xml_escape_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_escape_attr(value: str, quote: str) -> str:
    value = _xml_escape_text(value).replace(quote, "&quot;" if quote == '"' else "&apos;")
    return value.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")


def _refuse(what: str) -> Callable[..., None]:
    def handler(*_args: object) -> None:
        raise UnsafeXml(f"XML {what} are not accepted (they allow XXE and entity expansion)")

    return handler


def check_xml(text: str, limits: ScanLimits = DEFAULT_LIMITS) -> None:
    """Parse `text` once with expat, refusing DTD subsets and entities; raise if malformed.

    Entity declarations only live in a DTD's internal subset or in external DTDs, so a
    DOCTYPE with an internal subset is refused before expat reads it, and nothing external is
    ever loaded: no billion laughs, no quadratic blow-up, no XXE. Elements nested deeper
    than `limits.max_xml_depth` are refused (`DocumentTooLarge`) as the parser meets them.
    """
    depth = 0

    def start(_name: str, _attrs: object) -> None:
        nonlocal depth
        depth += 1
        if depth > limits.max_xml_depth:
            raise DocumentTooLarge(
                f"the XML is nested too deeply (over {limits.max_xml_depth} levels)"
            )

    def end(_name: str) -> None:
        nonlocal depth
        depth -= 1

    def doctype(_name: str, _system: str | None, _public: str | None, internal: int) -> None:
        if internal:
            raise UnsafeXml("XML with an internal DTD subset is not accepted (entity expansion)")

    parser = pyexpat.ParserCreate()
    parser.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = _refuse("entity declarations")
    parser.UnparsedEntityDeclHandler = _refuse("unparsed entities")
    parser.ExternalEntityRefHandler = _refuse("external entities")
    parser.SkippedEntityHandler = _refuse("references to entities declared outside the document")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(text, True)
    except pyexpat.ExpatError as exc:
        raise UnreadableDocument(
            f"malformed XML: {pyexpat.ErrorString(exc.code)} "
            f"at line {exc.lineno}, column {exc.offset}"
        ) from None


@dataclass(frozen=True, slots=True)
class _XmlSegment:
    """A run of the document whose value can hold personal data."""

    start: int  # in the decoded document
    end: int
    location: str
    value: str  # what an XML parser reports for it
    literal: bool  # value == raw text, so masking may edit the raw text in place
    quote: str | None = None  # for attribute values: the quote to escape


def _xml_segments(text: str, deadline: Deadline | None = None) -> Iterator[_XmlSegment]:
    """Text, CDATA, comments, processing instructions and attribute values, in order.

    Each stack entry keeps its element's whole path, so naming a node costs nothing more
    for deep documents (joining the stack per node made nesting quadratic)."""
    stack: list[tuple[str, dict[str, int]]] = [("", {})]

    def path() -> str:
        return stack[-1][0]

    def text_segment(start: int, end: int) -> Iterator[_XmlSegment]:
        raw = text[start:end]
        if raw.strip():
            literal = "&" not in raw and "\r" not in raw
            yield _XmlSegment(start, end, f"{path()}/text()", _xml_unescape(raw), literal)

    last = 0
    for m in _XML_TOKEN.finditer(text):
        if deadline is not None:
            deadline.check()
        yield from text_segment(last, m.start())
        last = m.end()
        if m.group("comment") is not None:
            yield _XmlSegment(*m.span("comment"), f"{path()}/comment()", m["comment"], True)
        elif m.group("cdata") is not None:
            yield _XmlSegment(*m.span("cdata"), f"{path()}/text()", m["cdata"], True)
        elif m.group("pi") is not None:
            pi = f"{path()}/processing-instruction()"
            yield _XmlSegment(*m.span("pi"), pi, m["pi"], True)
        elif m.group("name") is not None and m.group("close"):
            if len(stack) > 1:
                stack.pop()
        elif m.group("name") is not None:
            name = m["name"]
            siblings = stack[-1][1]
            siblings[name] = siblings.get(name, 0) + 1
            step = f"/{name}" if siblings[name] == 1 else f"/{name}[{siblings[name]}]"
            stack.append((path() + step, {}))
            offset = m.start("attrs")
            for a in _XML_ATTR.finditer(m["attrs"]):
                value = _xml_unescape(a["value"], attribute=True)
                yield _XmlSegment(
                    offset + a.start("value"),
                    offset + a.end("value"),
                    f"{path()}/@{a['name']}",
                    value,
                    False,
                    a["q"],
                )
            if m.group("empty"):
                stack.pop()
    yield from text_segment(last, len(text))


def scan_xml(data: bytes, limits: ScanLimits = DEFAULT_LIMITS) -> list[Finding]:
    """Findings in every text node, CDATA section, comment and attribute value."""
    text = decode_xml(data).text
    check_xml(text, limits)
    segments = _xml_segments(text, Deadline(limits))
    return [f for s in segments for f in scan_text(s.value, location=s.location)]


def mask_xml(data: bytes, limits: ScanLimits = DEFAULT_LIMITS) -> bytes:
    """`data` with only the values that hold personal data rewritten, in its encoding."""
    decoded = decode_xml(data)
    text = decoded.text
    check_xml(text, limits)
    parts: list[str] = []
    last = 0
    for segment in _xml_segments(text, Deadline(limits)):
        masked, findings = mask_text(segment.value)
        if not findings:
            continue
        if segment.quote is not None:
            masked = _xml_escape_attr(masked, segment.quote)
        elif not segment.literal:
            masked = _xml_escape_text(masked)
        parts += [text[last : segment.start], masked]
        last = segment.end
    parts.append(text[last:])
    return decoded.encode("".join(parts))
