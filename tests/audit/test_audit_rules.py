"""Replay's rule checks on histories the registry itself would refuse (raw logs built by
hand), and the alert rules they raise. Pure: no chain, no database."""

from __future__ import annotations

from notary.audit.alerts import AlertConfig, from_violations, revocation_bursts
from notary.audit.replay import Replayer
from notary.audit.state import ReplayState
from notary.chain.abi import ContractAbi, load_artifact

ABI = ContractAbi(load_artifact()["abi"])
REGISTRY = "0x" + "ab" * 20
OFFICE = "0x" + "0f" * 32
SIGNER = "0x" + "51" * 20
OTHER = "0x" + "77" * 20


def word(value: int | str) -> str:
    if isinstance(value, int):
        return f"{value:064x}"
    return value.removeprefix("0x").rjust(64, "0")


def log(name: str, topics: list[str], data: list[int | str], block: int, index: int = 0) -> dict:
    return {
        "topics": ["0x" + ABI.event(name).topic.hex(), *("0x" + word(t) for t in topics)],
        "data": "0x" + "".join(word(d) for d in data),
        "blockNumber": hex(block),
        "transactionHash": "0x" + f"{block:064x}",
        "logIndex": hex(index),
    }


def registered(block: int) -> dict:
    import eth_abi

    data = eth_abi.encode(["uint32", "string"], [1, "示范局"]).hex()
    entry = log("OfficeRegistered", [OFFICE], [], block)
    entry["data"] = "0x" + data
    return entry


def anchored(record: str, version: int, block: int, signer: str = SIGNER) -> dict:
    return log(
        "RevisionAnchored",
        [record],
        [signer, version, 0, 0, "0x" + "cc" * 32, "0x" + "dd" * 32],
        block,
    )


def test_replay_reports_each_broken_rule_with_block_and_tx():
    state = ReplayState(chain_id=31337, registry=REGISTRY, start_block=1, last_block=0)
    replayer = Replayer(state, ABI)
    rec = "0x00000001" + "aa" * 28
    other = "0x00000001" + "bb" * 28
    cert, bad = "0x00000001" + "ce" * 28, "0x00000001" + "ba" * 28
    logs = [
        registered(1),
        log("SignerGranted", [OFFICE, SIGNER], [], 2),
        anchored(rec, 1, 3),
        anchored(rec, 3, 4),  # skips version 2
        anchored(rec, 4, 5, signer=OTHER),  # never granted
        log("RecordRevoked", [rec], [SIGNER, "0x" + "ee" * 32], 6),
        anchored(rec, 5, 7),  # after the revocation
        log("SignerRevoked", [OFFICE, SIGNER], [], 8),
        anchored(other, 1, 8),  # block-inclusive: still allowed in the revoking block
        anchored(other, 2, 9),  # revoked signer
        anchored("0x00000009" + "cc" * 28, 1, 10),  # office 9 does not exist
        # a certificate (the validating path), then a disclosure with a validity end
        log("RevisionAnchored", [cert], [SIGNER, 1, 1, 99, "0x" + "cc" * 32, "0x" + "dd" * 32], 3),
        log("RevisionAnchored", [bad], [SIGNER, 1, 0, 5, "0x" + "cc" * 32, "0x" + "dd" * 32], 3),
    ]
    logs.sort(key=lambda entry: int(entry["blockNumber"], 16))
    replayer.apply_page(logs, 10)
    got = [(v.rule, v.block_number) for v in state.violations]
    assert got == [
        ("version_not_contiguous", 4),
        ("signer_not_authorised", 5),
        ("after_revocation", 7),
        ("signer_not_authorised", 9),
        ("unknown_office", 10),
        ("invalid_revision", 3),  # reported once its page's leaves are computed
    ]
    assert all(v.tx_hash == "0x" + f"{v.block_number:064x}" for v in state.violations)
    assert state.signers[SIGNER][0].until_block == 8
    assert "valid_until must be 0" in state.violations[-1].message
    assert state.last_block == 10 and state.acc_count == 8  # every computable leaf folded
    assert [len(e.leaf) for e in state.revisions].count(66) == 8
    rules = {a.rule for a in from_violations(state)}
    assert rules == {"unauthorised_signer", "chain_rule_violation"}


def test_revocation_burst_needs_threshold_within_window():
    state = ReplayState(chain_id=31337, registry=REGISTRY, start_block=1, last_block=0)
    replayer = Replayer(state, ABI)
    records = ["0x00000001" + f"{i:02x}" * 28 for i in range(1, 5)]
    logs = [registered(1), log("SignerGranted", [OFFICE, SIGNER], [], 2)]
    logs += [anchored(r, 1, 3) for r in records]
    blocks = [10, 11, 12, 200]
    logs += [
        log("RecordRevoked", [r], [SIGNER, "0x" + "ee" * 32], b)
        for r, b in zip(records, blocks, strict=True)
    ]
    replayer.apply_page(logs, 200)
    assert state.violations == []
    burst = revocation_bursts(state, AlertConfig(burst_threshold=3, burst_window_blocks=10))
    assert [(a.rule, a.details["first_block"], a.details["last_block"]) for a in burst] == [
        ("revocation_burst", 10, 12)
    ]
    assert revocation_bursts(state, AlertConfig(burst_threshold=3, burst_window_blocks=2)) == []
