"""Search, blobs and the access log through the data layer."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from support.db_rows import h, make_office, publish

from notary.db import repo
from notary.db.models import (
    ZERO32,
    AccessLogEntry,
    Office,
    Record,
)
from notary.db.types import (
    AccessTier,
)
from notary.errors import Conflict, InvalidInput


def test_search_filters_by_office_category_dates_title_and_tier(
    db_session: Session, office: Office
) -> None:
    other = make_office(db_session, number=2, name="其他局")
    publish(db_session, office, "a", title="2024年度部门预算", published_on=date(2024, 2, 1))
    publish(db_session, office, "b", title="2025年度部门预算", published_on=date(2025, 2, 1))
    publish(db_session, office, "c", title="政务服务指南", category="guide")
    publish(db_session, office, "d", title="内部预算草案", tier=AccessTier.INTERNAL)
    publish(db_session, other, "e", title="2025年度部门预算", published_on=date(2025, 2, 2))
    db_session.commit()

    def titles(**kw: object) -> list[str]:
        return [r.title for r in repo.search_records(db_session, **kw)]  # type: ignore[arg-type]

    assert titles(office_pk=office.id, title="预算", access_tiers=[AccessTier.PUBLIC]) == [
        "2025年度部门预算",
        "2024年度部门预算",
    ]
    assert titles(category="guide") == ["政务服务指南"]
    assert titles(published_from=date(2025, 1, 1), published_to=date(2025, 2, 1)) == [
        "2025年度部门预算"
    ]
    assert titles(office_pk=other.id) == ["2025年度部门预算"]
    assert len(titles(limit=2)) == 2 and len(titles(limit=2, offset=4)) == 1
    with pytest.raises(InvalidInput):
        repo.search_records(db_session, limit=0)


@pytest.mark.parametrize(
    "needle",
    ["%", "_", "\\", "/", "'", "100%_done", "'; DROP TABLE records; --", "a' OR '1'='1"],
)
def test_search_treats_sql_metacharacters_literally(
    db_session: Session, office: Office, needle: str
) -> None:
    publish(db_session, office, "plain", title="plain title")
    publish(db_session, office, "special", title=f"x{needle}y")
    db_session.commit()
    assert [r.title for r in repo.search_records(db_session, title=needle)] == [f"x{needle}y"]
    assert db_session.scalar(select(func.count()).select_from(Record)) == 2


# -- blobs and the access log ------------------------------------------------------------


def test_add_blob_is_idempotent(db_session: Session) -> None:
    first = repo.add_blob(db_session, sha256=h("f"), size=10, path="ab/cd/x", media_type="a/b")
    again = repo.add_blob(db_session, sha256="0x" + h("f"), size=10, path="ab/cd/x")
    assert first is again
    with pytest.raises(Conflict):
        repo.add_blob(db_session, sha256=h("f"), size=11, path="ab/cd/x")


def _log_entry(office: Office, seq: int, prev: str, label: str) -> AccessLogEntry:
    return AccessLogEntry(
        office_pk=office.id,
        seq=seq,
        at=datetime(2025, 1, 1, tzinfo=UTC),
        action="record.get",
        outcome="200",
        prev_hash=prev,
        entry_hash=h(label),
    )


def test_access_log_cannot_fork_or_be_edited_through_the_orm(
    db_session: Session, office: Office
) -> None:
    first = _log_entry(office, 1, ZERO32, "e1")
    db_session.add_all([first, _log_entry(office, 2, h("e1"), "e2")])
    db_session.commit()
    db_session.add(_log_entry(office, 3, h("e1"), "fork"))  # a second successor of e1
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()
    first.outcome = "403"
    with pytest.raises(Conflict, match="append-only"):
        db_session.flush()
    db_session.rollback()
    db_session.delete(first)
    with pytest.raises(Conflict, match="append-only"):
        db_session.flush()
