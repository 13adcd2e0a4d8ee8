"""The audit that runs by itself: the real worker on anvil, SQLite and PostgreSQL.

The worker's schedule raises alerts nobody asked for (listed by `notary audit alerts`), the
replay is incremental, alerts reach the webhook (again after it was down), can be
acknowledged with a note (library, CLI) and stay acknowledged when raised again; the
access-log head is anchored by count and by time; the `signer_rate` rule fires for an
authorised signer on an honest chain.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from support.webhook import webhook_server
from typer.testing import CliRunner

from notary.anchoring.seed import seed_revisions
from notary.anchoring.worker import Worker, WorkerSettings
from notary.audit.alerts import AlertConfig, acknowledge_alert, alert_json, list_alerts
from notary.audit.schedule import ScheduleConfig
from notary.chain.events import AccessLogAnchored
from notary.cli.main import app as notary_app
from notary.db import repo
from notary.db.models import AccessLogAnchor, Alert, Office, Revision
from notary.db.session import make_engine, session_factory, unit_of_work
from notary.db.types import AnchorState, Severity
from notary.errors import Conflict, InvalidInput, NotFound
from notary.publishing import accesslog

QUIET = AlertConfig(late_anchor=timedelta(days=1))


class Service:
    """A database with the registry's office and a worker for it (its audit schedule given)."""

    def __init__(self, db_url, chain_config, registry_office, registry_client, **kw) -> None:
        self.db_url = db_url
        self.engine = make_engine(db_url)
        self.sessions = session_factory(self.engine)
        with unit_of_work(self.sessions) as s:
            self.office_pk = repo.create_office(
                s, office_id=registry_office.office_id, number=registry_office.number, name="o"
            ).id
        kw.setdefault("audit", ScheduleConfig(every_s=0))
        settings = WorkerSettings(
            db_url=db_url, chain=chain_config, signers=(registry_office.signer,), **kw
        )
        self.client = registry_client
        self.worker = Worker(settings, client=registry_client)

    def publish(self, records: int = 1) -> list[str]:
        with unit_of_work(self.sessions) as s:
            return seed_revisions(s, office=s.get(Office, self.office_pk), records=records)

    def alerts(self, **kw) -> list[dict]:
        with self.sessions() as s:
            return [alert_json(a) for a in list_alerts(s, **kw)]

    def run_until(self, done, timeout: float = 60.0) -> None:
        """Run the worker loop in a thread until `done()` holds (or fail after `timeout`)."""
        stop = threading.Event()
        thread = threading.Thread(target=self.worker.run, args=(stop,), daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + timeout
            while not done():
                assert time.monotonic() < deadline, "the worker never got there"
                time.sleep(0.1)
        finally:
            stop.set()
            thread.join(30)

    def close(self) -> None:
        self.worker.close()
        self.engine.dispose()


@pytest.fixture
def service(db_url, chain_config, registry_office, registry_client):
    made: list[Service] = []

    def make(**kw) -> Service:
        made.append(Service(db_url, chain_config, registry_office, registry_client, **kw))
        return made[-1]

    yield make
    for s in made:
        s.close()


def _tamper(service: Service, record_id: str) -> None:
    """Someone with database access edits an anchored revision's content hash."""
    with service.engine.begin() as conn:
        conn.execute(
            text("UPDATE revisions SET content_hash = :h WHERE record_id = :r"),
            {"h": "ab" * 32, "r": record_id},
        )


def test_the_schedule_raises_alerts_nobody_asked_for(service, tmp_path):
    state_file = tmp_path / "audit-state.json"
    received: list[dict] = []
    with webhook_server(received) as url:
        audit = ScheduleConfig(
            every_s=0.3,
            after_round_min_s=0.3,
            state_path=state_file,
            alerts=dataclasses.replace(QUIET, webhook_url=url),
        )
        svc = service(audit=audit)
        (record,) = svc.publish()
        svc.worker.run_once()
        _tamper(svc, record)
        svc.run_until(lambda: svc.alerts(rule="db_chain_mismatch"))
    assert svc.worker.audit.runs >= 1 and state_file.exists()
    (alert,) = svc.alerts(rule="db_chain_mismatch")
    assert alert["record_id"] == "0x" + record and not alert["acknowledged"]
    sent = [a["id"] for body in received for a in body["alerts"]]
    assert sent.count(alert["id"]) == 1  # the webhook got it once

    # `notary audit alerts` lists it: raised by the schedule, nobody ran `--run`.
    out = CliRunner().invoke(notary_app, ["audit", "alerts", "--db", svc.db_url, "--json"])
    assert out.exit_code == 0, out.output
    listed = json.loads(out.stdout)
    assert [a["id"] for a in listed if a["rule"] == "db_chain_mismatch"] == [alert["id"]]

    # Incremental: the next run continues from the saved state instead of replaying it all.
    before = svc.worker.audit.state.last_block
    again = svc.worker.audit.run(svc.client)
    assert again.new_logs == 0 and again.to_block >= before
    assert again.alerts.new == []  # the same fingerprint is not stored twice
    with svc.sessions() as s:
        assert s.scalar(select(Alert.last_seen_at).where(Alert.id == alert["id"])) is not None


def test_webhook_down_then_up_gets_every_alert_once(service, tmp_path):
    svc = service(audit=ScheduleConfig(every_s=0))
    (record,) = svc.publish()
    svc.worker.run_once()
    _tamper(svc, record)
    down = ScheduleConfig(alerts=dataclasses.replace(QUIET, webhook_url="http://127.0.0.1:9/x"))
    svc.worker.audit.config = down
    first = svc.worker.audit.run(svc.client)
    assert first.alerts.new and first.alerts.webhook is not None
    assert not first.alerts.webhook.ok
    received: list[dict] = []
    with webhook_server(received) as url:
        svc.worker.audit.config = ScheduleConfig(alerts=dataclasses.replace(QUIET, webhook_url=url))
        svc.worker.audit.run(svc.client)
        svc.worker.audit.run(svc.client)
    sent = [a["id"] for body in received for a in body["alerts"]]
    assert sorted(sent) == sorted(a.id for a in first.alerts.new)


def test_acknowledged_stays_acknowledged_and_a_recurrence_shows(service):
    svc = service()
    (record,) = svc.publish()
    svc.worker.run_once()
    _tamper(svc, record)
    svc.worker.audit.config = ScheduleConfig(alerts=QUIET)
    svc.worker.audit.run(svc.client)
    (alert,) = svc.alerts(rule="db_chain_mismatch")

    runner = CliRunner()
    bad = runner.invoke(
        notary_app, ["audit", "ack", str(alert["id"]), "--db", svc.db_url, "--note", " "]
    )
    assert bad.exit_code == 2 and "note" in bad.output
    gone = runner.invoke(notary_app, ["audit", "ack", "999999", "--db", svc.db_url, "--note", "x"])
    assert gone.exit_code == 2 and "no alert 999999" in gone.output
    assert svc.alerts(rule="db_chain_mismatch")[0]["acknowledged"] is False  # nothing changed
    ok = runner.invoke(
        notary_app,
        [
            "audit",
            "ack",
            str(alert["id"]),
            "--db",
            svc.db_url,
            "--note",
            "restored from backup",
            "--by",
            "alice",
            "--json",
        ],
    )
    assert ok.exit_code == 0, ok.output
    acked = json.loads(ok.stdout)
    assert acked["acknowledged"] and acked["acknowledged_by"] == "cli:alice"
    assert acked["ack_note"] == "restored from backup" and not acked["seen_after_ack"]
    with unit_of_work(svc.sessions) as s, pytest.raises(Conflict):
        acknowledge_alert(s, alert["id"], by="cli:bob", note="again")

    time.sleep(0.01)
    svc.worker.audit.run(svc.client)  # the same anomaly is found again
    (after,) = svc.alerts(rule="db_chain_mismatch")
    assert after["acknowledged"] and after["ack_note"] == "restored from backup"
    assert after["seen_after_ack"]
    assert svc.alerts(rule="db_chain_mismatch", include_acknowledged=False) == []
    listed = runner.invoke(notary_app, ["audit", "alerts", "--db", svc.db_url, "--open", "--json"])
    assert alert["id"] not in [a["id"] for a in json.loads(listed.stdout)]


def test_ack_is_limited_to_the_auditors_office(service):
    svc = service()
    with unit_of_work(svc.sessions) as s:
        other = repo.create_office(s, office_id=b"\x07" * 32, number=7_000_001, name="other")
        alert = Alert(
            rule="pii_override", severity=Severity.INFO, office_pk=svc.office_pk, details={}
        )
        s.add(alert)
        s.flush()
        alert_id, other_pk = alert.id, other.id
    with unit_of_work(svc.sessions) as s:
        with pytest.raises(NotFound):
            acknowledge_alert(s, alert_id, by="key:1", note="not mine", office_pk=other_pk)
        with pytest.raises(InvalidInput):
            acknowledge_alert(s, alert_id, by="key:1", note="x" * 2001, office_pk=svc.office_pk)
    with svc.sessions() as s:
        assert s.get(Alert, alert_id).acknowledged is False
    with unit_of_work(svc.sessions) as s:
        done = acknowledge_alert(s, alert_id, by="key:1", note="seen", office_pk=svc.office_pk)
        assert done.acknowledged


def _log(svc: Service, entries: int) -> None:
    with unit_of_work(svc.sessions) as s:
        accesslog.append_many(
            s, svc.office_pk, [accesslog.Access(None, "read", None, "ok")] * entries
        )


def _heads(svc: Service) -> list[tuple[int, AnchorState]]:
    with svc.sessions() as s:
        rows = s.scalars(select(AccessLogAnchor).order_by(AccessLogAnchor.up_to_seq))
        return [(a.up_to_seq, a.anchor_state) for a in rows]


def _anchored_on_chain(svc: Service) -> list[int]:
    return [
        e.entries
        for e in svc.client.iter_logs(event_names=["AccessLogAnchored"])
        if isinstance(e, AccessLogAnchored)
    ]


def test_access_log_head_is_anchored_by_count_and_by_time(service):
    svc = service(head_every_entries=5, head_every_s=0.5, head_check_s=0)
    _log(svc, 3)
    svc.worker.run_once()
    assert _heads(svc) == []  # three young entries: not due yet
    _log(svc, 4)
    svc.worker.run_once()  # seven unanchored ≥ five: due by count
    assert _heads(svc) == [(7, AnchorState.ANCHORED)]
    _log(svc, 2)
    svc.worker.run_once()
    assert _heads(svc) == [(7, AnchorState.ANCHORED)]  # two entries, not old yet
    time.sleep(0.6)
    svc.worker.run_once()  # the oldest unanchored entry is older than T: due by time
    assert _heads(svc) == [(7, AnchorState.ANCHORED), (9, AnchorState.ANCHORED)]
    assert _anchored_on_chain(svc)[-2:] == [7, 9]
    with svc.sessions() as s:
        assert accesslog.verify(s, svc.office_pk).anchored_heads_checked == 2
    svc.worker.run_once()
    assert len(_heads(svc)) == 2  # nothing new, nothing queued


def test_cutting_the_anchored_tail_is_found_by_the_schedule(service):
    svc = service(head_every_entries=1000, head_every_s=0.01, head_check_s=0)
    _log(svc, 4)
    time.sleep(0.05)
    svc.worker.run_once()
    assert _heads(svc) == [(4, AnchorState.ANCHORED)]
    with svc.engine.begin() as conn:  # an insider deletes the last entry and its queued head
        conn.execute(text("DELETE FROM access_log WHERE seq = 4"))
        conn.execute(text("DELETE FROM access_log_anchors"))
    svc.worker.audit.config = ScheduleConfig(alerts=QUIET)
    svc.worker.audit.run(svc.client)
    (broken,) = svc.alerts(rule="access_log_broken")
    assert "4" in broken["message"]


def test_signer_rate_fires_for_an_authorised_signer(service):
    svc = service(mode="direct")
    for _ in range(6):  # an office's usual pace: one revision at a time
        svc.publish()
        svc.worker.run_once()
    svc.worker.settings = dataclasses.replace(svc.worker.settings, mode="many")
    svc.publish(records=15)  # then fifteen in one block by the same, authorised, key
    svc.worker.run_once()
    with svc.sessions() as s:
        assert all(r.anchor_state is AnchorState.ANCHORED for r in s.scalars(select(Revision)))
    rate = dataclasses.replace(
        QUIET, rate_window_blocks=2, rate_factor=4, rate_min_count=10, rate_min_history=3
    )
    svc.worker.audit.config = ScheduleConfig(alerts=rate)
    run = svc.worker.audit.run(svc.client)
    assert svc.worker.audit.state.violations == []  # an honest chain
    (alert,) = [a for a in run.alerts.new if a.rule == "signer_rate"]
    assert alert.details["count"] >= 15  # the burst (and a neighbour in its window)
    assert alert.details["signer"] == svc.worker.settings.signers[0].address.lower()
    assert alert.office_pk == svc.office_pk
