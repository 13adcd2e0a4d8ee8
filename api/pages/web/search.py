"""The search form shared by the public register and the clerk's list of releases."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.core.deps import Caller
from api.pages.web import forms
from api.services import records as svc
from api.services.views import records_public

PAGE_SIZE = 20


def search_form(params: Any) -> dict[str, Any]:
    """The register's search fields, checked (the same for the clerk's list)."""
    return {
        "q": forms.text(params, "q", max_len=200),
        "number": forms.text(params, "number", max_len=200),
        "office": forms.text(params, "office", max_len=66),
        "category": forms.text(params, "category", max_len=100),
        "from": forms.date(params, "from"),
        "to": forms.date(params, "to"),
        "page": forms.page_number(params),
    }


def run_search(
    session: Session, caller: Caller, fields: dict[str, Any], *, office_id: str | None
) -> tuple[list[Any], int]:
    """One page of results and the total, through the records service."""
    rows, total = svc.search(
        session,
        caller,
        office_id=office_id,
        category=fields["category"],
        date_from=fields["from"],
        date_to=fields["to"],
        q=fields["q"],
        kind=None,
        limit=PAGE_SIZE,
        offset=(fields["page"] - 1) * PAGE_SIZE,
        document_number=fields["number"],
    )
    return records_public(session, rows, caller=caller), total
