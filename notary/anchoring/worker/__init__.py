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

Then pending revocations, replacements and access-log heads, the same way. Before each
round, at most every `head_check_s`, the access-log heads that are due are queued (every
`head_every_entries` entries or `head_every_s` seconds, `notary.anchoring.heads`); after
each round the audit runs when it is due (`notary.audit.schedule`: on an interval, and
soon after a round that anchored something), so alerts are raised without anyone asking.

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

The package: `settings` (WorkerSettings, TxRef, the crash hook), `base` (connection and
signer keys), `revisions` (the revisions round), `purposes` (the one table from
transaction purpose to function, rows and proving event) and `others` (the round of those
purposes), `settle` (reconcile and settle one transaction), `loop` (`Worker.run`).
"""

from notary.anchoring.worker.loop import Worker, anchor_pending, run_worker
from notary.anchoring.worker.purposes import OTHER_PURPOSES, Purpose
from notary.anchoring.worker.settings import (
    CRASH_EXIT_CODE,
    IDEMPOTENCY_TTL_ENV,
    TxRef,
    WorkerSettings,
    crash_point,
    idempotency_ttl_from_env,
)

__all__ = [
    "CRASH_EXIT_CODE",
    "IDEMPOTENCY_TTL_ENV",
    "OTHER_PURPOSES",
    "Purpose",
    "TxRef",
    "Worker",
    "WorkerSettings",
    "anchor_pending",
    "crash_point",
    "idempotency_ttl_from_env",
    "run_worker",
]
