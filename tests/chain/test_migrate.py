"""Registry upgrade by re-anchoring (notary.anchoring.migrate) on a real anvil: an old
registry with two offices, several records and versions, a key rotation, a revocation, a
replacement, a certificate and a batch root is copied into a freshly deployed registry and
re-verified."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account import Account
from support import paths

from notary.anchoring.migrate import MigrationError, migrate, verify_migration
from notary.audit.runner import replay
from notary.chain.client import RegistryClient, deploy_registry
from notary.errors import InvalidInput
from notary.formats.qr_payload import QrPayload, encode
from notary.formats.revision import Kind, Revision, compute_leaf, reason_hash
from verifier.chainsource import RegistryPool
from verifier.result import Verdict
from verifier.trust import TrustList
from verifier.verify import verify_file, verify_payload

SCRIPT = paths.ROOT / "scripts" / "migrate_registry.py"
ZERO = bytes(32)


@dataclass
class History:
    """The old registry and what was anchored in it."""

    old: RegistryClient
    tax: Any  # conftest.RegistryOffice
    land: Any
    tax_old_key: object
    records: dict[str, bytes] = field(default_factory=dict)
    """name -> record id"""
    contents: dict[tuple[str, int], bytes] = field(default_factory=dict)
    """(name, version) -> published bytes"""
    leaves: dict[str, bytes] = field(default_factory=dict)
    """name -> latest leaf in the old registry"""

    @property
    def revision_count(self) -> int:
        return len(self.contents)

    def revision(self, name: str, *, kind: Kind = Kind.DISCLOSURE, valid_until: int = 0):
        record_id = self.records[name]
        version = 1 + sum(1 for n, _ in self.contents if n == name)
        content = f"{name} version {version}".encode()
        self.contents[name, version] = content
        rev = Revision(
            record_id=record_id,
            version=version,
            kind=kind,
            valid_until=valid_until,
            content_hash=hashlib.sha256(content).digest(),
            metadata_hash=hashlib.sha256(b"meta " + content).digest(),
            prev_leaf=self.leaves.get(name, bytes(32)),
        )
        self.leaves[name] = compute_leaf(rev, chain_id=self.old.chain_id, registry=self.old.address)
        return rev


@pytest.fixture
def history(registry_client, governance) -> History:
    from support.chain_helpers import RegistryOffice

    old = registry_client
    tax = RegistryOffice(old, governance, "Tax office 税务局")
    land = RegistryOffice(old, governance, "Land bureau")
    h = History(old, tax, land, tax_old_key=tax.signer)
    for name, office in (("budget", tax), ("guide", tax), ("notice", tax), ("deed", land)):
        h.records[name] = office.record_id()
    h.records["licence"] = land.record_id()
    h.records["old-deed"] = land.record_id()
    old.anchor(tax.signer, h.revision("budget"))
    old.anchor(tax.signer, h.revision("budget"))
    old.anchor_many(tax.signer, [h.revision("guide"), h.revision("notice"), h.revision("guide")])
    old.anchor_many(land.signer, [h.revision("deed"), h.revision("old-deed")])
    year = int(time.time()) + 365 * 86400
    old.anchor(land.signer, h.revision("licence", kind=Kind.CERTIFICATE, valid_until=year))
    old.anchor(land.signer, h.revision("deed"))
    old.revoke(tax.signer, h.records["notice"], reason_hash("published by mistake"))
    old.replace(land.signer, h.records["old-deed"], h.records["deed"])
    old.anchor_batch(land.signer, hashlib.sha256(b"archive root").digest(), 250)
    # key rotation: the tax office's v3 of the budget is signed by its new key
    new_key = Account.create()
    old.rotate_signer(governance, tax.office_id, tax.signer.address, new_key.address)
    tax.signer = new_key
    old.anchor(tax.signer, h.revision("budget"))
    return h


def deploy_new(old: RegistryClient, governance) -> RegistryClient:
    deployment = deploy_registry(old.web3, governance, config=old.config)
    old.reset_nonce(governance)  # deploy_registry used its own nonce sequence
    config = old.config.replace(registry=deployment.address, start_block=deployment.block_number)
    return RegistryClient.connect(config)


def signers(h: History) -> list:
    return [h.tax.signer, h.land.signer]


# --- the clean path --------------------------------------------------------------------------


def test_migration_reanchors_every_record_and_reverifies_clean(history, governance):
    h = history
    new = deploy_new(h.old, governance)
    for office in (h.tax, h.land):  # freeze the old registry first, as documented
        h.old.suspend_office(governance, office.office_id)
    report = migrate(h.old, new, governance, signers(h), batch_size=3)

    assert report.ok, report.to_json()
    assert report.verification.records == 6
    assert report.verification.revisions == h.revision_count == 10
    assert (report.offices_registered, report.signers_granted) == (2, 2)
    assert (report.revisions_anchored, report.revisions_present) == (10, 0)
    assert report.closures_applied == 2
    assert report.skipped == []
    assert report.not_copied == {"batch": 1}
    json.dumps(report.to_json())

    for name, record_id in h.records.items():
        was, now = h.old.head(record_id), new.head(record_id)
        assert (now.version, now.status, now.valid_until) == (
            was.version,
            was.status,
            was.valid_until,
        )
        # same inputs, different leaves: the registry address is part of every leaf
        assert now.leaf_prefix != was.leaf_prefix, name
    assert new.head(h.records["old-deed"]).replaced_by == h.records["deed"]
    # only the rotated-in key signs for the tax office in the new registry
    assert not [p for p in new.signer_periods(h.tax_old_key.address) if p.is_open]
    assert new.office(h.tax.office_id).name == "Tax office 税务局"
    assert not new.office(h.tax.office_id).suspended  # the freeze is not copied


def test_independent_verifier_accepts_the_migrated_record_in_the_new_registry(
    history, governance, anvil
):
    h = history
    new = deploy_new(h.old, governance)
    assert migrate(h.old, new, governance, signers(h)).ok
    state, _ = replay(new)
    trust_new = TrustList.single(
        chain_id=new.chain_id, registry=new.address, name="new registry", rpc_url=anvil.url
    )
    connect = RegistryPool()
    budget = h.records["budget"]
    leaf = bytes.fromhex(state.records["0x" + budget.hex()].leaf[2:])
    code = QrPayload.for_page(
        chain_id=new.chain_id, registry=new.address, record_id=budget, version=3, leaf=leaf
    )
    latest = h.contents["budget", 3]
    result = verify_payload(encode(code), trust_new, latest, connect=connect)
    assert result.verdict is Verdict.AUTHENTIC_CURRENT, result.reason
    assert result.office_name == "Tax office 税务局"
    assert result.registry == new.address.lower()
    # found by its bytes alone in the new registry; older versions are superseded there
    assert verify_file(latest, trust_new, connect=connect).verdict is Verdict.AUTHENTIC_CURRENT
    older = verify_file(h.contents["budget", 1], trust_new, connect=connect)
    assert older.verdict is Verdict.SUPERSEDED
    revoked = verify_file(h.contents["notice", 1], trust_new, connect=connect)
    assert revoked.verdict is Verdict.REVOKED
    # a code printed for the old registry names the old registry: a verifier trusting only
    # the new one does not follow it (that link rule is still design, docs/operations.md)
    old_code = QrPayload.for_page(
        chain_id=h.old.chain_id,
        registry=h.old.address,
        record_id=budget,
        version=3,
        leaf=h.leaves["budget"],
    )
    assert verify_payload(encode(old_code), trust_new, latest, connect=connect).verdict is (
        Verdict.UNTRUSTED_ISSUER
    )


# --- resumable -------------------------------------------------------------------------------


def test_second_run_sends_nothing(history, governance):
    h = history
    new = deploy_new(h.old, governance)
    assert migrate(h.old, new, governance, signers(h)).ok
    acc = new.accumulator()

    again = migrate(h.old, new, governance, signers(h))
    assert again.ok
    assert again.transactions == []
    assert (again.offices_registered, again.signers_granted) == (0, 0)
    assert (again.revisions_anchored, again.closures_applied) == (0, 0)
    assert again.revisions_present == h.revision_count
    assert new.accumulator() == acc


def test_interrupted_migration_resumes_where_it_stopped(history, governance, monkeypatch):
    h = history
    new = deploy_new(h.old, governance)
    real = new.anchor_many
    calls = []

    def crash_after_first(signer, revisions):
        if calls:
            raise ConnectionError("node went away")
        calls.append(len(revisions))
        return real(signer, revisions)

    monkeypatch.setattr(new, "anchor_many", crash_after_first)
    with pytest.raises(ConnectionError):
        migrate(h.old, new, governance, signers(h), batch_size=2)
    monkeypatch.setattr(new, "anchor_many", real)

    report = migrate(h.old, new, governance, signers(h), batch_size=2)
    assert report.ok, report.to_json()
    assert (report.offices_registered, report.signers_granted) == (0, 0)
    assert report.revisions_present == 2
    assert report.revisions_anchored == h.revision_count - 2


# --- tampering and conflicts -----------------------------------------------------------------


def test_extra_revision_in_the_new_registry_is_reported(history, governance):
    h = history
    new = deploy_new(h.old, governance)
    assert migrate(h.old, new, governance, signers(h)).ok
    state, _ = replay(new)
    guide = h.records["guide"]
    prev = bytes.fromhex(state.records["0x" + guide.hex()].leaf[2:])
    forged = Revision(guide, 3, Kind.DISCLOSURE, 0, b"\x66" * 32, b"\x77" * 32, prev)
    new.anchor(h.tax.signer, forged)

    result = verify_migration(h.old, new)
    assert not result.ok
    assert [(m.kind, m.record_id, m.version) for m in result.mismatches] == [
        ("extra_revision", "0x" + guide.hex(), 3)
    ]
    assert "old one has no such version" in result.mismatches[0].message
    assert "0x" + "66" * 32 in result.mismatches[0].message


def test_conflicting_record_already_in_the_new_registry_is_skipped_and_reported(
    history, governance
):
    h = history
    new = deploy_new(h.old, governance)
    # Someone anchored a different v1 of the deed in the new registry before the migration.
    new.register_office(governance, h.tax.office_id, "Tax office 税务局")
    new.register_office(governance, h.land.office_id, "Land bureau")
    new.grant_signer(governance, h.land.office_id, h.land.signer.address)
    deed = h.records["deed"]
    other = Revision(deed, 1, Kind.DISCLOSURE, 0, b"\x55" * 32, b"\x44" * 32, bytes(32))
    new.anchor(h.land.signer, other)

    report = migrate(h.old, new, governance, signers(h))
    assert not report.ok
    assert report.offices_registered == 0 and report.signers_granted == 1
    deed_hex, old_deed_hex = "0x" + deed.hex(), "0x" + h.records["old-deed"].hex()
    skipped = {m.record_id: m.message for m in report.skipped}
    assert "not the old registry's v1" in skipped[deed_hex]
    assert f"replacing record {deed_hex} was not migrated" in skipped[old_deed_hex]
    found = {(m.kind, m.record_id, m.version) for m in report.verification.mismatches}
    assert found == {
        ("revision_differs", deed_hex, 1),
        ("missing_revision", deed_hex, 2),
        ("status_differs", old_deed_hex, None),
    }
    differs = next(m for m in report.verification.mismatches if m.kind == "revision_differs")
    assert "content_hash" in differs.message and "0x" + "55" * 32 in differs.message
    status = next(m for m in report.verification.mismatches if m.kind == "status_differs")
    assert status.message == f"replaced by {deed_hex} in the old, active in the new"
    # everything else arrived: 10 revisions minus the deed's two
    assert report.revisions_anchored == h.revision_count - 2


def test_office_number_taken_in_the_new_registry_stops_before_sending(history, governance):
    h = history
    new = deploy_new(h.old, governance)
    new.register_office(governance, b"\x01" * 32, "Someone else")
    acc = new.accumulator()
    with pytest.raises(MigrationError, match="freshly deployed registry"):
        migrate(h.old, new, governance, signers(h))
    assert not new.office(h.tax.office_id).exists
    assert new.accumulator() == acc


def test_bad_arguments_are_refused(history, governance):
    h = history
    new = deploy_new(h.old, governance)
    with pytest.raises(InvalidInput, match="not a current signer"):
        migrate(h.old, new, governance, [h.tax_old_key, h.land.signer])
    with pytest.raises(InvalidInput, match=r"no signer key given for office\(s\).*Land bureau"):
        migrate(h.old, new, governance, [h.tax.signer])
    with pytest.raises(InvalidInput, match="same contract"):
        migrate(h.old, h.old, governance, signers(h))
    with pytest.raises(InvalidInput, match="batch_size"):
        migrate(h.old, new, governance, signers(h), batch_size=0)
    assert not new.office(h.tax.office_id).exists  # nothing was sent


# --- the command -----------------------------------------------------------------------------


def test_command_migrates_verifies_and_exits_by_outcome(
    history, governance, anvil, tmp_path, monkeypatch, capsys
):
    from notary.storage.keystore import create_key

    spec = importlib.util.spec_from_file_location("migrate_registry", SCRIPT)
    migrate_registry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migrate_registry)

    h = history
    new = deploy_new(h.old, governance)
    monkeypatch.setenv("NOTARY_KEYSTORE_PASSWORD", "pw")
    monkeypatch.setenv("NOTARY_GAS_POLICY", "zero")
    keys = {}
    for name, account in (("gov", governance), ("tax", h.tax.signer), ("land", h.land.signer)):
        keys[name] = tmp_path / f"{name}.json"
        create_key(keys[name], "pw", private_key=account.key, scrypt_n=2)
    base = ["--rpc", anvil.url, "--old-registry", h.old.address, "--new-registry", new.address]
    base += ["--old-from-block", str(h.old.config.start_block)]
    base += ["--new-from-block", str(new.config.start_block)]
    keyargs = ["--governance-key", str(keys["gov"])]
    keyargs += ["--signer-key", str(keys["tax"]), "--signer-key", str(keys["land"])]

    assert migrate_registry.main([*base, *keyargs, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and doc["revisions_anchored"] == h.revision_count
    assert doc["verification"]["mismatches"] == []

    new.reset_nonce(h.land.signer)  # the command used the same key through its own client
    stray = Revision(h.land.record_id(), 1, Kind.DISCLOSURE, 0, b"\x01" * 32, b"\x02" * 32, ZERO)
    new.anchor(h.land.signer, stray)
    assert migrate_registry.main([*base, "--verify-only", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [m["kind"] for m in doc["verification"]["mismatches"]] == ["extra_record"]
    assert migrate_registry.main([*base, "--verify-only"]) == 1
    err = capsys.readouterr().err
    assert "MISMATCH extra_record 0x" in err and "1 mismatch(es)" in err

    assert migrate_registry.main([*base[:3], "0x1234", *base[4:], "--verify-only"]) == 2
    assert "error:" in capsys.readouterr().err
    assert migrate_registry.main([*base]) == 2  # no governance key and not --verify-only
