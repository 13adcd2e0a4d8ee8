"""The registry driven from Python on a real anvil: offices, anchors, batches, revocation,
replacement, access-log heads, suspension, key rotation, replay."""

from __future__ import annotations

import os
from typing import Any

import pytest
from eth_account import Account
from support.registry_revisions import ZERO, anchor_versions, leaf_of, new_rev

from notary.chain.client import RegistryClient
from notary.chain.errors import (
    OfficeSuspended,
    SignerNotAuthorised,
    VersionOutOfOrder,
)
from notary.chain.events import (
    AccessLogAnchored,
    BatchAnchored,
    OfficeRegistered,
    OfficeReinstated,
    OfficeSuspendedBy,
    RecordReplaced,
    RecordRevoked,
    RevisionAnchored,
    SignerGranted,
    SignerRevoked,
)
from notary.chain.types import OPEN_UNTIL, RecordStatus
from notary.formats.accumulator import Accumulator, BatchStep, RevisionStep, fold
from notary.formats.merkle import MerkleTree
from notary.formats.revision import Kind, Revision, reason_hash

# ---------------------------------------------------------------------------------------------
# Happy paths and events
# ---------------------------------------------------------------------------------------------


def test_office_registration_and_signer_grant_emit_decoded_events(
    registry_client: RegistryClient, governance: Any
) -> None:
    office_id = os.urandom(32)
    result = registry_client.register_office(governance, office_id, "财政局 Finance Bureau")
    (registered,) = result.events
    assert isinstance(registered, OfficeRegistered)
    assert registered.office_id == office_id
    assert registered.office_name == "财政局 Finance Bureau"
    assert registered.tx_hash == result.tx_hash
    assert registered.block_number == result.block_number
    assert registry_client.office(office_id).number == registered.number
    assert registry_client.office_id_of(registered.number) == office_id

    signer = Account.create()
    (granted,) = registry_client.grant_signer(governance, office_id, signer.address).events
    assert isinstance(granted, SignerGranted)
    assert (granted.office_id, granted.signer) == (office_id, signer.address)


def test_anchoring_v1_then_v2_moves_the_head(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    client, signer = registry_client, registry_office.signer
    record_id = registry_office.record_id()
    v1 = new_rev(record_id)
    r1 = client.anchor(signer, v1)
    leaf1 = leaf_of(client, v1)
    assert client.compute_leaf(v1) == leaf1
    head = client.head(record_id)
    assert (head.version, head.status, head.anchored_block) == (
        1,
        RecordStatus.ACTIVE,
        r1.block_number,
    )
    assert head.office_id == registry_office.office_id
    assert head.matches(leaf1) and client.is_current(record_id, leaf1)

    v2 = new_rev(record_id, 2, leaf1)
    r2 = client.anchor(signer, v2)
    leaf2 = leaf_of(client, v2)
    assert client.head(record_id).version == 2
    assert client.is_current(record_id, leaf2)
    assert not client.is_current(record_id, leaf1)
    assert r2.gas_used > 0 and r2.block_number > r1.block_number

    (event,) = r2.events
    assert isinstance(event, RevisionAnchored)
    assert event.record_id == record_id
    assert event.signer == signer.address
    assert (event.version, event.kind, event.valid_until) == (2, Kind.DISCLOSURE, 0)
    assert (event.content_hash, event.metadata_hash) == (v2.content_hash, v2.metadata_hash)


def test_certificate_carries_its_validity_end(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    record_id = registry_office.record_id()
    rev = new_rev(record_id, kind=Kind.CERTIFICATE, valid_until=2_000_000_000)
    (event,) = registry_client.anchor(registry_office.signer, rev).events
    assert event.kind is Kind.CERTIFICATE and event.valid_until == 2_000_000_000
    assert registry_client.head(record_id).valid_until == 2_000_000_000


def test_anchor_many_anchors_every_revision_in_one_transaction(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    revs = [new_rev(registry_office.record_id()) for _ in range(20)]
    result = registry_client.anchor_many(registry_office.signer, revs)
    events = result.events_of(RevisionAnchored)
    assert [e.record_id for e in events] == [r.record_id for r in revs]
    assert [e.log_index for e in events] == sorted(e.log_index for e in events)
    assert all(registry_client.is_current(r.record_id, leaf_of(registry_client, r)) for r in revs)


def test_anchor_many_is_all_or_nothing(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    good = new_rev(registry_office.record_id())
    bad = new_rev(registry_office.record_id(), 2, os.urandom(32))  # version 2 of a new record
    with pytest.raises(VersionOutOfOrder) as info:
        registry_client.anchor_many(registry_office.signer, [good, bad])
    assert (info.value.expected, info.value.got) == (1, 2)
    assert registry_client.head(good.record_id).version == 0


def test_batch_root_is_anchored_and_proofs_verify_on_chain(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    leaves = [os.urandom(32) for _ in range(7)]
    tree = MerkleTree(leaves)
    result = registry_client.anchor_batch(registry_office.signer, tree.root, len(leaves))
    (event,) = result.events
    assert isinstance(event, BatchAnchored)
    assert (event.root, event.office_id, event.leaf_count) == (
        tree.root,
        registry_office.office_id,
        7,
    )
    info = registry_client.batch(tree.root)
    assert info.exists and info.block_number == result.block_number
    for i, leaf in enumerate(leaves):
        assert registry_client.verify_batch_leaf(tree.root, leaf, tree.proof(i))
    assert not registry_client.verify_batch_leaf(tree.root, os.urandom(32), tree.proof(0))
    assert not registry_client.batch(os.urandom(32)).exists


def test_revoke_closes_the_record_with_its_reason_hash(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    record_id, leaves = anchor_versions(registry_client, registry_office, 2)
    why = reason_hash("superseded by regulation 2024-17")
    (event,) = registry_client.revoke(registry_office.signer, record_id, why).events
    assert isinstance(event, RecordRevoked)
    assert (event.record_id, event.reason_hash) == (record_id, why)
    assert registry_client.head(record_id).status is RecordStatus.REVOKED
    assert not registry_client.is_current(record_id, leaves[-1])


def test_replace_stores_the_forward_pointer(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    old, _ = anchor_versions(registry_client, registry_office, 1)
    new, _ = anchor_versions(registry_client, registry_office, 1)
    (event,) = registry_client.replace(registry_office.signer, old, new).events
    assert isinstance(event, RecordReplaced)
    assert (event.record_id, event.by_record_id) == (old, new)
    head = registry_client.head(old)
    assert head.status is RecordStatus.REPLACED and head.replaced_by == new


def test_access_log_head_is_anchored(registry_client: RegistryClient, registry_office: Any) -> None:
    head = os.urandom(32)
    (event,) = registry_client.anchor_access_log(registry_office.signer, head, 42).events
    assert isinstance(event, AccessLogAnchored)
    assert (event.office_id, event.head, event.entries) == (registry_office.office_id, head, 42)


def test_suspension_blocks_the_office_until_reinstated(
    registry_client: RegistryClient, registry_office: Any, governance: Any
) -> None:
    client, office = registry_client, registry_office
    (suspended,) = client.suspend_office(governance, office.office_id).events
    assert isinstance(suspended, OfficeSuspendedBy) and suspended.by == governance.address
    assert client.office(office.office_id).suspended
    with pytest.raises(OfficeSuspended) as info:
        client.anchor(office.signer, new_rev(office.record_id()))
    assert info.value.office_id == office.office_id
    (reinstated,) = client.reinstate_office(governance, office.office_id).events
    assert isinstance(reinstated, OfficeReinstated)
    client.anchor(office.signer, new_rev(office.record_id()))


def test_key_rotation_keeps_old_anchors_verifiable(
    registry_client: RegistryClient, registry_office: Any, governance: Any
) -> None:
    client, office = registry_client, registry_office
    old = office.signer
    record_id = office.record_id()
    v1 = new_rev(record_id)
    anchored = client.anchor(old, v1)

    new = Account.create()
    granted, revoked = client.rotate_signer(governance, office.office_id, old.address, new.address)
    assert isinstance(granted.events[0], SignerGranted)
    assert isinstance(revoked.events[0], SignerRevoked)

    # The old anchor stays valid: its signer was authorised when it was made ...
    assert client.signer_authorised_at(office.office_id, old.address, anchored.block_number)
    # ... but not after the rotation, and the old key can change nothing any more.
    assert not client.signer_authorised_at(office.office_id, old.address, revoked.block_number + 1)
    with pytest.raises(SignerNotAuthorised) as info:
        client.anchor(old, new_rev(record_id, 2, leaf_of(client, v1)))
    assert info.value.signer == old.address

    client.anchor(new, new_rev(record_id, 2, leaf_of(client, v1)))
    assert client.signer_authorised_at(office.office_id, new.address, revoked.block_number + 1)
    (period,) = client.signer_periods(old.address)
    assert (period.office_number, period.until_block) == (office.number, revoked.block_number)
    assert period.covers(anchored.block_number) and not period.is_open
    (open_period,) = client.signer_periods(new.address)
    assert open_period.is_open and open_period.until_block == OPEN_UNTIL


def test_event_replay_rebuilds_the_accumulator(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    client = registry_client
    before = client.accumulator()
    start = client.web3.eth.block_number + 1
    record_id, leaves = anchor_versions(client, registry_office, 3)
    tree = MerkleTree([os.urandom(32) for _ in range(5)])
    client.anchor_batch(registry_office.signer, tree.root, 5)
    client.anchor_many(registry_office.signer, [new_rev(registry_office.record_id())])

    steps: list[RevisionStep | BatchStep] = []
    prev: dict[bytes, bytes] = {}
    for event in client.iter_logs(start, event_names=["RevisionAnchored", "BatchAnchored"]):
        if isinstance(event, BatchAnchored):
            steps.append(BatchStep(event.root, event.leaf_count))
            continue
        rev = Revision(
            event.record_id,
            event.version,
            event.kind,
            event.valid_until,
            event.content_hash,
            event.metadata_hash,
            prev.get(event.record_id, ZERO),
        )
        prev[event.record_id] = leaf_of(client, rev)
        steps.append(RevisionStep(prev[event.record_id]))
    assert prev[record_id] == leaves[-1]
    assert fold(steps, Accumulator(before.hash, before.count)) == client.accumulator().as_tuple()
