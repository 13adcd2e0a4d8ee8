"""The anchoring worker: the outbox loop that puts accepted revisions on chain exactly once.

Each round (`Worker.run_once`):

1. take pending revisions of the offices we hold a signer key for, oldest first, locked
   (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's write lock otherwise);
2. compute their leaves (the previous leaf from the previous version) and plan jobs:
   direct, many (`anchorMany`) or batch (`anchorBatch` of a Merkle root, for archive
   records), see `notary.anchoring.plan.plan_jobs`;
3. **prepare** (sign) each job's transaction, **record** its hash, raw bytes and nonce
   in `anchor_txs` and mark the revisions `sending`, and commit;
4. only then broadcast, wait for the receipt with the configured confirmations, and record
   block, log index, leaf (and Merkle proof) — `anchored`.

Then pending revocations, replacements and access-log heads, the same way.

`Worker.reconcile` runs before every round and settles each recorded transaction that is
not settled yet (a crash or a lost node can leave some): mined → record it; reverted →
each revision found on chain by its `RevisionAnchored` event is recorded from the event,
the others fail with the decoded reason (and an alert); still in the node's pool → wait;
unknown to the node → recorded from events if every revision is on chain already, else
the *same* raw transaction is re-broadcast (same nonce, same hash); nonce taken by another
transaction → events, else back to pending. New transactions are signed only once every
recorded one is settled, so nonces never fork. The chain itself refuses a repeated version,
so a revision is never anchored twice. An unreachable chain or database means backing off
and retrying; the loop never exits on its own except when asked.

Before every round, at most every `purge_every_s` (60 s), the loop deletes the API's
`Idempotency-Key` answers older than `NOTARY_IDEMPOTENCY_TTL_HOURS` (24 h by default), a
batch per transaction; it needs only the database, so it goes on while the chain is down.

One worker per signer key (its nonces are managed locally).

Test hook: `NOTARY_TEST_CRASH_POINT` — a comma-separated list of crash point names (or
`any`) at which the process calls `os._exit(CRASH_EXIT_CODE)` with probability
`NOTARY_TEST_CRASH_PROB` (default 0.1). Points: `recorded` (tx recorded, not broadcast),
`broadcast` (tx sent, receipt not stored), `receipt` (receipt read, not stored),
`anchored` (stored). Never set these in production.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from web3.exceptions import TransactionNotFound

from notary.anchoring.plan import (
    ARCHIVE_CATEGORIES,
    OTHER_TABLES,
    Item,
    Job,
    ModeName,
    build_items,
    plan_jobs,
    raise_alert,
    record_tx,
    release,
    revisions_of_tx,
    select_pending,
    set_other_state,
    settle_tx,
)
from notary.chain.client import RegistryClient
from notary.chain.config import ChainConfig
from notary.chain.errors import NonceConsumed, RegistryRevert
from notary.chain.events import (
    AccessLogAnchored,
    BatchAnchored,
    RecordReplaced,
    RecordRevoked,
    RevisionAnchored,
)
from notary.chain.tx import node_errors
from notary.chain.types import SignedTx, TxResult
from notary.db import outbox, repo
from notary.db.models import AccessLogAnchor, AnchorTx, Office, Record, Replacement, Revision
from notary.db.models import Revocation as RevocationRow
from notary.db.session import make_engine, session_factory, unit_of_work
from notary.db.types import AnchorMode, AnchorState, TxPurpose, TxState, utcnow
from notary.errors import InvalidInput, NotaryError, Unavailable

log = logging.getLogger("notary.anchoring.worker")

CRASH_EXIT_CODE = 137
_SETTLED_BUSY = (AnchorState.PENDING, AnchorState.SENDING)


# ---------------------------------------------------------------------------------------------
# Settings and test hook
# ---------------------------------------------------------------------------------------------


IDEMPOTENCY_TTL_ENV = "NOTARY_IDEMPOTENCY_TTL_HOURS"


def idempotency_ttl_from_env() -> float:
    """Seconds an Idempotency-Key answer is kept: `NOTARY_IDEMPOTENCY_TTL_HOURS` (the API
    reads the same variable), default 24 h."""
    raw = os.environ.get(IDEMPOTENCY_TTL_ENV, "").strip()
    if not raw:
        return repo.IDEMPOTENCY_TTL_HOURS * 3600
    try:
        hours = float(raw)
    except ValueError:
        hours = float("nan")
    if not 0 < hours <= 24 * 366:  # NaN fails too
        raise InvalidInput(f"{IDEMPOTENCY_TTL_ENV} must be hours in (0, 8784]; got {raw!r}")
    return hours * 3600


@dataclass(frozen=True)
class WorkerSettings:
    """What the worker needs: a database, a chain, the office signer keys, and tuning."""

    db_url: str
    chain: ChainConfig
    signers: tuple[LocalAccount, ...]
    mode: ModeName = "auto"
    many_size: int = 100
    batch_size: int = 1000
    max_jobs: int = 16
    fetch_limit: int = 2000
    archive_categories: frozenset[str] = ARCHIVE_CATEGORIES
    idle_sleep: float = 0.2
    max_backoff: float = 5.0
    idempotency_ttl_s: float = field(default_factory=idempotency_ttl_from_env)
    """Idempotency-Key answers older than this are purged (`NOTARY_IDEMPOTENCY_TTL_HOURS`)."""
    purge_every_s: float = 60.0
    extra: dict[str, Any] = field(default_factory=dict)


def crash_point(name: str) -> None:
    """Test hook: maybe exit at once (no cleanup) here; see the module docstring."""
    points = os.environ.get("NOTARY_TEST_CRASH_POINT")
    if not points:
        return
    wanted = {p.strip() for p in points.split(",")}
    chance = float(os.environ.get("NOTARY_TEST_CRASH_PROB", "0.1"))
    if (name in wanted or "any" in wanted) and random.random() < chance:
        os._exit(CRASH_EXIT_CODE)


@dataclass(frozen=True, slots=True)
class TxRef:
    """A recorded transaction, detached from its session."""

    tx_hash: str
    purpose: TxPurpose
    mode: AnchorMode | None
    signer: str
    nonce: int
    raw: bytes
    batch_root: str | None

    @classmethod
    def of(cls, row: AnchorTx) -> TxRef:
        """From an `anchor_txs` row."""
        return cls(
            tx_hash=row.tx_hash,
            purpose=row.purpose,
            mode=row.mode,
            signer=row.signer,
            nonce=row.nonce,
            raw=bytes.fromhex(row.raw_tx),
            batch_root=row.batch_root,
        )

    def signed(self, registry: str) -> SignedTx:
        """As the chain client's `SignedTx` (to wait for or re-broadcast it)."""
        return SignedTx(
            raw=self.raw,
            tx_hash="0x" + self.tx_hash,
            sender=to_checksum_address(self.signer),
            nonce=self.nonce,
            gas=0,
            to=registry,
            function=self.purpose.value,
        )


# ---------------------------------------------------------------------------------------------
# The worker
# ---------------------------------------------------------------------------------------------


class Worker:
    """The outbox worker over one database and one registry (see the module docstring)."""

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        engine: Engine | None = None,
        client: RegistryClient | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine if engine is not None else make_engine(settings.db_url)
        self._own_engine = engine is None
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        self.client = client
        self.office_signers: dict[int, LocalAccount] = {}
        self._offices_checked = 0.0
        self._purged_at: float | None = None

    def close(self) -> None:
        """Release the database connections (if the worker made the engine)."""
        if self._own_engine:
            self.engine.dispose()

    # -- connection -------------------------------------------------------------------------

    def connect(self) -> RegistryClient:
        """Connect to the registry and map each signer key to its office (re-read each 30 s)."""
        if self.client is None:
            self.client = RegistryClient.connect(self.settings.chain)
        if not self.office_signers or time.monotonic() - self._offices_checked > 30:
            self.office_signers = self._resolve_offices(self.client)
            self._offices_checked = time.monotonic()
        return self.client

    def _resolve_offices(self, client: RegistryClient) -> dict[int, LocalAccount]:
        numbers: dict[int, LocalAccount] = {}
        for account in self.settings.signers:
            for period in client.signer_periods(account.address):
                if period.is_open:
                    numbers[period.office_number] = account
        if not numbers:
            return {}
        with unit_of_work(self.sessions) as session:
            rows = session.execute(
                select(Office.id, Office.number).where(Office.number.in_(list(numbers)))
            )
            return {r.id: numbers[r.number] for r in rows}

    def _reset_nonces(self) -> None:
        if self.client is not None:
            for account in self.settings.signers:
                self.client.reset_nonce(account)

    # -- the loop ---------------------------------------------------------------------------

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        exit_when_idle: bool = False,
    ) -> None:
        """Reconcile and anchor until `stop` is set (or, with `exit_when_idle`, nothing is left).

        Chain or database outages back off (up to `max_backoff` s) and resume by themselves.
        """
        stop = stop if stop is not None else threading.Event()
        backoff = 0.0
        while not stop.is_set():
            try:
                self.purge_if_due()  # first: it needs only the database, not the chain
                self.connect()
                self.reconcile()
                done = self.run_once()
                backoff = 0.0
            except Unavailable as exc:
                backoff = min(self.settings.max_backoff, max(0.2, backoff * 2))
                log.warning("unavailable (%s); retrying in %.1f s", exc, backoff)
                self._reset_nonces()
                stop.wait(backoff)
                continue
            except Exception as exc:
                backoff = min(self.settings.max_backoff, max(0.5, backoff * 2))
                log.exception("worker round failed (%s); retrying in %.1f s", exc, backoff)
                self._reset_nonces()
                stop.wait(backoff)
                continue
            if done == 0:
                if exit_when_idle and self.idle():
                    return
                stop.wait(self.settings.idle_sleep)

    def purge_if_due(self) -> int:
        """Every `purge_every_s`, delete the Idempotency-Key answers past their TTL."""
        now = time.monotonic()
        if self._purged_at is not None and now - self._purged_at < self.settings.purge_every_s:
            return 0
        removed = self.purge_expired_idempotency_keys()
        self._purged_at = now
        return removed

    def purge_expired_idempotency_keys(self) -> int:
        """Delete every Idempotency-Key answer older than the TTL, a batch per transaction
        (API writes wait for none of them long); how many."""
        before = utcnow() - timedelta(seconds=self.settings.idempotency_ttl_s)
        removed = 0
        while True:
            with unit_of_work(self.sessions) as session:
                batch = repo.purge_idempotency_keys(session, before=before)
            removed += batch
            if batch < repo.PURGE_BATCH:
                if removed:
                    log.info("purged %d expired Idempotency-Key answers", removed)
                return removed

    def idle(self) -> bool:
        """True when no recorded transaction is waiting to be settled."""
        with unit_of_work(self.sessions) as session:
            return not outbox.unconfirmed_txs(session)

    def run_once(self) -> int:
        """One round: anchor what is pending now. Returns how many rows it settled."""
        client = self.connect()
        if not self.office_signers:
            return 0
        done = self._revisions_round(client)
        done += self._others_round(client)
        return done

    # -- revisions --------------------------------------------------------------------------

    def _revisions_round(self, client: RegistryClient) -> int:
        s = self.settings
        prepared: list[tuple[Job, SignedTx]] = []
        settled = 0
        try:
            with unit_of_work(self.sessions) as session:
                rows = select_pending(
                    session, office_pks=list(self.office_signers), limit=s.fetch_limit
                )
                if not rows:
                    return 0
                items, problems = build_items(
                    session,
                    rows,
                    chain_id=client.chain_id,
                    registry=client.address,
                    archive_categories=s.archive_categories,
                )
                for problem in problems:
                    self._fail(session, [problem.revision_id], problem.message)
                settled += len(problems)
                jobs = plan_jobs(
                    items,
                    mode=s.mode,
                    many_size=s.many_size,
                    batch_size=s.batch_size,
                    max_jobs=s.max_jobs,
                )
                for job in jobs:
                    signed, resolved = self._prepare_job(session, client, job)
                    settled += resolved
                    if signed is not None:
                        prepared.append((job, signed))
                for job, signed in prepared:
                    root = job.tree().root if job.mode is AnchorMode.BATCH else None
                    outbox.mark_sending(
                        session,
                        revision_ids=[i.revision_id for i in job.items],
                        tx_hash=signed.tx_hash,
                        raw_tx=signed.raw,
                        nonce=signed.nonce,
                        signer=signed.sender,
                        mode=job.mode,
                        batch_root=root,
                    )
        except BaseException:
            self._reset_nonces()  # nothing recorded: the prepared nonces are free again
            raise
        if not prepared:
            return settled
        crash_point("recorded")
        for _, signed in prepared:
            client.broadcast(signed)
        crash_point("broadcast")
        with unit_of_work(self.sessions) as session:
            for _, signed in prepared:
                outbox.mark_tx_sent(session, tx_hash=signed.tx_hash)
        for job, signed in prepared:
            self._settle(self._ref(job, signed), fresh=True, items=job.items)
            settled += len(job.items)
        return settled

    def _ref(self, job: Job, signed: SignedTx) -> TxRef:
        return TxRef(
            tx_hash=signed.tx_hash.removeprefix("0x"),
            purpose=TxPurpose.REVISIONS,
            mode=job.mode,
            signer=signed.sender.lower(),
            nonce=signed.nonce,
            raw=signed.raw,
            batch_root=job.tree().root.hex() if job.mode is AnchorMode.BATCH else None,
        )

    def _prepare_job(
        self, session: Session, client: RegistryClient, job: Job
    ) -> tuple[SignedTx | None, int]:
        """Sign the job's transaction; a registry refusal settles the offending revisions.

        Returns the signed tx (None if nothing is left to send) and how many were settled.
        """
        signer = self.office_signers[job.office_pk]
        settled = 0
        while job.items:
            try:
                if job.mode is AnchorMode.BATCH:
                    tree = job.tree()
                    return client.prepare_anchor_batch(signer, tree.root, len(tree)), settled
                if job.mode is AnchorMode.DIRECT:
                    return client.prepare_anchor(signer, job.items[0].struct), settled
                return client.prepare_anchor_many(signer, [i.struct for i in job.items]), settled
            except RegistryRevert as exc:
                culprit = exc.values.get("recordId")
                if isinstance(culprit, bytes) and culprit in job.record_ids:
                    bad = [i for i in job.items if i.struct.record_id == culprit]
                    job.items = [i for i in job.items if i.struct.record_id != culprit]
                    # Only the first revision of the record was judged; the others retry.
                    self._resolve_refused(session, client, bad[:1], exc)
                    settled += 1
                else:
                    self._resolve_refused(session, client, job.items, exc)
                    settled += len(job.items)
                    job.items = []
        return None, settled

    def _resolve_refused(
        self, session: Session, client: RegistryClient, items: Sequence[Item], exc: RegistryRevert
    ) -> None:
        """Items the chain refused: anchored already (found by event) or failed for good."""
        for item in items:
            event = self._find_event(client, item)
            if event is not None:
                self._anchor_from_event(session, item, event)
            else:
                self._fail(session, [item.revision_id], f"{type(exc).__name__}: {exc}")

    def _find_event(self, client: RegistryClient, item: Item) -> RevisionAnchored | None:
        record_id, version = item.key
        event = client.find_revision_event(record_id, version, include_unconfirmed=True)
        if event is None:
            return None
        same = (
            event.content_hash == item.struct.content_hash
            and event.metadata_hash == item.struct.metadata_hash
        )
        return event if same else None

    def _anchor_from_event(self, session: Session, item: Item, event: RevisionAnchored) -> None:
        outbox.mark_anchored(
            session,
            tx_hash=event.tx_hash,
            block_number=event.block_number,
            revisions=[outbox.AnchoredRevision(item.revision_id, item.leaf, event.log_index)],
        )

    def _fail(self, session: Session, revision_ids: Sequence[int], error: str, tx: Any = None):
        """Mark revisions failed with the reason and raise one alert each."""
        outbox.mark_failed(session, revision_ids=revision_ids, error=error, tx_hash=tx)
        rows = session.execute(
            select(Revision.id, Revision.record_id, Record.office_pk)
            .join(Record, Record.record_id == Revision.record_id)
            .where(Revision.id.in_(list(revision_ids)))
        )
        for row in rows:
            log.error("revision %s of record %s failed: %s", row.id, row.record_id, error)
            raise_alert(
                session,
                rule="anchor_failed",
                office_pk=row.office_pk,
                record_id=row.record_id,
                details={"revision_id": row.id, "error": error[:500]},
                key=f"revision:{row.id}",
            )

    # -- settling one recorded transaction -------------------------------------------------

    def reconcile(self) -> int:
        """Settle every recorded transaction that is not settled yet; returns how many."""
        self.connect()
        with unit_of_work(self.sessions) as session:
            txs = [TxRef.of(t) for t in outbox.unconfirmed_txs(session)]
        if not txs:
            return 0
        log.info("reconciling %d unsettled transaction(s)", len(txs))
        self._reset_nonces()
        for tx in txs:
            self._settle(tx, fresh=False)
        self._reset_nonces()
        return len(txs)

    def _settle(self, tx: TxRef, *, fresh: bool, items: Sequence[Item] | None = None) -> None:
        """Bring one recorded transaction to a final state (see the module docstring)."""
        client = self.client
        assert client is not None
        signed = tx.signed(client.address)
        if not fresh:
            try:
                mined = client.result_of(signed.tx_hash) is not None
            except RegistryRevert as exc:
                self._reverted(tx, exc)
                return
            # Mined or not, it is recorded only through `wait`, with its confirmations on
            # top: a receipt found at once may still be reorged away.
            if not mined and not self._node_knows(signed.tx_hash):
                if self._found_by_events(tx):
                    return
                try:
                    client.broadcast(signed)
                except NonceConsumed as exc:
                    self._dropped(tx, str(exc))
                    return
        try:
            result = client.wait(signed)
        except NonceConsumed as exc:
            self._dropped(tx, str(exc))
            return
        except RegistryRevert as exc:
            self._reverted(tx, exc)
            return
        crash_point("receipt")
        self._record(tx, result, items)
        crash_point("anchored")

    def _node_knows(self, tx_hash: str) -> bool:
        assert self.client is not None
        try:
            with node_errors("eth_getTransactionByHash"):
                self.client.web3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        return True

    def _items_of(self, session: Session, tx: TxRef) -> list[Item]:
        assert self.client is not None
        rows = [
            r
            for r in revisions_of_tx(session, tx.tx_hash)
            if r.anchor_state is not AnchorState.ANCHORED
        ]
        items, problems = build_items(
            session, rows, chain_id=self.client.chain_id, registry=self.client.address
        )
        if problems or len(items) != len(rows):
            raise NotaryError(f"cannot recompute the leaves of transaction {tx.tx_hash}")
        return items

    def _record(self, tx: TxRef, result: TxResult, known: Sequence[Item] | None = None) -> None:
        """Store a successful receipt: block, log index, leaf (and proof) per revision.

        `known` are the job's items when this process prepared it (else recomputed).
        """
        with unit_of_work(self.sessions) as session:
            if tx.purpose is not TxPurpose.REVISIONS:
                self._record_other(session, tx, result)
                return
            items = list(known) if known is not None else self._items_of(session, tx)
            if not items:
                settle_tx(session, tx.tx_hash, TxState.CONFIRMED, block=result.block_number)
                return
            anchored: list[outbox.AnchoredRevision] = []
            if tx.mode is AnchorMode.BATCH:
                tree = Job(AnchorMode.BATCH, 0, items).tree()
                (event,) = result.events_of(BatchAnchored)
                if event.root != tree.root:
                    raise NotaryError(f"batch {tx.tx_hash}: root differs from the recorded leaves")
                for index, item in enumerate(items):
                    anchored.append(
                        outbox.AnchoredRevision(
                            item.revision_id, item.leaf, event.log_index, tree.proof(index)
                        )
                    )
            else:
                events = {(e.record_id, e.version): e for e in result.events_of(RevisionAnchored)}
                for item in items:
                    event = events.get(item.key)
                    if event is None:
                        raise NotaryError(f"{tx.tx_hash} has no event for revision {item.key}")
                    anchored.append(
                        outbox.AnchoredRevision(item.revision_id, item.leaf, event.log_index)
                    )
            outbox.mark_anchored(
                session,
                tx_hash=tx.tx_hash,
                block_number=result.block_number,
                revisions=anchored,
                batch_root=tx.batch_root,
            )

    def _found_by_events(self, tx: TxRef) -> bool:
        """A transaction the node does not know: are all its revisions on chain anyway?"""
        if tx.purpose is not TxPurpose.REVISIONS or tx.mode is AnchorMode.BATCH:
            return False
        assert self.client is not None
        with unit_of_work(self.sessions) as session:
            items = self._items_of(session, tx)
            events = [self._find_event(self.client, i) for i in items]
            if not items or any(e is None for e in events):
                return False
            for item, event in zip(items, events, strict=True):
                assert event is not None
                self._anchor_from_event(session, item, event)
            settle_tx(session, tx.tx_hash, TxState.DROPPED, error="anchored by another transaction")
        return True

    def _reverted(self, tx: TxRef, exc: RegistryRevert) -> None:
        """A mined transaction that reverted: settle each row by event or as failed."""
        assert self.client is not None
        message = f"{type(exc).__name__}: {exc}"
        with unit_of_work(self.sessions) as session:
            if tx.purpose is not TxPurpose.REVISIONS:
                self._other_refused(session, tx, exc)
                return
            items = self._items_of(session, tx)
            culprit = exc.values.get("recordId")
            retry: list[int] = []
            for item in items:
                event = self._find_event(self.client, item)
                if event is not None:
                    self._anchor_from_event(session, item, event)
                elif isinstance(culprit, bytes) and culprit != item.struct.record_id:
                    retry.append(item.revision_id)
                else:
                    self._fail(session, [item.revision_id], message)
            release(session, tx_hash=tx.tx_hash, revision_ids=retry, error=message)
            settle_tx(session, tx.tx_hash, TxState.FAILED, error=message)

    def _dropped(self, tx: TxRef, message: str) -> None:
        """Another transaction took our nonce: ours will never be mined."""
        assert self.client is not None
        with unit_of_work(self.sessions) as session:
            if tx.purpose is not TxPurpose.REVISIONS:
                for row_id in self._other_rows(session, tx):
                    set_other_state(session, tx.purpose, row_id, AnchorState.PENDING)
                settle_tx(session, tx.tx_hash, TxState.DROPPED, error=message)
                return
            retry = []
            for item in self._items_of(session, tx):
                event = self._find_event(self.client, item)
                if event is not None:
                    self._anchor_from_event(session, item, event)
                else:
                    retry.append(item.revision_id)
            release(session, tx_hash=tx.tx_hash, revision_ids=retry, error=message)

    # -- revocations, replacements, access-log heads -------------------------------------

    def _others_round(self, client: RegistryClient) -> int:
        done = 0
        for purpose in (TxPurpose.REVOCATION, TxPurpose.REPLACEMENT, TxPurpose.ACCESS_LOG):
            done += self._other_purpose(client, purpose)
        return done

    def _other_purpose(self, client: RegistryClient, purpose: TxPurpose) -> int:
        """Anchor pending rows of one kind, one transaction each, prepared in one commit."""
        prepared: list[TxRef] = []
        settled = 0
        try:
            with unit_of_work(self.sessions) as session:
                for row, office_pk, args in self._pending_others(session, purpose):
                    signer = self.office_signers[office_pk]
                    function = {
                        TxPurpose.REVOCATION: "revoke",
                        TxPurpose.REPLACEMENT: "replace",
                        TxPurpose.ACCESS_LOG: "anchorAccessLog",
                    }[purpose]
                    try:
                        signed = client.prepare(signer, function, *args)
                    except RegistryRevert as exc:
                        self._other_refused(session, None, exc, purpose=purpose, row_id=row.id)
                        settled += 1
                        continue
                    record_tx(
                        session,
                        purpose=purpose,
                        tx_hash=signed.tx_hash,
                        raw_tx=signed.raw,
                        nonce=signed.nonce,
                        signer=signed.sender,
                    )
                    tx_hex = signed.tx_hash.removeprefix("0x")
                    set_other_state(session, purpose, row.id, AnchorState.SENDING, tx_hash=tx_hex)
                    prepared.append(
                        TxRef(
                            tx_hex,
                            purpose,
                            AnchorMode.DIRECT,
                            signed.sender.lower(),
                            signed.nonce,
                            signed.raw,
                            None,
                        )
                    )
        except BaseException:
            self._reset_nonces()
            raise
        crash_point("recorded")
        for tx in prepared:
            client.broadcast(tx.signed(client.address))
        crash_point("broadcast")
        for tx in prepared:
            self._settle(tx, fresh=True)
        return settled + len(prepared)

    def _pending_others(
        self, session: Session, purpose: TxPurpose
    ) -> list[tuple[Any, int, tuple[Any, ...]]]:
        """(row, office pk, call arguments) of pending rows whose record is fully anchored."""
        offices = list(self.office_signers)
        busy = (
            select(Revision.record_id)
            .where(Revision.anchor_state.in_(_SETTLED_BUSY))
            .scalar_subquery()
        )
        out: list[tuple[Any, int, tuple[Any, ...]]] = []
        if purpose is TxPurpose.REVOCATION:
            rows = session.execute(
                select(RevocationRow, Record.office_pk)
                .join(Record, Record.record_id == RevocationRow.record_id)
                .where(
                    RevocationRow.anchor_state == AnchorState.PENDING,
                    Record.office_pk.in_(offices),
                    RevocationRow.record_id.not_in(busy),
                )
                .limit(100)
            )
            for rev, office_pk in rows:
                args = (bytes.fromhex(rev.record_id), bytes.fromhex(rev.reason_hash))
                out.append((rev, office_pk, args))
        elif purpose is TxPurpose.REPLACEMENT:
            rows = session.execute(
                select(Replacement, Record.office_pk)
                .join(Record, Record.record_id == Replacement.record_id)
                .where(
                    Replacement.anchor_state == AnchorState.PENDING,
                    Record.office_pk.in_(offices),
                    Replacement.record_id.not_in(busy),
                    Replacement.by_record_id.not_in(busy),
                )
                .limit(100)
            )
            for rep, office_pk in rows:
                # The supersede reason's hash, zero when the replacement gave none.
                reason = bytes.fromhex(rep.reason_hash) if rep.reason_hash else bytes(32)
                args = (bytes.fromhex(rep.record_id), bytes.fromhex(rep.by_record_id), reason)
                out.append((rep, office_pk, args))
        else:
            rows = session.execute(
                select(AccessLogAnchor)
                .where(
                    AccessLogAnchor.anchor_state == AnchorState.PENDING,
                    AccessLogAnchor.office_pk.in_(offices),
                )
                .order_by(AccessLogAnchor.id)
                .limit(100)
            )
            for (anchor,) in rows:
                out.append(
                    (anchor, anchor.office_pk, (bytes.fromhex(anchor.head), anchor.up_to_seq))
                )
        return out

    def _other_rows(self, session: Session, tx: TxRef) -> list[int]:
        table = OTHER_TABLES[tx.purpose]
        return list(session.scalars(select(table.id).where(table.tx_hash == tx.tx_hash)))

    def _record_other(self, session: Session, tx: TxRef, result: TxResult) -> None:
        for row_id in self._other_rows(session, tx):
            set_other_state(
                session,
                tx.purpose,
                row_id,
                AnchorState.ANCHORED,
                tx_hash=tx.tx_hash,
                block_number=result.block_number,
            )
        settle_tx(session, tx.tx_hash, TxState.CONFIRMED, block=result.block_number)

    def _other_refused(
        self,
        session: Session,
        tx: TxRef | None,
        exc: RegistryRevert,
        *,
        purpose: TxPurpose | None = None,
        row_id: int | None = None,
    ) -> None:
        """A revocation/replacement/access-log anchor the chain refused: on chain already?"""
        assert self.client is not None
        purpose = tx.purpose if tx is not None else purpose
        assert purpose is not None
        ids = self._other_rows(session, tx) if tx is not None else [row_id]
        table = OTHER_TABLES[purpose]
        message = f"{type(exc).__name__}: {exc}"
        for rid in ids:
            row = session.get(table, rid)
            assert row is not None
            event = self._find_other_event(purpose, row)
            if event is not None:
                set_other_state(
                    session,
                    purpose,
                    rid,
                    AnchorState.ANCHORED,
                    tx_hash=event.tx_hash.removeprefix("0x"),
                    block_number=event.block_number,
                )
                continue
            set_other_state(session, purpose, rid, AnchorState.FAILED, tx_hash=None)
            raise_alert(
                session,
                rule=f"{purpose.value}_failed",
                office_pk=getattr(row, "office_pk", None),
                record_id=getattr(row, "record_id", None),
                details={"error": message[:500]},
                key=f"{purpose.value}:{rid}",
            )
        if tx is not None:
            settle_tx(session, tx.tx_hash, TxState.FAILED, error=message)

    def _find_other_event(self, purpose: TxPurpose, row: Any) -> Any:
        assert self.client is not None
        client = self.client
        if purpose is TxPurpose.REVOCATION:
            name, topic, kind = "RecordRevoked", bytes.fromhex(row.record_id), RecordRevoked
        elif purpose is TxPurpose.REPLACEMENT:
            name, topic, kind = "RecordReplaced", bytes.fromhex(row.record_id), RecordReplaced
        else:
            return None  # an access-log head may be anchored again harmlessly
        for event in client.logs.iter_logs(
            client.config.start_block, event_names=[name], topics=[topic], confirmed=False
        ):
            if isinstance(event, kind):
                return event
        return None


_ = AccessLogAnchored  # imported for readers: the event the access-log anchors emit


# ---------------------------------------------------------------------------------------------
# Plain entry points (used by the CLI and scripts/run_local.py)
# ---------------------------------------------------------------------------------------------


def run_worker(
    settings: WorkerSettings, stop_event: threading.Event | None = None, **kwargs: Any
) -> None:
    """Run the worker loop in this thread until `stop_event` is set."""
    worker = Worker(settings)
    try:
        worker.run(stop_event, **kwargs)
    finally:
        worker.close()


def anchor_pending(settings: WorkerSettings, *, timeout: float = 120.0) -> None:
    """Reconcile, then anchor until nothing of ours is pending (for `notary publish`)."""
    worker = Worker(settings)
    try:
        deadline = time.monotonic() + timeout
        worker.connect()
        worker.reconcile()
        while time.monotonic() < deadline:
            if worker.run_once() == 0 and worker.idle():
                return
            worker.reconcile()
        raise Unavailable(f"anchoring did not finish within {timeout:g} s; run `notary worker`")
    finally:
        worker.close()
