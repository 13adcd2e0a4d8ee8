"""Revocations, replacements and access-log heads: one transaction per row, by the purpose
table (`purposes.OTHER_PURPOSES`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from notary.anchoring.plan import raise_alert, record_tx, set_other_state, settle_tx
from notary.anchoring.worker.base import WorkerBase
from notary.anchoring.worker.purposes import OTHER_PURPOSES, Purpose
from notary.anchoring.worker.settings import TxRef, crash_point
from notary.chain.client import RegistryClient
from notary.chain.errors import RegistryRevert
from notary.chain.events import RegistryEvent
from notary.chain.types import TxResult
from notary.db.session import unit_of_work
from notary.db.types import AnchorState, TxPurpose, TxState


class OthersMixin(WorkerBase):
    """The round of every purpose but revisions, and settling their transactions."""

    def _others_round(self, client: RegistryClient) -> int:
        return sum(self._other_purpose(client, purpose) for purpose in OTHER_PURPOSES)

    def _other_purpose(self, client: RegistryClient, purpose: TxPurpose) -> int:
        """Anchor ready rows of one kind, one transaction each, prepared in one commit."""
        spec = OTHER_PURPOSES[purpose]
        prepared: list[TxRef] = []
        settled = 0
        try:
            with unit_of_work(self.sessions) as session:
                for row, office_pk, args in spec.ready(session, list(self.office_signers)):
                    signer = self.office_signers[office_pk]
                    try:
                        signed = client.prepare(signer, spec.function, *args)
                    except RegistryRevert as exc:
                        self._refuse_rows(session, spec, [row.id], exc)
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
                    ref = TxRef.of_signed(signed, purpose)
                    set_other_state(
                        session, spec.table, row.id, AnchorState.SENDING, tx_hash=ref.tx_hash
                    )
                    prepared.append(ref)
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

    def _other_rows(self, session: Session, tx: TxRef) -> list[int]:
        table = OTHER_PURPOSES[tx.purpose].table
        return list(session.scalars(select(table.id).where(table.tx_hash == tx.tx_hash)))

    def _record_other(self, session: Session, tx: TxRef, result: TxResult) -> None:
        """A mined transaction: its rows are anchored in its block."""
        table = OTHER_PURPOSES[tx.purpose].table
        for row_id in self._other_rows(session, tx):
            set_other_state(
                session,
                table,
                row_id,
                AnchorState.ANCHORED,
                tx_hash=tx.tx_hash,
                block_number=result.block_number,
            )
        settle_tx(session, tx.tx_hash, TxState.CONFIRMED, block=result.block_number)

    def _other_dropped(self, session: Session, tx: TxRef, message: str) -> None:
        """Another transaction took our nonce: the rows go back to pending."""
        table = OTHER_PURPOSES[tx.purpose].table
        for row_id in self._other_rows(session, tx):
            set_other_state(session, table, row_id, AnchorState.PENDING)
        settle_tx(session, tx.tx_hash, TxState.DROPPED, error=message)

    def _other_refused(self, session: Session, tx: TxRef, exc: RegistryRevert) -> None:
        """A mined transaction that reverted: each row on chain already, or failed."""
        spec = OTHER_PURPOSES[tx.purpose]
        self._refuse_rows(session, spec, self._other_rows(session, tx), exc)
        settle_tx(session, tx.tx_hash, TxState.FAILED, error=f"{type(exc).__name__}: {exc}")

    def _refuse_rows(
        self, session: Session, spec: Purpose, row_ids: list[int], exc: RegistryRevert
    ) -> None:
        """Rows the chain refused: anchored from the proving event, else failed with an alert."""
        message = f"{type(exc).__name__}: {exc}"
        for rid in row_ids:
            row = session.get(spec.table, rid)
            assert row is not None
            event = self._find_other_event(spec, row)
            if event is not None:
                set_other_state(
                    session,
                    spec.table,
                    rid,
                    AnchorState.ANCHORED,
                    tx_hash=event.tx_hash.removeprefix("0x"),
                    block_number=event.block_number,
                )
                continue
            set_other_state(session, spec.table, rid, AnchorState.FAILED, tx_hash=None)
            raise_alert(
                session,
                rule=spec.failed_rule,
                office_pk=getattr(row, "office_pk", None),
                record_id=getattr(row, "record_id", None),
                details={"error": message[:500]},
                key=f"{spec.purpose.value}:{rid}",
            )

    def _find_other_event(self, spec: Purpose, row: Any) -> RegistryEvent | None:
        """The event proving `row` is on chain (unconfirmed blocks included), if any."""
        if spec.event is None or spec.topic is None:
            return None
        assert self.client is not None
        client = self.client
        for event in client.logs.iter_logs(
            client.config.start_block,
            event_names=[spec.event.name],
            topics=[spec.topic(row)],
            confirmed=False,
        ):
            if isinstance(event, spec.event):
                return event
        return None
