"""One router per resource; `API_ROUTERS` are mounted under `/api/v1` by the app factory."""

from __future__ import annotations

from api.routers import (
    access_log,
    audit,
    certificates,
    content,
    files,
    holder,
    offices,
    receipts,
    records,
    stamped,
)

API_ROUTERS = (
    offices.router,
    records.router,
    stamped.router,
    certificates.router,
    holder.router,
    receipts.router,
    files.router,
    content.router,
    access_log.router,
    audit.router,
)
