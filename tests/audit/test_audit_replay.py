"""Replay from the registry's events alone: rebuild, rule checks, resume, export."""

from __future__ import annotations

import csv
import json

import pytest
from support.audit_history import build_history, next_revision

from notary.audit import runner
from notary.audit.export import write_csv, write_jsonl
from notary.audit.logs import RawLogReader
from notary.audit.runner import replay
from notary.audit.state import ReplayState
from notary.chain.errors import NodeError, NodeUnavailable


def hexs(b: bytes) -> str:
    return "0x" + b.hex()


def test_replay_rebuilds_history_resumes_and_exports(
    registry_client, registry_office, governance, tmp_path
):
    h = build_history(registry_client, registry_office, governance)
    state_path = tmp_path / "state.json"
    state, summary = replay(registry_client, state_path=state_path)

    assert state.violations == []
    assert summary.accumulator_ok is True
    assert state.acc_count == 4 + 4  # four revisions, one batch of four leaves
    a, b, c = (hexs(r) for r in h.records)
    assert state.records[a].version == 2
    assert state.records[a].leaf == hexs(h.leaves[h.records[0]])
    assert state.records[b].status == "revoked"
    assert state.records[c].status == "replaced" and state.records[c].replaced_by == a
    office = state.offices[hexs(registry_office.office_id)]
    assert office.name == registry_office.name
    signer = registry_office.signer.address.lower()
    assert [p.until_block for p in state.signers[signer]] == [None]
    assert {x.action for x in state.actions} == {"revoked", "replaced", "batch", "access_log"}

    # A second run continues where the first stopped and sees only the new block.
    first_last = state.last_block
    registry_client.anchor(
        registry_office.signer, next_revision(registry_client, h, h.records[0], b"A3")
    )
    state2, summary2 = replay(registry_client, state_path=state_path)
    assert summary2.from_block == first_last + 1
    assert summary2.revisions == 1 and summary2.accumulator_ok is True
    assert ReplayState.load(state_path).records[a].version == 3

    jsonl = write_jsonl(state2, tmp_path / "history.jsonl").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in jsonl.splitlines()]
    assert lines[0]["format"].startswith("disclosure-notary/replay-export")
    assert len(lines) == 1 + 5
    raw = write_csv(state2, tmp_path / "history.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert [r["status"] for r in table if r["record_id"] == a] == ["superseded"] * 2 + ["current"]
    assert all(r["content_hash"].startswith("0x") for r in table)
    assert b'"0x' in raw  # every field quoted


def test_cli_replay_then_checkpoint_roundtrip(
    registry_client, registry_office, governance, tmp_path
):
    from typer.testing import CliRunner

    from notary.chain.checkpoint import export
    from notary.cli.audit import audit_app, checkpoint_app

    h = build_history(registry_client, registry_office, governance)
    args = [
        "replay", "--rpc", registry_client.config.rpc_url, "--registry", registry_client.address,
        "--from-block", str(registry_client.config.start_block), "--out", str(tmp_path), "--json",
    ]  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(audit_app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["revisions"] == 4 and report["accumulator_matches_registry"] is True
    assert (tmp_path / "history.csv").exists() and len(h.records) == 3

    export(registry_client, governance).save(tmp_path / "cp.json")
    ok = runner.invoke(
        checkpoint_app,
        ["verify", str(tmp_path / "cp.json"), "--rpc", registry_client.config.rpc_url],
    )
    assert ok.exit_code == 0, ok.output


def test_a_replay_that_died_before_its_check_is_checked_when_resumed(
    registry_client, registry_office, governance, tmp_path, monkeypatch
):
    # The periodic save used to carry the previous run's "accumulator matches" along with new
    # revisions; when the run then died before its final check, the resumed run (nothing new
    # to read) reported them verified against the registry without checking them.
    h = build_history(registry_client, registry_office, governance)
    path = tmp_path / "state.json"
    assert replay(registry_client, state_path=path)[1].accumulator_ok is True
    a = h.records[0]
    registry_client.anchor(registry_office.signer, next_revision(registry_client, h, a, b"A3"))
    monkeypatch.setattr(runner, "SAVE_EVERY_S", -1.0)  # save after every page

    def node_gone(*args, **kwargs):
        raise NodeUnavailable("node gone")

    with monkeypatch.context() as m:  # the run dies at its final check
        m.setattr(registry_client, "accumulator", node_gone)
        with pytest.raises(NodeUnavailable):
            replay(registry_client, state_path=path)
    saved = ReplayState.load(path)
    assert saved.revision("0x" + a.hex(), 3) is not None
    assert saved.registry_accumulator_ok is None
    checked = []
    real = registry_client.accumulator
    monkeypatch.setattr(
        registry_client, "accumulator", lambda *a, **k: checked.append(1) or real(*a, **k)
    )
    assert replay(registry_client, state_path=path)[1].accumulator_ok is True
    assert checked


def test_a_node_answering_out_of_order_or_with_another_contracts_logs(
    registry_client, registry_office, governance, monkeypatch
):
    # The node is the auditor's only source: its pages are put in chain order, and a log of
    # another contract (here a revocation of a record that is active) fails the replay
    # instead of being pinned on the registry.
    h = build_history(registry_client, registry_office, governance)
    honest, _ = replay(registry_client)
    real = RawLogReader._raw_logs
    with monkeypatch.context() as m:
        m.setattr(RawLogReader, "_raw_logs", lambda self, a, b: list(reversed(real(self, a, b))))
        reversed_state, summary = replay(registry_client)
    assert reversed_state.violations == [] and summary.accumulator_ok is True
    assert reversed_state.to_json() == honest.to_json()

    record = h.records[0]
    revoked = "0x" + registry_client.abi.event("RecordRevoked").topic.hex()

    def with_foreign(self, start, stop):
        logs = real(self, start, stop)
        if logs:
            last = logs[-1]
            logs.append(
                {
                    **last,
                    "address": "0x" + "11" * 20,
                    "topics": [revoked, "0x" + record.hex()],
                    "logIndex": hex(int(last["logIndex"], 16) + 1),
                }
            )
        return logs

    monkeypatch.setattr(RawLogReader, "_raw_logs", with_foreign)
    with pytest.raises(NodeError, match="another contract"):
        replay(registry_client)
