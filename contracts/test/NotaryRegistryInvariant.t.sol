// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {INotaryRegistry} from "../src/INotaryRegistry.sol";
import {NotaryRegistry} from "../src/NotaryRegistry.sol";
import {Test} from "./utils/Test.sol";

/// @notice Drives the registry with a mix of valid and invalid calls from signers, rotated
/// signers and strangers, and keeps ghost state of what should have happened.
contract RegistryHandler is Test {
    NotaryRegistry internal immutable registry;

    uint256 internal constant OFFICES = 2;
    uint256 internal constant RECORDS_PER_OFFICE = 4;
    /// @dev actors[0..1] sign for office 1 or 2 (changing with rotations), actors[2] is a
    /// stranger who is never granted anything.
    address[3] internal actors = [address(0xA1), address(0xA2), address(0xBAD)];
    bytes32[2] internal officeIds = [keccak256("office A"), keccak256("office B")];

    // ---------------------------------------------------------------------------------------
    // Ghost state
    // ---------------------------------------------------------------------------------------

    /// @dev What the handler believes each actor may sign for (0 = nothing) and which offices
    /// are suspended; a call that succeeds although this says no is a violation.
    mapping(address actor => uint32 officeNumber) public ghostOfficeOf;
    mapping(uint32 officeNumber => bool) public ghostSuspended;

    mapping(bytes32 recordId => uint32) public ghostVersion;
    mapping(bytes32 recordId => bytes32) public ghostLeaf;
    mapping(bytes32 recordId => bool) public ghostClosed;
    mapping(bytes32 recordId => bytes32) public ghostClosedHead;

    bytes24 public ghostAccHash;
    uint64 public ghostAccCount;

    uint256 public ghostUnauthorisedSuccesses;
    uint256 public ghostVersionJumps;
    uint256 public ghostClosedRecordChanges;

    struct Anchored {
        bytes32 officeId;
        address signer;
        uint256 blockNumber;
    }

    Anchored[] internal _anchoredBy;
    bytes32[] internal _recordIds;
    uint256 public successes;
    uint256 public failures;

    constructor(NotaryRegistry registry_) {
        registry = registry_;
        for (uint32 number = 1; number <= OFFICES; ++number) {
            for (uint256 i; i < RECORDS_PER_OFFICE; ++i) {
                uint256 random = uint256(keccak256(abi.encode(number, i))) >> 32;
                _recordIds.push(bytes32((uint256(number) << 224) | random));
            }
        }
    }

    /// @dev Called once by the test's setUp after the handler got the governor role: actor 0
    /// signs for office 1, actor 1 for office 2.
    function bootstrap() external {
        for (uint32 number = 1; number <= OFFICES; ++number) {
            registry.grantSigner(officeIds[number - 1], actors[number - 1]);
            ghostOfficeOf[actors[number - 1]] = number;
        }
    }

    // ---------------------------------------------------------------------------------------
    // Actions (the invariant runner calls these with random arguments)
    // ---------------------------------------------------------------------------------------

    function anchor(uint256 actorSeed, uint256 recordSeed, uint256 versionSeed, bool certificate)
        external
    {
        address actor = _actor(actorSeed);
        bytes32 recordId = _recordFor(actor, recordSeed);
        INotaryRegistry.Revision memory r = _nextRevision(recordId, versionSeed, certificate);
        uint32 before = registry.head(recordId).version;
        (bool wasClosed, bytes32 closedBefore) = (ghostClosed[recordId], _headHash(recordId));

        vm.prank(actor);
        try registry.anchor(r) returns (bytes32 leaf) {
            _onAnchored(actor, recordId, before, leaf);
            ghostAccHash = accumulateLeaf(ghostAccHash, leaf);
            ghostAccCount += 1;
            successes++;
        } catch {
            failures++;
        }
        _checkClosedUnchanged(wasClosed, recordId, closedBefore);
    }

    function anchorMany(uint256 actorSeed, uint256 recordSeed, uint8 size) external {
        address actor = _actor(actorSeed);
        uint8 n = 1 + size % 4;
        INotaryRegistry.Revision[] memory rs = new INotaryRegistry.Revision[](n);
        bytes32[] memory ids = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            // Distinct records (consecutive indices, n <= 4): each expects its head + 1.
            ids[i] = _recordFor(actor, (recordSeed >> 8) + (i << 2));
            rs[i] = _nextRevision(ids[i], uint256(keccak256(abi.encode(recordSeed, i))), false);
        }
        uint32[] memory before = new uint32[](n);
        for (uint256 i; i < n; ++i) {
            before[i] = registry.head(ids[i]).version;
        }

        vm.prank(actor);
        try registry.anchorMany(rs) {
            for (uint256 i; i < n; ++i) {
                bytes32 leaf = registry.computeLeaf(rs[i]);
                _onAnchored(actor, ids[i], before[i], leaf);
                ghostAccHash = accumulateLeaf(ghostAccHash, leaf);
            }
            ghostAccCount += n;
            successes++;
        } catch {
            failures++;
        }
    }

    function anchorBatch(uint256 actorSeed, bytes32 root, uint32 leafCount) external {
        address actor = _actor(actorSeed);
        leafCount = uint32(bound(leafCount, 0, 1000));
        vm.prank(actor);
        try registry.anchorBatch(root, leafCount) {
            _checkAuthorised(actor);
            ghostAccHash = accumulateRoot(ghostAccHash, root);
            ghostAccCount += leafCount;
            successes++;
        } catch {
            failures++;
        }
    }

    function revoke(uint256 actorSeed, uint256 recordSeed) external {
        address actor = _actor(actorSeed);
        bytes32 recordId = _recordFor(actor, recordSeed);
        (bool wasClosed, bytes32 closedBefore) = (ghostClosed[recordId], _headHash(recordId));
        vm.prank(actor);
        try registry.revoke(recordId, keccak256(abi.encode(recordSeed))) {
            _onClosed(actor, recordId);
            successes++;
        } catch {
            failures++;
        }
        _checkClosedUnchanged(wasClosed, recordId, closedBefore);
    }

    function replace(uint256 actorSeed, uint256 recordSeed, uint256 bySeed) external {
        address actor = _actor(actorSeed);
        bytes32 recordId = _recordFor(actor, recordSeed);
        bytes32 byRecordId = _recordFor(actor, bySeed);
        (bool wasClosed, bytes32 closedBefore) = (ghostClosed[recordId], _headHash(recordId));
        vm.prank(actor);
        try registry.replace(recordId, byRecordId, bytes32(0)) {
            _onClosed(actor, recordId);
            successes++;
        } catch {
            failures++;
        }
        _checkClosedUnchanged(wasClosed, recordId, closedBefore);
    }

    /// @dev Governance: move a signer to the other office, take it off, suspend or reinstate.
    function govern(uint256 seed) external {
        address actor = actors[seed % 2];
        uint32 number = (seed >> 8) % 2 == 0 ? 1 : 2;
        bytes32 officeId = officeIds[number - 1];
        uint256 action = (seed >> 16) % 4;
        if (action == 0 && ghostOfficeOf[actor] == 0) {
            registry.grantSigner(officeId, actor);
            ghostOfficeOf[actor] = number;
        } else if (action == 1 && ghostOfficeOf[actor] != 0) {
            registry.revokeSigner(officeIds[ghostOfficeOf[actor] - 1], actor);
            ghostOfficeOf[actor] = 0;
        } else if (action == 2 && !ghostSuspended[number]) {
            registry.suspendOffice(officeId);
            ghostSuspended[number] = true;
        } else if (action == 3 && ghostSuspended[number]) {
            registry.reinstateOffice(officeId);
            ghostSuspended[number] = false;
        }
    }

    function advance(uint8 blocks) external {
        vm.roll(block.number + 1 + blocks);
    }

    // ---------------------------------------------------------------------------------------
    // Views for the invariants
    // ---------------------------------------------------------------------------------------

    function recordIds() external view returns (bytes32[] memory) {
        return _recordIds;
    }

    function anchoredCount() external view returns (uint256) {
        return _anchoredBy.length;
    }

    function anchoredAt(uint256 i) external view returns (Anchored memory) {
        return _anchoredBy[i];
    }

    function headHash(bytes32 recordId) external view returns (bytes32) {
        return _headHash(recordId);
    }

    function actorAt(uint256 i) external view returns (address) {
        return actors[i];
    }

    // ---------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------

    function _onAnchored(address actor, bytes32 recordId, uint32 before, bytes32 leaf) private {
        _checkAuthorised(actor);
        uint32 afterVersion = registry.head(recordId).version;
        if (afterVersion != before + 1) ghostVersionJumps++;
        ghostVersion[recordId] += 1;
        ghostLeaf[recordId] = leaf;
        uint32 number = ghostOfficeOf[actor];
        bytes32 officeId = number == 0 ? bytes32(0) : officeIds[number - 1];
        _anchoredBy.push(Anchored(officeId, actor, block.number));
    }

    function _onClosed(address actor, bytes32 recordId) private {
        _checkAuthorised(actor);
        ghostClosed[recordId] = true;
        ghostClosedHead[recordId] = _headHash(recordId);
    }

    /// @dev The call succeeded: the actor must be a current signer of a non-suspended office.
    function _checkAuthorised(address actor) private {
        uint32 number = ghostOfficeOf[actor];
        if (number == 0 || ghostSuspended[number]) ghostUnauthorisedSuccesses++;
    }

    function _checkClosedUnchanged(bool wasClosed, bytes32 recordId, bytes32 closedBefore) private {
        if (wasClosed && _headHash(recordId) != closedBefore) {
            ghostClosedRecordChanges++;
        }
    }

    /// @dev Mostly the right next revision, sometimes a wrong version or previous leaf.
    function _nextRevision(bytes32 recordId, uint256 seed, bool certificate)
        private
        view
        returns (INotaryRegistry.Revision memory r)
    {
        uint32 version = ghostVersion[recordId] + 1;
        bytes32 prevLeaf = ghostLeaf[recordId];
        uint256 twist = seed % 8;
        if (twist == 0) version += 1;
        else if (twist == 1 && version > 1) version -= 1;
        else if (twist == 2) prevLeaf = keccak256(abi.encode(prevLeaf));
        r = INotaryRegistry.Revision({
            recordId: recordId,
            version: version,
            kind: certificate ? INotaryRegistry.Kind.Certificate : INotaryRegistry.Kind.Disclosure,
            validUntil: certificate ? uint64(1_900_000_000 + (seed % 1000)) : 0,
            contentHash: keccak256(abi.encode("content", recordId, version, seed)),
            metadataHash: keccak256(abi.encode("metadata", recordId, version)),
            prevLeaf: prevLeaf
        });
    }

    /// @dev Two times in five each signer, once the stranger.
    function _actor(uint256 seed) private view returns (address) {
        uint256 pick = seed % 5;
        return actors[pick < 2 ? 0 : pick < 4 ? 1 : 2];
    }

    /// @dev Three times in four a record of the actor's current office (if it has one), else
    /// any record: most calls should pass the office check so the deeper rules get exercised.
    function _recordFor(address actor, uint256 seed) private view returns (bytes32) {
        uint32 number = ghostOfficeOf[actor];
        if (number == 0 || seed % 4 == 0) return _recordIds[(seed >> 2) % _recordIds.length];
        return _recordIds[(number - 1) * RECORDS_PER_OFFICE + (seed >> 2) % RECORDS_PER_OFFICE];
    }

    function _headHash(bytes32 recordId) private view returns (bytes32) {
        return keccak256(abi.encode(registry.head(recordId)));
    }

    function accumulateLeaf(bytes24 hash, bytes32 leaf) private pure returns (bytes24) {
        return bytes24(keccak256(abi.encodePacked(hash, bytes1(0x00), leaf)));
    }

    function accumulateRoot(bytes24 hash, bytes32 root) private pure returns (bytes24) {
        return bytes24(keccak256(abi.encodePacked(hash, bytes1(0x01), root)));
    }
}

/// @notice Invariants over any sequence of handler calls.
contract NotaryRegistryInvariantTest is Test {
    NotaryRegistry internal registry;
    RegistryHandler internal handler;

    function setUp() public {
        vm.roll(100);
        registry = new NotaryRegistry(address(this));
        registry.registerOffice(keccak256("office A"), "Office A");
        registry.registerOffice(keccak256("office B"), "Office B");
        handler = new RegistryHandler(registry);
        registry.grantRole(registry.GOVERNOR_ROLE(), address(handler));
        handler.bootstrap();

        bytes4[] memory selectors = new bytes4[](7);
        selectors[0] = RegistryHandler.anchor.selector;
        selectors[1] = RegistryHandler.anchorMany.selector;
        selectors[2] = RegistryHandler.anchorBatch.selector;
        selectors[3] = RegistryHandler.revoke.selector;
        selectors[4] = RegistryHandler.replace.selector;
        selectors[5] = RegistryHandler.govern.selector;
        selectors[6] = RegistryHandler.advance.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @dev Every record's head version is the number of its successful anchors, and no
    /// anchor ever moved a head by anything but one.
    function invariant_versionsOnlyGrowByOne() public view {
        assertEq(handler.ghostVersionJumps(), 0, "a head moved by more than one version");
        bytes32[] memory ids = handler.recordIds();
        for (uint256 i; i < ids.length; ++i) {
            INotaryRegistry.HeadView memory h = registry.head(ids[i]);
            assertEq(h.version, handler.ghostVersion(ids[i]), "version");
            if (h.version != 0) {
                assertEq(bytes32(h.leafPrefix), bytes32(bytes23(handler.ghostLeaf(ids[i]))), "leaf");
            }
        }
    }

    /// @dev No call succeeded for a caller that was not a current signer of an active office,
    /// and every anchor's signer is authorised at its block by the registry's own history.
    function invariant_onlyAuthorisedSignersChangeState() public view {
        assertEq(handler.ghostUnauthorisedSuccesses(), 0, "an unauthorised call succeeded");
        uint256 n = handler.anchoredCount();
        for (uint256 i; i < n; ++i) {
            RegistryHandler.Anchored memory a = handler.anchoredAt(i);
            assertTrue(
                registry.signerAuthorisedAt(a.officeId, a.signer, a.blockNumber),
                "signer not authorised at its anchor's block"
            );
        }
        assertEq(registry.signerPeriods(handler.actorAt(2)).length, 0, "stranger has periods");
    }

    /// @dev A revoked or replaced record's head never changes again.
    function invariant_closedRecordsNeverChange() public view {
        assertEq(handler.ghostClosedRecordChanges(), 0, "a closed record changed");
        bytes32[] memory ids = handler.recordIds();
        for (uint256 i; i < ids.length; ++i) {
            if (handler.ghostClosed(ids[i])) {
                assertEq(handler.headHash(ids[i]), handler.ghostClosedHead(ids[i]), "head");
                INotaryRegistry.Status status = registry.head(ids[i]).status;
                assertTrue(
                    status == INotaryRegistry.Status.Revoked
                        || status == INotaryRegistry.Status.Replaced,
                    "status"
                );
            }
        }
    }

    /// @dev The accumulator counts exactly the anchored leaves (direct, many and declared
    /// batch leaves) and its hash is the documented chain over them.
    function invariant_accumulatorCountsAnchoredLeaves() public view {
        (bytes24 hash, uint64 count) = registry.accumulator();
        assertEq(count, handler.ghostAccCount(), "count");
        assertEq(bytes32(hash), bytes32(handler.ghostAccHash()), "hash");
    }
}
