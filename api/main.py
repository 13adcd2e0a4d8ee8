"""The app factory: `create_app(settings)` builds the FastAPI service.

Migrations run on start (lifespan); every JSON resource lives under `/api/v1`; HTML pages
plug in through `api.pages` or `extra_routers`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from api import pages
from api.core import errors
from api.core.db import Database
from api.core.key_cache import KeyCache
from api.core.limits import BodyLimit
from api.core.settings import Settings
from api.pages.templating import STATIC_DIR
from api.routers import API_ROUTERS, health, metrics
from api.schemas import ERROR_RESPONSES
from api.services.publish_writer import PublishWriter
from api.services.refusal_log import SESSION_INFO as REFUSALS_INFO
from api.services.refusal_log import RefusalLog
from notary.storage.private_files import restrict_umask

API_PREFIX = "/api/v1"
FORM_OVERHEAD = 64 * 1024
"""Room for multipart boundaries and form fields on top of the largest allowed file."""


def page_routers() -> list[APIRouter]:
    """The `router` of every module in `api.pages` (HTML pages), in name order."""
    names = [
        f"{pages.__name__}.{info.name}"
        for info in sorted(pkgutil.iter_modules(pages.__path__), key=lambda i: i.name)
    ]
    found = []
    for name in names:
        module = importlib.import_module(name)
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append(router)
    return found


def create_app(
    settings: Settings | None = None, *, extra_routers: Iterable[APIRouter] = ()
) -> FastAPI:
    """Build the service for `settings` (default: from the environment).

    `extra_routers` are included at the site root after the API and the `api.pages` routers.
    Sets this process's umask to 077: every file the service creates is its user's alone.
    """
    restrict_umask()  # before anything is created (SQLite's -wal/-shm, the stamped cache)
    settings = settings or Settings()
    database = Database(settings)
    publish_writer = PublishWriter(database)
    refusals = RefusalLog(database)
    database.session_info[REFUSALS_INFO] = refusals

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database.start()
        try:
            yield
        finally:
            publish_writer.close()
            refusals.close()
            database.close()

    body_limit = settings.max_upload_bytes + FORM_OVERHEAD
    app = FastAPI(
        title="Disclosure notary",
        version="1",
        debug=settings.debug,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.publish_writer = publish_writer
    app.state.key_cache = KeyCache(settings.key_cache_seconds)
    app.state.refusals = refusals
    app.add_middleware(BodyLimit, limit=body_limit, body_seconds=settings.body_timeout_s)
    errors.install(app)
    metrics.install(app)  # after the other middleware: counts their answers too
    app.include_router(health.router)
    for router in API_ROUTERS:
        app.include_router(router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    for router in [*page_routers(), *extra_routers]:
        app.include_router(router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
