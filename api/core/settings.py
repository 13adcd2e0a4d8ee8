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
from notary.pii.limits import ScanLimits

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
    expensive_concurrency: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Expensive anonymous requests (uploads to `/verify`, `page.png` "
        "renders) worked on at once, apart from the verify pages' slots; the rest wait.",
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
    pii_max_inflated_mb: int = Field(
        default=128,
        ge=1,
        le=4096,
        description="Most MB a PDF's streams may inflate to, all together, before the PII "
        "scan refuses it (413 'too large when decompressed'); checked before PDFium opens it.",
    )
    pii_max_pages: int = Field(default=5000, ge=1, description="Most pages the PII scan reads.")
    pii_max_page_chars: int = Field(
        default=2_000_000, ge=1, description="Most text characters of one PDF page."
    )
    pii_max_xml_depth: int = Field(default=256, ge=1, le=10_000, description="XML nesting cap.")
    pii_scan_seconds: float = Field(
        default=30.0, gt=0, le=600, description="Time one PII scan may take (413 after)."
    )
    anon_max_pdf_pages: int = Field(
        default=2000,
        ge=1,
        description="Most pages a PDF may have on the anonymous paths (an uploaded file on "
        "`/verify`, `/v/…/page.png`): counted from the raw bytes before PDFium opens it.",
    )
    anon_max_inflated_mb: int = Field(
        default=64,
        ge=1,
        le=4096,
        description="Most MB an uploaded PDF's streams may inflate to on the anonymous paths.",
    )
    page_image_max_pixels: int = Field(
        default=1_200_000,
        ge=10_000,
        le=50_000_000,
        description="Pixel budget of one `page.png` (width × height, whatever the page's "
        "aspect ratio).",
    )
    rate_limit_per_minute: float = Field(
        default=30.0,
        ge=0,
        description="Expensive anonymous requests (an upload to `/verify`, a `page.png` "
        "not yet rendered) one client address may make per minute on average; 0 turns the "
        "limit off. Over it: 429 with `Retry-After`.",
    )
    rate_limit_burst: int = Field(
        default=10, ge=1, description="How many of them a client may make at once."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose `X-Forwarded-For` names the client "
        "for the rate limit (default none: the peer address is the client).",
    )
    body_timeout_s: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="A request body must have arrived this long after its headers (408 "
        "after); a client trickling its body cannot hold a connection longer.",
    )
    idempotency_ttl_hours: float = Field(
        default=IDEMPOTENCY_TTL_HOURS,
        gt=0,
        le=24 * 366,
        description="How long an Idempotency-Key's first answer is replayed; older rows are "
        "never replayed, and the worker deletes them (it reads the same variable).",
    )
    console_session_minutes: int = Field(
        default=8 * 60,
        ge=1,
        le=7 * 24 * 60,
        description="How long a console sign-in lasts (the cookie and its row expire "
        "together; sign-out and revoking the key end it sooner).",
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
    def pii_limits(self) -> ScanLimits:
        """The bounds of one PII scan."""
        return ScanLimits(
            max_inflated_bytes=self.pii_max_inflated_mb * 1024 * 1024,
            max_pages=self.pii_max_pages,
            max_page_chars=self.pii_max_page_chars,
            max_xml_depth=self.pii_max_xml_depth,
            seconds=self.pii_scan_seconds,
        )

    @property
    def secure_cookies(self) -> bool:
        """Whether console cookies carry `Secure` (always, outside development)."""
        return self.mode != "development"

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
