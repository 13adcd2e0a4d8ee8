#!/usr/bin/env python3
"""Benchmark the site's pages with 100,000 records in the database.

Builds a database beside `.notary/` (SQLite by default, or `--database-url`) holding one
office with `--records` records (bulk inserts: half anchored, a document number in every
metadata document, titles and categories drawn from small vocabularies), then, in process,
opens each page `--requests` times with varied queries:

- the public register `/records` (title text, document number, category, dates, pages),
- the clerk's list `/console` (a publisher session, the same filters),
- a release's page `/console/releases/{id}` (random records; it reads the history and the
  receipt through the API's routes, which log both reads).

The figures are server time: the pages' own `Server-Timing: page` header (from the moment
the page's code starts to its response, database reads, access-log writes and rendering
included). Writes exactly `register_search_p99_ms`, `console_list_p99_ms`,
`record_page_p99_ms` and `records` to `--json`; prints a table with p50s too.

    .venv/bin/python scripts/bench_pages.py --json bench/results/pages.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from api.core.settings import Settings  # noqa: E402
from api.main import create_app  # noqa: E402
from notary.db.models import Office, Record, Revision  # noqa: E402
from notary.db.types import AccessTier, AnchorState, RecordKind, RecordStatus  # noqa: E402
from notary.formats.revision import new_record_id  # noqa: E402

ADMIN_KEY = "bench-admin-key-0123456789abcdef"
WORDS = ["预算", "决算", "公告", "通知", "规划", "采购", "招标", "补贴", "办法", "报告"]
CATEGORIES = ["budget", "notice", "planning", "procurement", "welfare"]
CHUNK = 5000


def _digest(tag: bytes, rid: str) -> str:
    return hashlib.sha256(tag + rid.encode()).hexdigest()


def seed(app, office_pk: int, office_number: int, n: int, rng: random.Random) -> list[str]:
    """`n` records of the office with one revision each (half anchored); their ids."""
    ids: list[str] = []
    now = datetime.now(UTC)
    with app.state.db.session() as session:
        conn = session.connection()
        for start in range(0, n, CHUNK):
            records, revisions = [], []
            for i in range(start, min(n, start + CHUNK)):
                rid = new_record_id(office_number).hex()
                ids.append(rid)
                title = f"{rng.choice(WORDS)}{rng.choice(WORDS)} 第{i}号"
                category = rng.choice(CATEGORIES)
                day = date(2020, 1, 1) + timedelta(days=rng.randrange(2400))
                meta = json.dumps(
                    {
                        "title": title,
                        "category": category,
                        "extra": {"document_number": f"区发〔{day.year}〕{i}号"},
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
                created = now - timedelta(seconds=n - i)
                anchored = i % 2 == 0
                records.append(
                    {"record_id": rid, "office_pk": office_pk, "kind": RecordKind.DISCLOSURE,
                     "access_tier": AccessTier.PUBLIC if i % 10 else AccessTier.INTERNAL,
                     "status": RecordStatus.CURRENT, "head_version": 1, "title": title,
                     "category": category, "published_on": day, "valid_until": None,
                     "created_at": created, "updated_at": created}
                )  # fmt: skip
                revisions.append(
                    {"record_id": rid, "version": 1,
                     "content_hash": hashlib.sha256(rid.encode()).hexdigest(),
                     "sm3": hashlib.sha256(title.encode()).hexdigest(), "metadata_json": meta,
                     "metadata_hash": hashlib.sha256(meta.encode()).hexdigest(),
                     "change_note": None, "accepted_at": created,
                     "anchor_state": AnchorState.ANCHORED if anchored else AnchorState.PENDING,
                     "leaf": _digest(b"leaf", rid) if anchored else None,
                     "tx_hash": _digest(b"tx", rid) if anchored else None,
                     "block_number": 100 + i if anchored else None,
                     "anchored_at": created if anchored else None}
                )  # fmt: skip
            conn.execute(insert(Record.__table__), records)
            conn.execute(insert(Revision.__table__), revisions)
        session.commit()
    return ids


def timed(client: TestClient, path: str) -> float:
    """The page's server time in ms (its `Server-Timing: page`)."""
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    m = re.search(r"page;dur=([0-9.]+)", r.headers.get("server-timing", ""))
    assert m, path
    return float(m.group(1))


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="per page")
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix=".bench-pages-", dir=ROOT) as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=args.database_url,
                            admin_key=ADMIN_KEY, key_secret="b" * 32)  # fmt: skip
        app = create_app(settings)
        with TestClient(app) as client:
            admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
            oid = hashlib.sha256(b"bench office").hexdigest()
            body = {"office_id": oid, "number": 42, "name": "Bench office"}
            r = client.post("/api/v1/offices", json=body, headers=admin)
            assert r.status_code == 201, r.text
            key = client.post(f"/api/v1/offices/{oid}/keys", json={"role": "publisher"},
                              headers=admin).json()["key"]  # fmt: skip
            with app.state.db.session() as s:
                office = s.query(Office).one()
                office_pk, number = office.id, office.number
            t0 = time.perf_counter()
            ids = seed(app, office_pk, number, args.records, rng)
            seeded_s = time.perf_counter() - t0
            page = client.get("/signin").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            r = client.post("/signin", data={"csrf_token": token, "api_key": key},
                            follow_redirects=False)  # fmt: skip
            assert r.status_code == 303, r.text

            def query(i: int) -> str:
                kinds = [
                    f"q={rng.choice(WORDS)}",
                    f"number=区发〔{2020 + i % 6}〕{rng.randrange(args.records)}号",
                    f"category={rng.choice(CATEGORIES)}",
                    f"from=2021-0{1 + i % 9}-01&to=2023-12-31",
                    f"q={rng.choice(WORDS)}&category={rng.choice(CATEGORIES)}&page=3",
                    "",
                ]
                return kinds[i % len(kinds)]

            for path in ("/records", "/console", f"/console/releases/{ids[0]}"):
                timed(client, path)  # warm the caches and the templates
            n = range(args.requests)
            figures = {
                "register_search": [timed(client, f"/records?{query(i)}") for i in n],
                "console_list": [timed(client, f"/console?{query(i)}") for i in n],
                "record_page": [timed(client, f"/console/releases/{rng.choice(ids)}") for _ in n],
            }
    out = {f"{name}_p99_ms": round(p99(v), 2) for name, v in figures.items()}
    out["records"] = args.records
    print(f"seeded {args.records:,} records in {seeded_s:.1f} s")
    print(f"{'page':<18}{'p50 ms':>10}{'p99 ms':>10}")
    for name, values in figures.items():
        print(f"{name:<18}{statistics.median(values):>10.2f}{p99(values):>10.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
