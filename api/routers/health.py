"""Liveness and readiness probes (outside `/api/v1`, no auth, not logged)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(request: Request) -> Health | JSONResponse:
    """The database answers and the blob directory exists."""
    try:
        with request.app.state.db.session() as s:
            s.execute(text("SELECT 1"))
        if not request.app.state.settings.blobs.is_dir():
            raise OSError("blob directory missing")
    except Exception:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return Health(status="ok")
