"""Signed checkpoints: the real chain agrees; a rewritten history with the same count does not."""

from __future__ import annotations

import json

import pytest
from support.audit_history import History, next_revision

from notary.chain.checkpoint import Checkpoint, CheckpointError, export, verify
from notary.chain.client import RegistryClient, deploy_registry, make_web3
from notary.chain.config import ChainConfig, GasPolicy
from notary.chain.events import OfficeRegistered
from notary.chain.local import LocalChain, rpc_call


def anchor_three(client, office_signer, number, tag: bytes) -> None:
    from notary.formats.revision import new_record_id

    h = History(None)
    rid = new_record_id(number)
    revs = [next_revision(client, h, rid, tag + bytes([i])) for i in range(3)]
    client.anchor_many(office_signer, revs)


def test_checkpoint_verifies_on_real_chain_and_fails_on_rewritten_history(
    registry_client, registry_office, governance, tmp_path
):
    anchor_three(registry_client, registry_office.signer, registry_office.number, b"real")
    cp = export(registry_client, governance)
    path = cp.save(tmp_path / "checkpoint.json")
    loaded = Checkpoint.load(path)
    assert loaded == cp and loaded.acc_count == 3

    good = verify(loaded, registry_client.web3)
    assert good.ok, good.reason
    assert [s.name for s in good.steps] == [
        "parse", "signature", "chain_id", "block_hash", "accumulator", "governor"
    ]  # fmt: skip

    # A fresh chain, same governance key (so the same registry address), another history
    # with the same count, mined up to the checkpoint's height.
    with LocalChain(chain_id=registry_client.chain_id) as other:
        config = ChainConfig(rpc_url=other.url, chain_id=other.chain_id, gas=GasPolicy("zero"))
        web3 = make_web3(config)
        deployment = deploy_registry(web3, governance, config=config)
        assert deployment.address == cp.registry
        client = RegistryClient.connect(config.replace(registry=deployment.address), web3=web3)
        office_id = b"\x42" * 32
        number = (
            client.register_office(governance, office_id, "Forger")
            .events_of(OfficeRegistered)[0]
            .number
        )
        client.grant_signer(governance, office_id, registry_office.signer.address)
        anchor_three(client, registry_office.signer, number, b"fake")
        assert client.accumulator().count == cp.acc_count
        height = int(web3.eth.block_number)
        if height < cp.block_number:
            missing = verify(loaded, web3)
            assert missing.reason.startswith("block_hash: the chain has no block")
            rpc_call(other.url, "anvil_mine", [hex(cp.block_number - height)])
        bad = verify(loaded, web3)
    assert not bad.ok
    failed = {s.name: s.detail for s in bad.steps if not s.ok}
    assert set(failed) == {"block_hash", "accumulator"}
    assert "history was rewritten" in failed["block_hash"]
    assert "a different history" in failed["accumulator"]
    assert bad.reason.startswith("block_hash:")


def test_checkpoint_with_altered_field_or_untrusted_signer_fails(
    registry_client, governance, dev_accounts
):
    cp = export(registry_client, governance).to_json()
    altered = dict(cp, accumulator={"hash": cp["accumulator"]["hash"], "count": 99})
    result = verify(altered, registry_client.web3)
    assert not result.ok and result.reason.startswith("signature: signed by")
    other = verify(cp, registry_client.web3, expected_signer=dev_accounts[0].address)
    assert not other.ok and "not by the trusted" in other.reason
    with pytest.raises(CheckpointError):
        Checkpoint.from_json(json.loads(json.dumps(dict(cp, extra=1))))
