"""Street-level Chinese addresses: what lies below the community (社区/村) level."""

from __future__ import annotations

import re
from collections.abc import Iterator

from notary.pii.model import Hit, PiiKind

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")

_CN_DIGITS = "一二三四五六七八九十百千零〇两"
# Bounded repeats everywhere: a long run of digits or numerals must not cost n².
_NUM = rf"(?:[0-9]{{1,6}}|[{_CN_DIGITS}]{{1,6}})"
_HOUSE = rf"(?:附?{_NUM}(?:[-之]{_NUM})?(?:号院|号(?![楼房])|弄))"
_BUILDING = rf"(?:[A-Za-z]?{_NUM}[A-Za-z]?(?:号楼|栋|幢|座)|[A-Za-z](?:栋|幢|座))"
_UNIT = rf"(?:{_NUM}单元)"
_FLOOR = rf"(?:{_NUM}(?:层|楼))"
_ROOM = r"(?:[A-Za-z]?[0-9]{1,6}[A-Za-z]?(?:室|号房|房|户))"
_SHORT = r"(?:[0-9]{1,4}-[0-9]{1,4}(?:-[0-9]{1,5})?(?:室|号)?)"  # 3-2-501: building-unit-room
_COMPOUND = rf"(?:[{_CJK}]{{1,10}}?(?:小区|花园|公寓|大厦|家园|苑|新村|山庄|公馆|院))"
_TAIL = rf"(?:-?{_UNIT})?(?:-?{_FLOOR})?(?:-?{_ROOM})?"
# Below the house number: building (+ unit, floor, room), unit (+ …), floor + room.
_STRUCTURED = rf"(?:{_BUILDING}{_TAIL}|{_UNIT}(?:-?{_FLOOR})?(?:-?{_ROOM})?|{_FLOOR}-?{_ROOM})"
_WITHIN = rf"(?:{_STRUCTURED}|{_ROOM}|{_SHORT})"

# Road + house number (+ compound, building, unit, room): 光华路5号院3号楼2单元501室.
_ROAD_RE = re.compile(
    rf"(?<=[{_CJK}])(?:大街|大道|胡同|路|街|巷|弄|道|里)"
    rf"(?:(?:[东西南北中]|{_NUM})段)?{_HOUSE}{{1,3}}(?:{_COMPOUND}?{_WITHIN})?"
)
# Village + (group +) house number: 王家村3组15号.
_VILLAGE_RE = re.compile(rf"(?<=[村屯庄组])(?:{_NUM}(?:组|队|社))?{_HOUSE}(?:{_WITHIN})?")
# Building, unit, floor, room without a road: 阳光花园3栋2单元501室, 永安里社区5号楼3层.
_BUILDING_RE = re.compile(rf"(?<![0-9A-Za-z]){_STRUCTURED}")
# Every match of the three patterns above holds one of these: a house number (号, 弄), a
# building (号楼, 栋, 幢, 座), a unit (单元) or a floor (层, 楼).
ADDRESS_NEEDS = re.compile("[号弄栋幢座单层楼]")
_COMPONENT_RE = re.compile("号楼|栋|幢|座|单元|层|楼|室|号房|房|户")
_STRUCTURE_RE = re.compile("号楼|栋|幢|座|单元")

# Where an administrative unit (community level or above) ends: these are kept.
_ADMIN_END_CHARS = frozenset("省市区县镇乡村旗盟州组")
_ADMIN_END_WORDS = ("街道", "居委会", "村委会", "办事处", "嘎查", "苏木")
_COMPOUND_ENDS = ("小区", "花园", "公寓", "大厦", "家园", "苑", "新村", "山庄", "公馆", "院", "园")
# Characters that never belong to a road or estate name: where a walk back stops.
_STOP_CHARS = frozenset("的在于至到住址为是及与或号")
_NAME_LIMIT = 12


def _is_cjk(ch: str) -> bool:
    return bool(_CJK_RE.match(ch))


def _admin_end_at(text: str, i: int) -> bool:
    """Does an administrative unit (省, 市, 区 … 街道, 社区, 村) end at index `i`?"""
    return text[i] in _ADMIN_END_CHARS or any(text.endswith(w, 0, i + 1) for w in _ADMIN_END_WORDS)


def _name_start(text: str, end: int, *, keep_first: bool) -> int:
    """Start of the road or estate name that ends at `end`, walking back over CJK.

    Stops at anything that is not CJK, at a stop character and where an administrative unit
    ends, so `北京市朝阳区光华路` gives `光华`. With `keep_first` the character just before
    the suffix always belongs to the name (杭州路, 中关村大街).
    """
    i = end
    while i > 0 and end - i < _NAME_LIMIT:
        ch = text[i - 1]
        if not _is_cjk(ch) or ch in _STOP_CHARS:
            break
        if _admin_end_at(text, i - 1) and not (keep_first and i == end):
            break
        i -= 1
    return i


def _admin_prefix(text: str, start: int) -> str:
    """The administrative units right before `start` (省 … 社区/村): kept when masking."""
    i = start
    while i > 0 and start - i < 3 * _NAME_LIMIT and _admin_end_at(text, i - 1):
        j = i - 1
        while j > 0 and (i - 1) - j < 8:
            ch = text[j - 1]
            if not _is_cjk(ch) or ch in _STOP_CHARS or _admin_end_at(text, j - 1):
                break
            j -= 1
        i = j
    return text[i:start]


def _address_hit(text: str, start: int, end: int) -> Hit:
    return Hit(PiiKind.ADDRESS, start, end, f"{_admin_prefix(text, start)}***", "***")


def address_hits(_original: str, normalised: str) -> Iterator[Hit]:
    """Street-level details (road + number, village + number, building/unit/room).

    Each hit covers the detail only, so masking keeps the administrative prefix.
    """
    text = normalised
    for m in _ROAD_RE.finditer(text):
        start = _name_start(text, m.start(), keep_first=True)
        if start < m.start():
            yield _address_hit(text, start, m.end())
    for m in _VILLAGE_RE.finditer(text):
        yield _address_hit(text, m.start(), m.end())
    for m in _BUILDING_RE.finditer(text):
        in_estate = text.endswith(_COMPOUND_ENDS, 0, m.start())
        # A bare "3楼301室" is more often an office than a home: it needs a building or a
        # unit with it, or an estate or community right before it.
        structured = _STRUCTURE_RE.search(m.group()) and len(_COMPONENT_RE.findall(m.group())) > 1
        if not (structured or in_estate or text.endswith(("社区", "村"), 0, m.start())):
            continue
        start = _name_start(text, m.start(), keep_first=False) if in_estate else m.start()
        yield _address_hit(text, start, m.end())
