"""The registry this node is configured for (`chain.json` in the data dir, or
`chain_config_path`), for the routes that read the chain: the audit and office signers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.core.settings import Settings
from notary.chain.config import ChainConfig
from notary.errors import Unavailable

if TYPE_CHECKING:
    from notary.chain.client import RegistryClient


def chain_config(settings: Settings) -> ChainConfig:
    """The node's chain config; `Unavailable` (503) when it names no registry."""
    config = ChainConfig.load(settings.chain_config_path or settings.data_dir)
    if not config.registry:
        raise Unavailable("this node has no chain config (chain.json): no registry to read")
    return config


def registry_client(settings: Settings) -> RegistryClient:
    """A connected client of the node's registry (`Unavailable` if the node is down)."""
    from notary.chain.client import RegistryClient

    return RegistryClient.connect(chain_config(settings))
