"""The administrator's pages: offices, their API keys, their signers (read from the chain)
and people.

For admin sessions only, through the API's own office routes (`api.routers.offices`). A new
key is shown once, on the page that made it; revoking a key (or disabling a person, which
revokes theirs) ends every session signed in with it at once. Granting and revoking signers
needs the governance keystore and stays the CLI's: the page lists them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from api.pages.web import auth, csrf, forms
from api.pages.web.render import page, redirect, render
from api.routers import offices as offices_api
from api.schemas import ApiKeyCreate, OfficeCreate
from api.services import people
from api.services.console_sessions import SignedIn
from notary.db.models import Office
from notary.db.types import KeyRole
from notary.errors import NotaryError, NotFound

router = APIRouter(prefix="/admin", tags=["pages"], include_in_schema=False)

ROLES = ("publisher", "auditor", "admin")


def _admin(request: Request) -> SignedIn:
    return auth.signed_in_as(request, KeyRole.ADMIN)


async def _posted(request: Request) -> tuple[Any, SignedIn]:
    form = await request.form()
    me = await run_in_threadpool(_admin, request)
    csrf.check(request, form.get(csrf.FIELD), me.token_hash)
    return form, me


@router.get("", response_class=HTMLResponse)
@page
async def overview(request: Request) -> Response:
    """Every office and every person, with the forms to add them."""
    me = await run_in_threadpool(_admin, request)

    def work() -> Response:
        with request.app.state.db.session() as session:
            offices = offices_api.list_offices(session, me.caller)
            everyone = people.list_people(session)
            session.rollback()
        return render(
            request,
            "web/admin.html",
            {
                "offices": offices,
                "people": everyone,
                "roles": ROLES,
                "done": request.query_params.get("done"),
            },
            me=me,
        )

    return await run_in_threadpool(work)


@router.post("/offices", response_class=HTMLResponse)
@page
async def add_office(request: Request) -> Response:
    """Admit an office registered on chain (its id and number)."""
    form, me = await _posted(request)
    number = forms.text(form, "number", max_len=10, required=True) or ""
    body = forms.parsed(
        OfficeCreate,
        office_id=forms.text(form, "office_id", max_len=66, required=True),
        number=int(number) if number.isdigit() else -1,
        name=forms.text(form, "name", max_len=200, required=True),
    )

    def work() -> None:
        with request.app.state.db.session() as session:
            offices_api.create_office(body, session, me.caller)

    await run_in_threadpool(work)
    return redirect(request, "/admin", done="office")


@router.get("/offices/{office_id}", response_class=HTMLResponse)
@page
async def office(request: Request, office_id: str) -> Response:
    """An office: its keys (revoke, add) and its signers as the chain knows them."""
    me = await run_in_threadpool(_admin, request)

    def work() -> Response:
        with request.app.state.db.session() as session:
            found = offices_api.get_office(office_id, session, me.caller)
            keys = offices_api.list_keys(office_id, session, me.caller)
            session.rollback()
            signers, signers_error = [], None
            try:
                signers = offices_api.list_signers(
                    office_id, session, request.app.state.settings, me.caller
                )
            except (NotaryError, OSError, ValueError) as exc:  # no chain: the rest still shows
                signers_error = str(exc) or exc.__class__.__name__
        return render(
            request,
            "web/admin_office.html",
            {
                "office": found,
                "keys": keys,
                "signers": signers,
                "signers_error": signers_error,
                "new_key": None,
                "done": request.query_params.get("done"),
            },
            me=me,
        )

    return await run_in_threadpool(work)


@router.post("/offices/{office_id}/keys", response_class=HTMLResponse)
@page
async def add_key(request: Request, office_id: str) -> Response:
    """A new publisher or auditor key, shown once on the answer."""
    form, me = await _posted(request)
    body = forms.parsed(
        ApiKeyCreate,
        role=forms.choice(form, "role", ("publisher", "auditor"), "publisher"),
        label=forms.text(form, "label", max_len=100) or "",
    )

    def work() -> Response:
        settings = request.app.state.settings
        with request.app.state.db.session() as session:
            created = offices_api.create_key(office_id, body, session, settings, me.caller)
            found = offices_api.get_office(office_id, session, me.caller)
            keys = offices_api.list_keys(office_id, session, me.caller)
            session.rollback()
        return render(
            request,
            "web/admin_office.html",
            {
                "office": found,
                "keys": keys,
                "signers": [],
                "signers_error": None,
                "new_key": created,
                "done": None,
            },
            me=me,
        )

    return await run_in_threadpool(work)


@router.post("/offices/{office_id}/keys/{key_id}/revoke", response_class=HTMLResponse)
@page
async def revoke_key(request: Request, office_id: str, key_id: str) -> Response:
    """Revoke a key: it and every session signed in with it stop at once."""
    _, me = await _posted(request)
    if not key_id.isdigit() or not 1 <= int(key_id) <= 2**31 - 1:
        raise NotFound(f"no key {key_id[:20]!r}")

    def work() -> None:
        with request.app.state.db.session() as session:
            offices_api.revoke_key(office_id, int(key_id), request, session, me.caller)

    await run_in_threadpool(work)
    return redirect(request, f"/admin/offices/{office_id}", done="revoked")


@router.post("/people", response_class=HTMLResponse)
@page
async def add_person(request: Request) -> Response:
    """A new person: username, display name, role, office and a first password."""
    form, _ = await _posted(request)
    role = KeyRole(forms.choice(form, "role", ROLES, "publisher"))
    office_id = forms.text(form, "office_id", max_len=66)
    password = form.get("password")
    settings = request.app.state.settings

    def work() -> None:
        with request.app.state.db.session() as session:
            found = None
            if role is not KeyRole.ADMIN:
                found = session.scalars(
                    select(Office).where(Office.office_id == (office_id or "").lower())
                ).first()
                if found is None:
                    raise NotFound("choose the person's office")
            people.create_person(
                session,
                settings.key_secret,
                username=forms.text(form, "username", max_len=64, required=True) or "",
                display_name=forms.text(form, "display_name", max_len=200, required=True) or "",
                password=password if isinstance(password, str) else "",
                role=role,
                office=found,
            )

    await run_in_threadpool(work)
    return redirect(request, "/admin", done="person")


@router.post("/people/{person_id}/disable", response_class=HTMLResponse)
@page
async def disable_person(request: Request, person_id: str) -> Response:
    """Disable a person: their key is revoked and their sessions end."""
    await _posted(request)
    if not person_id.isdigit() or not 1 <= int(person_id) <= 2**31 - 1:
        raise NotFound(f"no person {person_id[:20]!r}")

    def work() -> None:
        with request.app.state.db.session() as session:
            people.disable_person(session, int(person_id))
        request.app.state.key_cache.clear()

    await run_in_threadpool(work)
    return redirect(request, "/admin", done="disabled")
