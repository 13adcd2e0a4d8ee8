"""The citizen's verify pages: `/v/<payload>` (what a phone camera opens) and `/verify`.

Server-rendered HTML, no JavaScript, Chinese by default (`?lang=en` for English) and a
large-font high-contrast mode (`?large=1`). The verdict comes from `verifier` alone, reading
the chain through the trust list; the office name shown is the registry's, never the code's.
What the chain cannot say (the title, the revocation reason text, the file of a public
record) comes from an optional enricher (`app.state.verify_enricher`) backed by the office
database; without it those parts are simply left out.

Trust list, in order: `app.state.verify_trust`, the file named by `NOTARY_VERIFY_TRUST`,
`<data_dir>/trust.json`, else the node's own chain config (`notary.chain.config.ChainConfig`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import anyio
import anyio.to_thread
from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.core.limits import RateLimiter, client_address, retry_after
from api.pages.templating import templates
from api.services.code_hosts import foreign_hosts, own_hosts, stamped_code_texts
from api.services.content_index import database_index
from api.services.links import verify_target
from api.services.page_fields import bind_pages
from api.services.tier_view import RecordFacts, RecordView, record_view
from notary.db.types import AccessTier
from notary.errors import NotFound
from notary.pdf import bounds as pdf_bounds
from verifier.result import StepStatus, Verdict, VerificationResult
from verifier.trust import TrustList, load_trust
from verifier.verify import verify_file, verify_image_codes, verify_payload

router = APIRouter(tags=["verify pages"], include_in_schema=False)

RESULT_TTL_S = 2.0
"""How long a verdict for one code is reused (status changes show within this)."""
CACHE_ENTRIES = 2048
CHINA_TZ = timezone(timedelta(hours=8))
IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"BM")


@dataclass(frozen=True, slots=True)
class RecordExtras:
    """What the office database knows that the chain does not (all optional).

    `tier` None means the database does not know the record. What of it a page may show is
    decided by `api.services.tier_view.record_view`, never here.
    """

    title: str | None = None
    revocation_reason: str | None = None
    tier: str | None = None
    replacement_tier: str | None = None
    """The tier of the record the chain says replaced this one (None: unknown)."""
    file_bytes: bytes | None = None
    file_path: Path | None = None
    """The authentic file on disk, read only when a page image is asked for."""
    download_url: str | None = None

    @property
    def public(self) -> bool:
        """Whether the record is of the public tier (its file may be shown to anyone)."""
        return self.tier == AccessTier.PUBLIC.value

    def file_data(self) -> bytes | None:
        """The authentic file's bytes, if known."""
        if self.file_bytes is not None:
            return self.file_bytes
        try:
            return self.file_path.read_bytes() if self.file_path else None
        except OSError:  # a missing file only hides the picture
            return None

    def is_pdf(self) -> bool:
        """Whether the authentic file is a PDF (reads 5 bytes, not the file)."""
        if self.file_bytes is not None:
            return self.file_bytes[:5] == b"%PDF-"
        if self.file_path is None:
            return False
        try:
            with self.file_path.open("rb") as f:
                return f.read(5) == b"%PDF-"
        except OSError:
            return False


Enricher = Callable[[VerificationResult], RecordExtras | None]
"""Extras for a verdict; None when no database of this node speaks for its registry."""


# --- strings ----------------------------------------------------------------------------------

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "site": "政务公开文件核验",
        "authentic_current": "真实有效 · 当前版本",
        "superseded": "真实，但已被新版本取代",
        "revoked": "已撤销",
        "expired": "已过期",
        "unknown": "未找到记录",
        "tampered": "内容被篡改",
        "untrusted_issuer": "不受信任的签发方",
        "invalid_code": "不是有效的核验码",
        "issued_by_office_status_unchecked": "由发布机关签发 · 状态未核实",
        "unavailable": "暂时无法连接区块链",
        "explain_authentic_current": "区块链上的记录证明此文件为发布机关发布的原版，且是最新版本。",
        "explain_superseded": "此文件确为发布机关发布，但之后已发布新版本，请以新版本为准。",
        "explain_revoked": "此文件曾由发布机关发布，但已被撤销，不再有效。",
        "explain_expired": "此证书确为发布机关签发，但有效期已过。",
        "explain_unknown": "受信任的区块链上没有与此相符的记录。请谨慎对待此文件。",
        "explain_tampered": "此文件或核验码与区块链上的记录不一致，可能已被修改。请勿信任。",
        "explain_untrusted_issuer": "此核验码指向的不是受信任的登记簿，"
        "不能证明文件真实。请勿信任。",
        "explain_invalid_code": "无法识别此核验码。它可能损坏、不完整或被伪造。",
        "explain_issued_by_office_status_unchecked": "签名有效，但无法确认当前是否仍然有效。",
        "explain_unavailable": "暂时无法查询区块链，请稍后再试。",
        "office": "发布机关",
        "issuer": "登记簿",
        "title": "标题",
        "version": "版本",
        "current_version": "最新版本",
        "page": "页码",
        "page_unchecked": "仅为二维码所示，未核对",
        "anchored_at": "上链时间",
        "record": "记录编号",
        "kind": "类型",
        "disclosure": "政务公开文件",
        "certificate": "电子证照",
        "valid_until": "有效期至",
        "revoked_at": "撤销时间",
        "reason": "撤销原因",
        "reason_hash": "撤销原因摘要",
        "replaced_by": "替代记录",
        "replaced_by_other": "已被另一份记录取代",
        "revoked_by_office": "由发布机关撤销（原因不公开）",
        "timeline": "版本历史",
        "this_version": "本版本",
        "latest": "最新",
        "see_current": "查看最新版本",
        "authentic_page": "原版页面（请与手中纸件比对）",
        "download": "下载原版文件",
        "steps": "核验步骤",
        "check_another": "核验其他文件",
        "upload_title": "上传文件或照片核验",
        "upload_help": "选择收到的电子文件（PDF 等），或拍摄带二维码的页面照片。",
        "upload_button": "开始核验",
        "large_on": "大字模式",
        "large_off": "标准字号",
        "lang_other": "English",
        "no_file": "请选择一个文件。",
        "too_large": "文件太大。",
        "too_many": "请求过于频繁，请稍等片刻再试。",
        "pdf_too_large": "此 PDF 页数过多或解压后过大，无法在线核验。请使用离线核验工具。",
        "foreign_label": "真实，但二维码指向其他网站",
        "foreign_host": "注意：此文件上的二维码指向的网站不是本核验服务：{hosts}。"
        "扫描纸件上的二维码可能进入仿冒网站，请以本页结果为准。",
    },
    "en": {
        "site": "Disclosure verification",
        "authentic_current": "Authentic and current",
        "superseded": "Authentic but superseded",
        "revoked": "Revoked",
        "expired": "Expired",
        "unknown": "Not found",
        "tampered": "Tampered",
        "untrusted_issuer": "Untrusted issuer",
        "invalid_code": "Not a valid code",
        "issued_by_office_status_unchecked": "Issued by the office · status not checked",
        "unavailable": "Chain unreachable",
        "explain_authentic_current": "The chain shows this is the office's original and the"
        " latest version.",
        "explain_superseded": "The office did publish this, but a newer version replaces it.",
        "explain_revoked": "The office published this, but has revoked it. It is no longer valid.",
        "explain_expired": "The office issued this certificate, but its validity has ended.",
        "explain_unknown": "No trusted registry has a matching record. Treat this with caution.",
        "explain_tampered": "This file or code does not match what was anchored; it may have"
        " been altered. Do not trust it.",
        "explain_untrusted_issuer": "This code points to a registry that is not trusted; it"
        " proves nothing. Do not trust it.",
        "explain_invalid_code": "This code cannot be read. It may be damaged, incomplete"
        " or forged.",
        "explain_issued_by_office_status_unchecked": "The signature is valid, but whether it is"
        " still in force could not be checked.",
        "explain_unavailable": "The chain could not be reached. Please try again later.",
        "office": "Office",
        "issuer": "Registry",
        "title": "Title",
        "version": "Version",
        "current_version": "Latest version",
        "page": "Page",
        "page_unchecked": "as the code says, not checked",
        "anchored_at": "Anchored",
        "record": "Record",
        "kind": "Kind",
        "disclosure": "Disclosure",
        "certificate": "Certificate",
        "valid_until": "Valid until",
        "revoked_at": "Revoked",
        "reason": "Reason",
        "reason_hash": "Reason hash",
        "replaced_by": "Replaced by",
        "replaced_by_other": "Replaced by another record",
        "revoked_by_office": "Revoked by the office (the reason is not public)",
        "timeline": "Revision history",
        "this_version": "this version",
        "latest": "latest",
        "see_current": "See the current version",
        "authentic_page": "The authentic page (compare with the paper in your hand)",
        "download": "Download the authentic file",
        "steps": "Checks performed",
        "check_another": "Check another file",
        "upload_title": "Check a file or a photo",
        "upload_help": "Choose the file you received (PDF …) or a photo of a page with its"
        " QR code.",
        "upload_button": "Check",
        "large_on": "Large text",
        "large_off": "Normal text",
        "lang_other": "中文",
        "no_file": "Please choose a file.",
        "too_large": "The file is too large.",
        "too_many": "Too many checks from your connection; please wait a moment and try again.",
        "pdf_too_large": "This PDF has too many pages or is too large when decompressed to be"
        " checked here. Please use the offline verifier.",
        "foreign_label": "Authentic, but its codes point to another site",
        "foreign_host": "Warning: the QR codes on this file point to a site that is not this"
        " verification service: {hosts}. Scanning the paper copy may open a look-alike site;"
        " rely on this page.",
    },
}

VERDICT_LOOK: dict[Verdict, tuple[str, str]] = {
    Verdict.AUTHENTIC_CURRENT: ("✔", "ok"),
    Verdict.SUPERSEDED: ("⚠", "warn"),
    Verdict.REVOKED: ("✘", "bad"),
    Verdict.EXPIRED: ("⚠", "warn"),
    Verdict.UNKNOWN: ("?", "neutral"),
    Verdict.TAMPERED: ("✘", "bad"),
    Verdict.UNTRUSTED_ISSUER: ("✘", "bad"),
    Verdict.INVALID_CODE: ("✘", "bad"),
    Verdict.ISSUED_BY_OFFICE_STATUS_UNCHECKED: ("◐", "warn"),
    Verdict.UNAVAILABLE: ("?", "neutral"),
}

STATUS_CODES = {Verdict.INVALID_CODE: 400, Verdict.UNKNOWN: 404, Verdict.UNAVAILABLE: 503}
STEP_MARKS = {
    StepStatus.PASS: "✔",
    StepStatus.FAIL: "✘",
    StepStatus.SKIP: "–",
    StepStatus.WARN: "!",
}


# --- trust and caching ------------------------------------------------------------------------


def page_trust(request: Request) -> TrustList:
    """The trust list the pages verify against (see the module docstring for the order)."""
    state = request.app.state
    trust = getattr(state, "verify_trust", None)
    if isinstance(trust, TrustList):
        return trust
    settings = getattr(state, "settings", None)
    data_dir = Path(getattr(settings, "data_dir", ".notary"))
    path = os.environ.get("NOTARY_VERIFY_TRUST") or (
        str(data_dir / "trust.json") if (data_dir / "trust.json").exists() else None
    )
    if path:
        trust = load_trust(path)
    else:
        from notary.chain.config import ChainConfig

        cfg = ChainConfig.load(data_dir)
        if not cfg.registry:
            trust = TrustList(())
        else:
            trust = TrustList.single(
                chain_id=cfg.chain_id, registry=cfg.registry, name="本地政务公证链",
                rpc_url=cfg.rpc_url,
            )  # fmt: skip
    state.verify_trust = trust
    return trust


class _ResultCache:
    """A small TTL cache of verdicts per code, so a burst of scans costs one chain read."""

    def __init__(self, ttl: float = RESULT_TTL_S, size: int = CACHE_ENTRIES) -> None:
        self.ttl, self.size = ttl, size
        self._items: OrderedDict[str, tuple[float, VerificationResult]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, compute: Callable[[], VerificationResult]) -> VerificationResult:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit and hit[0] > now:
                return hit[1]
        result = compute()
        with self._lock:
            self._items[key] = (now + self.ttl, result)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return result


def _cache(request: Request) -> _ResultCache:
    state = request.app.state
    cache = getattr(state, "verify_cache", None)
    if cache is None:
        default_ttl = float(os.environ.get("NOTARY_VERIFY_CACHE_TTL", RESULT_TTL_S))
        cache = _ResultCache(getattr(state, "verify_ttl", default_ttl))
        state.verify_cache = cache
    return cache


@functools.cache
def _extras_query() -> Any:
    """The revision's metadata (for its title), the tier, the revocation reason and the
    revision's stored file, by record and version: one read with outer joins, built once (it
    runs on every verify page)."""
    from sqlalchemy import and_, bindparam, select

    from notary.db.models import Blob, Record, Revision, Revocation

    return (
        select(Revision.metadata_json, Record.access_tier, Revocation.reason, Blob.sha256)
        .outerjoin(Revocation, Revocation.record_id == Record.record_id)
        .outerjoin(
            Revision,
            and_(Revision.record_id == Record.record_id, Revision.version == bindparam("version")),
        )
        .outerjoin(Blob, Blob.sha256 == Revision.content_hash)
        .where(Record.record_id == bindparam("record_id"))
    )


def _title(metadata_json: str | None) -> str | None:
    try:
        title = json.loads(metadata_json or "null")["title"]
    except (ValueError, TypeError, KeyError):
        return None
    return title if isinstance(title, str) else None


def _tier_name(tier: Any) -> str | None:
    return None if tier is None else str(getattr(tier, "value", tier))


def _record_tier(conn: Any, record_id: str | None) -> str | None:
    """The tier the database holds for a record (None: it does not know it)."""
    if not record_id:
        return None
    from sqlalchemy import select

    from notary.db.models import Record

    rid = record_id.removeprefix("0x").lower()
    return _tier_name(conn.scalar(select(Record.access_tier).where(Record.record_id == rid)))


def database_extras(request: Request, result: VerificationResult) -> RecordExtras | None:
    """Title, revocation reason, tier and (public records only) the authentic file, from the
    office database. Only ever decorates a verdict the chain already decided, and only for
    this node's own registry (None otherwise): another trusted registry may hold the same
    record id. A record of this registry the database does not know gets `RecordExtras()`
    (tier None: the page shows only what the chain proves). The title is the scanned
    version's own (a later, unanchored revision may have renamed the record)."""
    db = getattr(request.app.state, "db", None)
    settings = getattr(request.app.state, "settings", None)
    if db is None or db.engine is None or result.record_id is None or result.version is None:
        return None
    own = verify_target(request)
    if (
        own is None
        or result.chain_id != own.chain_id
        or (result.registry or "").lower() != own.registry.lower()
    ):
        return None
    from api.services import blobs
    from notary.db.models import Blob
    from notary.db.session import READ_ONLY

    params = {"record_id": result.record_id.removeprefix("0x"), "version": result.version}
    with db.engine.connect() as conn:  # a read: no SQLite write lock
        conn = conn.execution_options(**READ_ONLY)
        row = conn.execute(_extras_query(), params).first()
        replacement_tier = _record_tier(conn, result.replaced_by) if row is not None else None
    if row is None:
        return RecordExtras()
    metadata_json, tier, reason, stored_sha = row
    tier_name = _tier_name(tier)
    sha = (result.content_hash or "").removeprefix("0x")
    path = None
    if tier_name == "public" and sha and stored_sha == sha and result.verdict in SHOW_FILE_VERDICTS:
        try:
            path = blobs.open_path(settings.blobs, Blob(sha256=sha))
        except NotFound:  # a missing file only hides the picture
            path = None
    return RecordExtras(
        title=_title(metadata_json),
        revocation_reason=reason,
        tier=tier_name,
        replacement_tier=replacement_tier,
        file_path=path,
        download_url=f"/api/v1/files/{sha}" if path is not None else None,
    )


SHOW_FILE_VERDICTS = frozenset(
    {Verdict.AUTHENTIC_CURRENT, Verdict.SUPERSEDED, Verdict.REVOKED, Verdict.EXPIRED}
)


def _extras(request: Request, result: VerificationResult) -> RecordExtras | None:
    """The database's extras for a verdict (None: nothing speaks for its registry)."""
    enricher: Enricher | None = getattr(request.app.state, "verify_enricher", None)
    if result.record_id is None:
        return None
    try:
        if enricher is None:
            return database_extras(request, result)
        return enricher(result)
    except Exception:  # the database is optional for a verdict; without it, chain facts only
        return RecordExtras()


def anonymous_view(result: VerificationResult, extras: RecordExtras | None) -> RecordView | None:
    """What an anonymous page may show of the record behind a verdict, by its tier
    (`record_view`); None when no database of this node speaks for the registry (the page
    then shows the chain's facts as they are)."""
    if extras is None:
        return None
    facts = RecordFacts(
        tier=AccessTier(extras.tier) if extras.tier else None,
        title=extras.title,
        revocation_reason=extras.revocation_reason,
        replaced_by=result.replaced_by,
        replacement_tier=AccessTier(extras.replacement_tier) if extras.replacement_tier else None,
    )
    return record_view(facts)


def _withheld_texts(result: VerificationResult, view: RecordView) -> list[str]:
    """The chain facts a view withholds, as they appear in the steps' details."""
    texts: list[str] = []
    if not view.visible:
        if result.office_name:
            texts.append(result.office_name)
        if result.record_id:
            texts.append(result.record_id.removeprefix("0x")[:12])
        # The signer names the office as surely as its name does (the registry's grants
        # are public): withheld with it (docs/privacy.md, "Access tiers").
        texts += sorted({r.signer for r in result.timeline} | {result.signer or ""} - {""})
    if view.replacement_withheld and result.replaced_by:
        texts.append(result.replaced_by.removeprefix("0x"))
    return texts


def shown_result(result: VerificationResult, view: RecordView | None) -> VerificationResult:
    """The verdict with the chain facts the view withholds taken out (the office's name,
    the record id, the replacing record's id), in its fields and in its steps' details."""
    if view is None:
        return result
    texts = _withheld_texts(result, view)

    def redact(detail: str) -> str:
        for text in texts:
            detail = detail.replace(text, "…")
        return detail

    steps = tuple(replace(s, detail=redact(s.detail)) for s in result.steps)
    return replace(
        result,
        office_name=result.office_name if view.visible else None,
        record_id=result.record_id if view.visible else None,
        office_id=result.office_id if view.visible else None,
        signer=result.signer if view.visible else None,
        timeline=result.timeline
        if view.visible
        else tuple(replace(r, signer="") for r in result.timeline),
        replaced_by=view.replaced_by,
        steps=steps,
    )


def shown_extras(extras: RecordExtras | None, view: RecordView | None) -> RecordExtras:
    """The extras the view lets a page show (title, reason, file)."""
    if extras is None or view is None:
        return RecordExtras()
    keep_file = view.file
    return replace(
        extras,
        title=view.title,
        revocation_reason=view.revocation_reason,
        file_bytes=extras.file_bytes if keep_file else None,
        file_path=extras.file_path if keep_file else None,
        download_url=extras.download_url if keep_file else None,
    )


# --- rendering --------------------------------------------------------------------------------


def _lang(lang: str | None) -> str:
    return "en" if (lang or "").lower().startswith("en") else "zh"


def _fmt_time(ts: int | None, lang: str) -> str | None:
    if not ts:
        return None
    dt = datetime.fromtimestamp(ts, CHINA_TZ)
    return dt.strftime("%Y年%m月%d日 %H:%M" if lang == "zh" else "%Y-%m-%d %H:%M (UTC+8)")


def _query(lang: str, large: bool, **extra: str) -> str:
    q: dict[str, str] = {}
    if lang == "en":
        q["lang"] = "en"
    if large:
        q["large"] = "1"
    q.update(extra)
    return ("?" + urlencode(q)) if q else ""


def _current_link(result: VerificationResult, lang: str, large: bool) -> str | None:
    """A verify link for the record's current version, built from the chain's own leaf."""
    if result.verdict is not Verdict.SUPERSEDED or not result.timeline or not result.registry:
        return None
    if result.replaced_by:  # replaced by another record: its id is shown instead
        return None
    try:
        from notary.formats.qr_payload import QrPayload, encode

        latest = result.timeline[-1]
        payload = QrPayload.for_page(
            chain_id=int(result.chain_id or 0),
            registry=result.registry,
            record_id=bytes.fromhex((result.record_id or "")[2:]),
            version=latest.version,
            leaf=bytes.fromhex(latest.leaf[2:]),
        )
        return "/v/" + quote(encode(payload), safe="") + _query(lang, large)
    except Exception:  # a missing link is better than a broken page
        return None


UPLOAD_PAGE_IMAGES = 20
"""At most this many authentic pages are shown beside an upload result."""


def _page_count(data: bytes) -> int:
    """Pages in a PDF (0 if PDFium cannot open it)."""
    try:
        import pypdfium2 as pdfium

        from notary.pdf.pdfium_lock import PDFIUM_LOCK

        with PDFIUM_LOCK:
            pdf = pdfium.PdfDocument(data)
            try:
                return len(pdf)
            finally:
                pdf.close()
    except Exception:
        return 0


def _upload_page_images(result: VerificationResult, extras: RecordExtras) -> list[str]:
    """For an upload that matched an anchored revision whose file the tier lets anyone see:
    one `/v/<code>/page.png` per page (up to `UPLOAD_PAGE_IMAGES`), each code built from the
    chain's own leaf for that revision, so the image route verifies it like a scanned one."""
    if result.verdict not in SHOW_FILE_VERDICTS or not extras.is_pdf() or not result.registry:
        return []
    leaf = next((r.leaf for r in result.timeline if r.version == result.version), None)
    data = extras.file_data()
    if leaf is None or data is None or not result.record_id:
        return []
    total = _page_count(data)
    try:
        from notary.formats.qr_payload import QrPayload, encode

        base = QrPayload.for_page(
            chain_id=int(result.chain_id or 0),
            registry=result.registry,
            record_id=bytes.fromhex(result.record_id.removeprefix("0x")),
            version=int(result.version or 0),
            leaf=bytes.fromhex(leaf.removeprefix("0x")),
        )
        return [
            "/v/" + quote(encode(base.with_page(p, total)), safe="") + "/page.png"
            for p in range(1, min(total, UPLOAD_PAGE_IMAGES) + 1)
        ]
    except Exception:  # no pictures is better than a broken page
        return []


def _render(
    request: Request,
    result: VerificationResult,
    *,
    lang: str,
    large: bool,
    code: str | None = None,
    status: int | None = None,
    note: str | None = None,
    foreign: tuple[str, ...] = (),
) -> HTMLResponse:
    t = STRINGS[lang]
    raw = _extras(request, result)
    view = anonymous_view(result, raw)
    extras = shown_extras(raw, view)
    current_link = _current_link(result, lang, large)
    if code is None and view is not None and not view.visible:
        current_link = None  # its code would name the record id the view withholds
    here = request.url.path
    if code:
        has_page = bool(view is not None and view.file and extras.is_pdf())
        page_images = [here.rstrip("/") + "/page.png"] if has_page else []
    else:  # an upload: the authentic pages of the revision it matched, to compare
        page_images = _upload_page_images(result, extras) if view and view.file else []
    result = shown_result(result, view)
    icon, tone = VERDICT_LOOK[result.verdict]
    headline = t[result.verdict.value]
    if foreign and tone == "ok":  # the chain backs the bytes, but never plain green
        icon, tone, headline = "⚠", "foreign", t["foreign_label"]
    context: dict[str, Any] = {
        "t": t,
        "lang": lang,
        "large": large,
        "r": result,
        "verdict": result.verdict.value,
        "icon": icon,
        "tone": tone,
        "headline": headline,
        "host_warning": t["foreign_host"].format(hosts=", ".join(foreign)) if foreign else None,
        "explain": t["explain_" + result.verdict.value],
        "note": note,
        "extras": extras,
        "reason_withheld": view is not None and view.reason_withheld,
        "replacement_withheld": view is not None and view.replacement_withheld,
        "kind_label": t.get(result.kind or "", result.kind),
        "anchored_at": _fmt_time(result.anchored_at, lang),
        "revoked_at": _fmt_time(result.revoked_at, lang),
        "valid_until": _fmt_time(result.valid_until, lang),
        "timeline": [
            {
                "version": rev.version,
                "when": _fmt_time(rev.anchored_at, lang),
                "this": rev.version == result.version,
                "latest": rev.version == result.current_version,
            }
            for rev in reversed(result.timeline)
        ],
        "current_link": current_link,
        "page_images": page_images,
        "steps": [(STEP_MARKS[s.status], s) for s in result.steps],
        "lang_link": here + _query("zh" if lang == "en" else "en", large),
        "large_link": here + _query(lang, not large),
        "verify_link": "/verify" + _query(lang, large),
    }
    response = templates.TemplateResponse(
        request,
        "verify_result.html",
        context,
        status_code=status or STATUS_CODES.get(result.verdict, 200),
    )
    _secure(response)
    return response


def _secure(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )


# --- routes -----------------------------------------------------------------------------------

# Any value is accepted and read leniently (`_lang`, `_is_large`): a citizen's odd link
# still gets the page, never a JSON 422.
LangQ = Annotated[str | None, Query()]
LargeQ = Annotated[str | None, Query()]


def _is_large(large: str | None) -> bool:
    return (large or "").lower() in ("1", "true", "yes", "on")


def _connect(request: Request) -> Any:
    """The registry connector (`app.state.verify_connect`, else the process-wide pool)."""
    return getattr(request.app.state, "verify_connect", None)


def _verify_code(request: Request, code: str) -> VerificationResult:
    trust, connect = page_trust(request), _connect(request)
    blobs = getattr(getattr(request.app.state, "settings", None), "blobs", None)
    return _cache(request).get(
        code, lambda: bind_pages(verify_payload(code, trust, connect=connect), blobs)
    )


@router.get("/v/{code:path}/page.png")
async def verify_page_image(request: Request, code: str) -> Response:
    """The authentic page the code names, rendered from the office's file (public only).

    Rendering is expensive work an anonymous caller can ask for: it runs in the expensive
    slots (`NOTARY_EXPENSIVE_CONCURRENCY`), never in the citizens' verify-page slots."""
    return await anyio.to_thread.run_sync(
        _page_image, request, code, limiter=_expensive_slots(request)
    )


def _page_image(request: Request, code: str) -> Response:
    result = _verify_code(request, code)
    view = anonymous_view(result, raw := _extras(request, result))
    extras = shown_extras(raw, view)
    if (
        result.verdict not in SHOW_FILE_VERDICTS
        or view is None
        or not view.file
        or not extras.is_pdf()
    ):
        return Response(status_code=404)
    key = (result.content_hash or "", (result.page or 1) - 1)
    png = _PAGE_IMAGES.get(key)
    if png is None and (wait := _rate_limited(request)) is not None:
        return Response(status_code=429, headers={"Retry-After": retry_after(wait)})
    if png is None and (data := extras.file_data()) is not None:
        png = _render_pdf_page(data, key[1], bounds=_page_bounds(request))
        if png is not None:
            with _PAGE_IMAGES_LOCK:
                _PAGE_IMAGES[key] = png
                while len(_PAGE_IMAGES) > PAGE_IMAGE_ENTRIES:
                    _PAGE_IMAGES.popitem(last=False)
    if png is None:
        return Response(status_code=404)
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=300"})


PAGE_IMAGE_ENTRIES = 64
_PAGE_IMAGES: OrderedDict[tuple[str, int], bytes] = OrderedDict()
_PAGE_IMAGES_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class PageBounds:
    """What one anonymous `page.png` may cost (from the settings)."""

    max_pages: int = pdf_bounds.MAX_PAGES
    max_inflated: int = 64 * 1024 * 1024
    max_pixels: int = pdf_bounds.MAX_RENDER_PIXELS


def _page_bounds(request: Request) -> PageBounds:
    settings = getattr(request.app.state, "settings", None)
    if settings is None:
        return PageBounds()
    return PageBounds(
        max_pages=settings.anon_max_pdf_pages,
        max_inflated=settings.anon_max_inflated_mb * 1024 * 1024,
        max_pixels=settings.page_image_max_pixels,
    )


def _within_bounds(data: bytes, bounds: PageBounds) -> bool:
    """Whether the PDF is within the page and inflated-size caps, counted from its raw
    bytes before PDFium opens it (the verdict is kept per file: the file never changes)."""
    key = (hashlib.sha256(data).digest(), bounds.max_pages, bounds.max_inflated)
    ok = _PDF_CHECKED.get(key)
    if ok is None:
        try:
            pdf_bounds.check_pdf(data, max_pages=bounds.max_pages, max_inflated=bounds.max_inflated)
            ok = True
        except pdf_bounds.PdfTooLarge:
            ok = False
        with _PAGE_IMAGES_LOCK:
            _PDF_CHECKED[key] = ok
            while len(_PDF_CHECKED) > PAGE_IMAGE_ENTRIES:
                _PDF_CHECKED.popitem(last=False)
    return ok


_PDF_CHECKED: OrderedDict[tuple[bytes, int, int], bool] = OrderedDict()


def _render_pdf_page(
    data: bytes, index: int, width_px: int = 720, *, bounds: PageBounds | None = None
) -> bytes | None:
    """One PDF page as a PNG about `width_px` wide (pypdfium2), within `bounds`: a PDF over
    the page or inflated-size cap is not opened, and the scale is lowered so the image has
    at most `bounds.max_pixels` pixels whatever the page's shape."""
    bounds = bounds or PageBounds()
    if not _within_bounds(data, bounds):
        return None
    try:
        import pypdfium2 as pdfium

        from notary.pdf.pdfium_lock import PDFIUM_LOCK

        with PDFIUM_LOCK:  # PDFium is not thread-safe; sync endpoints run in a thread pool
            pdf = pdfium.PdfDocument(data)
            try:
                if not 0 <= index < len(pdf) or len(pdf) > bounds.max_pages:
                    return None
                page = pdf[index]
                scale = pdf_bounds.render_scale(
                    page.get_width(),
                    page.get_height(),
                    width_px=width_px,
                    max_pixels=bounds.max_pixels,
                )
                image = page.render(scale=scale).to_pil()
                page.close()
            finally:
                pdf.close()
        buf = io.BytesIO()
        image.save(buf, format="PNG")  # `optimize` costs more than the page took to render
        return buf.getvalue()
    except Exception:
        return None


def _rate_limiter(request: Request) -> RateLimiter:
    """The app's limiter of expensive anonymous requests (`NOTARY_RATE_LIMIT_*`)."""
    state = request.app.state
    limiter = getattr(state, "rate_limiter", None)
    if limiter is None:
        from api.core.settings import Settings

        settings = getattr(state, "settings", None) or Settings()
        limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
        state.rate_limiter = limiter
    return limiter


def _rate_limited(request: Request) -> float | None:
    """None if this client may make one more expensive request now, else the seconds to
    wait."""
    settings = getattr(request.app.state, "settings", None)
    proxies = frozenset(getattr(settings, "trusted_proxies", ()) or ())
    return _rate_limiter(request).take(client_address(request.scope, proxies))


def _expensive_slots(request: Request) -> anyio.CapacityLimiter:
    """The expensive anonymous work done at once (uploads, page images:
    `NOTARY_EXPENSIVE_CONCURRENCY`), apart from the verify pages' slots, so that however
    many such requests arrive, citizens opening `/v/` pages keep their own slots and the
    rest of the CPU."""
    state = request.app.state
    slots = getattr(state, "expensive_slots", None)
    if slots is None:
        settings = getattr(state, "settings", None)
        slots = anyio.CapacityLimiter(getattr(settings, "expensive_concurrency", 1))
        state.expensive_slots = slots
    return slots


def _slots(request: Request) -> anyio.CapacityLimiter:
    """The verify pages worked on at once (`NOTARY_VERIFY_CONCURRENCY`); the rest wait their
    turn in arrival order. The work is mostly CPU under one GIL, so more threads only slice
    it thinner: every page in progress gets slower and the tail grows, with no more pages
    per second."""
    state = request.app.state
    slots = getattr(state, "verify_slots", None)
    if slots is None:
        from api.core.settings import Settings

        default = Settings.model_fields["verify_concurrency"].default
        slots = anyio.CapacityLimiter(
            getattr(getattr(state, "settings", None), "verify_concurrency", default)
        )
        state.verify_slots = slots
    return slots


@router.get("/v/{code:path}", response_class=HTMLResponse)
async def verify_code_page(
    request: Request, code: str, lang: LangQ = None, large: LargeQ = None
) -> HTMLResponse:
    """What a phone camera opens: the verdict for the code in the URL.

    `Server-Timing` says how long the page waited for a slot (`wait`) and how long the
    server then worked on it (`verify`: the chain read and the rendering).
    """
    arrived = time.perf_counter()
    started = 0.0

    def work() -> HTMLResponse:
        nonlocal started
        started = time.perf_counter()
        result = _verify_code(request, code)
        return _render(request, result, lang=_lang(lang), large=_is_large(large), code=code)

    response = await anyio.to_thread.run_sync(work, limiter=_slots(request))
    done = time.perf_counter()
    response.headers["Server-Timing"] = (
        f"wait;dur={(started - arrived) * 1e3:.2f}, verify;dur={(done - started) * 1e3:.2f}"
    )
    return response


@router.get("/verify", response_class=HTMLResponse)
def verify_form(request: Request, lang: LangQ = None, large: LargeQ = None) -> HTMLResponse:
    """The upload form: a file or a photo of a page."""
    lang_, large_ = _lang(lang), _is_large(large)
    t = STRINGS[lang_]
    response = templates.TemplateResponse(
        request,
        "verify_form.html",
        {
            "t": t,
            "lang": lang_,
            "large": large_,
            "note": None,
            "action": "/verify" + _query(lang_, large_),
            "lang_link": "/verify" + _query("zh" if lang_ == "en" else "en", large_),
            "large_link": "/verify" + _query(lang_, not large_),
        },
    )
    _secure(response)
    return response


def _verify_upload(
    data: bytes, trust: TrustList, connect: Any, index: Any
) -> tuple[VerificationResult, tuple[str, ...]]:
    """The verdict for uploaded bytes, with the texts of the codes it was reached through
    (a photo's QR codes, a stamped PDF's page links; none for a file found by its hash)."""
    if data.startswith(IMAGE_MAGIC):
        result, texts = verify_image_codes(data, trust, connect=connect)
        if result.steps and result.steps[0].status is StepStatus.FAIL:  # no code in it
            # The picture may itself be a published file (a notice as PNG): look it up.
            as_file = verify_file(data, trust, connect=connect, index=index)
            if as_file.verdict is not Verdict.UNKNOWN:
                return as_file, ()
        return result, texts
    result = verify_file(data, trust, connect=connect, index=index)
    stamped = bool(result.steps) and result.steps[0].name == "read_stamp"
    return result, stamped_code_texts(data) if stamped else ()


def _json_result(
    request: Request, result: VerificationResult, foreign: tuple[str, ...]
) -> JSONResponse:
    """The upload result as JSON: the verdict's fields as the tier view lets them be shown,
    the title and reason text it allows, and `foreign_hosts` (empty: no warning)."""
    raw = _extras(request, result)
    view = anonymous_view(result, raw)
    extras = shown_extras(raw, view)
    body = shown_result(result, view).to_dict()
    body.update(
        title=extras.title,
        revocation_reason=extras.revocation_reason,
        reason_withheld=view is not None and view.reason_withheld,
        replacement_withheld=view is not None and view.replacement_withheld,
        foreign_hosts=list(foreign),
        host_warning=bool(foreign),
    )
    response = JSONResponse(body, status_code=STATUS_CODES.get(result.verdict, 200))
    _secure(response)
    return response


@router.post("/verify", response_class=HTMLResponse)
async def verify_upload(
    request: Request,
    file: Annotated[UploadFile | None, File()] = None,
    lang: LangQ = None,
    large: LargeQ = None,
) -> Response:
    """Verify an uploaded file (any bytes, stamped PDF) or a photo of a page; JSON with
    `Accept: application/json`.

    The work runs in the expensive slots (`NOTARY_EXPENSIVE_CONCURRENCY`), not the verify
    pages': decoding a photo takes tens of MB and CPU for a moment, so uploads must not all
    run at once nor crowd out citizens opening `/v/` pages. Each
    client may send only so many (`NOTARY_RATE_LIMIT_*`, 429 after); a PDF over the
    anonymous page or inflated-size caps is refused (413) before it is parsed; a file without
    a QR code is looked up in this service's own database, never in the chain's history.
    """
    lang_, large_ = _lang(lang), _is_large(large)
    t = STRINGS[lang_]
    if (wait := _rate_limited(request)) is not None:
        response = _form(request, lang_, large_, t["too_many"], 429)
        response.headers["Retry-After"] = retry_after(wait)
        return response
    settings = getattr(request.app.state, "settings", None)
    limit = int(getattr(settings, "max_upload_bytes", 50 * 1024 * 1024))
    data = await file.read(limit + 1) if file is not None else b""
    as_json = "application/json" in request.headers.get("accept", "")
    if as_json and (not data or len(data) > limit):
        detail = "no file uploaded" if not data else f"the file is over {limit} bytes"
        return JSONResponse({"detail": detail}, status_code=400 if not data else 413)
    if not data or len(data) > limit:
        return _form(request, lang_, large_, t["no_file"] if not data else t["too_large"],
                     400 if not data else 413)  # fmt: skip
    index = database_index(request)

    def work() -> Response:
        if _is_pdf(data) and not _within_bounds(data, _page_bounds(request)):
            if as_json:
                return JSONResponse({"detail": t["pdf_too_large"]}, status_code=413)
            return _form(request, lang_, large_, t["pdf_too_large"], 413)
        trust = page_trust(request)
        result, texts = _verify_upload(data, trust, _connect(request), index)
        foreign = foreign_hosts(texts, own_hosts(request), trust)
        if as_json:
            return _json_result(request, result, foreign)
        return _render(request, result, lang=lang_, large=large_, foreign=foreign)

    return await anyio.to_thread.run_sync(work, limiter=_expensive_slots(request))


def _is_pdf(data: bytes) -> bool:
    """Whether the bytes are a PDF as the verifier reads them (`%PDF` in the first KB)."""
    return bytes(data[:1024]).lstrip().startswith(b"%PDF")


def _form(request: Request, lang: str, large: bool, note: str, status: int) -> HTMLResponse:
    """The upload form again, with `note` saying why the upload was not checked."""
    response = templates.TemplateResponse(
        request,
        "verify_form.html",
        {
            "t": STRINGS[lang],
            "lang": lang,
            "large": large,
            "note": note,
            "action": "/verify" + _query(lang, large),
            "lang_link": "/verify" + _query("zh" if lang == "en" else "en", large),
            "large_link": "/verify" + _query(lang, not large),
        },
        status_code=status,
    )
    _secure(response)
    return response
