// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title INotaryRegistry
/// @notice The on-chain registry of the disclosure notary: offices, their signers, and the
/// revision history of every record (disclosure or e-certificate). Every state change emits an
/// event carrying what an auditor needs to rebuild the whole history from the chain alone.
/// @dev Byte layouts (leaf, Merkle nodes, accumulator, record ids) are specified in
/// docs/formats.md; the Python side in `notary/` reproduces them bit for bit.
interface INotaryRegistry {
    // ---------------------------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------------------------

    /// @notice What a record is.
    enum Kind {
        Disclosure,
        Certificate
    }

    /// @notice Stored status of a record. "Superseded by a later version" is not a status: it
    /// is any version below the head. "Expired" is a certificate past its `validUntil`.
    enum Status {
        None,
        Active,
        Revoked,
        Replaced
    }

    /// @notice One revision as submitted by an office signer.
    /// @param recordId The record; its first 4 bytes are the office number (binds the id to
    /// its office so no other office can claim or front-run it), the other 28 are random.
    /// @param version 1 for a new record, head + 1 afterwards.
    /// @param kind Disclosure or certificate.
    /// @param validUntil Unix time after which a certificate is expired; 0 = no end.
    /// @param contentHash SHA-256 of the exact published bytes.
    /// @param metadataHash SHA-256 of the RFC 8785 canonical JSON of the metadata.
    /// @param prevLeaf The leaf of version - 1, or zero for version 1.
    struct Revision {
        bytes32 recordId;
        uint32 version;
        Kind kind;
        uint64 validUntil;
        bytes32 contentHash;
        bytes32 metadataHash;
        bytes32 prevLeaf;
    }

    /// @notice The head of a record as answered by `head`.
    /// @param officeId The office the record belongs to.
    /// @param version Latest anchored version (0 if the record is unknown).
    /// @param status Stored status.
    /// @param leafPrefix The first 23 bytes of the latest leaf (the rest is in the events).
    /// @param anchoredBlock Block of the record's latest change: its latest anchor while it is
    /// active, its revocation or replacement once closed. Every record event there carries the
    /// head word it replaced (`prevHead`), so a record's history is walked back block by block.
    /// @param validUntil Certificate validity end (0 = none).
    /// @param replacedBy The record that replaced this one, if any.
    struct HeadView {
        bytes32 officeId;
        uint32 version;
        Status status;
        bytes23 leafPrefix;
        uint32 anchoredBlock;
        uint64 validUntil;
        bytes32 replacedBy;
    }

    /// @notice An office as answered by `office`.
    struct OfficeView {
        uint32 number;
        bool suspended;
        string name;
    }

    /// @notice One period during which `signer` could sign for an office (blocks inclusive;
    /// `untilBlock` is type(uint32).max while the period is open).
    struct SignerPeriod {
        uint32 officeNumber;
        uint32 fromBlock;
        uint32 untilBlock;
    }

    // ---------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------

    /// @notice `officeId` is zero or already registered.
    error OfficeAlreadyRegistered(bytes32 officeId);
    /// @notice No office with this id.
    error OfficeUnknown(bytes32 officeId);
    /// @notice The office is suspended: its signers can change nothing.
    error OfficeSuspended(bytes32 officeId);
    /// @notice The office is not suspended (reinstating an active office).
    error OfficeNotSuspended(bytes32 officeId);
    /// @notice The caller is not a current signer of any office.
    error SignerNotAuthorised(address signer);
    /// @notice The signer already signs for an office (one office per key at a time).
    error SignerAlreadyActive(address signer, bytes32 officeId);
    /// @notice The signer is not an active signer of this office.
    error SignerNotActive(address signer, bytes32 officeId);
    /// @notice The record id names another office than the signer's.
    error RecordOfOtherOffice(bytes32 recordId, uint32 signerOffice);
    /// @notice The version is not head + 1.
    error VersionOutOfOrder(bytes32 recordId, uint32 expected, uint32 got);
    /// @notice `prevLeaf` is not the leaf of the current head.
    error PrevLeafMismatch(bytes32 recordId, bytes23 headPrefix, bytes32 got);
    /// @notice The record was revoked or replaced and can no longer change.
    error RecordClosed(bytes32 recordId, Status status);
    /// @notice No anchored record with this id.
    error RecordUnknown(bytes32 recordId);
    /// @notice A replacement must be another anchored, open record of the same office.
    error InvalidReplacement(bytes32 recordId, bytes32 byRecordId);
    /// @notice A batch with this root was anchored already.
    error BatchAlreadyAnchored(bytes32 root);
    /// @notice An empty list or a zero root / count.
    error EmptyInput();
    /// @notice A disclosure cannot carry a validity end.
    error ValidityOnDisclosure(bytes32 recordId);

    // ---------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------

    /// @notice Governance registered an office.
    /// @param officeId Stable id of the office.
    /// @param number The office number, the first 4 bytes of every record id of the office.
    /// @param name Display name shown by verifiers.
    event OfficeRegistered(bytes32 indexed officeId, uint32 number, string name);
    /// @notice Governance suspended an office.
    event OfficeSuspendedBy(bytes32 indexed officeId, address indexed by);
    /// @notice Governance reinstated a suspended office.
    event OfficeReinstated(bytes32 indexed officeId, address indexed by);
    /// @notice `signer` may sign for `officeId` from this block on.
    event SignerGranted(bytes32 indexed officeId, address indexed signer);
    /// @notice `signer` may no longer sign for `officeId` after this block.
    event SignerRevoked(bytes32 indexed officeId, address indexed signer);
    /// @notice A revision was anchored. With the registry address and the chain id, this is
    /// everything needed to recompute its leaf.
    /// @param prevHead The record's packed head word before this revision (zero for version
    /// 1): the previous leaf's first 23 bytes (the leaf's `prevLeaf` input), the previous
    /// version, state and the block of the previous anchor (docs/formats.md, "Head word").
    event RevisionAnchored(
        bytes32 indexed recordId,
        address signer,
        uint32 version,
        Kind kind,
        uint64 validUntil,
        bytes32 contentHash,
        bytes32 metadataHash,
        bytes32 prevHead
    );
    /// @notice A record was revoked; the reason text is off chain, its SHA-256 here.
    /// @param prevHead The head word before the revocation (its block is the latest anchor's).
    event RecordRevoked(
        bytes32 indexed recordId, address signer, bytes32 reasonHash, bytes32 prevHead
    );
    /// @notice `recordId` was replaced by the (different) record `byRecordId`.
    /// @param reasonHash SHA-256 of the supersede reason text, or zero when none was given.
    /// @param prevHead The head word before the replacement (its block is the latest anchor's).
    event RecordReplaced(
        bytes32 indexed recordId,
        bytes32 indexed byRecordId,
        address signer,
        bytes32 reasonHash,
        bytes32 prevHead
    );
    /// @notice A Merkle root over `leafCount` leaves was anchored (batch mode).
    event BatchAnchored(
        bytes32 indexed root, bytes32 indexed officeId, address signer, uint32 leafCount
    );
    /// @notice An office anchored the head of its access log after `entries` entries.
    event AccessLogAnchored(bytes32 indexed officeId, address signer, bytes32 head, uint64 entries);

    // ---------------------------------------------------------------------------------------
    // Governance
    // ---------------------------------------------------------------------------------------

    /// @notice Registers an office. Only governance.
    /// @return number The office number assigned (1, 2, 3 …).
    function registerOffice(bytes32 officeId, string calldata name) external returns (uint32 number);

    /// @notice Suspends an office: its signers can no longer anchor or revoke. Only governance.
    function suspendOffice(bytes32 officeId) external;

    /// @notice Lifts a suspension. Only governance.
    function reinstateOffice(bytes32 officeId) external;

    /// @notice Lets `signer` sign for `officeId` from this block on. Only governance.
    function grantSigner(bytes32 officeId, address signer) external;

    /// @notice Ends `signer`'s authority for `officeId` at this block. Anchors it made before
    /// stay valid. Only governance.
    function revokeSigner(bytes32 officeId, address signer) external;

    // ---------------------------------------------------------------------------------------
    // Office signers
    // ---------------------------------------------------------------------------------------

    /// @notice Anchors one revision (direct mode) and moves the record's head.
    /// @return leaf The revision's leaf.
    function anchor(Revision calldata revision) external returns (bytes32 leaf);

    /// @notice Anchors many revisions in one call, all or nothing, with the same rules.
    function anchorMany(Revision[] calldata revisions) external;

    /// @notice Anchors a Merkle root over `leafCount` leaves (batch mode; no record heads).
    function anchorBatch(bytes32 root, uint32 leafCount) external;

    /// @notice Revokes a record. `reasonHash` is the SHA-256 of the reason text.
    function revoke(bytes32 recordId, bytes32 reasonHash) external;

    /// @notice Marks `recordId` as replaced by another record of the same office.
    /// `reasonHash` is the SHA-256 of the supersede reason text, or zero for none.
    function replace(bytes32 recordId, bytes32 byRecordId, bytes32 reasonHash) external;

    /// @notice Anchors the head of the office's hash-chained access log.
    function anchorAccessLog(bytes32 head, uint64 entries) external;

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @notice The head of a record: "is this the current version?" in one call.
    function head(bytes32 recordId) external view returns (HeadView memory);

    /// @notice True when `leaf` is the latest leaf of `recordId` and the record is active.
    function isCurrent(bytes32 recordId, bytes32 leaf) external view returns (bool);

    /// @notice The leaf the registry computes for `revision` (same bytes as docs/formats.md).
    function computeLeaf(Revision calldata revision) external view returns (bytes32);

    /// @notice An office by id.
    function office(bytes32 officeId) external view returns (OfficeView memory);

    /// @notice The office id behind an office number (zero if none).
    function officeIdOf(uint32 number) external view returns (bytes32);

    /// @notice Whether `signer` was allowed to sign for `officeId` at `blockNumber`.
    function signerAuthorisedAt(bytes32 officeId, address signer, uint256 blockNumber)
        external
        view
        returns (bool);

    /// @notice Every authority period `signer` ever had.
    function signerPeriods(address signer) external view returns (SignerPeriod[] memory);

    /// @notice The running accumulator over every anchored leaf and batch root.
    /// @return hash The accumulator value (24 bytes, see docs/formats.md).
    /// @return count Leaves anchored so far (direct + many + declared batch leaves).
    function accumulator() external view returns (bytes24 hash, uint64 count);

    /// @notice The block a batch root was anchored in, and its office (zero if unknown).
    function batch(bytes32 root) external view returns (bytes32 officeId, uint32 blockNumber);

    /// @notice Checks a Merkle inclusion proof for `leaf` against an anchored batch root.
    function verifyBatchLeaf(bytes32 root, bytes32 leaf, bytes32[] calldata proof)
        external
        view
        returns (bool);
}
