"""Settling one recorded transaction: mined, reverted, lost, or its nonce taken (see the
package docstring); `reconcile` settles every one left unsettled."""

from __future__ import annotations

from collections.abc import Sequence

from web3.exceptions import TransactionNotFound

from notary.anchoring.plan import Item, release, settle_tx
from notary.anchoring.worker.base import log
from notary.anchoring.worker.others import OthersMixin
from notary.anchoring.worker.revisions import RevisionsMixin
from notary.anchoring.worker.settings import TxRef, crash_point
from notary.chain.errors import NonceConsumed, RegistryRevert
from notary.chain.tx import node_errors
from notary.chain.types import TxResult
from notary.db import outbox
from notary.db.session import unit_of_work
from notary.db.types import AnchorMode, TxPurpose, TxState


class SettleMixin(RevisionsMixin, OthersMixin):
    """Reconciliation and settling, for every purpose."""

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
        """Bring one recorded transaction to a final state (see the package docstring)."""
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

    def _record(self, tx: TxRef, result: TxResult, known: Sequence[Item] | None = None) -> None:
        """Store a successful receipt (`known`: the job's items when this process signed it)."""
        with unit_of_work(self.sessions) as session:
            if tx.purpose is TxPurpose.REVISIONS:
                self._record_revisions(session, tx, result, known)
            else:
                self._record_other(session, tx, result)

    def _found_by_events(self, tx: TxRef) -> bool:
        """A transaction the node does not know: are all its revisions on chain anyway?

        Only anchors with the configured confirmations count: an anchor in a newer block may
        be reorged away, and a revision recorded from it would never be re-sent.
        """
        if tx.purpose is not TxPurpose.REVISIONS or tx.mode is AnchorMode.BATCH:
            return False
        assert self.client is not None
        with unit_of_work(self.sessions) as session:
            items = self._items_of(session, tx)
            events = [self._find_event(self.client, i, confirmed=True) for i in items]
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
                event = self._find_event(self.client, item, confirmed=True)
                if event is not None:
                    self._anchor_from_event(session, item, event)
                elif isinstance(culprit, bytes) and culprit != item.struct.record_id:
                    retry.append(item.revision_id)
                elif self._find_event(self.client, item) is not None:
                    retry.append(item.revision_id)  # seen, not yet confirmed: look again
                else:
                    self._fail(session, [item.revision_id], message)
            release(session, tx_hash=tx.tx_hash, revision_ids=retry, error=message)
            settle_tx(session, tx.tx_hash, TxState.FAILED, error=message)

    def _dropped(self, tx: TxRef, message: str) -> None:
        """Another transaction took our nonce: ours will never be mined."""
        assert self.client is not None
        with unit_of_work(self.sessions) as session:
            if tx.purpose is not TxPurpose.REVISIONS:
                self._other_dropped(session, tx, message)
                return
            retry = []
            for item in self._items_of(session, tx):
                event = self._find_event(self.client, item, confirmed=True)
                if event is not None:
                    self._anchor_from_event(session, item, event)
                else:
                    retry.append(item.revision_id)
            release(session, tx_hash=tx.tx_hash, revision_ids=retry, error=message)
