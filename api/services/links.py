"""Verify URLs of anchored revisions: the chain named by the node's config, the host by
`public_base_url` (docs/qr-payload.md).

The API starts without a chain config; then there is no chain to name and no verify URL.
"""

from __future__ import annotations

from typing import Literal, cast
from urllib.parse import urlsplit

from fastapi import Request

from api.core.settings import Settings
from notary.chain.config import ChainConfig
from notary.pdf.verify_links import VerifyTarget


def load_target(settings: Settings) -> VerifyTarget | None:
    """The target from settings and the chain config (None without a registry)."""
    path = settings.chain_config_path or settings.data_dir
    try:
        config = ChainConfig.load(path)
    except Exception:  # a broken chain config must not take the API down
        return None
    if not config.registry:
        return None
    base = urlsplit(settings.public_base_url)
    scheme = base.scheme.lower() if base.scheme.lower() in ("https", "http") else "https"
    return VerifyTarget(
        scheme=cast(Literal["https", "http"], scheme),
        host=base.netloc,
        chain_id=config.chain_id,
        registry=config.registry,
    )


def verify_target(request: Request) -> VerifyTarget | None:
    """The app's verify target, read once (a config added later needs a restart)."""
    state = request.app.state
    if not hasattr(state, "verify_target"):
        state.verify_target = load_target(state.settings)
    return state.verify_target
