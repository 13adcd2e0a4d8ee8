// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {INotaryRegistry} from "../src/INotaryRegistry.sol";
import {NotaryRegistry} from "../src/NotaryRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";

/// @notice Unit tests: every function, every revert, named by behaviour.
contract NotaryRegistryTest is RegistryFixture {
    /// @dev sha256("published in error"), as docs/formats.md defines a reason hash. A literal:
    /// `sha256(...)` in a test is a precompile call and would use up a pending `vm.prank`.
    bytes32 internal constant REASON =
        0x0c98e3552a6e55bf10617bc9a8f1bb429981317fbcede99ec92cfe9567668ed1;

    // ---------------------------------------------------------------------------------------
    // Construction and roles
    // ---------------------------------------------------------------------------------------

    function test_constructor_grantsAdminAndGovernorRoles() public view {
        assertTrue(registry.hasRole(registry.DEFAULT_ADMIN_ROLE(), ADMIN), "admin role");
        assertTrue(registry.hasRole(registry.GOVERNOR_ROLE(), ADMIN), "governor role");
        assertFalse(registry.hasRole(registry.GOVERNOR_ROLE(), SIGNER_A), "signer is no governor");
    }

    function test_supportsInterface_reportsRegistryAccessControlAndErc165() public view {
        assertTrue(registry.supportsInterface(type(INotaryRegistry).interfaceId), "registry");
        assertTrue(registry.supportsInterface(type(IAccessControl).interfaceId), "access control");
        assertTrue(registry.supportsInterface(type(IERC165).interfaceId), "erc165");
        assertFalse(registry.supportsInterface(0xffffffff), "0xffffffff");
    }

    function test_leafTag_isTheDocumentedDomainTag() public view {
        assertEq(
            registry.LEAF_TAG(),
            0x16fc034efc0bdca87b24468be232932b4c6fe238d6461eb0b08e6cf24ae08f41,
            "LEAF_TAG"
        );
    }

    // ---------------------------------------------------------------------------------------
    // registerOffice
    // ---------------------------------------------------------------------------------------

    function test_registerOffice_assignsNextNumberAndStoresOffice() public {
        bytes32 officeC = keccak256("office C");
        vm.expectEmit(true, true, true, true, address(registry));
        emit INotaryRegistry.OfficeRegistered(officeC, 3, "Office C");
        vm.prank(ADMIN);
        uint32 number = registry.registerOffice(officeC, "Office C");

        assertEq(number, 3, "number");
        INotaryRegistry.OfficeView memory view_ = registry.office(officeC);
        assertEq(view_.number, 3, "view number");
        assertFalse(view_.suspended, "suspended");
        assertEq(view_.name, "Office C", "name");
        assertEq(registry.officeIdOf(3), officeC, "officeIdOf");
    }

    function test_registerOffice_revertsWhen_callerNotGovernor() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                STRANGER,
                registry.GOVERNOR_ROLE()
            )
        );
        vm.prank(STRANGER);
        registry.registerOffice(keccak256("x"), "X");
    }

    function test_registerOffice_revertsWhen_officeIdZero() public {
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.OfficeAlreadyRegistered.selector, bytes32(0))
        );
        vm.prank(ADMIN);
        registry.registerOffice(bytes32(0), "Zero");
    }

    function test_registerOffice_revertsWhen_alreadyRegistered() public {
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.OfficeAlreadyRegistered.selector, OFFICE_A)
        );
        vm.prank(ADMIN);
        registry.registerOffice(OFFICE_A, "Again");
    }

    function test_registerOffice_revertsWhen_nameEmpty() public {
        vm.expectRevert(INotaryRegistry.EmptyInput.selector);
        vm.prank(ADMIN);
        registry.registerOffice(keccak256("nameless"), "");
    }

    // ---------------------------------------------------------------------------------------
    // suspendOffice / reinstateOffice
    // ---------------------------------------------------------------------------------------

    function test_suspendOffice_marksOfficeSuspendedAndEmits() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit INotaryRegistry.OfficeSuspendedBy(OFFICE_A, ADMIN);
        vm.prank(ADMIN);
        registry.suspendOffice(OFFICE_A);
        assertTrue(registry.office(OFFICE_A).suspended, "suspended");
        assertFalse(registry.office(OFFICE_B).suspended, "other office untouched");
    }

    function test_suspendOffice_revertsWhen_callerNotGovernor() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                SIGNER_A,
                registry.GOVERNOR_ROLE()
            )
        );
        vm.prank(SIGNER_A);
        registry.suspendOffice(OFFICE_A);
    }

    function test_suspendOffice_revertsWhen_officeUnknown() public {
        bytes32 unknown = keccak256("unknown");
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.OfficeUnknown.selector, unknown));
        vm.prank(ADMIN);
        registry.suspendOffice(unknown);
    }

    function test_suspendOffice_revertsWhen_alreadySuspended() public {
        vm.startPrank(ADMIN);
        registry.suspendOffice(OFFICE_A);
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.OfficeSuspended.selector, OFFICE_A));
        registry.suspendOffice(OFFICE_A);
        vm.stopPrank();
    }

    function test_reinstateOffice_liftsSuspensionAndEmits() public {
        vm.startPrank(ADMIN);
        registry.suspendOffice(OFFICE_A);
        vm.expectEmit(true, true, true, true, address(registry));
        emit INotaryRegistry.OfficeReinstated(OFFICE_A, ADMIN);
        registry.reinstateOffice(OFFICE_A);
        vm.stopPrank();
        assertFalse(registry.office(OFFICE_A).suspended, "suspended");
        anchorNew(1); // signers can anchor again
    }

    function test_reinstateOffice_revertsWhen_callerNotGovernor() public {
        vm.prank(ADMIN);
        registry.suspendOffice(OFFICE_A);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                SIGNER_A,
                registry.GOVERNOR_ROLE()
            )
        );
        vm.prank(SIGNER_A);
        registry.reinstateOffice(OFFICE_A);
    }

    function test_reinstateOffice_revertsWhen_officeUnknown() public {
        bytes32 unknown = keccak256("unknown");
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.OfficeUnknown.selector, unknown));
        vm.prank(ADMIN);
        registry.reinstateOffice(unknown);
    }

    function test_reinstateOffice_revertsWhen_notSuspended() public {
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.OfficeNotSuspended.selector, OFFICE_A)
        );
        vm.prank(ADMIN);
        registry.reinstateOffice(OFFICE_A);
    }

    // ---------------------------------------------------------------------------------------
    // grantSigner / revokeSigner / signer history
    // ---------------------------------------------------------------------------------------

    function test_grantSigner_opensPeriodFromThisBlockAndEmits() public {
        address signer = address(0x5A2);
        vm.roll(120);
        vm.expectEmit(true, true, true, true, address(registry));
        emit INotaryRegistry.SignerGranted(OFFICE_A, signer);
        vm.prank(ADMIN);
        registry.grantSigner(OFFICE_A, signer);

        INotaryRegistry.SignerPeriod[] memory periods = registry.signerPeriods(signer);
        assertEq(periods.length, 1, "periods");
        assertEq(periods[0].officeNumber, NUMBER_A, "office");
        assertEq(periods[0].fromBlock, 120, "from");
        assertEq(periods[0].untilBlock, type(uint32).max, "open");
        assertFalse(registry.signerAuthorisedAt(OFFICE_A, signer, 119), "before grant");
        assertTrue(registry.signerAuthorisedAt(OFFICE_A, signer, 120), "grant block");
    }

    function test_grantSigner_revertsWhen_callerNotGovernor() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                SIGNER_A,
                registry.GOVERNOR_ROLE()
            )
        );
        vm.prank(SIGNER_A);
        registry.grantSigner(OFFICE_A, STRANGER);
    }

    function test_grantSigner_revertsWhen_officeUnknown() public {
        bytes32 unknown = keccak256("unknown");
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.OfficeUnknown.selector, unknown));
        vm.prank(ADMIN);
        registry.grantSigner(unknown, STRANGER);
    }

    function test_grantSigner_revertsWhen_signerActiveForAnyOffice() public {
        vm.startPrank(ADMIN);
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.SignerAlreadyActive.selector, SIGNER_A, OFFICE_A)
        );
        registry.grantSigner(OFFICE_B, SIGNER_A);
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.SignerAlreadyActive.selector, SIGNER_A, OFFICE_A)
        );
        registry.grantSigner(OFFICE_A, SIGNER_A);
        vm.stopPrank();
    }

    function test_revokeSigner_closesPeriodAtThisBlockAndEmits() public {
        vm.roll(150);
        vm.expectEmit(true, true, true, true, address(registry));
        emit INotaryRegistry.SignerRevoked(OFFICE_A, SIGNER_A);
        vm.prank(ADMIN);
        registry.revokeSigner(OFFICE_A, SIGNER_A);

        INotaryRegistry.SignerPeriod[] memory periods = registry.signerPeriods(SIGNER_A);
        assertEq(periods.length, 1, "periods");
        assertEq(periods[0].fromBlock, START_BLOCK, "from");
        assertEq(periods[0].untilBlock, 150, "until");
        assertTrue(registry.signerAuthorisedAt(OFFICE_A, SIGNER_A, 150), "revoke block");
        assertFalse(registry.signerAuthorisedAt(OFFICE_A, SIGNER_A, 151), "after revoke");

        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.SignerNotAuthorised.selector, SIGNER_A)
        );
        vm.prank(SIGNER_A);
        registry.anchor(disclosure(recordIdOf(NUMBER_A, 1), 1, bytes32(0)));
    }

    function test_revokeSigner_revertsWhen_callerNotGovernor() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                SIGNER_A,
                registry.GOVERNOR_ROLE()
            )
        );
        vm.prank(SIGNER_A);
        registry.revokeSigner(OFFICE_A, SIGNER_A);
    }

    function test_revokeSigner_revertsWhen_officeUnknown() public {
        bytes32 unknown = keccak256("unknown");
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.OfficeUnknown.selector, unknown));
        vm.prank(ADMIN);
        registry.revokeSigner(unknown, SIGNER_A);
    }

    function test_revokeSigner_revertsWhen_signerNotActiveForOffice() public {
        vm.startPrank(ADMIN);
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.SignerNotActive.selector, SIGNER_A, OFFICE_B)
        );
        registry.revokeSigner(OFFICE_B, SIGNER_A);
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.SignerNotActive.selector, STRANGER, OFFICE_A)
        );
        registry.revokeSigner(OFFICE_A, STRANGER);
        vm.stopPrank();
    }

    function test_signerAuthorisedAt_answersForEveryPeriodAfterRotation() public {
        // SIGNER_A: office A from 100 to 150, office B from 200 to 250, office A again from 300.
        vm.startPrank(ADMIN);
        vm.roll(150);
        registry.revokeSigner(OFFICE_A, SIGNER_A);
        vm.roll(200);
        registry.grantSigner(OFFICE_B, SIGNER_A);
        vm.roll(250);
        registry.revokeSigner(OFFICE_B, SIGNER_A);
        vm.roll(300);
        registry.grantSigner(OFFICE_A, SIGNER_A);
        vm.stopPrank();

        assertFalse(registry.signerAuthorisedAt(OFFICE_A, SIGNER_A, 99), "A@99");
        assertTrue(registry.signerAuthorisedAt(OFFICE_A, SIGNER_A, 100), "A@100");
        assertTrue(registry.signerAuthorisedAt(OFFICE_A, SIGNER_A, 150), "A@150");
        assertFalse(registry.signerAuthorisedAt(OFFICE_A, SIGNER_A, 151), "A@151");
        assertFalse(registry.signerAuthorisedAt(OFFICE_B, SIGNER_A, 199), "B@199");
        assertTrue(registry.signerAuthorisedAt(OFFICE_B, SIGNER_A, 225), "B@225");
        assertFalse(registry.signerAuthorisedAt(OFFICE_A, SIGNER_A, 225), "A@225");
        assertFalse(registry.signerAuthorisedAt(OFFICE_B, SIGNER_A, 251), "B@251");
        assertFalse(registry.signerAuthorisedAt(OFFICE_A, SIGNER_A, 299), "A@299");
        assertTrue(registry.signerAuthorisedAt(OFFICE_A, SIGNER_A, 300), "A@300");
        assertTrue(registry.signerAuthorisedAt(OFFICE_A, SIGNER_A, 10_000), "A@10000");

        INotaryRegistry.SignerPeriod[] memory periods = registry.signerPeriods(SIGNER_A);
        assertEq(periods.length, 3, "periods");
        assertEq(periods[1].officeNumber, NUMBER_B, "second office");
        assertEq(periods[1].fromBlock, 200, "second from");
        assertEq(periods[1].untilBlock, 250, "second until");
        assertEq(periods[2].fromBlock, 300, "open from");
        assertEq(periods[2].untilBlock, type(uint32).max, "open until");
    }

    function test_signerAuthorisedAt_isFalseForUnknownOfficeOrSigner() public view {
        assertFalse(registry.signerAuthorisedAt(keccak256("unknown"), SIGNER_A, 100), "office");
        assertFalse(registry.signerAuthorisedAt(OFFICE_A, STRANGER, 100), "signer");
        assertFalse(registry.signerAuthorisedAt(OFFICE_B, SIGNER_A, 100), "other office");
    }

    function test_signerPeriods_isEmptyForUnknownSigner() public view {
        assertEq(registry.signerPeriods(STRANGER).length, 0, "periods");
    }

    // ---------------------------------------------------------------------------------------
    // anchor
    // ---------------------------------------------------------------------------------------

    function test_anchor_storesHeadOfNewRecord() public {
        vm.roll(123);
        (bytes32 recordId, bytes32 leaf) = anchorNew(1);
        INotaryRegistry.HeadView memory h = registry.head(recordId);
        assertEq(h.officeId, OFFICE_A, "office");
        assertEq(h.version, 1, "version");
        assertEq(uint8(h.status), uint8(INotaryRegistry.Status.Active), "status");
        assertEq(bytes32(h.leafPrefix), bytes32(prefix(leaf)), "prefix");
        assertEq(h.anchoredBlock, 123, "block");
        assertEq(h.validUntil, 0, "validUntil");
        assertEq(h.replacedBy, bytes32(0), "replacedBy");
        assertTrue(registry.isCurrent(recordId, leaf), "current");
    }

    function test_anchor_returnsTheComputedLeaf() public {
        bytes32 recordId = recordIdOf(NUMBER_A, 1);
        INotaryRegistry.Revision memory r = disclosure(recordId, 1, bytes32(0));
        bytes32 expected = registry.computeLeaf(r);
        vm.prank(SIGNER_A);
        assertEq(registry.anchor(r), expected, "leaf");
    }

    function test_anchor_emitsRevisionAnchored() public {
        INotaryRegistry.Revision memory r =
            certificate(recordIdOf(NUMBER_A, 1), 1, bytes32(0), 1_900_000_000);
        vm.expectEmit(true, true, true, true, address(registry));
        emit INotaryRegistry.RevisionAnchored(
            r.recordId, SIGNER_A, 1, r.kind, r.validUntil, r.contentHash, r.metadataHash, 0
        );
        vm.prank(SIGNER_A);
        registry.anchor(r);
    }

    function test_anchor_eventCarriesThePreviousHeadWord() public {
        vm.roll(START_BLOCK + 3);
        (bytes32 recordId, bytes32 leaf1) = anchorNew(1);
        vm.roll(START_BLOCK + 9);
        INotaryRegistry.Revision memory r = disclosure(recordId, 2, leaf1);
        vm.expectEmit(true, true, true, true, address(registry));
        emit INotaryRegistry.RevisionAnchored(
            recordId,
            SIGNER_A,
            2,
            r.kind,
            0,
            r.contentHash,
            r.metadataHash,
            headWord(leaf1, 1, 1, START_BLOCK + 3)
        );
        vm.prank(SIGNER_A);
        registry.anchor(r);
        assertEq(registry.head(recordId).anchoredBlock, START_BLOCK + 9, "head block");
    }

    function test_anchor_movesHeadToNextVersion() public {
        (bytes32 recordId, bytes32 leaf1) = anchorNew(1);
        vm.roll(START_BLOCK + 7);
        bytes32 leaf2 = anchorNext(recordId, 2, leaf1);
        bytes32 leaf3 = anchorNext(recordId, 3, leaf2);

        INotaryRegistry.HeadView memory h = registry.head(recordId);
        assertEq(h.version, 3, "version");
        assertEq(bytes32(h.leafPrefix), bytes32(prefix(leaf3)), "prefix");
        assertEq(h.anchoredBlock, START_BLOCK + 7, "block");
        assertTrue(registry.isCurrent(recordId, leaf3), "v3 current");
        assertFalse(registry.isCurrent(recordId, leaf2), "v2 superseded");
        assertFalse(registry.isCurrent(recordId, leaf1), "v1 superseded");
    }

    function test_anchor_chainsEachLeafToThePreviousOne() public {
        (bytes32 recordId, bytes32 leaf1) = anchorNew(1);
        INotaryRegistry.Revision memory r = disclosure(recordId, 2, leaf1);
        bytes32 leaf2 = anchorNext(recordId, 2, leaf1);
        r.prevLeaf = bytes32(uint256(leaf1) ^ (uint256(1) << 255));
        assertTrue(registry.computeLeaf(r) != leaf2, "prevLeaf is bound into the leaf");
    }

    function test_anchor_advancesAccumulatorByLeaf() public {
        (bytes24 hash0, uint64 count0) = registry.accumulator();
        assertEq(uint256(count0), 0, "empty count");
        assertEq(bytes32(hash0), bytes32(0), "empty hash");
        (, bytes32 leaf1) = anchorNew(1);
        (, bytes32 leaf2) = anchorNew(2);
        (bytes24 hash, uint64 count) = registry.accumulator();
        assertEq(count, 2, "count");
        assertEq(bytes32(hash), bytes32(accumulateLeaf(accumulateLeaf(0, leaf1), leaf2)), "hash");
    }

    function test_anchor_storesCertificateValidity() public {
        bytes32 recordId = recordIdOf(NUMBER_A, 1);
        vm.prank(SIGNER_A);
        registry.anchor(certificate(recordId, 1, bytes32(0), 1_900_000_000));
        assertEq(registry.head(recordId).validUntil, 1_900_000_000, "validUntil");
    }

    function test_anchor_replacesOrClearsValidityOnLaterVersions() public {
        bytes32 recordId = recordIdOf(NUMBER_A, 1);
        vm.startPrank(SIGNER_A);
        bytes32 leaf1 = registry.anchor(certificate(recordId, 1, bytes32(0), 1_900_000_000));
        bytes32 leaf2 = registry.anchor(certificate(recordId, 2, leaf1, 2_000_000_000));
        assertEq(registry.head(recordId).validUntil, 2_000_000_000, "extended");
        bytes32 leaf3 = registry.anchor(certificate(recordId, 3, leaf2, 0));
        assertEq(registry.head(recordId).validUntil, 0, "cleared by a certificate without end");
        bytes32 leaf4 = registry.anchor(certificate(recordId, 4, leaf3, 1_950_000_000));
        registry.anchor(disclosure(recordId, 5, leaf4));
        assertEq(registry.head(recordId).validUntil, 0, "cleared by a disclosure");
        vm.stopPrank();
    }

    function test_anchor_revertsWhen_signerNotAuthorised() public {
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.SignerNotAuthorised.selector, STRANGER)
        );
        vm.prank(STRANGER);
        registry.anchor(disclosure(recordIdOf(NUMBER_A, 1), 1, bytes32(0)));
    }

    function test_anchor_revertsWhen_governorIsNoSigner() public {
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.SignerNotAuthorised.selector, ADMIN));
        vm.prank(ADMIN);
        registry.anchor(disclosure(recordIdOf(NUMBER_A, 1), 1, bytes32(0)));
    }

    function test_anchor_revertsWhen_officeSuspended() public {
        vm.prank(ADMIN);
        registry.suspendOffice(OFFICE_A);
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.OfficeSuspended.selector, OFFICE_A));
        vm.prank(SIGNER_A);
        registry.anchor(disclosure(recordIdOf(NUMBER_A, 1), 1, bytes32(0)));
    }

    function test_anchor_revertsWhen_recordOfOtherOffice() public {
        bytes32 recordId = recordIdOf(NUMBER_B, 1);
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.RecordOfOtherOffice.selector, recordId, NUMBER_A)
        );
        vm.prank(SIGNER_A);
        registry.anchor(disclosure(recordId, 1, bytes32(0)));
    }

    function test_anchor_revertsWhen_versionSkipped() public {
        (bytes32 recordId, bytes32 leaf1) = anchorNew(1);
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.VersionOutOfOrder.selector, recordId, 2, 3)
        );
        anchorNext(recordId, 3, leaf1);
    }

    function test_anchor_revertsWhen_versionRepeated() public {
        (bytes32 recordId,) = anchorNew(1);
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.VersionOutOfOrder.selector, recordId, 2, 1)
        );
        anchorNext(recordId, 1, bytes32(0));
    }

    function test_anchor_revertsWhen_newRecordDoesNotStartAtVersionOne() public {
        bytes32 recordId = recordIdOf(NUMBER_A, 1);
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.VersionOutOfOrder.selector, recordId, 1, 0)
        );
        anchorNext(recordId, 0, bytes32(0));
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.VersionOutOfOrder.selector, recordId, 1, 2)
        );
        anchorNext(recordId, 2, bytes32(0));
    }

    function test_anchor_revertsWhen_prevLeafNotHeadLeaf() public {
        (bytes32 recordId, bytes32 leaf1) = anchorNew(1);
        bytes32 wrong = keccak256("wrong");
        vm.expectRevert(
            abi.encodeWithSelector(
                INotaryRegistry.PrevLeafMismatch.selector, recordId, prefix(leaf1), wrong
            )
        );
        anchorNext(recordId, 2, wrong);
    }

    function test_anchor_revertsWhen_prevLeafDiffersInPrefixByOneBit() public {
        (bytes32 recordId, bytes32 leaf1) = anchorNew(1);
        bytes32 wrong = leaf1 ^ bytes32(uint256(1) << 72); // lowest bit of the 23-byte prefix
        vm.expectRevert(
            abi.encodeWithSelector(
                INotaryRegistry.PrevLeafMismatch.selector, recordId, prefix(leaf1), wrong
            )
        );
        anchorNext(recordId, 2, wrong);
    }

    function test_anchor_revertsWhen_prevLeafNonZeroForVersionOne() public {
        bytes32 recordId = recordIdOf(NUMBER_A, 1);
        bytes32 prev = bytes32(uint256(1));
        vm.expectRevert(
            abi.encodeWithSelector(
                INotaryRegistry.PrevLeafMismatch.selector, recordId, bytes23(0), prev
            )
        );
        anchorNext(recordId, 1, prev);
    }

    function test_anchor_revertsWhen_recordRevoked() public {
        (bytes32 recordId, bytes32 leaf1) = anchorNew(1);
        vm.prank(SIGNER_A);
        registry.revoke(recordId, REASON);
        vm.expectRevert(
            abi.encodeWithSelector(
                INotaryRegistry.RecordClosed.selector, recordId, INotaryRegistry.Status.Revoked
            )
        );
        anchorNext(recordId, 2, leaf1);
    }

    function test_anchor_revertsWhen_recordReplaced() public {
        (bytes32 recordId, bytes32 leaf1) = anchorNew(1);
        (bytes32 byRecordId,) = anchorNew(2);
        vm.prank(SIGNER_A);
        registry.replace(recordId, byRecordId, bytes32(0));
        vm.expectRevert(
            abi.encodeWithSelector(
                INotaryRegistry.RecordClosed.selector, recordId, INotaryRegistry.Status.Replaced
            )
        );
        anchorNext(recordId, 2, leaf1);
    }

    function test_anchor_revertsWhen_validityOnDisclosure() public {
        INotaryRegistry.Revision memory r = disclosure(recordIdOf(NUMBER_A, 1), 1, bytes32(0));
        r.validUntil = 1;
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.ValidityOnDisclosure.selector, r.recordId)
        );
        vm.prank(SIGNER_A);
        registry.anchor(r);
    }

    function test_anchor_revertsWhen_typedFieldsMalformed() public {
        bytes memory good = abi.encodeCall(
            INotaryRegistry.anchor, (disclosure(recordIdOf(NUMBER_A, 1), 1, bytes32(0)))
        );
        // Word 1 = version (uint32), 2 = kind (0..1), 3 = validUntil (uint64).
        _expectRawAnchorReverts(good, 1, bytes32(uint256(1) | (uint256(1) << 32)));
        _expectRawAnchorReverts(good, 2, bytes32(uint256(2)));
        _expectRawAnchorReverts(good, 3, bytes32(uint256(1) << 64));
        vm.prank(SIGNER_A);
        (bool ok,) = address(registry).call(good);
        assertTrue(ok, "the well-formed call still succeeds");
    }

    // ---------------------------------------------------------------------------------------
    // anchorMany
    // ---------------------------------------------------------------------------------------

    function test_anchorMany_anchorsEveryRevisionAndEmitsEach() public {
        bytes32 first = recordIdOf(NUMBER_A, 1);
        bytes32 second = recordIdOf(NUMBER_A, 2);
        INotaryRegistry.Revision[] memory rs = new INotaryRegistry.Revision[](3);
        rs[0] = disclosure(first, 1, bytes32(0));
        rs[1] = disclosure(second, 1, bytes32(0));
        rs[2] = disclosure(first, 2, registry.computeLeaf(rs[0]));
        bytes32 leaf3 = registry.computeLeaf(rs[2]);

        for (uint256 i; i < 3; ++i) {
            vm.expectEmit(true, true, true, true, address(registry));
            emit INotaryRegistry.RevisionAnchored(
                rs[i].recordId,
                SIGNER_A,
                rs[i].version,
                rs[i].kind,
                rs[i].validUntil,
                rs[i].contentHash,
                rs[i].metadataHash,
                i == 2
                    ? headWord(registry.computeLeaf(rs[0]), 1, 1, uint32(block.number))
                    : bytes32(0)
            );
        }
        vm.prank(SIGNER_A);
        registry.anchorMany(rs);

        assertEq(registry.head(first).version, 2, "first version");
        assertTrue(registry.isCurrent(first, leaf3), "first current");
        assertEq(registry.head(second).version, 1, "second version");
    }

    function test_anchorMany_leavesSameAccumulatorAsSequentialAnchors() public {
        INotaryRegistry.Revision[] memory rs = new INotaryRegistry.Revision[](4);
        bytes24 expected;
        for (uint256 i; i < 4; ++i) {
            rs[i] = disclosure(recordIdOf(NUMBER_A, i), 1, bytes32(0));
            expected = accumulateLeaf(expected, registry.computeLeaf(rs[i]));
        }
        vm.prank(SIGNER_A);
        registry.anchorMany(rs);
        (bytes24 hash, uint64 count) = registry.accumulator();
        assertEq(count, 4, "count");
        assertEq(bytes32(hash), bytes32(expected), "hash");
    }

    function test_anchorMany_revertsWhen_empty() public {
        vm.expectRevert(INotaryRegistry.EmptyInput.selector);
        vm.prank(SIGNER_A);
        registry.anchorMany(new INotaryRegistry.Revision[](0));
    }

    function test_anchorMany_revertsWhen_signerNotAuthorised() public {
        INotaryRegistry.Revision[] memory rs = new INotaryRegistry.Revision[](1);
        rs[0] = disclosure(recordIdOf(NUMBER_A, 1), 1, bytes32(0));
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.SignerNotAuthorised.selector, STRANGER)
        );
        vm.prank(STRANGER);
        registry.anchorMany(rs);
    }

    function test_anchorMany_revertsWhen_officeSuspended() public {
        INotaryRegistry.Revision[] memory rs = new INotaryRegistry.Revision[](1);
        rs[0] = disclosure(recordIdOf(NUMBER_A, 1), 1, bytes32(0));
        vm.prank(ADMIN);
        registry.suspendOffice(OFFICE_A);
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.OfficeSuspended.selector, OFFICE_A));
        vm.prank(SIGNER_A);
        registry.anchorMany(rs);
    }

    function test_anchorMany_revertsWhen_anyItemOfOtherOffice() public {
        INotaryRegistry.Revision[] memory rs = new INotaryRegistry.Revision[](2);
        rs[0] = disclosure(recordIdOf(NUMBER_A, 1), 1, bytes32(0));
        rs[1] = disclosure(recordIdOf(NUMBER_B, 1), 1, bytes32(0));
        vm.expectRevert(
            abi.encodeWithSelector(
                INotaryRegistry.RecordOfOtherOffice.selector, rs[1].recordId, NUMBER_A
            )
        );
        vm.prank(SIGNER_A);
        registry.anchorMany(rs);
    }

    function test_anchorMany_revertsWhen_anyItemInvalid_andAnchorsNothing() public {
        INotaryRegistry.Revision[] memory rs = new INotaryRegistry.Revision[](3);
        rs[0] = disclosure(recordIdOf(NUMBER_A, 1), 1, bytes32(0));
        rs[1] = disclosure(recordIdOf(NUMBER_A, 2), 1, bytes32(0));
        rs[2] = disclosure(rs[0].recordId, 1, bytes32(0)); // repeats version 1
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.VersionOutOfOrder.selector, rs[0].recordId, 2, 1)
        );
        vm.prank(SIGNER_A);
        registry.anchorMany(rs);
        assertEq(registry.head(rs[0].recordId).version, 0, "first not anchored");
        assertEq(registry.head(rs[1].recordId).version, 0, "second not anchored");
        (, uint64 count) = registry.accumulator();
        assertEq(count, 0, "accumulator untouched");
    }

    // ---------------------------------------------------------------------------------------
    // anchorBatch / verifyBatchLeaf
    // ---------------------------------------------------------------------------------------

    function test_anchorBatch_storesRootAndEmits() public {
        bytes32 root = merkleRoot(leavesOf(5, 1));
        vm.roll(321);
        vm.expectEmit(true, true, true, true, address(registry));
        emit INotaryRegistry.BatchAnchored(root, OFFICE_A, SIGNER_A, 5);
        vm.prank(SIGNER_A);
        registry.anchorBatch(root, 5);
        (bytes32 officeId, uint32 blockNumber) = registry.batch(root);
        assertEq(officeId, OFFICE_A, "office");
        assertEq(blockNumber, 321, "block");
    }

    function test_anchorBatch_addsRootAndLeafCountToAccumulator() public {
        (, bytes32 leaf) = anchorNew(1);
        bytes32 root = merkleRoot(leavesOf(5, 1));
        vm.prank(SIGNER_A);
        registry.anchorBatch(root, 5);
        (bytes24 hash, uint64 count) = registry.accumulator();
        assertEq(count, 6, "count");
        assertEq(bytes32(hash), bytes32(accumulateRoot(accumulateLeaf(0, leaf), root)), "hash");
    }

    function test_anchorBatch_revertsWhen_rootOrCountZero() public {
        vm.startPrank(SIGNER_A);
        vm.expectRevert(INotaryRegistry.EmptyInput.selector);
        registry.anchorBatch(bytes32(0), 5);
        vm.expectRevert(INotaryRegistry.EmptyInput.selector);
        registry.anchorBatch(keccak256("root"), 0);
        vm.stopPrank();
    }

    function test_anchorBatch_revertsWhen_rootAlreadyAnchored() public {
        bytes32 root = keccak256("root");
        vm.prank(SIGNER_A);
        registry.anchorBatch(root, 1);
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.BatchAlreadyAnchored.selector, root));
        vm.prank(SIGNER_B);
        registry.anchorBatch(root, 1);
    }

    function test_anchorBatch_revertsWhen_signerNotAuthorised() public {
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.SignerNotAuthorised.selector, STRANGER)
        );
        vm.prank(STRANGER);
        registry.anchorBatch(keccak256("root"), 1);
    }

    function test_anchorBatch_revertsWhen_officeSuspended() public {
        vm.prank(ADMIN);
        registry.suspendOffice(OFFICE_A);
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.OfficeSuspended.selector, OFFICE_A));
        vm.prank(SIGNER_A);
        registry.anchorBatch(keccak256("root"), 1);
    }

    function test_verifyBatchLeaf_acceptsEveryLeafOfAnchoredTree() public {
        bytes32[] memory leaves = leavesOf(7, 1);
        bytes32 root = merkleRoot(leaves);
        vm.prank(SIGNER_A);
        registry.anchorBatch(root, 7);
        for (uint256 i; i < leaves.length; ++i) {
            assertTrue(
                registry.verifyBatchLeaf(root, leaves[i], merkleProof(leaves, i)), "leaf proves"
            );
        }
    }

    function test_verifyBatchLeaf_acceptsSingleLeafTreeWithEmptyProof() public {
        bytes32[] memory leaves = leavesOf(1, 1);
        bytes32 root = merkleRoot(leaves);
        assertEq(root, leafNode(leaves[0]), "root of one leaf is its leaf node");
        vm.prank(SIGNER_A);
        registry.anchorBatch(root, 1);
        assertTrue(registry.verifyBatchLeaf(root, leaves[0], new bytes32[](0)), "single leaf");
    }

    function test_verifyBatchLeaf_rejectsLeafNotInTree() public {
        bytes32[] memory leaves = leavesOf(4, 1);
        bytes32 root = merkleRoot(leaves);
        vm.prank(SIGNER_A);
        registry.anchorBatch(root, 4);
        bytes32[] memory proof = merkleProof(leaves, 2);
        assertFalse(registry.verifyBatchLeaf(root, keccak256("other"), proof), "other leaf");
        assertFalse(registry.verifyBatchLeaf(root, leaves[1], proof), "proof of another leaf");
    }

    function test_verifyBatchLeaf_rejectsInnerNodeAsLeaf() public {
        bytes32[] memory leaves = leavesOf(4, 1);
        bytes32 root = merkleRoot(leaves);
        vm.prank(SIGNER_A);
        registry.anchorBatch(root, 4);
        // The inner node over leaves 0 and 1, with the right subtree as proof, is refused: leaf
        // and inner nodes are domain-separated (0x00 / 0x01), so no second preimage.
        bytes32 inner = innerNode(leafNode(leaves[0]), leafNode(leaves[1]));
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = innerNode(leafNode(leaves[2]), leafNode(leaves[3]));
        assertFalse(registry.verifyBatchLeaf(root, inner, proof), "inner node");
    }

    function test_verifyBatchLeaf_rejectsUnanchoredRoot() public view {
        bytes32[] memory leaves = leavesOf(4, 1);
        bytes32 root = merkleRoot(leaves);
        assertFalse(registry.verifyBatchLeaf(root, leaves[0], merkleProof(leaves, 0)), "unknown");
    }

    // ---------------------------------------------------------------------------------------
    // revoke
    // ---------------------------------------------------------------------------------------

    function test_revoke_closesRecordAndEmits() public {
        (bytes32 recordId, bytes32 leaf) = anchorNew(1);
        bytes32 before = headWord(leaf, 1, 1, uint32(block.number));
        vm.roll(block.number + 5);
        vm.expectEmit(true, true, true, true, address(registry));
        emit INotaryRegistry.RecordRevoked(recordId, SIGNER_A, REASON, before);
        vm.prank(SIGNER_A);
        registry.revoke(recordId, REASON);

        INotaryRegistry.HeadView memory h = registry.head(recordId);
        assertEq(uint8(h.status), uint8(INotaryRegistry.Status.Revoked), "status");
        assertEq(h.anchoredBlock, block.number, "block of the revocation");
        assertEq(h.version, 1, "version kept");
        assertEq(bytes32(h.leafPrefix), bytes32(prefix(leaf)), "prefix kept");
        assertFalse(registry.isCurrent(recordId, leaf), "not current");
    }

    function test_revoke_keepsCertificateValidity() public {
        bytes32 recordId = recordIdOf(NUMBER_A, 1);
        vm.startPrank(SIGNER_A);
        registry.anchor(certificate(recordId, 1, bytes32(0), 1_900_000_000));
        registry.revoke(recordId, REASON);
        vm.stopPrank();
        assertEq(registry.head(recordId).validUntil, 1_900_000_000, "validUntil");
    }

    function test_revoke_byAnotherSignerOfTheSameOffice() public {
        (bytes32 recordId,) = anchorNew(1);
        address second = address(0x5A2);
        vm.prank(ADMIN);
        registry.grantSigner(OFFICE_A, second);
        vm.prank(second);
        registry.revoke(recordId, REASON);
        assertEq(
            uint8(registry.head(recordId).status), uint8(INotaryRegistry.Status.Revoked), "status"
        );
    }

    function test_revoke_revertsWhen_signerNotAuthorised() public {
        (bytes32 recordId,) = anchorNew(1);
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.SignerNotAuthorised.selector, STRANGER)
        );
        vm.prank(STRANGER);
        registry.revoke(recordId, REASON);
    }

    function test_revoke_revertsWhen_officeSuspended() public {
        (bytes32 recordId,) = anchorNew(1);
        vm.prank(ADMIN);
        registry.suspendOffice(OFFICE_A);
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.OfficeSuspended.selector, OFFICE_A));
        vm.prank(SIGNER_A);
        registry.revoke(recordId, REASON);
    }

    function test_revoke_revertsWhen_recordOfOtherOffice() public {
        (bytes32 recordId,) = anchorNew(1);
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.RecordOfOtherOffice.selector, recordId, NUMBER_B)
        );
        vm.prank(SIGNER_B);
        registry.revoke(recordId, REASON);
    }

    function test_revoke_revertsWhen_recordUnknown() public {
        bytes32 recordId = recordIdOf(NUMBER_A, 99);
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.RecordUnknown.selector, recordId));
        vm.prank(SIGNER_A);
        registry.revoke(recordId, REASON);
    }

    function test_revoke_revertsWhen_alreadyRevoked() public {
        (bytes32 recordId,) = anchorNew(1);
        vm.startPrank(SIGNER_A);
        registry.revoke(recordId, REASON);
        vm.expectRevert(
            abi.encodeWithSelector(
                INotaryRegistry.RecordClosed.selector, recordId, INotaryRegistry.Status.Revoked
            )
        );
        registry.revoke(recordId, REASON);
        vm.stopPrank();
    }

    function test_revoke_revertsWhen_reasonHashZero() public {
        (bytes32 recordId,) = anchorNew(1);
        vm.expectRevert(INotaryRegistry.EmptyInput.selector);
        vm.prank(SIGNER_A);
        registry.revoke(recordId, bytes32(0));
    }

    // ---------------------------------------------------------------------------------------
    // replace
    // ---------------------------------------------------------------------------------------

    function test_replace_storesForwardPointerAndEmits() public {
        (bytes32 recordId, bytes32 leaf) = anchorNew(1);
        (bytes32 byRecordId,) = anchorNew(2);
        bytes32 before = headWord(leaf, 1, 1, uint32(block.number));
        vm.roll(block.number + 4);
        vm.expectEmit(true, true, true, true, address(registry));
        emit INotaryRegistry.RecordReplaced(recordId, byRecordId, SIGNER_A, REASON, before);
        vm.prank(SIGNER_A);
        registry.replace(recordId, byRecordId, REASON);

        INotaryRegistry.HeadView memory h = registry.head(recordId);
        assertEq(uint8(h.status), uint8(INotaryRegistry.Status.Replaced), "status");
        assertEq(h.anchoredBlock, block.number, "block of the replacement");
        assertEq(h.replacedBy, byRecordId, "replacedBy");
        assertFalse(registry.isCurrent(recordId, leaf), "not current");
        assertEq(
            uint8(registry.head(byRecordId).status),
            uint8(INotaryRegistry.Status.Active),
            "replacement stays active"
        );
    }

    function test_replace_revertsWhen_signerNotAuthorised() public {
        (bytes32 recordId,) = anchorNew(1);
        (bytes32 byRecordId,) = anchorNew(2);
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.SignerNotAuthorised.selector, STRANGER)
        );
        vm.prank(STRANGER);
        registry.replace(recordId, byRecordId, bytes32(0));
    }

    function test_replace_revertsWhen_officeSuspended() public {
        (bytes32 recordId,) = anchorNew(1);
        (bytes32 byRecordId,) = anchorNew(2);
        vm.prank(ADMIN);
        registry.suspendOffice(OFFICE_A);
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.OfficeSuspended.selector, OFFICE_A));
        vm.prank(SIGNER_A);
        registry.replace(recordId, byRecordId, bytes32(0));
    }

    function test_replace_revertsWhen_recordOfOtherOffice() public {
        (bytes32 recordId,) = anchorNew(1);
        bytes32 byRecordId = recordIdOf(NUMBER_B, 1);
        vm.prank(SIGNER_B);
        registry.anchor(disclosure(byRecordId, 1, bytes32(0)));
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.RecordOfOtherOffice.selector, recordId, NUMBER_B)
        );
        vm.prank(SIGNER_B);
        registry.replace(recordId, byRecordId, bytes32(0));
    }

    function test_replace_revertsWhen_recordUnknown() public {
        bytes32 recordId = recordIdOf(NUMBER_A, 99);
        (bytes32 byRecordId,) = anchorNew(2);
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.RecordUnknown.selector, recordId));
        vm.prank(SIGNER_A);
        registry.replace(recordId, byRecordId, bytes32(0));
    }

    function test_replace_revertsWhen_recordClosed() public {
        (bytes32 recordId,) = anchorNew(1);
        (bytes32 byRecordId,) = anchorNew(2);
        vm.startPrank(SIGNER_A);
        registry.revoke(recordId, REASON);
        vm.expectRevert(
            abi.encodeWithSelector(
                INotaryRegistry.RecordClosed.selector, recordId, INotaryRegistry.Status.Revoked
            )
        );
        registry.replace(recordId, byRecordId, bytes32(0));
        vm.stopPrank();
    }

    function test_replace_revertsWhen_replacementIsTheSameRecord() public {
        (bytes32 recordId,) = anchorNew(1);
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.InvalidReplacement.selector, recordId, recordId)
        );
        vm.prank(SIGNER_A);
        registry.replace(recordId, recordId, bytes32(0));
    }

    function test_replace_revertsWhen_replacementOfOtherOffice() public {
        (bytes32 recordId,) = anchorNew(1);
        bytes32 byRecordId = recordIdOf(NUMBER_B, 1);
        vm.prank(SIGNER_B);
        registry.anchor(disclosure(byRecordId, 1, bytes32(0)));
        vm.expectRevert(
            abi.encodeWithSelector(
                INotaryRegistry.InvalidReplacement.selector, recordId, byRecordId
            )
        );
        vm.prank(SIGNER_A);
        registry.replace(recordId, byRecordId, bytes32(0));
    }

    function test_replace_revertsWhen_replacementUnknown() public {
        (bytes32 recordId,) = anchorNew(1);
        bytes32 byRecordId = recordIdOf(NUMBER_A, 99);
        vm.expectRevert(
            abi.encodeWithSelector(
                INotaryRegistry.InvalidReplacement.selector, recordId, byRecordId
            )
        );
        vm.prank(SIGNER_A);
        registry.replace(recordId, byRecordId, bytes32(0));
    }

    function test_replace_revertsWhen_replacementClosed() public {
        (bytes32 recordId,) = anchorNew(1);
        (bytes32 byRecordId,) = anchorNew(2);
        vm.startPrank(SIGNER_A);
        registry.revoke(byRecordId, REASON);
        vm.expectRevert(
            abi.encodeWithSelector(
                INotaryRegistry.InvalidReplacement.selector, recordId, byRecordId
            )
        );
        registry.replace(recordId, byRecordId, bytes32(0));
        vm.stopPrank();
    }

    // ---------------------------------------------------------------------------------------
    // anchorAccessLog
    // ---------------------------------------------------------------------------------------

    function test_anchorAccessLog_emitsWithOffice() public {
        bytes32 logHead = keccak256("log head");
        vm.expectEmit(true, true, true, true, address(registry));
        emit INotaryRegistry.AccessLogAnchored(OFFICE_B, SIGNER_B, logHead, 42);
        vm.prank(SIGNER_B);
        registry.anchorAccessLog(logHead, 42);
    }

    function test_anchorAccessLog_revertsWhen_headOrEntriesZero() public {
        vm.startPrank(SIGNER_A);
        vm.expectRevert(INotaryRegistry.EmptyInput.selector);
        registry.anchorAccessLog(bytes32(0), 1);
        vm.expectRevert(INotaryRegistry.EmptyInput.selector);
        registry.anchorAccessLog(keccak256("log head"), 0);
        vm.stopPrank();
    }

    function test_anchorAccessLog_revertsWhen_signerNotAuthorised() public {
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.SignerNotAuthorised.selector, STRANGER)
        );
        vm.prank(STRANGER);
        registry.anchorAccessLog(keccak256("log head"), 1);
    }

    function test_anchorAccessLog_revertsWhen_officeSuspended() public {
        vm.prank(ADMIN);
        registry.suspendOffice(OFFICE_A);
        vm.expectRevert(abi.encodeWithSelector(INotaryRegistry.OfficeSuspended.selector, OFFICE_A));
        vm.prank(SIGNER_A);
        registry.anchorAccessLog(keccak256("log head"), 1);
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    function test_head_isEmptyForUnknownRecord() public view {
        INotaryRegistry.HeadView memory h = registry.head(recordIdOf(NUMBER_A, 1));
        assertEq(h.officeId, bytes32(0), "office");
        assertEq(h.version, 0, "version");
        assertEq(uint8(h.status), uint8(INotaryRegistry.Status.None), "status");
        assertFalse(registry.isCurrent(recordIdOf(NUMBER_A, 1), bytes32(0)), "not current");
    }

    function test_office_isEmptyForUnknownOffice() public view {
        INotaryRegistry.OfficeView memory view_ = registry.office(keccak256("unknown"));
        assertEq(view_.number, 0, "number");
        assertEq(view_.name, "", "name");
        assertEq(registry.officeIdOf(99), bytes32(0), "officeIdOf");
        assertEq(registry.officeIdOf(NUMBER_B), OFFICE_B, "officeIdOf B");
    }

    function test_batch_isEmptyForUnknownRoot() public view {
        (bytes32 officeId, uint32 blockNumber) = registry.batch(keccak256("root"));
        assertEq(officeId, bytes32(0), "office");
        assertEq(blockNumber, 0, "block");
    }

    /// @dev The vectors of docs/formats.md: chain 31337, registry at anvil's first deployment
    /// address; recomputed independently in Python (eth_abi + keccak).
    function test_computeLeaf_matchesFormatsVector() public {
        address at = 0x5FbDB2315678afecb367f032d93F642f64180aa3;
        vm.etch(at, address(registry).code);
        vm.chainId(31337);
        INotaryRegistry.Revision memory r = INotaryRegistry.Revision({
            recordId: 0x0000000111111111111111111111111111111111111111111111111111111111,
            version: 1,
            kind: INotaryRegistry.Kind.Disclosure,
            validUntil: 0,
            contentHash: sha256("hello world\n"),
            metadataHash: sha256('{"title":"Budget 2024"}'),
            prevLeaf: bytes32(0)
        });
        assertEq(
            r.contentHash,
            0xa948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447,
            "content hash"
        );
        bytes32 leaf1 = NotaryRegistry(at).computeLeaf(r);
        assertEq(
            leaf1, 0x7c720bc580d08ab6ed4753c8a0a3598bf0c7b93ea49225bbcf7558f585359daf, "leaf 1"
        );

        INotaryRegistry.Revision memory r2 = INotaryRegistry.Revision({
            recordId: 0x0000000222222222222222222222222222222222222222222222222222222222,
            version: 2,
            kind: INotaryRegistry.Kind.Certificate,
            validUntil: 1_767_225_600,
            contentHash: sha256("certificate v2"),
            metadataHash: sha256("{}"),
            prevLeaf: leaf1
        });
        assertEq(
            NotaryRegistry(at).computeLeaf(r2),
            0x1efb9ae697b0fc2d6f4da9a2a568dec98493943d76a56fd5c4f1247182898b21,
            "leaf 2"
        );

        bytes24 acc = accumulateLeaf(bytes24(0), leaf1);
        assertEq(
            bytes32(acc),
            bytes32(bytes24(0xb2254ea406b07d22b2afb2e122a26105bfd2f408c74f4b16)),
            "acc 1"
        );
        acc = accumulateRoot(acc, bytes32(uint256(type(uint256).max) / 255 * 0xab));
        assertEq(
            bytes32(acc),
            bytes32(bytes24(0xd32af0200cc2b23d2299bda3938d05da37b6ccdc32b3c7fd)),
            "acc 2"
        );
    }

    function test_computeLeaf_hashesOnlyTheStoredPrefixOfPrevLeaf() public view {
        bytes32 prev = keccak256("prev");
        INotaryRegistry.Revision memory r = disclosure(recordIdOf(NUMBER_A, 1), 2, prev);
        bytes32 leaf = registry.computeLeaf(r);
        r.prevLeaf = prev ^ bytes32(uint256(0xff));
        assertEq(registry.computeLeaf(r), leaf, "tail of prevLeaf must not matter");
        r.prevLeaf = prev ^ bytes32(uint256(1) << 80);
        assertTrue(registry.computeLeaf(r) != leaf, "prefix of prevLeaf must matter");
    }

    function test_computeLeaf_bindsChainIdAndRegistryAddress() public {
        INotaryRegistry.Revision memory r = disclosure(recordIdOf(NUMBER_A, 1), 1, bytes32(0));
        bytes32 here = registry.computeLeaf(r);
        NotaryRegistry other = new NotaryRegistry(ADMIN);
        assertTrue(other.computeLeaf(r) != here, "other registry");
        vm.chainId(1);
        assertTrue(registry.computeLeaf(r) != here, "other chain");
    }

    function test_computeLeaf_revertsWhen_typedFieldsMalformed() public view {
        bytes memory good = abi.encodeCall(
            INotaryRegistry.computeLeaf, (disclosure(recordIdOf(NUMBER_A, 1), 1, bytes32(0)))
        );
        bytes memory bad = _withWord(good, 2, bytes32(uint256(7)));
        (bool ok,) = address(registry).staticcall(bad);
        assertFalse(ok, "kind 7 rejected");
        (ok,) = address(registry).staticcall(good);
        assertTrue(ok, "well-formed accepted");
    }

    // ---------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------

    /// @dev `data` with ABI word `index` of the (static) revision replaced by `word`.
    function _withWord(bytes memory data, uint256 index, bytes32 word)
        private
        pure
        returns (bytes memory out)
    {
        out = bytes.concat(data); // copy
        uint256 offset = 4 + 32 * index;
        assembly ("memory-safe") {
            mstore(add(add(out, 0x20), offset), word)
        }
    }

    function _expectRawAnchorReverts(bytes memory good, uint256 index, bytes32 word) private {
        vm.prank(SIGNER_A);
        (bool ok, bytes memory ret) = address(registry).call(_withWord(good, index, word));
        assertFalse(ok, "malformed word accepted");
        assertEq(ret.length, 0, "reverts without data, as the ABI decoder does");
    }
}
