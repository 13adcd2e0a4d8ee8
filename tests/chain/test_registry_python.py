"""The registry's rules, exercised from Python through `notary.chain.client` on a real anvil.

The compiled contract is deployed once per session (`registry_deployment`); every test runs
on an `evm_snapshot` with a fresh office and signer, so tests stay fast and independent.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notary.chain.client import RegistryClient
from notary.chain.errors import (
    REVERTS,
    BatchAlreadyAnchored,
    EmptyInput,
    InvalidReplacement,
    NotGovernance,
    OfficeAlreadyRegistered,
    OfficeNotSuspended,
    OfficeSuspended,
    OfficeUnknown,
    PrevLeafMismatch,
    RecordClosed,
    RecordOfOtherOffice,
    RecordUnknown,
    RegistryRevert,
    SignerAlreadyActive,
    SignerNotActive,
    SignerNotAuthorised,
    ValidityOnDisclosure,
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
from notary.errors import Conflict, InvalidInput, NotFound, Unauthorised
from notary.formats.accumulator import Accumulator, BatchStep, RevisionStep, fold
from notary.formats.merkle import MerkleTree
from notary.formats.revision import Kind, Revision, compute_leaf, reason_hash

ZERO = bytes(32)


def _h(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _rev(
    record_id: bytes,
    version: int = 1,
    prev_leaf: bytes = ZERO,
    *,
    kind: Kind = Kind.DISCLOSURE,
    valid_until: int = 0,
) -> Revision:
    return Revision(
        record_id=record_id,
        version=version,
        kind=kind,
        valid_until=valid_until,
        content_hash=os.urandom(32),
        metadata_hash=os.urandom(32),
        prev_leaf=prev_leaf,
    )


def _leaf(client: RegistryClient, rev: Revision) -> bytes:
    return compute_leaf(rev, chain_id=client.chain_id, registry=client.address)


def _anchor_chain(client: RegistryClient, office: Any, versions: int) -> tuple[bytes, list[bytes]]:
    """Anchor `versions` versions of a new record; returns (record id, leaves)."""
    record_id, leaves = office.record_id(), []
    for version in range(1, versions + 1):
        rev = _rev(record_id, version, leaves[-1] if leaves else ZERO)
        client.anchor(office.signer, rev)
        leaves.append(_leaf(client, rev))
    return record_id, leaves


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
    v1 = _rev(record_id)
    r1 = client.anchor(signer, v1)
    leaf1 = _leaf(client, v1)
    assert client.compute_leaf(v1) == leaf1
    head = client.head(record_id)
    assert (head.version, head.status, head.anchored_block) == (
        1,
        RecordStatus.ACTIVE,
        r1.block_number,
    )
    assert head.office_id == registry_office.office_id
    assert head.matches(leaf1) and client.is_current(record_id, leaf1)

    v2 = _rev(record_id, 2, leaf1)
    r2 = client.anchor(signer, v2)
    leaf2 = _leaf(client, v2)
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
    rev = _rev(record_id, kind=Kind.CERTIFICATE, valid_until=2_000_000_000)
    (event,) = registry_client.anchor(registry_office.signer, rev).events
    assert event.kind is Kind.CERTIFICATE and event.valid_until == 2_000_000_000
    assert registry_client.head(record_id).valid_until == 2_000_000_000


def test_anchor_many_anchors_every_revision_in_one_transaction(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    revs = [_rev(registry_office.record_id()) for _ in range(20)]
    result = registry_client.anchor_many(registry_office.signer, revs)
    events = result.events_of(RevisionAnchored)
    assert [e.record_id for e in events] == [r.record_id for r in revs]
    assert [e.log_index for e in events] == sorted(e.log_index for e in events)
    assert all(registry_client.is_current(r.record_id, _leaf(registry_client, r)) for r in revs)


def test_anchor_many_is_all_or_nothing(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    good = _rev(registry_office.record_id())
    bad = _rev(registry_office.record_id(), 2, os.urandom(32))  # version 2 of a new record
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
    record_id, leaves = _anchor_chain(registry_client, registry_office, 2)
    why = reason_hash("superseded by regulation 2024-17")
    (event,) = registry_client.revoke(registry_office.signer, record_id, why).events
    assert isinstance(event, RecordRevoked)
    assert (event.record_id, event.reason_hash) == (record_id, why)
    assert registry_client.head(record_id).status is RecordStatus.REVOKED
    assert not registry_client.is_current(record_id, leaves[-1])


def test_replace_stores_the_forward_pointer(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    old, _ = _anchor_chain(registry_client, registry_office, 1)
    new, _ = _anchor_chain(registry_client, registry_office, 1)
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
        client.anchor(office.signer, _rev(office.record_id()))
    assert info.value.office_id == office.office_id
    (reinstated,) = client.reinstate_office(governance, office.office_id).events
    assert isinstance(reinstated, OfficeReinstated)
    client.anchor(office.signer, _rev(office.record_id()))


def test_key_rotation_keeps_old_anchors_verifiable(
    registry_client: RegistryClient, registry_office: Any, governance: Any
) -> None:
    client, office = registry_client, registry_office
    old = office.signer
    record_id = office.record_id()
    v1 = _rev(record_id)
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
        client.anchor(old, _rev(record_id, 2, _leaf(client, v1)))
    assert info.value.signer == old.address

    client.anchor(new, _rev(record_id, 2, _leaf(client, v1)))
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
    record_id, leaves = _anchor_chain(client, registry_office, 3)
    tree = MerkleTree([os.urandom(32) for _ in range(5)])
    client.anchor_batch(registry_office.signer, tree.root, 5)
    client.anchor_many(registry_office.signer, [_rev(registry_office.record_id())])

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
        prev[event.record_id] = _leaf(client, rev)
        steps.append(RevisionStep(prev[event.record_id]))
    assert prev[record_id] == leaves[-1]
    assert fold(steps, Accumulator(before.hash, before.count)) == client.accumulator().as_tuple()


# ---------------------------------------------------------------------------------------------
# Every revert, decoded into its Python exception with the offending values
# ---------------------------------------------------------------------------------------------


def test_every_registry_error_has_a_python_exception(registry_client: RegistryClient) -> None:
    names = {e.name for e in registry_client.abi.errors.values()}
    assert names <= set(REVERTS), f"unmapped registry errors: {sorted(names - set(REVERTS))}"


def test_duplicate_or_zero_office_id_is_refused(
    registry_client: RegistryClient, registry_office: Any, governance: Any
) -> None:
    with pytest.raises(OfficeAlreadyRegistered) as info:
        registry_client.register_office(governance, registry_office.office_id, "again")
    assert isinstance(info.value, Conflict)
    assert info.value.office_id == registry_office.office_id
    assert registry_office.office_id.hex() in str(info.value)
    with pytest.raises(OfficeAlreadyRegistered):
        registry_client.register_office(governance, ZERO, "zero")


def test_unknown_office_is_not_found(registry_client: RegistryClient, governance: Any) -> None:
    office_id = os.urandom(32)
    for call in (
        lambda: registry_client.grant_signer(governance, office_id, Account.create().address),
        lambda: registry_client.suspend_office(governance, office_id),
        lambda: registry_client.reinstate_office(governance, office_id),
    ):
        with pytest.raises(OfficeUnknown) as info:
            call()
        assert isinstance(info.value, NotFound) and info.value.office_id == office_id


def test_only_governance_may_govern(registry_client: RegistryClient, registry_office: Any) -> None:
    stranger = registry_office.signer
    with pytest.raises(NotGovernance) as info:
        registry_client.register_office(stranger, os.urandom(32), "rogue office")
    assert isinstance(info.value, Unauthorised)
    assert info.value.account == stranger.address
    assert info.value.needed_role == registry_client._call("GOVERNOR_ROLE")[0]
    with pytest.raises(NotGovernance):
        registry_client.suspend_office(stranger, registry_office.office_id)


def test_suspending_twice_and_reinstating_an_active_office_are_refused(
    registry_client: RegistryClient, registry_office: Any, governance: Any
) -> None:
    with pytest.raises(OfficeNotSuspended) as info:
        registry_client.reinstate_office(governance, registry_office.office_id)
    assert info.value.office_id == registry_office.office_id
    registry_client.suspend_office(governance, registry_office.office_id)
    with pytest.raises(OfficeSuspended):
        registry_client.suspend_office(governance, registry_office.office_id)


def test_revoke_and_replace_are_refused_while_suspended(
    registry_client: RegistryClient, registry_office: Any, governance: Any
) -> None:
    record_id, _ = _anchor_chain(registry_client, registry_office, 1)
    registry_client.suspend_office(governance, registry_office.office_id)
    with pytest.raises(OfficeSuspended):
        registry_client.revoke(registry_office.signer, record_id, _h("x"))


def test_a_key_that_signs_for_no_office_is_refused(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    stranger = Account.create()
    with pytest.raises(SignerNotAuthorised) as info:
        registry_client.anchor(stranger, _rev(registry_office.record_id()))
    assert isinstance(info.value, Unauthorised) and info.value.signer == stranger.address
    with pytest.raises(SignerNotAuthorised):
        registry_client.anchor_batch(stranger, os.urandom(32), 1)


def test_a_signer_serves_one_office_at_a_time(
    registry_client: RegistryClient, registry_office: Any, governance: Any
) -> None:
    other = os.urandom(32)
    registry_client.register_office(governance, other, "Other office")
    with pytest.raises(SignerAlreadyActive) as info:
        registry_client.grant_signer(governance, other, registry_office.signer.address)
    assert (info.value.signer, info.value.office_id) == (
        registry_office.signer.address,
        registry_office.office_id,
    )


def test_revoking_a_non_signer_is_refused(
    registry_client: RegistryClient, registry_office: Any, governance: Any
) -> None:
    nobody = Account.create().address
    with pytest.raises(SignerNotActive) as info:
        registry_client.revoke_signer(governance, registry_office.office_id, nobody)
    assert (info.value.signer, info.value.office_id) == (nobody, registry_office.office_id)


def test_a_record_of_another_office_cannot_be_touched(
    registry_client: RegistryClient, registry_office: Any, governance: Any
) -> None:
    from support.chain_helpers import RegistryOffice

    other = RegistryOffice(registry_client, governance, "Other office")
    foreign, _ = _anchor_chain(registry_client, other, 1)
    with pytest.raises(RecordOfOtherOffice) as info:
        registry_client.anchor(registry_office.signer, _rev(other.record_id()))
    assert isinstance(info.value, Unauthorised)
    assert info.value.signer_office == registry_office.number
    with pytest.raises(RecordOfOtherOffice) as info:
        registry_client.revoke(registry_office.signer, foreign, _h("not mine"))
    assert info.value.record_id == foreign


def test_skipped_and_repeated_versions_are_refused(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    record_id, leaves = _anchor_chain(registry_client, registry_office, 1)
    with pytest.raises(VersionOutOfOrder) as info:
        registry_client.anchor(registry_office.signer, _rev(record_id, 3, leaves[0]))
    assert (info.value.record_id, info.value.expected, info.value.got) == (record_id, 2, 3)
    assert "expected version 2, got 3" in str(info.value)
    with pytest.raises(VersionOutOfOrder) as info:
        registry_client.anchor(registry_office.signer, _rev(record_id, 1))
    assert (info.value.expected, info.value.got) == (2, 1)


def test_a_wrong_previous_leaf_is_refused(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    record_id, leaves = _anchor_chain(registry_client, registry_office, 1)
    wrong = os.urandom(32)
    with pytest.raises(PrevLeafMismatch) as info:
        registry_client.anchor(registry_office.signer, _rev(record_id, 2, wrong))
    assert isinstance(info.value, Conflict)
    assert info.value.got == wrong
    assert info.value.head_prefix == leaves[0][:23]
    # A version 1 with a previous leaf: Revision refuses it, so send the raw tuple.
    raw = (registry_office.record_id(), 1, 0, 0, os.urandom(32), os.urandom(32), wrong)
    with pytest.raises(PrevLeafMismatch):
        registry_client.anchor(registry_office.signer, raw)


def test_a_closed_record_never_changes_again(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    record_id, leaves = _anchor_chain(registry_client, registry_office, 1)
    registry_client.revoke(registry_office.signer, record_id, _h("withdrawn"))
    with pytest.raises(RecordClosed) as info:
        registry_client.anchor(registry_office.signer, _rev(record_id, 2, leaves[0]))
    assert info.value.status is RecordStatus.REVOKED
    assert "is revoked" in str(info.value)
    with pytest.raises(RecordClosed):
        registry_client.revoke(registry_office.signer, record_id, _h("again"))


def test_unknown_records_cannot_be_revoked_or_replaced(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    ghost = registry_office.record_id()
    with pytest.raises(RecordUnknown) as info:
        registry_client.revoke(registry_office.signer, ghost, _h("x"))
    assert isinstance(info.value, NotFound) and info.value.record_id == ghost
    real, _ = _anchor_chain(registry_client, registry_office, 1)
    with pytest.raises(RecordUnknown):
        registry_client.replace(registry_office.signer, ghost, real)


def test_a_replacement_must_be_another_open_record_of_the_office(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    record_id, _ = _anchor_chain(registry_client, registry_office, 1)
    unanchored = registry_office.record_id()
    for target in (record_id, unanchored):
        with pytest.raises(InvalidReplacement) as info:
            registry_client.replace(registry_office.signer, record_id, target)
        assert (info.value.record_id, info.value.by_record_id) == (record_id, target)


def test_a_batch_root_is_anchored_only_once(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    root = os.urandom(32)
    registry_client.anchor_batch(registry_office.signer, root, 3)
    with pytest.raises(BatchAlreadyAnchored) as info:
        registry_client.anchor_batch(registry_office.signer, root, 3)
    assert info.value.root == root


def test_empty_inputs_are_refused(
    registry_client: RegistryClient, registry_office: Any, governance: Any
) -> None:
    client, signer = registry_client, registry_office.signer
    record_id, _ = _anchor_chain(client, registry_office, 1)
    for call in (
        lambda: client.anchor_many(signer, []),
        lambda: client.anchor_batch(signer, ZERO, 1),
        lambda: client.anchor_batch(signer, os.urandom(32), 0),
        lambda: client.revoke(signer, record_id, ZERO),
        lambda: client.anchor_access_log(signer, ZERO, 1),
        lambda: client.anchor_access_log(signer, os.urandom(32), 0),
        lambda: client.register_office(governance, os.urandom(32), ""),
    ):
        with pytest.raises(EmptyInput) as info:
            call()
        assert isinstance(info.value, InvalidInput)


def test_a_disclosure_with_a_validity_end_is_refused(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    record_id = registry_office.record_id()
    raw = (record_id, 1, int(Kind.DISCLOSURE), 12345, os.urandom(32), os.urandom(32), ZERO)
    with pytest.raises(ValidityOnDisclosure) as info:
        registry_client.anchor(registry_office.signer, raw)
    assert info.value.record_id == record_id
    assert isinstance(info.value, InvalidInput)


def test_reverts_carry_the_solidity_name_and_values(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    record_id, _ = _anchor_chain(registry_client, registry_office, 1)
    with pytest.raises(RegistryRevert) as info:
        registry_client.anchor(registry_office.signer, _rev(record_id, 5, os.urandom(32)))
    assert info.value.error_name == "VersionOutOfOrder"
    assert info.value.values == {"recordId": record_id, "expected": 2, "got": 5}
    assert info.value.tx_hash is None  # refused at estimation: nothing was sent


# ---------------------------------------------------------------------------------------------
# Python and Solidity agree on the leaf
# ---------------------------------------------------------------------------------------------

_bytes32 = st.binary(min_size=32, max_size=32)


@st.composite
def _revisions(draw: st.DrawFn) -> Revision:
    kind = draw(st.sampled_from(Kind))
    version = draw(st.integers(1, 2**32 - 1))
    return Revision(
        record_id=draw(_bytes32),
        version=version,
        kind=kind,
        valid_until=0 if kind is Kind.DISCLOSURE else draw(st.integers(0, 2**64 - 1)),
        content_hash=draw(_bytes32),
        metadata_hash=draw(_bytes32),
        prev_leaf=ZERO if version == 1 else draw(_bytes32.filter(lambda b: b != ZERO)),
    )


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rev=_revisions())
def test_python_leaf_equals_the_contracts_compute_leaf(
    registry_client: RegistryClient, rev: Revision
) -> None:
    assert registry_client.compute_leaf(rev) == _leaf(registry_client, rev)
