"""Records and revisions through the repository: create, revise, replace, races for a version."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from support.db_rows import h, make_office, metadata, publish, record_id_for, revise

from notary.db import repo
from notary.db.models import (
    ZERO32,
    Office,
    Record,
    Revision,
)
from notary.db.session import (
    unit_of_work,
)
from notary.db.types import (
    AccessTier,
    AnchorState,
    RecordKind,
    RecordStatus,
)
from notary.errors import Conflict, InvalidInput, NotFound


def test_duplicate_office_id_or_number_is_a_conflict(db_session: Session, office: Office) -> None:
    with pytest.raises(Conflict):
        repo.create_office(db_session, office_id=office.office_id, number=2, name="other")
    with pytest.raises(Conflict):
        repo.create_office(db_session, office_id=h("other"), number=office.number, name="other")
    db_session.commit()  # the savepoint kept the transaction usable
    assert repo.get_office(db_session, number=1).office_id == office.office_id
    assert repo.get_office(db_session, office_id="0x" + office.office_id.upper()).number == 1
    with pytest.raises(NotFound):
        repo.get_office(db_session, number=99)


def test_create_record_stores_record_and_pending_version_1(
    db_session: Session, office: Office
) -> None:
    revision = publish(db_session, office, "budget-2025", leaf=h("leaf-1"))
    db_session.commit()
    db_session.expunge_all()
    record = repo.get_record(db_session, record_id=revision.record_id)
    assert record.status is RecordStatus.CURRENT and record.head_version == 1
    assert record.office.number == 1 and record.revocation is None
    (v1,) = record.revisions
    assert v1.version == 1 and v1.anchor_state is AnchorState.PENDING
    assert v1.prev_leaf == ZERO32 and v1.leaf == h("leaf-1")
    assert v1.content_hash == h("content-budget-2025")
    assert v1.metadata_hash == hashlib.sha256(v1.metadata_json.encode()).hexdigest()


def test_create_record_refuses_bad_input_and_writes_nothing(
    db_session: Session, office: Office
) -> None:
    meta_json, meta_hash = metadata("x")
    base = dict(
        office=office,
        kind=RecordKind.DISCLOSURE,
        access_tier=AccessTier.PUBLIC,
        title="x",
        content_hash=h("c"),
        metadata_json=meta_json,
        metadata_hash=meta_hash,
    )
    with pytest.raises(InvalidInput, match="office"):  # id names office 2
        repo.create_record(db_session, record_id="00000002" + h("x")[8:], **base)  # type: ignore[arg-type]
    good_id = record_id_for(office, "x")
    with pytest.raises(InvalidInput, match="metadata_hash"):
        repo.create_record(db_session, record_id=good_id, **{**base, "metadata_hash": h("no")})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="certificates"):
        repo.create_record(
            db_session,
            record_id=good_id,
            valid_until=datetime(2030, 1, 1, tzinfo=UTC),
            **base,  # type: ignore[arg-type]
        )
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(Record)) == 0


def test_record_and_first_revision_are_created_together_or_not_at_all(
    db_session: Session, office: Office
) -> None:
    publish(db_session, office, "a", leaf=h("same-leaf"))
    db_session.commit()
    with pytest.raises(Conflict):  # the revision's leaf collides: the record must go too
        publish(db_session, office, "b", leaf=h("same-leaf"))
    db_session.commit()
    ids = db_session.scalars(select(Record.record_id)).all()
    assert ids == [record_id_for(office, "a")]


def test_certificate_keeps_its_validity_end(db_session: Session, office: Office) -> None:
    meta_json, meta_hash = metadata("licence")
    until = datetime(2030, 6, 30, 16, 0, tzinfo=UTC)
    repo.create_record(
        db_session,
        record_id=record_id_for(office, "licence"),
        office=office,
        kind=RecordKind.CERTIFICATE,
        access_tier=AccessTier.RESTRICTED,
        title="营业执照",
        content_hash=h("c"),
        metadata_json=meta_json,
        metadata_hash=meta_hash,
        valid_until=until,
    )
    db_session.commit()
    db_session.expunge_all()
    record = repo.get_record(db_session, record_id=record_id_for(office, "licence"))
    assert record.valid_until == until and record.kind is RecordKind.CERTIFICATE


def test_unknown_record_is_not_found(db_session: Session) -> None:
    with pytest.raises(NotFound):
        repo.get_record(db_session, record_id=h("nope"))
    with pytest.raises(NotFound):
        revise(db_session, h("nope"), 2, "v2")


# -- revisions ---------------------------------------------------------------------------


def test_add_revision_appends_the_next_version_and_moves_the_head(
    db_session: Session, office: Office
) -> None:
    rid = publish(db_session, office, "doc", leaf=h("leaf-1")).record_id
    db_session.commit()
    v2 = revise(db_session, rid, 2, "doc v2", change_note="fix table 3")
    db_session.commit()
    assert v2.prev_leaf == h("leaf-1")  # taken from version 1
    record = repo.get_record(db_session, record_id=rid)
    assert record.head_version == 2 and record.title == "doc v2"
    assert [r.version for r in record.revisions] == [1, 2]
    assert repo.get_revision(db_session, record_id=rid, version=2).change_note == "fix table 3"


@pytest.mark.parametrize("version", [1, 3, 0])
def test_add_revision_refuses_a_version_that_is_not_next(
    db_session: Session, office: Office, version: int
) -> None:
    rid = publish(db_session, office, "doc").record_id
    db_session.commit()
    with pytest.raises(Conflict, match="expected version 2"):
        revise(db_session, rid, version, "other")


def test_add_revision_refuses_content_identical_to_the_head(
    db_session: Session, office: Office
) -> None:
    rid = publish(db_session, office, "doc").record_id
    db_session.commit()
    with pytest.raises(Conflict, match="identical"):
        revise(db_session, rid, 2, "doc")  # same content and metadata as version 1


def test_add_revision_refuses_a_prev_leaf_that_is_not_the_heads(
    db_session: Session, office: Office
) -> None:
    rid = publish(db_session, office, "doc", leaf=h("leaf-1")).record_id
    db_session.commit()
    with pytest.raises(Conflict, match="prev_leaf"):
        revise(db_session, rid, 2, "v2", prev_leaf=h("wrong"))


def test_revoked_record_cannot_be_revised_or_revoked_again(
    db_session: Session, office: Office
) -> None:
    rid = publish(db_session, office, "doc").record_id
    revocation = repo.record_revocation(db_session, record_id=rid, reason="数据有误，已撤回")
    db_session.commit()
    assert revocation.reason_hash == hashlib.sha256("数据有误，已撤回".encode()).hexdigest()
    assert revocation.anchor_state is AnchorState.PENDING
    record = repo.get_record(db_session, record_id=rid)
    assert record.status is RecordStatus.REVOKED and record.revocation is not None
    with pytest.raises(Conflict, match="revoked"):
        revise(db_session, rid, 2, "v2")
    with pytest.raises(Conflict):
        repo.record_revocation(db_session, record_id=rid, reason="again")
    with pytest.raises(InvalidInput):
        repo.record_revocation(db_session, record_id=rid, reason="   ")


def test_replacement_links_records_of_one_office_only(db_session: Session, office: Office) -> None:
    old = publish(db_session, office, "old").record_id
    new = publish(db_session, office, "new").record_id
    other_office = make_office(db_session, number=2, name="其他局")
    foreign = publish(db_session, other_office, "foreign").record_id
    db_session.commit()
    with pytest.raises(Conflict, match="same office"):
        repo.record_replacement(db_session, record_id=old, by_record_id=foreign)
    repo.record_replacement(db_session, record_id=old, by_record_id=new)
    db_session.commit()
    record = repo.get_record(db_session, record_id=old)
    assert record.status is RecordStatus.REPLACED and record.replaced_by == new
    with pytest.raises(Conflict):
        revise(db_session, old, 2, "old v2")


def test_the_unique_constraint_backs_the_version_order(db_session: Session, office: Office) -> None:
    v1 = publish(db_session, office, "doc")
    db_session.commit()
    meta_json, meta_hash = metadata("dup")
    db_session.add(
        Revision(
            record_id=v1.record_id,
            version=1,
            content_hash=h("dup"),
            metadata_json=meta_json,
            metadata_hash=meta_hash,
        )
    )
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_racing_version_2_exactly_one_wins_while_the_other_waits(
    db_session_factory: sessionmaker[Session],
) -> None:
    with unit_of_work(db_session_factory) as s:
        rid = publish(s, make_office(s), "doc").record_id
    first_added, release = threading.Event(), threading.Event()
    results: dict[str, str] = {}

    def first() -> None:
        with unit_of_work(db_session_factory) as s:
            revise(s, rid, 2, "from A")
            first_added.set()
            assert release.wait(20)
        results["a"] = "ok"

    def second() -> None:
        assert first_added.wait(20)
        try:
            with unit_of_work(db_session_factory) as s:
                revise(s, rid, 2, "from B")
            results["b"] = "ok"
        except Conflict:
            results["b"] = "conflict"

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    assert first_added.wait(20)
    threads[1].join(0.5)
    assert "b" not in results  # B is blocked by A's lock, not racing past it
    release.set()
    for t in threads:
        t.join(30)
    assert results == {"a": "ok", "b": "conflict"}
    with unit_of_work(db_session_factory) as s:
        record = repo.get_record(s, record_id=rid)
        assert [(r.version, r.content_hash) for r in record.revisions] == [
            (1, h("content-doc")),
            (2, h("content-from A")),
        ]


def test_many_concurrent_writers_of_one_version_yield_one_revision(
    db_session_factory: sessionmaker[Session],
) -> None:
    with unit_of_work(db_session_factory) as s:
        rid = publish(s, make_office(s), "doc").record_id
    n = 8
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def writer(i: int) -> None:
        barrier.wait(20)
        try:
            with unit_of_work(db_session_factory) as s:
                revise(s, rid, 2, f"writer {i}")
            outcome = "ok"
        except Conflict:
            outcome = "conflict"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["conflict"] * (n - 1) + ["ok"]
    with unit_of_work(db_session_factory) as s:
        assert s.scalar(select(func.count()).select_from(Revision)) == 2
        assert repo.get_record(s, record_id=rid).head_version == 2


# -- the anchoring worker ----------------------------------------------------------------
