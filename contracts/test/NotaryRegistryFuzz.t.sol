// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {INotaryRegistry} from "../src/INotaryRegistry.sol";
import {RegistryFixture} from "./utils/RegistryFixture.sol";

/// @notice Fuzz tests (fixed seed in foundry.toml): the rules hold for any input.
contract NotaryRegistryFuzzTest is RegistryFixture {
    function testFuzz_anchor_acceptsAnyContentAndMetadataHash(
        bytes32 contentHash,
        bytes32 metadataHash,
        uint256 salt
    ) public {
        INotaryRegistry.Revision memory r = disclosure(recordIdOf(NUMBER_A, salt), 1, bytes32(0));
        r.contentHash = contentHash;
        r.metadataHash = metadataHash;
        bytes32 expected = registry.computeLeaf(r);
        vm.prank(SIGNER_A);
        bytes32 leaf = registry.anchor(r);
        assertEq(leaf, expected, "leaf");
        assertTrue(registry.isCurrent(r.recordId, leaf), "current");
    }

    function testFuzz_anchor_revertsWhen_versionIsNotHeadPlusOne(uint8 anchored, uint32 version)
        public
    {
        uint32 n = anchored % 6;
        bytes32 recordId = recordIdOf(NUMBER_A, 1);
        bytes32 leaf;
        for (uint32 v = 1; v <= n; ++v) {
            leaf = anchorNext(recordId, v, leaf);
        }
        vm.assume(version != n + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                INotaryRegistry.VersionOutOfOrder.selector, recordId, n + 1, version
            )
        );
        anchorNext(recordId, version, leaf);
    }

    function testFuzz_anchor_revertsWhen_prevLeafIsNotHeadLeaf(bytes32 prevLeaf) public {
        (bytes32 recordId, bytes32 leaf1) = anchorNew(1);
        vm.assume(prefix(prevLeaf) != prefix(leaf1));
        vm.expectRevert(
            abi.encodeWithSelector(
                INotaryRegistry.PrevLeafMismatch.selector, recordId, prefix(leaf1), prevLeaf
            )
        );
        anchorNext(recordId, 2, prevLeaf);
    }

    function testFuzz_anchor_revertsWhen_recordIdNamesAnotherOffice(uint32 number, uint256 salt)
        public
    {
        vm.assume(number != NUMBER_A);
        bytes32 recordId = recordIdOf(number, salt);
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.RecordOfOtherOffice.selector, recordId, NUMBER_A)
        );
        anchorNext(recordId, 1, bytes32(0));
    }

    function testFuzz_anchor_revertsWhen_callerIsNoSigner(address caller) public {
        vm.assume(caller != SIGNER_A && caller != SIGNER_B);
        vm.expectRevert(
            abi.encodeWithSelector(INotaryRegistry.SignerNotAuthorised.selector, caller)
        );
        vm.prank(caller);
        registry.anchor(disclosure(recordIdOf(NUMBER_A, 1), 1, bytes32(0)));
    }

    function testFuzz_anchor_storesAnyCertificateValidity(uint64 validUntil) public {
        bytes32 recordId = recordIdOf(NUMBER_A, 1);
        vm.prank(SIGNER_A);
        registry.anchor(certificate(recordId, 1, bytes32(0), validUntil));
        assertEq(registry.head(recordId).validUntil, validUntil, "validUntil");
    }

    function testFuzz_anchorMany_matchesSequentialAnchors(uint8 size, uint256 seed) public {
        uint256 n = bound(size, 1, 12);
        INotaryRegistry.Revision[] memory rs = new INotaryRegistry.Revision[](n);
        bytes24 expected;
        bytes32[4] memory heads;
        uint32[4] memory versions;
        // Items spread over four records, each following its own head within the call.
        for (uint256 i; i < n; ++i) {
            uint256 which = uint256(keccak256(abi.encode(seed, i))) % 4;
            rs[i] = disclosure(recordIdOf(NUMBER_A, which), versions[which] + 1, heads[which]);
            heads[which] = registry.computeLeaf(rs[i]);
            versions[which] += 1;
            expected = accumulateLeaf(expected, heads[which]);
        }
        vm.prank(SIGNER_A);
        registry.anchorMany(rs);

        (bytes24 hash, uint64 count) = registry.accumulator();
        assertEq(count, n, "count");
        assertEq(bytes32(hash), bytes32(expected), "hash");
        for (uint256 w; w < 4; ++w) {
            assertEq(registry.head(recordIdOf(NUMBER_A, w)).version, versions[w], "version");
            if (versions[w] != 0) {
                assertTrue(registry.isCurrent(recordIdOf(NUMBER_A, w), heads[w]), "current");
            }
        }
    }

    function testFuzz_anchorBatch_addsDeclaredLeafCount(uint32 leafCount, bytes32 root) public {
        vm.assume(root != bytes32(0) && leafCount != 0);
        vm.prank(SIGNER_A);
        registry.anchorBatch(root, leafCount);
        (bytes24 hash, uint64 count) = registry.accumulator();
        assertEq(count, leafCount, "count");
        assertEq(bytes32(hash), bytes32(accumulateRoot(0, root)), "hash");
    }

    function testFuzz_verifyBatchLeaf_provesEveryLeafOfAnyTree(uint8 size, uint256 seed, uint8 at)
        public
    {
        uint8 n = 1 + size % 40;
        uint256 index = bound(at, 0, n - 1);
        bytes32[] memory leaves = leavesOf(n, seed);
        bytes32 root = merkleRoot(leaves);
        vm.prank(SIGNER_A);
        registry.anchorBatch(root, n);
        bytes32[] memory proof = merkleProof(leaves, index);
        assertTrue(registry.verifyBatchLeaf(root, leaves[index], proof), "member");
        assertFalse(
            registry.verifyBatchLeaf(root, keccak256(abi.encode(leaves[index])), proof), "stranger"
        );
    }

    function testFuzz_signerAuthorisedAt_matchesGrantAndRevokeBlocks(
        uint32 grantDelay,
        uint32 activeFor,
        uint256 query
    ) public {
        uint256 grantAt = uint256(START_BLOCK) + bound(grantDelay, 0, 1000);
        uint256 revokeAt = grantAt + bound(activeFor, 0, 1000);
        query = bound(query, 0, revokeAt + 1000);
        address signer = address(0x5A2);
        vm.startPrank(ADMIN);
        vm.roll(grantAt);
        registry.grantSigner(OFFICE_B, signer);
        vm.roll(revokeAt);
        registry.revokeSigner(OFFICE_B, signer);
        vm.stopPrank();
        bool expected = query >= grantAt && query <= revokeAt;
        assertEq(registry.signerAuthorisedAt(OFFICE_B, signer, query), expected, "authorised");
        assertFalse(registry.signerAuthorisedAt(OFFICE_A, signer, query), "other office");
    }
}
