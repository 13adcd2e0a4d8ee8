// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {INotaryRegistry} from "./INotaryRegistry.sol";

/// @title NotaryRegistry
/// @notice The disclosure notary's registry: governance admits offices and their signers;
/// signers anchor revisions (direct, many, or as a Merkle batch), revoke and replace records.
/// The registry enforces every rule itself and emits an event for every state change.
/// @dev Storage is laid out for the anchoring hot path (see docs/formats.md):
/// - one slot per record head, keyed by record id: 23-byte leaf prefix, version, status and
///   the block of the latest change (anchor, revocation or replacement); each record event
///   carries the head word it replaced, so a reader walks a record's history block by block. The record id's first 4 bytes are the office number, checked against the
///   signer's office on every write, so keying by record id alone cannot be front-run;
/// - certificate validity and forward pointers in their own mappings, written only when used;
/// - a signer's current authority in one slot, an office's suspension flag in one slot;
/// - the accumulator in one slot, written once per transaction.
/// Block numbers are stored as uint32 (SafeCast reverts past block 2^32 - 1).
/// Slither's `incorrect-equality` findings on this contract are false positives: block numbers
/// share storage words with the office numbers, versions and statuses that are compared, and its
/// data dependency is not field-sensitive. No block number, time or balance is compared with ==.
contract NotaryRegistry is INotaryRegistry, AccessControl {
    // ---------------------------------------------------------------------------------------
    // Constants
    // ---------------------------------------------------------------------------------------

    /// @notice The role that admits, suspends and reinstates offices and manages signers.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    /// @notice Domain tag of every leaf: keccak256("disclosure-notary/leaf/v1").
    bytes32 public constant LEAF_TAG = keccak256("disclosure-notary/leaf/v1");

    /// @dev `untilBlock` of an authority period that is still open.
    uint32 private constant OPEN = type(uint32).max;

    /// @dev The low bits of a head's state byte hold the `Status`; the top bit says that a
    /// validity end is stored in `_validUntil` (so a revision without one knows to clear it).
    uint8 private constant STATUS_MASK = 0x7f;
    uint8 private constant HAS_VALIDITY = 0x80;

    /// @dev Field positions in a packed head word (see `_packHead`).
    uint256 private constant PREFIX_MASK = ~uint256(0) << 72;
    uint256 private constant VERSION_SHIFT = 40;
    uint256 private constant STATE_SHIFT = 32;
    uint256 private constant STATE_MASK = uint256(0xff) << STATE_SHIFT;
    uint256 private constant BLOCK_MASK = 0xffffffff;

    // ---------------------------------------------------------------------------------------
    // Storage
    // ---------------------------------------------------------------------------------------

    /// @dev A signer's current authority (`officeNumber` 0 = none), one slot.
    struct Authority {
        uint32 officeNumber;
        uint32 sinceBlock;
    }

    /// @dev An anchored batch root (`officeNumber` 0 = unknown), one slot.
    struct Batch {
        uint32 officeNumber;
        uint32 blockNumber;
    }

    /// @dev A record's head in one slot, high to low bytes: leaf prefix (23) || version (4) ||
    /// state (1) || anchored block (4). See `_packHead`.
    mapping(bytes32 recordId => uint256 packedHead) private _heads;
    mapping(bytes32 recordId => uint64 validUntil) private _validUntil;
    mapping(bytes32 recordId => bytes32 byRecordId) private _replacedBy;

    mapping(address signer => Authority) private _authority;
    mapping(address signer => SignerPeriod[]) private _closedPeriods;

    mapping(bytes32 officeId => uint32 number) private _officeNumbers;
    mapping(uint32 officeNumber => bytes32 officeId) private _officeIds;
    mapping(uint32 officeNumber => bool suspended) private _suspended;
    mapping(bytes32 officeId => string name) private _officeNames;

    mapping(bytes32 root => Batch) private _batches;

    /// @dev bytes24 hash || uint64 count, exactly as docs/formats.md lays it out.
    uint256 private _accumulator;
    uint32 private _officeCount;

    // ---------------------------------------------------------------------------------------
    // Construction
    // ---------------------------------------------------------------------------------------

    /// @param admin Receives the admin role (manages governors) and the governor role.
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
    }

    /// @inheritdoc AccessControl
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return
            interfaceId == type(INotaryRegistry).interfaceId || super.supportsInterface(interfaceId);
    }

    // ---------------------------------------------------------------------------------------
    // Governance
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc INotaryRegistry
    function registerOffice(bytes32 officeId, string calldata name)
        external
        onlyRole(GOVERNOR_ROLE)
        returns (uint32 number)
    {
        if (officeId == bytes32(0) || _officeNumbers[officeId] != 0) {
            revert OfficeAlreadyRegistered(officeId);
        }
        if (bytes(name).length == 0) revert EmptyInput();
        number = ++_officeCount;
        _officeNumbers[officeId] = number;
        _officeIds[number] = officeId;
        _officeNames[officeId] = name;
        emit OfficeRegistered(officeId, number, name);
    }

    /// @inheritdoc INotaryRegistry
    function suspendOffice(bytes32 officeId) external onlyRole(GOVERNOR_ROLE) {
        uint32 number = _knownOffice(officeId);
        if (_suspended[number]) revert OfficeSuspended(officeId);
        _suspended[number] = true;
        emit OfficeSuspendedBy(officeId, msg.sender);
    }

    /// @inheritdoc INotaryRegistry
    function reinstateOffice(bytes32 officeId) external onlyRole(GOVERNOR_ROLE) {
        uint32 number = _knownOffice(officeId);
        if (!_suspended[number]) revert OfficeNotSuspended(officeId);
        _suspended[number] = false;
        emit OfficeReinstated(officeId, msg.sender);
    }

    /// @inheritdoc INotaryRegistry
    function grantSigner(bytes32 officeId, address signer) external onlyRole(GOVERNOR_ROLE) {
        uint32 number = _knownOffice(officeId);
        uint32 current = _authority[signer].officeNumber;
        if (current != 0) revert SignerAlreadyActive(signer, _officeIds[current]);
        _authority[signer] = Authority({officeNumber: number, sinceBlock: _blockNumber()});
        emit SignerGranted(officeId, signer);
    }

    /// @inheritdoc INotaryRegistry
    function revokeSigner(bytes32 officeId, address signer) external onlyRole(GOVERNOR_ROLE) {
        uint32 number = _knownOffice(officeId);
        Authority memory authority = _authority[signer];
        if (authority.officeNumber != number) revert SignerNotActive(signer, officeId);
        _closedPeriods[signer].push(
            SignerPeriod({
                officeNumber: number, fromBlock: authority.sinceBlock, untilBlock: _blockNumber()
            })
        );
        delete _authority[signer];
        emit SignerRevoked(officeId, signer);
    }

    // ---------------------------------------------------------------------------------------
    // Office signers
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc INotaryRegistry
    function anchor(Revision calldata revision) external returns (bytes32 leaf) {
        uint32 number = _callerOffice();
        uint256 acc = _accumulator;
        bytes24 hash;
        (leaf, hash) = _anchor(revision, number, _blockNumber(), _accHash(acc));
        uint64 count;
        // The count cannot reach 2^64: every anchor is a transaction paying at least 21,000 gas.
        unchecked {
            count = _accCount(acc) + 1;
        }
        _accumulator = _packAccumulator(hash, count);
    }

    /// @inheritdoc INotaryRegistry
    function anchorMany(Revision[] calldata revisions) external {
        uint32 number = _callerOffice();
        uint256 n = revisions.length;
        if (n == 0) revert EmptyInput();
        uint256 acc = _accumulator;
        bytes24 hash = _accHash(acc);
        uint32 blockNumber = _blockNumber();
        for (uint256 i; i < n; ++i) {
            (, hash) = _anchor(revisions[i], number, blockNumber, hash);
        }
        _accumulator = _packAccumulator(hash, _accCount(acc) + SafeCast.toUint64(n));
    }

    /// @inheritdoc INotaryRegistry
    function anchorBatch(bytes32 root, uint32 leafCount) external {
        uint32 number = _callerOffice();
        if (root == bytes32(0) || leafCount == 0) revert EmptyInput();
        if (_batches[root].officeNumber != 0) revert BatchAlreadyAnchored(root);
        _batches[root] = Batch({officeNumber: number, blockNumber: _blockNumber()});
        uint256 acc = _accumulator;
        _accumulator =
            _packAccumulator(_accumulate(_accHash(acc), 0x01, root), _accCount(acc) + leafCount);
        emit BatchAnchored(root, _officeIds[number], msg.sender, leafCount);
    }

    /// @inheritdoc INotaryRegistry
    function revoke(bytes32 recordId, bytes32 reasonHash) external {
        uint32 number = _callerOffice();
        uint256 packed = _openHead(recordId, number);
        if (reasonHash == bytes32(0)) revert EmptyInput();
        _heads[recordId] = _closed(packed, Status.Revoked);
        emit RecordRevoked(recordId, msg.sender, reasonHash, bytes32(packed));
    }

    /// @inheritdoc INotaryRegistry
    function replace(bytes32 recordId, bytes32 byRecordId, bytes32 reasonHash) external {
        uint32 number = _callerOffice();
        uint256 packed = _openHead(recordId, number);
        if (
            byRecordId == recordId || _officeOf(byRecordId) != number
                || _status(_heads[byRecordId]) != Status.Active
        ) revert InvalidReplacement(recordId, byRecordId);
        _heads[recordId] = _closed(packed, Status.Replaced);
        _replacedBy[recordId] = byRecordId;
        emit RecordReplaced(recordId, byRecordId, msg.sender, reasonHash, bytes32(packed));
    }

    /// @inheritdoc INotaryRegistry
    function anchorAccessLog(bytes32 head_, uint64 entries) external {
        uint32 number = _callerOffice();
        if (head_ == bytes32(0) || entries == 0) revert EmptyInput();
        emit AccessLogAnchored(_officeIds[number], msg.sender, head_, entries);
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc INotaryRegistry
    function head(bytes32 recordId) external view returns (HeadView memory view_) {
        (bytes23 leafPrefix, uint32 version, uint8 state, uint32 anchoredBlock) =
            _unpackHead(_heads[recordId]);
        // slither-disable-next-line incorrect-equality (see contract @dev)
        if (version == 0) return view_;
        view_ = HeadView({
            officeId: _officeIds[_officeOf(recordId)],
            version: version,
            status: Status(state & STATUS_MASK),
            leafPrefix: leafPrefix,
            anchoredBlock: anchoredBlock,
            validUntil: _validUntil[recordId],
            replacedBy: _replacedBy[recordId]
        });
    }

    /// @inheritdoc INotaryRegistry
    function isCurrent(bytes32 recordId, bytes32 leaf) external view returns (bool) {
        uint256 packed = _heads[recordId];
        // slither-disable-next-line incorrect-equality (see contract @dev)
        return _status(packed) == Status.Active && _prefix(bytes32(packed)) == _prefix(leaf);
    }

    /// @inheritdoc INotaryRegistry
    function computeLeaf(Revision calldata revision) external view returns (bytes32) {
        _typedFields(revision);
        return _leaf(revision);
    }

    /// @inheritdoc INotaryRegistry
    function office(bytes32 officeId) external view returns (OfficeView memory view_) {
        uint32 number = _officeNumbers[officeId];
        if (number == 0) return view_;
        view_ = OfficeView({
            number: number, suspended: _suspended[number], name: _officeNames[officeId]
        });
    }

    /// @inheritdoc INotaryRegistry
    function officeIdOf(uint32 number) external view returns (bytes32) {
        return _officeIds[number];
    }

    /// @inheritdoc INotaryRegistry
    function signerAuthorisedAt(bytes32 officeId, address signer, uint256 blockNumber)
        external
        view
        returns (bool)
    {
        uint32 number = _officeNumbers[officeId];
        if (number == 0) return false;
        Authority memory current = _authority[signer];
        // slither-disable-next-line incorrect-equality (see contract @dev)
        if (current.officeNumber == number && blockNumber >= current.sinceBlock) return true;
        SignerPeriod[] storage periods = _closedPeriods[signer];
        uint256 n = periods.length;
        for (uint256 i; i < n; ++i) {
            SignerPeriod memory p = periods[i];
            if (
                p.officeNumber == number && blockNumber >= p.fromBlock
                    && blockNumber <= p.untilBlock
            ) {
                return true;
            }
        }
        return false;
    }

    /// @inheritdoc INotaryRegistry
    function signerPeriods(address signer) external view returns (SignerPeriod[] memory periods) {
        SignerPeriod[] storage closed = _closedPeriods[signer];
        Authority memory current = _authority[signer];
        uint256 n = closed.length;
        // slither-disable-next-line incorrect-equality (see contract @dev)
        periods = new SignerPeriod[](current.officeNumber == 0 ? n : n + 1);
        for (uint256 i; i < n; ++i) {
            periods[i] = closed[i];
        }
        if (current.officeNumber != 0) {
            periods[n] = SignerPeriod({
                officeNumber: current.officeNumber, fromBlock: current.sinceBlock, untilBlock: OPEN
            });
        }
    }

    /// @inheritdoc INotaryRegistry
    function accumulator() external view returns (bytes24 hash, uint64 count) {
        uint256 acc = _accumulator;
        return (_accHash(acc), _accCount(acc));
    }

    /// @inheritdoc INotaryRegistry
    function batch(bytes32 root) external view returns (bytes32 officeId, uint32 blockNumber) {
        Batch memory b = _batches[root];
        return (_officeIds[b.officeNumber], b.blockNumber);
    }

    /// @inheritdoc INotaryRegistry
    function verifyBatchLeaf(bytes32 root, bytes32 leaf, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        // slither-disable-next-line incorrect-equality (see contract @dev)
        if (_batches[root].officeNumber == 0) return false;
        return MerkleProof.verifyCalldata(proof, root, _leafNode(leaf), _hashNodes);
    }

    // ---------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------

    /// @dev Checks one revision against the record's head, moves the head and emits the event.
    /// Returns the leaf and the accumulator hash after it; the caller writes the accumulator.
    function _anchor(Revision calldata revision, uint32 number, uint32 blockNumber, bytes24 accHash)
        private
        returns (bytes32 leaf, bytes24 nextHash)
    {
        bytes32 recordId = revision.recordId;
        if (_officeOf(recordId) != number) revert RecordOfOtherOffice(recordId, number);
        (uint32 version, Kind kind, uint64 validUntil) = _typedFields(revision);
        uint256 packed = _heads[recordId];
        _checkSuccessor(recordId, version, revision.prevLeaf, packed);
        uint8 state = _syncValidity(recordId, kind, validUntil, packed);
        leaf = _leaf(revision);
        _heads[recordId] = _packHead(leaf, version, state, blockNumber);
        nextHash = _accumulate(accHash, 0x00, leaf);
        _emitAnchored(revision, packed);
    }

    /// @dev Reads `version`, `kind` and `validUntil` and reverts (like Solidity's ABI decoder,
    /// without data) unless each fits its type. The leaf and the event copy the revision's
    /// words from calldata as they are, so this check is what keeps them canonical.
    function _typedFields(Revision calldata r)
        private
        pure
        returns (uint32 version, Kind kind, uint64 validUntil)
    {
        assembly ("memory-safe") {
            version := calldataload(add(r, 0x20))
            kind := calldataload(add(r, 0x40))
            validUntil := calldataload(add(r, 0x60))
            // uint32, Kind (0 or 1), uint64: any higher bit set is malformed input.
            if or(or(shr(32, version), gt(kind, 1)), shr(64, validUntil)) { revert(0, 0) }
        }
    }

    /// @dev Reverts unless a revision with `version` and `prevLeaf` may follow the head
    /// `packed`: the record is open, the version is head + 1 and `prevLeaf` is the head's leaf
    /// (zero for version 1).
    function _checkSuccessor(bytes32 recordId, uint32 version, bytes32 prevLeaf, uint256 packed)
        private
        pure
    {
        (bytes23 leafPrefix, uint32 headVersion, uint8 state,) = _unpackHead(packed);
        if (state & STATUS_MASK > uint8(Status.Active)) {
            revert RecordClosed(recordId, Status(state & STATUS_MASK));
        }
        uint256 expected;
        // Cannot overflow in uint256; a head at type(uint32).max takes no further version.
        unchecked {
            expected = uint256(headVersion) + 1;
        }
        if (version != expected) {
            // forge-lint: disable-next-line(unsafe-typecast)
            revert VersionOutOfOrder(recordId, uint32(expected), version);
        }
        // The first 23 bytes of prevLeaf must equal the stored prefix; version 1 has no
        // predecessor, so its prevLeaf must be all zero.
        bool unlinked = (uint256(prevLeaf) ^ packed) & PREFIX_MASK != 0;
        // slither-disable-next-line incorrect-equality (see contract @dev)
        if (unlinked || (headVersion == 0 && prevLeaf != bytes32(0))) {
            revert PrevLeafMismatch(recordId, leafPrefix, prevLeaf);
        }
    }

    /// @dev Writes or clears the record's validity end (only when it changes from or to none)
    /// and returns the head's new state byte.
    function _syncValidity(bytes32 recordId, Kind kind, uint64 validUntil, uint256 packed)
        private
        returns (uint8 state)
    {
        if (validUntil != 0) {
            if (kind == Kind.Disclosure) revert ValidityOnDisclosure(recordId);
            _validUntil[recordId] = validUntil;
            return uint8(Status.Active) | HAS_VALIDITY;
        }
        if (_state(packed) & HAS_VALIDITY != 0) delete _validUntil[recordId];
        return uint8(Status.Active);
    }

    /// @dev The caller's office number; reverts unless the caller is a current signer of an
    /// office that is not suspended.
    function _callerOffice() private view returns (uint32 number) {
        number = _authority[msg.sender].officeNumber;
        // slither-disable-next-line incorrect-equality (see contract @dev)
        if (number == 0) revert SignerNotAuthorised(msg.sender);
        if (_suspended[number]) revert OfficeSuspended(_officeIds[number]);
    }

    /// @dev The head of an anchored, open record of office `number`; reverts otherwise.
    function _openHead(bytes32 recordId, uint32 number) private view returns (uint256 packed) {
        if (_officeOf(recordId) != number) revert RecordOfOtherOffice(recordId, number);
        packed = _heads[recordId];
        Status status = _status(packed);
        // slither-disable-next-line incorrect-equality (see contract @dev)
        if (status == Status.None) revert RecordUnknown(recordId);
        if (status != Status.Active) revert RecordClosed(recordId, status);
    }

    /// @dev The number of a registered office; reverts if there is none.
    function _knownOffice(bytes32 officeId) private view returns (uint32 number) {
        number = _officeNumbers[officeId];
        if (number == 0) revert OfficeUnknown(officeId);
    }

    /// @dev The leaf of a revision, byte for byte as in docs/formats.md: keccak256 of
    /// LEAF_TAG, chain id, registry address, then the revision's seven ABI words as they are in
    /// calldata, prevLeaf cut to its first 23 bytes. The caller must have checked them with `_typedFields`.
    function _leaf(Revision calldata r) private view returns (bytes32 leaf) {
        bytes32 tag = LEAF_TAG;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, tag)
            mstore(add(m, 0x20), chainid())
            mstore(add(m, 0x40), address())
            calldatacopy(add(m, 0x60), r, 0xc0)
            // Only the 23 bytes of prevLeaf that the head stores (and checks) are hashed, so
            // a prevLeaf that differs in its last 9 bytes cannot give a second leaf.
            mstore(add(m, 0x120), and(calldataload(add(r, 0xc0)), not(0xffffffffffffffffff)))
            leaf := keccak256(m, 0x140)
        }
    }

    /// @dev One accumulator step: bytes24(keccak256(hash || tag || value)).
    function _accumulate(bytes24 hash, bytes1 tag, bytes32 value)
        private
        pure
        returns (bytes24 next)
    {
        assembly ("memory-safe") {
            // 24 + 1 + 32 = 57 bytes in the 64-byte scratch space.
            mstore(0x00, hash)
            mstore(0x18, tag)
            mstore(0x19, value)
            next := and(keccak256(0x00, 0x39), not(0xffffffffffffffff))
        }
    }

    /// @dev `emit RevisionAnchored(recordId, msg.sender, version, kind, validUntil, contentHash,
    /// metadataHash, prevHead)`: the data after `msg.sender` is the revision's words 1 to 5 as
    /// they are in calldata (checked by the caller with `_typedFields`), then the head word the
    /// revision replaces.
    function _emitAnchored(Revision calldata r, uint256 prevHead) private {
        bytes32 topic = RevisionAnchored.selector;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, caller())
            calldatacopy(add(m, 0x20), add(r, 0x20), 0xa0)
            mstore(add(m, 0xc0), prevHead)
            log2(m, 0xe0, topic, calldataload(r))
        }
    }

    /// @dev Merkle leaf node: keccak256(0x00 || leaf).
    function _leafNode(bytes32 leaf) private pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x00), leaf));
    }

    /// @dev Merkle inner node over a sorted pair: keccak256(0x01 || min || max).
    function _hashNodes(bytes32 a, bytes32 b) private pure returns (bytes32) {
        return a < b
            ? keccak256(abi.encodePacked(bytes1(0x01), a, b))
            : keccak256(abi.encodePacked(bytes1(0x01), b, a));
    }

    /// @dev The office number a record id names: its first 4 bytes (docs/formats.md).
    function _officeOf(bytes32 recordId) private pure returns (uint32) {
        // Truncation is the format: the record id starts with the office number.
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint32(bytes4(recordId));
    }

    /// @dev The part of a leaf kept in the head: its first 23 bytes (184 bits, so finding
    /// another leaf with the same prefix takes ~2^184 work).
    function _prefix(bytes32 leaf) private pure returns (bytes23) {
        // Truncation is intended: the head keeps a prefix, the events carry the full leaf inputs.
        // forge-lint: disable-next-line(unsafe-typecast)
        return bytes23(leaf);
    }

    /// @dev Packs a head word: leaf prefix (23) || version (4) || state (1) || block (4).
    function _packHead(bytes32 leaf, uint32 version, uint8 state, uint32 blockNumber)
        private
        pure
        returns (uint256)
    {
        return (uint256(leaf) & PREFIX_MASK) | (uint256(version) << VERSION_SHIFT)
            | (uint256(state) << STATE_SHIFT) | blockNumber;
    }

    /// @dev Unpacks a head word (see `_packHead`); truncating casts select the fields.
    function _unpackHead(uint256 packed)
        private
        pure
        returns (bytes23 leafPrefix, uint32 version, uint8 state, uint32 anchoredBlock)
    {
        leafPrefix = _prefix(bytes32(packed));
        // forge-lint: disable-next-line(unsafe-typecast)
        version = uint32(packed >> VERSION_SHIFT);
        state = _state(packed);
        // forge-lint: disable-next-line(unsafe-typecast)
        anchoredBlock = uint32(packed);
    }

    function _state(uint256 packed) private pure returns (uint8) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint8(packed >> STATE_SHIFT);
    }

    function _status(uint256 packed) private pure returns (Status) {
        return Status(_state(packed) & STATUS_MASK);
    }

    /// @dev The head word of a record closed now: its status replaced (the validity bit, leaf
    /// prefix and version are kept) and its block moved to this block, where the closing event
    /// (carrying the old word, hence the latest anchor's block) is found.
    function _closed(uint256 packed, Status status) private view returns (uint256) {
        uint256 state = (_state(packed) & HAS_VALIDITY) | uint8(status);
        return (packed & ~(STATE_MASK | BLOCK_MASK)) | (state << STATE_SHIFT) | _blockNumber();
    }

    /// @dev Packs the accumulator word: bytes24 hash || uint64 count.
    function _packAccumulator(bytes24 hash, uint64 count) private pure returns (uint256) {
        return uint256(bytes32(hash)) | count;
    }

    function _accHash(uint256 acc) private pure returns (bytes24) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return bytes24(bytes32(acc));
    }

    function _accCount(uint256 acc) private pure returns (uint64) {
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint64(acc);
    }

    function _blockNumber() private view returns (uint32) {
        return SafeCast.toUint32(block.number);
    }
}
