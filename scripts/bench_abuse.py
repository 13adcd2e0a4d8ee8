#!/usr/bin/env python3
"""Benchmark what an anonymous caller can make the service do, and what a citizen feels.

Starts its own anvil and a real uvicorn server (`api.main:create_app`, embedded SQLite, the
slow-client options of `api.core.server`), anchors `--revisions` records (≥ 4,000: the history an
unknown upload used to scan), and stores one public record whose PDF has tall narrow pages
(10 × 3000 pt) with its file, as the worker would. Then it measures, each the median of
`--repeat` requests:

- `unknown_upload_s`: one 64-byte upload to `/verify` that no one published;
- `blank_photo_s`: a 74 kB blank 59-megapixel PNG uploaded to `/verify`;
- `tall_page_png_s`: `page.png` of a 10 × 3000 pt page, not yet rendered;

and the client-side p99 of a citizen opening `/v/<code>` (verdict cache off, every page reads
the chain): alone (`citizen_p99_ms_quiet`), then while `--abusers` clients send the three
abusive requests in a loop (`citizen_p99_ms_under_abuse`). The per-client rate limit is off
for the run (all clients share 127.0.0.1, and the point is the work each request costs).

    .venv/bin/python scripts/bench_abuse.py --json bench/results/abuse.json

Writes exactly those five keys; prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from notary.chain.build import load_artifact  # noqa: E402
from notary.chain.config import ChainConfig  # noqa: E402
from notary.chain.local import LocalChain, free_port  # noqa: E402
from notary.formats.qr_payload import QrPayload, encode  # noqa: E402
from notary.formats.revision import Kind, Revision, compute_leaf, new_record_id  # noqa: E402
from verifier.trust import TrustList  # noqa: E402

TALL_PAGES = 100
"""Pages of the tall PDF: more than the page-image cache holds, so each request renders."""


class Chain:
    """A registry on anvil with one office and signer; anchors v1 records."""

    def __init__(self, chain: LocalChain) -> None:
        from web3 import Web3

        self.w3 = w3 = Web3(Web3.HTTPProvider(chain.url))
        self.chain_id = chain.chain_id
        self.admin, self.signer = w3.eth.accounts[0], w3.eth.accounts[1]
        art = load_artifact()
        tx = {"from": self.admin, "gasPrice": 0}
        factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        receipt = w3.eth.wait_for_transaction_receipt(factory.constructor(self.admin).transact(tx))
        self.address = receipt["contractAddress"]
        self.reg = w3.eth.contract(address=self.address, abi=art["abi"])
        self.office = hashlib.sha256(b"bench abuse office").digest()
        w3.eth.wait_for_transaction_receipt(
            self.reg.functions.registerOffice(self.office, "示范市政务服务数据管理局").transact(tx)
        )
        w3.eth.wait_for_transaction_receipt(
            self.reg.functions.grantSigner(self.office, self.signer).transact(tx)
        )
        self.number = self.reg.functions.office(self.office).call()[0]

    def anchor(self, content_hash: bytes, *, wait: bool = True) -> tuple[bytes, bytes]:
        """Anchor a new record's v1; (record id, leaf)."""
        rid = new_record_id(self.number)
        rev = Revision(
            record_id=rid, version=1, kind=Kind.DISCLOSURE, valid_until=0,
            content_hash=content_hash, metadata_hash=bytes(32), prev_leaf=bytes(32),
        )  # fmt: skip
        tx = self.reg.functions.anchor(rev.as_tuple()).transact(
            {"from": self.signer, "gasPrice": 0}
        )
        if wait:
            self.w3.eth.wait_for_transaction_receipt(tx)
        return rid, compute_leaf(rev, chain_id=self.chain_id, registry=self.address)

    def code(self, rid: bytes, leaf: bytes, page: int = 1, pages: int = 1) -> str:
        return encode(
            QrPayload.for_page(
                chain_id=self.chain_id, registry=self.address, record_id=rid, version=1,
                leaf=leaf, page=page, pages=pages,
            )
        )  # fmt: skip


SEED_BATCH = 200
"""Transactions sent before waiting for anvil to mine them (a queue of thousands reset
its connections under load)."""


def seed_history(chain: Chain, url: str, count: int) -> None:
    """`count` anchored records, sent as plain `eth_sendTransaction` calls over one
    keep-alive connection (anvil signs for its unlocked accounts and mines each at once;
    web3's gas estimate and receipt wait per call would take minutes)."""
    fn = chain.reg.functions.anchor
    with httpx.Client(timeout=60) as rpc:
        for i in range(count):
            rev = Revision(
                record_id=new_record_id(chain.number), version=1, kind=Kind.DISCLOSURE,
                valid_until=0, content_hash=hashlib.sha256(b"history %d" % i).digest(),
                metadata_hash=bytes(32), prev_leaf=bytes(32),
            )  # fmt: skip
            tx = {
                "from": chain.signer, "to": chain.address, "gas": hex(500_000),
                "gasPrice": "0x0", "data": fn(rev.as_tuple())._encode_transaction_data(),
            }  # fmt: skip
            call = {"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction", "params": [tx]}
            answer = rpc.post(url, json=call).json()
            if "error" in answer:
                raise SystemExit(f"seeding failed: {answer['error']}")
            if i % SEED_BATCH == SEED_BATCH - 1:  # let anvil mine the queue in batches
                chain.w3.eth.wait_for_transaction_receipt(answer["result"], timeout=900)
    # anvil mines the queue behind its answers (~50 blocks/s here, slower under load).
    receipt = chain.w3.eth.wait_for_transaction_receipt(answer["result"], timeout=900)
    if receipt["status"] != 1:
        raise SystemExit("seeding failed: the last anchor reverted")


def tall_pdf(pages: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=10, height=3000)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def store_public_record(data_dir: Path, chain: Chain, rid: bytes, leaf: bytes, pdf: bytes) -> None:
    """The public record's rows and file in the service's database, as the worker leaves
    them once anchored."""
    from sqlalchemy import update

    from api.core.db import Database
    from api.core.settings import Settings
    from notary.db import repo
    from notary.db.models import Revision as RevisionRow
    from notary.db.types import AnchorState
    from notary.publishing import blobs

    settings = Settings(data_dir=data_dir)
    db = Database(settings)
    db.start()
    try:
        meta = json.dumps({"title": "窄长页面"})
        sha = hashlib.sha256(pdf).hexdigest()
        with db.session() as s:
            office = repo.create_office(s, office_id=chain.office, number=chain.number, name="局")
            repo.create_record(
                s, record_id=rid, office=office, kind="disclosure", access_tier="public",
                title="窄长页面", content_hash=sha, metadata_json=meta,
                metadata_hash=hashlib.sha256(meta.encode()).digest(),
            )  # fmt: skip
            s.execute(
                update(RevisionRow)
                .where(RevisionRow.record_id == rid.hex())
                .values(
                    anchor_state=AnchorState.ANCHORED, tx_hash="ab" * 32, block_number=1,
                    leaf=leaf.hex(),
                )
            )  # fmt: skip
            blobs.put(s, settings.blobs, sha256=sha, data=pdf, media_type="application/pdf")
            s.commit()
    finally:
        db.close()


def start_server(data_dir: Path, trust_file: Path, port: int) -> subprocess.Popen:
    """The service as `make run` serves it (slow clients cut off), trusting `trust_file`."""
    from bench_api import start_server as start_uvicorn

    return start_uvicorn(
        data_dir,
        port,
        env={
            "NOTARY_VERIFY_TRUST": str(trust_file),
            "NOTARY_VERIFY_CACHE_TTL": "0",
            "NOTARY_RATE_LIMIT_PER_MINUTE": "0",
        },
        uvicorn_args=(
            "--http", "api.core.server:BoundedH11Protocol", "--timeout-keep-alive", "5",
            "--h11-max-incomplete-event-size", "16384",
        ),
    )  # fmt: skip


def blank_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (7680, 7680), 255).save(buf, "PNG")
    return buf.getvalue()


class Abuse:
    """The three abusive requests, each a callable on an `httpx.Client`."""

    def __init__(self, chain: Chain, rid: bytes, leaf: bytes) -> None:
        self.photo = blank_png()
        self.chain, self.rid, self.leaf = chain, rid, leaf
        self._page = 0
        self._lock = threading.Lock()

    def unknown_upload(self, client: httpx.Client) -> httpx.Response:
        return client.post("/verify", files={"file": ("u.bin", os.urandom(64))})

    def blank_photo(self, client: httpx.Client) -> httpx.Response:
        return client.post("/verify", files={"file": ("p.png", self.photo, "image/png")})

    def tall_page(self, client: httpx.Client) -> httpx.Response:
        with self._lock:  # a page not rendered recently: the cache holds fewer
            self._page = self._page % TALL_PAGES + 1
            page = self._page
        code = self.chain.code(self.rid, self.leaf, page=page, pages=TALL_PAGES)
        return client.get(f"/v/{code}/page.png")


def timed(call, client: httpx.Client, expect: tuple[int, ...]) -> float:
    started = time.perf_counter()
    r = call(client)
    elapsed = time.perf_counter() - started
    if r.status_code not in expect:
        raise SystemExit(f"unexpected {r.status_code} from {r.request.url}")
    return elapsed


def citizen_p99_ms(base: str, code: str, seconds: float) -> float:
    samples = []
    with httpx.Client(base_url=base, timeout=60) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            samples.append(timed(lambda c: c.get(f"/v/{code}"), client, (200,)))
    samples.sort()
    return samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", type=Path, required=True)
    parser.add_argument("--revisions", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--abusers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix=".bench-abuse-", dir=ROOT) as tmp, LocalChain() as lc:
        chain = Chain(lc)
        started = time.monotonic()
        seed_history(chain, lc.url, args.revisions)
        print(f"anchored {args.revisions} revisions in {time.monotonic() - started:.0f} s")
        citizen_rid, citizen_leaf = chain.anchor(hashlib.sha256(b"citizen").digest())
        pdf = tall_pdf(TALL_PAGES)
        rid, leaf = chain.anchor(hashlib.sha256(pdf).digest())
        data_dir = Path(tmp) / "data"
        ChainConfig(rpc_url=lc.url, chain_id=chain.chain_id, registry=chain.address).save(data_dir)
        store_public_record(data_dir, chain, rid, leaf, pdf)
        trust_file = Path(tmp) / "trust.json"
        trust_file.write_text(
            TrustList.single(
                chain_id=chain.chain_id, registry=chain.address, name="bench", rpc_url=lc.url
            ).to_json()
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(data_dir, trust_file, port)
        try:
            abuse = Abuse(chain, rid, leaf)
            code = chain.code(citizen_rid, citizen_leaf)
            kinds = (
                ("unknown_upload_s", abuse.unknown_upload, (404,)),
                ("blank_photo_s", abuse.blank_photo, (400, 404)),
                ("tall_page_png_s", abuse.tall_page, (200,)),
            )
            figures: dict[str, float] = {}
            with httpx.Client(base_url=base, timeout=120) as client:
                for _name, call, expect in kinds:  # warm-up: imports, connections
                    timed(call, client, expect)
                for name, call, expect in kinds:
                    runs = [timed(call, client, expect) for _ in range(args.repeat)]
                    figures[name] = round(statistics.median(runs), 3)
            quiet = citizen_p99_ms(base, code, args.seconds)
            stop = threading.Event()

            def abuser(n: int) -> None:
                with httpx.Client(base_url=base, timeout=120) as client:
                    i = n
                    while not stop.is_set():
                        _name, call, expect = kinds[i % len(kinds)]
                        timed(call, client, expect)
                        i += 1

            threads = [threading.Thread(target=abuser, args=(n,)) for n in range(args.abusers)]
            for t in threads:
                t.start()
            time.sleep(1.0)  # let the abuse reach its steady state
            loaded = citizen_p99_ms(base, code, args.seconds)
            stop.set()
            for t in threads:
                t.join(120)
        finally:
            server.terminate()
            server.wait(10)

    result = {
        **figures,
        "citizen_p99_ms_under_abuse": round(loaded, 1),
        "citizen_p99_ms_quiet": round(quiet, 1),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    for name, value in result.items():
        print(f"{name:<28}{value:>10}")
    print("targets: each abusive request ≤ 0.5 s; under abuse ≤ 3 × quiet")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
