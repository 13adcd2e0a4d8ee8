"""The database diff finds real tampering in SQLite and PostgreSQL, and nothing otherwise;
the alert rules fire, are stored once, listed, and POSTed to a webhook."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

from sqlalchemy import select, text
from support.audit_history import add_office_with_log, build_history, populate_db

from api.services.accesslog import entry_hash as api_entry_hash
from notary.audit.alerts import AlertConfig, list_alerts, raise_alerts
from notary.audit.diff import run_diff
from notary.audit.runner import replay
from notary.db.models import AccessLogEntry, PiiOverride, Revision


def test_diff_finds_every_kind_of_tampering(
    registry_client, registry_office, governance, db_session, blob_store
):
    office_row, log_head = add_office_with_log(db_session, registry_office)
    for entry in db_session.scalars(select(AccessLogEntry)):  # same hash as the API writes
        assert api_entry_hash(entry) == entry.entry_hash
    h = build_history(
        registry_client, registry_office, governance, log_head=log_head, log_entries=5, batch=False
    )
    state, _ = replay(registry_client)
    assert state.violations == []
    populate_db(db_session, office_row, state, h, blob_store)

    assert run_diff(db_session, state, blob_store) == []

    a, b, c = (r.hex() for r in h.records)
    ff = "f" * 64
    old = datetime.now(UTC) - timedelta(days=1)
    db_session.rollback()
    # Tamper directly with SQL, as someone with database access would.
    db_session.execute(
        text("UPDATE revisions SET content_hash = :h WHERE record_id = :r AND version = 1"),
        {"h": ff, "r": a},
    )
    db_session.execute(
        text("UPDATE revisions SET metadata_hash = :h WHERE record_id = :r AND version = 2"),
        {"h": "e" * 64, "r": a},
    )
    db_session.execute(text("DELETE FROM revisions WHERE record_id = :r"), {"r": c})
    db_session.execute(
        text(
            "INSERT INTO revisions (record_id, version, content_hash, metadata_json, "
            "metadata_hash, accepted_at, anchor_state) "
            "VALUES (:r, 3, :h, '{}', :m, :t, 'pending')"
        ),
        {"r": a, "h": "1" * 64, "m": hashlib.sha256(b"{}").hexdigest(), "t": old},
    )
    db_session.execute(text("UPDATE records SET status = 'current' WHERE record_id = :r"), {"r": b})
    db_session.execute(
        text("UPDATE access_log SET outcome = 'denied' WHERE office_pk = :o AND seq = 3"),
        {"o": office_row.id},
    )
    db_session.commit()
    blob = hashlib.sha256(b"A1").hexdigest()
    blob_store.path(blob).write_bytes(b"A1 but edited")
    db_session.expire_all()

    found = run_diff(db_session, state, blob_store)
    kinds = {(d.kind, d.record_id, d.version) for d in found}
    assert ("content_hash_changed", "0x" + a, 1) in kinds
    assert ("metadata_hash_changed", "0x" + a, 2) in kinds
    assert ("missing_in_db", "0x" + c, 1) in kinds
    assert ("missing_on_chain", "0x" + a, 3) in kinds
    assert ("status_changed", "0x" + b, None) in kinds
    assert {d.kind for d in found} == {
        "content_hash_changed",
        "metadata_hash_changed",
        "missing_in_db",
        "missing_on_chain",
        "status_changed",
        "blob_corrupt",
        "access_log_broken",
    }
    broken = [d for d in found if d.kind == "access_log_broken"]
    assert any("entry 3" in d.message for d in broken)
    assert next(d for d in found if d.kind == "content_hash_changed").tx_hash.startswith("0x")

    # Alerts: every discrepancy, a late anchor and a PII override; stored once; webhook.
    rev = db_session.query(Revision).filter_by(record_id=b, version=1).one()
    rev.anchored_at = rev.accepted_at + timedelta(hours=3)
    db_session.add(
        PiiOverride(revision_id=rev.id, findings=[{"kind": "mobile"}], reason="public figure")
    )
    db_session.commit()
    received: list[dict] = []
    with webhook_server(received) as url:
        config = AlertConfig(webhook_url=url)
        run = raise_alerts(db_session, state, found, config)
        db_session.commit()
        again = raise_alerts(db_session, state, found, config)
    rules = {alert.rule for alert in run.new}
    assert rules == {"db_chain_mismatch", "access_log_broken", "late_anchor", "pii_override"}
    assert run.webhook is not None and run.webhook.ok and run.webhook.sent == len(run.new)
    assert len(received) == 1 and len(received[0]["alerts"]) == len(run.new)
    assert again.new == [] and again.webhook.sent == 0
    assert len(list_alerts(db_session)) == len(run.new)
    assert list_alerts(db_session, rule="pii_override")[0].record_id == b


class webhook_server:
    """A real HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""

    def __init__(self, received: list[dict]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
