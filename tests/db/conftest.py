"""The data-layer suites' fixture: one office, committed, on each database."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session
from support.db_rows import make_office

from notary.db.models import Office


@pytest.fixture
def office(db_session: Session) -> Office:
    office = make_office(db_session)
    db_session.commit()
    return office
