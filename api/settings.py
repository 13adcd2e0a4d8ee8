"""All settings of the HTTP API in one pydantic-settings class (env prefix `NOTARY_`).

Development mode runs on embedded defaults (SQLite under the data directory, a demo admin
key); production mode refuses every default that is only safe on a laptop.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from notary.db.repo import IDEMPOTENCY_TTL_HOURS
from notary.db.session import DEFAULT_POOL_SIZE

DEMO_ADMIN_KEY = "notary-demo-admin-key"
"""Admin key created in development mode so `make run` works out of the box."""

DEMO_SECRET = "notary-demo-secret-do-not-use-in-production"


class Settings(BaseSettings):
    """Configuration of one API process; read from `NOTARY_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="NOTARY_", extra="ignore")

    mode: Literal["development", "production"] = "development"
    debug: bool = False
    data_dir: Path = Path(".notary")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file under data_dir."
    )
    blob_dir: Path | None = Field(default=None, description="Default: data_dir/blobs.")
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    key_secret: str = Field(
        default=DEMO_SECRET, min_length=16, description="Server secret for API-key HMACs."
    )
    admin_key: str | None = Field(
        default=DEMO_ADMIN_KEY,
        description="Bootstrap admin key created on start if no admin key exists yet.",
    )
    receipt_wait_cap_s: float = Field(default=30.0, ge=0)
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Scheme and host of verify URLs (`<base>/v/<payload>` in QR codes).",
    )
    chain_config_path: Path | None = Field(
        default=None,
        description="Directory holding chain.json (chain id, registry); default: data_dir. "
        "Without a registry the API runs but gives no verify URLs.",
    )
    verify_concurrency: int = Field(
        default=4,
        ge=1,
        le=256,
        description="Verify pages worked on at once; the rest wait in arrival order. Raise it "
        "when the RPC node is far away (each page waits one round trip to it).",
    )
    key_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="How long a verified API key is trusted without a database lookup (0: "
        "always look up). Revocations and suspensions clear this process's cache at once; "
        "other API processes notice within this time. Writes always re-check the key.",
    )
    db_wait_seconds: float = Field(
        default=30.0,
        gt=0,
        le=300,
        description="How long a request waits for a free pooled database connection before "
        "it is answered 503 (database busy).",
    )
    db_pool_size: int = Field(
        default=DEFAULT_POOL_SIZE,
        ge=1,
        le=1000,
        description="PostgreSQL: most connections one API process holds (kept open once "
        "made). Keep (API processes × this + the worker's) under the server's "
        "max_connections. SQLite keeps one per request thread.",
    )
    idempotency_ttl_hours: float = Field(
        default=IDEMPOTENCY_TTL_HOURS,
        gt=0,
        le=24 * 366,
        description="How long an Idempotency-Key's first answer is replayed; older rows are "
        "never replayed, and the worker deletes them (it reads the same variable).",
    )
    run_migrations: bool = True

    @model_validator(mode="after")
    def _fill_and_refuse_unsafe(self) -> Settings:
        if self.database_url is None:
            self.database_url = f"sqlite:///{(self.data_dir / 'notary.sqlite3').as_posix()}"
        if self.blob_dir is None:
            self.blob_dir = self.data_dir / "blobs"
        if self.mode == "production":
            problems = []
            if self.debug:
                problems.append("debug must be off")
            if self.admin_key == DEMO_ADMIN_KEY:
                problems.append("the demo admin key must not be used (set NOTARY_ADMIN_KEY)")
            if self.key_secret == DEMO_SECRET:
                problems.append("NOTARY_KEY_SECRET must be set to a real secret")
            if self.admin_key is not None and len(self.admin_key) < 24:
                problems.append("NOTARY_ADMIN_KEY must be at least 24 characters")
            host = (urlsplit(self.public_base_url).hostname or "").lower()
            if host in ("", "localhost") or host.startswith("127.") or host == "::1":
                problems.append(
                    "NOTARY_PUBLIC_BASE_URL must name the public host (QR codes printed on "
                    "every page point there)"
                )
            if problems:
                raise ValueError("unsafe production settings: " + "; ".join(problems))
        return self

    @property
    def db_url(self) -> str:
        """The database URL after defaults were applied."""
        assert self.database_url is not None
        return self.database_url

    @property
    def idempotency_ttl(self) -> timedelta:
        """`idempotency_ttl_hours` as a duration."""
        return timedelta(hours=self.idempotency_ttl_hours)

    @property
    def blobs(self) -> Path:
        """The blob directory after defaults were applied."""
        assert self.blob_dir is not None
        return self.blob_dir


def random_secret() -> str:
    """A fresh secret suitable for `NOTARY_KEY_SECRET`."""
    return secrets.token_urlsafe(32)
