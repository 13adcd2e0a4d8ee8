// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {INotaryRegistry} from "../../src/INotaryRegistry.sol";
import {NotaryRegistry} from "../../src/NotaryRegistry.sol";
import {Test} from "./Test.sol";

/// @notice A registry with two offices (A, B), one signer each, at block 100; helpers to build
/// record ids, revisions, Merkle trees and accumulator steps exactly as docs/formats.md says.
abstract contract RegistryFixture is Test {
    NotaryRegistry internal registry;

    address internal constant ADMIN = address(0xA11CE);
    address internal constant SIGNER_A = address(0x5A);
    address internal constant SIGNER_B = address(0x5B);
    address internal constant STRANGER = address(0xBAD);

    bytes32 internal constant OFFICE_A = keccak256("office A");
    bytes32 internal constant OFFICE_B = keccak256("office B");
    uint32 internal constant NUMBER_A = 1;
    uint32 internal constant NUMBER_B = 2;
    uint32 internal constant START_BLOCK = 100;

    function setUp() public virtual {
        vm.roll(START_BLOCK);
        registry = new NotaryRegistry(ADMIN);
        vm.startPrank(ADMIN);
        registry.registerOffice(OFFICE_A, "Office A");
        registry.registerOffice(OFFICE_B, "Office B");
        registry.grantSigner(OFFICE_A, SIGNER_A);
        registry.grantSigner(OFFICE_B, SIGNER_B);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------------------------------
    // Records and revisions
    // ---------------------------------------------------------------------------------------

    /// @dev officeNumber (4 bytes) || 28 bytes derived from `salt`.
    function recordIdOf(uint32 number, uint256 salt) internal pure returns (bytes32) {
        uint256 random = uint256(keccak256(abi.encode("record", salt))) >> 32;
        return bytes32((uint256(number) << 224) | random);
    }

    function disclosure(bytes32 recordId, uint32 version, bytes32 prevLeaf)
        internal
        pure
        returns (INotaryRegistry.Revision memory)
    {
        return INotaryRegistry.Revision({
            recordId: recordId,
            version: version,
            kind: INotaryRegistry.Kind.Disclosure,
            validUntil: 0,
            contentHash: keccak256(abi.encode("content", recordId, version)),
            metadataHash: keccak256(abi.encode("metadata", recordId, version)),
            prevLeaf: prevLeaf
        });
    }

    function certificate(bytes32 recordId, uint32 version, bytes32 prevLeaf, uint64 validUntil)
        internal
        pure
        returns (INotaryRegistry.Revision memory r)
    {
        r = disclosure(recordId, version, prevLeaf);
        r.kind = INotaryRegistry.Kind.Certificate;
        r.validUntil = validUntil;
    }

    /// @dev Anchors version 1 of a new disclosure of office A and returns its id and leaf.
    function anchorNew(uint256 salt) internal returns (bytes32 recordId, bytes32 leaf) {
        recordId = recordIdOf(NUMBER_A, salt);
        vm.prank(SIGNER_A);
        leaf = registry.anchor(disclosure(recordId, 1, bytes32(0)));
    }

    /// @dev Anchors the next version of a record of office A whose head is `prevLeaf`.
    function anchorNext(bytes32 recordId, uint32 version, bytes32 prevLeaf)
        internal
        returns (bytes32 leaf)
    {
        vm.prank(SIGNER_A);
        leaf = registry.anchor(disclosure(recordId, version, prevLeaf));
    }

    /// @dev The 23-byte leaf prefix a head keeps.
    /// @dev A packed head word as the registry stores it and its events carry as `prevHead`:
    /// leaf prefix (23) || version (4) || state (1) || block (4).
    function headWord(bytes32 leaf, uint32 version, uint8 state, uint32 blockNumber)
        internal
        pure
        returns (bytes32)
    {
        return bytes32(
            (uint256(leaf) & (~uint256(0) << 72)) | (uint256(version) << 40)
                | (uint256(state) << 32) | blockNumber
        );
    }

    function prefix(bytes32 leaf) internal pure returns (bytes23) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return bytes23(leaf);
    }

    // ---------------------------------------------------------------------------------------
    // Accumulator and Merkle tree (docs/formats.md)
    // ---------------------------------------------------------------------------------------

    function accumulateLeaf(bytes24 hash, bytes32 leaf) internal pure returns (bytes24) {
        return bytes24(keccak256(abi.encodePacked(hash, bytes1(0x00), leaf)));
    }

    function accumulateRoot(bytes24 hash, bytes32 root) internal pure returns (bytes24) {
        return bytes24(keccak256(abi.encodePacked(hash, bytes1(0x01), root)));
    }

    function leafNode(bytes32 leaf) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x00), leaf));
    }

    function innerNode(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b
            ? keccak256(abi.encodePacked(bytes1(0x01), a, b))
            : keccak256(abi.encodePacked(bytes1(0x01), b, a));
    }

    /// @dev MTH over `leaves[lo:hi]`: split at the largest power of two below the size.
    function merkleRoot(bytes32[] memory leaves, uint256 lo, uint256 hi)
        internal
        pure
        returns (bytes32)
    {
        if (hi - lo == 1) return leafNode(leaves[lo]);
        uint256 k = _split(hi - lo);
        return innerNode(merkleRoot(leaves, lo, lo + k), merkleRoot(leaves, lo + k, hi));
    }

    function merkleRoot(bytes32[] memory leaves) internal pure returns (bytes32) {
        return merkleRoot(leaves, 0, leaves.length);
    }

    /// @dev Sibling hashes from the leaf's level up to the root.
    function merkleProof(bytes32[] memory leaves, uint256 index)
        internal
        pure
        returns (bytes32[] memory proof)
    {
        bytes32[] memory topDown = new bytes32[](64);
        uint256 depth;
        uint256 lo = 0;
        uint256 hi = leaves.length;
        while (hi - lo > 1) {
            uint256 k = _split(hi - lo);
            if (index < lo + k) {
                topDown[depth++] = merkleRoot(leaves, lo + k, hi);
                hi = lo + k;
            } else {
                topDown[depth++] = merkleRoot(leaves, lo, lo + k);
                lo = lo + k;
            }
        }
        proof = new bytes32[](depth);
        for (uint256 i; i < depth; ++i) {
            proof[i] = topDown[depth - 1 - i];
        }
    }

    function leavesOf(uint256 n, uint256 seed) internal pure returns (bytes32[] memory leaves) {
        leaves = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            leaves[i] = keccak256(abi.encode("leaf", seed, i));
        }
    }

    function _split(uint256 n) private pure returns (uint256 k) {
        k = 1;
        while (k << 1 < n) {
            k <<= 1;
        }
    }
}
