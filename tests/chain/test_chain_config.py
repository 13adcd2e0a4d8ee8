"""Chain settings: the embedded default, file then environment, refusals that name their source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.registry_revisions import REGISTRY

from notary.chain.config import CONFIG_FILE_NAME, ChainConfig, ConfigError, GasPolicy
from notary.errors import InvalidInput

# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


def test_default_config_is_the_embedded_chain() -> None:
    config = ChainConfig()
    assert (config.rpc_url, config.chain_id, config.registry) == (
        "http://127.0.0.1:8545",
        31337,
        None,
    )
    assert (config.confirmations, config.log_page_size, config.gas.policy) == (0, 1000, "node")


def test_config_file_then_environment(tmp_path: Path) -> None:
    ChainConfig(registry=REGISTRY.lower(), confirmations=2).save(tmp_path)
    assert json.loads((tmp_path / CONFIG_FILE_NAME).read_text())["registry"] == REGISTRY
    env = {
        "NOTARY_RPC_URL": "https://besu.example.gov:8545",
        "NOTARY_CHAIN_ID": "0x539",
        "NOTARY_GAS_POLICY": "fixed",
        "NOTARY_GAS_PRICE": "1000000000",
        "NOTARY_LOG_PAGE_SIZE": "500",
        "NOTARY_RESEND_TIMEOUT": "2.5",
    }
    config = ChainConfig.load(tmp_path, env)
    assert config.registry == REGISTRY and config.confirmations == 2  # from the file
    assert config.rpc_url == "https://besu.example.gov:8545" and config.chain_id == 1337
    assert config.gas == GasPolicy(policy="fixed", gas_price=10**9)
    assert (config.log_page_size, config.resend_timeout) == (500, 2.5)
    assert ChainConfig.from_mapping(config.to_json()) == config
    assert ChainConfig.load(tmp_path / "absent", {}) == ChainConfig()


@pytest.mark.parametrize(
    "data",
    [
        {"rpc_url": "ftp://node"},
        {"chain_id": 0},
        {"chain_id": "31337"},
        {"registry": "0x1234"},
        {"registry": "0x5fbDB2315678afecb367f032d93F642f64180aa3"},  # bad checksum
        {"confirmations": -1},
        {"log_page_size": 0},
        {"receipt_timeout": 0},
        {"gas": {"policy": "free"}},
        {"gas": {"policy": "fixed"}},
        {"gas": {"margin": 0.5}},
        {"gas": {"tip": 1}},
        {"rcp_url": "http://typo"},
    ],
)
def test_bad_settings_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        ChainConfig.from_mapping(data)
    assert isinstance(info.value, InvalidInput)


def test_bad_environment_and_files_name_their_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NOTARY_CHAIN_ID"):
        ChainConfig.from_env({"NOTARY_CHAIN_ID": "mainnet"})
    (tmp_path / CONFIG_FILE_NAME).write_text("{not json")
    with pytest.raises(ConfigError, match=CONFIG_FILE_NAME):
        ChainConfig.load(tmp_path, {})
