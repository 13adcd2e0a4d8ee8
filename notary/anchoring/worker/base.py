"""What every part of the worker shares: settings, sessions, the chain client, signer keys."""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Sequence

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from notary.anchoring.plan import Item
from notary.anchoring.worker.settings import TxRef, WorkerSettings
from notary.chain.client import RegistryClient
from notary.db.models import Office
from notary.db.session import make_engine, session_factory, unit_of_work

log = logging.getLogger("notary.anchoring.worker")

OFFICES_REREAD_S = 30.0
"""How often the signer keys are mapped to their offices again (grants change on chain)."""


class WorkerBase(abc.ABC):
    """The worker's state; the rounds and the settling are mixins over it (`loop.Worker`)."""

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

    def close(self) -> None:
        """Release the database connections (if the worker made the engine)."""
        if self._own_engine:
            self.engine.dispose()

    def connect(self) -> RegistryClient:
        """Connect to the registry and map each signer key to its office (re-read each 30 s)."""
        if self.client is None:
            self.client = RegistryClient.connect(self.settings.chain)
        stale = time.monotonic() - self._offices_checked > OFFICES_REREAD_S
        if not self.office_signers or stale:
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

    @abc.abstractmethod
    def _settle(self, tx: TxRef, *, fresh: bool, items: Sequence[Item] | None = None) -> None:
        """Bring one recorded transaction to a final state (`settle.SettleMixin`)."""
