"""Every registry revert, decoded into its Python exception with the offending values."""

from __future__ import annotations

import os
from typing import Any

import pytest
from eth_account import Account
from support.registry_revisions import ZERO, anchor_versions, digest, new_rev

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
from notary.chain.types import RecordStatus
from notary.errors import Conflict, InvalidInput, NotFound, Unauthorised
from notary.formats.revision import Kind

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
    record_id, _ = anchor_versions(registry_client, registry_office, 1)
    registry_client.suspend_office(governance, registry_office.office_id)
    with pytest.raises(OfficeSuspended):
        registry_client.revoke(registry_office.signer, record_id, digest("x"))


def test_a_key_that_signs_for_no_office_is_refused(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    stranger = Account.create()
    with pytest.raises(SignerNotAuthorised) as info:
        registry_client.anchor(stranger, new_rev(registry_office.record_id()))
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
    foreign, _ = anchor_versions(registry_client, other, 1)
    with pytest.raises(RecordOfOtherOffice) as info:
        registry_client.anchor(registry_office.signer, new_rev(other.record_id()))
    assert isinstance(info.value, Unauthorised)
    assert info.value.signer_office == registry_office.number
    with pytest.raises(RecordOfOtherOffice) as info:
        registry_client.revoke(registry_office.signer, foreign, digest("not mine"))
    assert info.value.record_id == foreign


def test_skipped_and_repeated_versions_are_refused(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    record_id, leaves = anchor_versions(registry_client, registry_office, 1)
    with pytest.raises(VersionOutOfOrder) as info:
        registry_client.anchor(registry_office.signer, new_rev(record_id, 3, leaves[0]))
    assert (info.value.record_id, info.value.expected, info.value.got) == (record_id, 2, 3)
    assert "expected version 2, got 3" in str(info.value)
    with pytest.raises(VersionOutOfOrder) as info:
        registry_client.anchor(registry_office.signer, new_rev(record_id, 1))
    assert (info.value.expected, info.value.got) == (2, 1)


def test_a_wrong_previous_leaf_is_refused(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    record_id, leaves = anchor_versions(registry_client, registry_office, 1)
    wrong = os.urandom(32)
    with pytest.raises(PrevLeafMismatch) as info:
        registry_client.anchor(registry_office.signer, new_rev(record_id, 2, wrong))
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
    record_id, leaves = anchor_versions(registry_client, registry_office, 1)
    registry_client.revoke(registry_office.signer, record_id, digest("withdrawn"))
    with pytest.raises(RecordClosed) as info:
        registry_client.anchor(registry_office.signer, new_rev(record_id, 2, leaves[0]))
    assert info.value.status is RecordStatus.REVOKED
    assert "is revoked" in str(info.value)
    with pytest.raises(RecordClosed):
        registry_client.revoke(registry_office.signer, record_id, digest("again"))


def test_unknown_records_cannot_be_revoked_or_replaced(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    ghost = registry_office.record_id()
    with pytest.raises(RecordUnknown) as info:
        registry_client.revoke(registry_office.signer, ghost, digest("x"))
    assert isinstance(info.value, NotFound) and info.value.record_id == ghost
    real, _ = anchor_versions(registry_client, registry_office, 1)
    with pytest.raises(RecordUnknown):
        registry_client.replace(registry_office.signer, ghost, real)


def test_a_replacement_must_be_another_open_record_of_the_office(
    registry_client: RegistryClient, registry_office: Any
) -> None:
    record_id, _ = anchor_versions(registry_client, registry_office, 1)
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
    record_id, _ = anchor_versions(client, registry_office, 1)
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
    record_id, _ = anchor_versions(registry_client, registry_office, 1)
    with pytest.raises(RegistryRevert) as info:
        registry_client.anchor(registry_office.signer, new_rev(record_id, 5, os.urandom(32)))
    assert info.value.error_name == "VersionOutOfOrder"
    assert info.value.values == {"recordId": record_id, "expected": 2, "got": 5}
    assert info.value.tx_hash is None  # refused at estimation: nothing was sent
