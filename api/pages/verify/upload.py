"""`POST /verify`: a file or a photo of a page, answered as HTML or (with `Accept:
application/json`) as JSON.

One path for both answers: the same checks run in the same order (rate limit, size, PDF
caps) and a refusal differs only in how it is written (`refuse`).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, UploadFile
from fastapi.responses import JSONResponse, Response

from api.core.limits import rate_limited, retry_after
from api.pages.verify.context import connector, page_trust
from api.pages.verify.extras import anonymous_view, extras_for, shown_extras, shown_result
from api.pages.verify.images import page_bounds, within_bounds
from api.pages.verify.locale import STRINGS
from api.pages.verify.render import STATUS_CODES, render_form, render_result, secure
from api.services.code_hosts import foreign_hosts, own_hosts, stamped_code_texts
from verifier.result import StepStatus, Verdict, VerificationResult
from verifier.trust import TrustList
from verifier.verify import verify_file, verify_image_codes

IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"BM")
DEFAULT_UPLOAD_LIMIT = 50 * 1024 * 1024


def is_pdf(data: bytes) -> bool:
    """Whether the bytes are a PDF as the verifier reads them (`%PDF` in the first KB)."""
    return bytes(data[:1024]).lstrip().startswith(b"%PDF")


def verify_upload_bytes(
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


def json_result(
    request: Request, result: VerificationResult, foreign: tuple[str, ...]
) -> JSONResponse:
    """The upload result as JSON: the verdict's fields as the tier view lets them be shown,
    the title and reason text it allows, and `foreign_hosts` (empty: no warning)."""
    raw = extras_for(request, result)
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
    secure(response)
    return response


class Answer:
    """How one upload is answered: HTML in `lang` (large print or not) or JSON."""

    def __init__(self, request: Request, lang: str, large: bool) -> None:
        self.request, self.lang, self.large = request, lang, large
        self.as_json = "application/json" in request.headers.get("accept", "")

    def refuse(self, status: int, key: str, detail: str | None = None) -> Response:
        """The upload was not checked: the form with the locale's `key` note, or JSON
        `{"detail": detail or that note}`."""
        text = STRINGS[self.lang][key]
        if self.as_json:
            return JSONResponse({"detail": detail or text}, status_code=status)
        return render_form(self.request, self.lang, self.large, text, status)

    def result(self, result: VerificationResult, foreign: tuple[str, ...]) -> Response:
        """The verdict page, or its JSON."""
        if self.as_json:
            return json_result(self.request, result, foreign)
        return render_result(self.request, result, lang=self.lang, large=self.large,
                             foreign=foreign)  # fmt: skip


def upload_limit(request: Request) -> int:
    """The largest upload accepted, in bytes (`NOTARY_MAX_UPLOAD_BYTES`)."""
    settings = getattr(request.app.state, "settings", None)
    return int(getattr(settings, "max_upload_bytes", DEFAULT_UPLOAD_LIMIT))


async def read_upload(
    answer: Answer, file: UploadFile | None
) -> tuple[bytes | None, Response | None]:
    """The uploaded bytes, or the refusal: rate limited (429), none (400), too large (413)."""
    if (wait := rate_limited(answer.request)) is not None:
        response = answer.refuse(429, "too_many")
        response.headers["Retry-After"] = retry_after(wait)
        return None, response
    limit = upload_limit(answer.request)
    data = await file.read(limit + 1) if file is not None else b""
    if not data:
        return None, answer.refuse(400, "no_file", "no file uploaded")
    if len(data) > limit:
        return None, answer.refuse(413, "too_large", f"the file is over {limit} bytes")
    return data, None


def check_upload(answer: Answer, data: bytes, index: Any) -> Response:
    """The verdict for the bytes (run in the expensive slots): a PDF over the anonymous caps
    is refused (413) before it is parsed."""
    request = answer.request
    if is_pdf(data) and not within_bounds(data, page_bounds(request)):
        return answer.refuse(413, "pdf_too_large")
    trust = page_trust(request)
    result, texts = verify_upload_bytes(data, trust, connector(request), index)
    return answer.result(result, foreign_hosts(texts, own_hosts(request), trust))
