"""`make run`: the whole service on its embedded defaults, on one machine.

Starts (or finds again) the embedded anvil with its state on disk, deploys the registry and
registers the demo office the first time, runs the database migrations, then serves the HTTP
API and the citizen's verify pages on 127.0.0.1:8000 with the anchoring worker beside it.
On the first run it publishes a sample release through the API so there is something to
verify at once. Everything lives in the data directory (default `.notary/`); a second
`make run` reuses the same chain, registry, keys and database. Ctrl-C stops the service and
the chain if this run started it (anvil writes its state file as it stops; the next run
starts it again from there); a chain that was already running is left running.

The keystore password comes from `NOTARY_KEYSTORE_PASSWORD` or, for the embedded default, a
random password kept in `<data>/keys/password` (mode 0600), never from the command line.
The process runs with umask 077, and the data dir is 0700: see `notary.storage.private_files`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from notary.errors import NotaryError  # noqa: E402
from notary.storage.atomic import atomic_write_bytes  # noqa: E402
from notary.storage.private_files import private_dir, restrict_umask  # noqa: E402

HOST, PORT = "127.0.0.1", 8000


def keystore_password(data_dir: Path) -> str:
    """`NOTARY_KEYSTORE_PASSWORD`, else the data dir's password file (created once)."""
    if os.environ.get("NOTARY_KEYSTORE_PASSWORD"):
        return os.environ["NOTARY_KEYSTORE_PASSWORD"]
    path = data_dir / "keys" / "password"
    if not path.exists():
        private_dir(path.parent)
        atomic_write_bytes(path, secrets.token_urlsafe(24).encode(), mode=0o600)
    return path.read_text().strip()


def demo_publisher_key(data_dir: Path, db_url: str, office_id: str, key_secret: str) -> str:
    """The demo office's publisher API key: created once, kept in `<data>/keys/demo-api-key`.

    Keys are stored hashed in the database; the plain key is kept only in this 0600 file so
    `make run` can show it again on the next start (development mode only).
    """
    from sqlalchemy import select

    from api.core.security import key_from_plain
    from notary.db.models import ApiKey, Office
    from notary.db.session import make_engine, session_factory, unit_of_work
    from notary.db.types import KeyRole

    path = data_dir / "keys" / "demo-api-key"
    plain = path.read_text().strip() if path.exists() else "ntk_" + secrets.token_urlsafe(32)
    key = key_from_plain(plain, key_secret)
    engine = make_engine(db_url)
    try:
        with unit_of_work(session_factory(engine)) as session:
            known = session.scalars(select(ApiKey).where(ApiKey.prefix == key.prefix)).first()
            if known is None:
                office = session.scalars(select(Office).where(Office.office_id == office_id)).one()
                session.add(
                    ApiKey(
                        role=KeyRole.PUBLISHER,
                        office_pk=office.id,
                        label="demo publisher (make run)",
                        prefix=key.prefix,
                        key_hash=key.key_hash,
                    )
                )
    finally:
        engine.dispose()
    if not path.exists():
        atomic_write_bytes(path, plain.encode(), mode=0o600)
    return plain


def sample_pdf() -> bytes:
    """A two-page bilingual sample release (what an office would upload)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    lines = [
        ["示范市2026年财政预算公开", "Demo City budget disclosure 2026", "一、收入预算 12.5 亿元"],
        ["二、支出预算 12.1 亿元", "Expenditure budget 1.21 bn CNY", "本文件由示范市财政局发布"],
    ]
    for page in lines:
        y = 760
        for text in page:
            pdf.setFont("STSong-Light", 16)
            pdf.drawString(72, y, text)
            y -= 28
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def publish_sample(base_url: str, api_key: str, data_dir: Path) -> None:
    """Publish the sample release once and print where to see it."""
    import httpx

    marker = data_dir / "sample.json"
    if marker.exists():
        sample = json.loads(marker.read_text())
        print(f"  sample release:    {sample['record_id']} (published on the first run)")
        if sample.get("verify_url"):
            print(f"  verify it:         {sample['verify_url']}")
        return
    metadata = {
        "title": "示范市2026年财政预算公开 Demo City budget 2026",
        "category": "budget",
        "publication_date": time.strftime("%Y-%m-%d"),
        "reviewer": "示范审核员",
        "language": "zh-CN",
    }
    headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": "make-run-sample"}
    with httpx.Client(base_url=base_url, timeout=30) as http:
        answer = http.post(
            "/api/v1/records",
            headers=headers,
            files={"file": ("budget-2026.pdf", sample_pdf(), "application/pdf")},
            data={"metadata": json.dumps(metadata, ensure_ascii=False), "tier": "public"},
        )
        if answer.status_code >= 400:
            print(f"  sample release:    not published ({answer.status_code}: {answer.text})")
            return
        record = answer.json()
        record_id = record.get("record_id") or record.get("id")
        revision = record.get("revision_id") or record.get("revision", {}).get("id")
        verify_url = None
        if revision is not None:
            receipt = http.get(f"/api/v1/receipts/{revision}", params={"wait": 20}, headers=headers)
            if receipt.status_code == 200:
                verify_url = receipt.json().get("verify_url")
    atomic_write_bytes(
        marker, json.dumps({"record_id": record_id, "verify_url": verify_url}).encode()
    )
    print(f"  sample release:    {record_id} (anchored by the worker)")
    if verify_url:
        print(f"  verify it:         {verify_url}")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=".notary", help="data directory (default .notary)")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--no-sample", action="store_true", help="do not publish the sample")
    parser.add_argument(
        "--once", action="store_true", help="start, publish the sample, print, then stop (tests)"
    )
    args = parser.parse_args(argv)
    restrict_umask()  # before anything is created: the chain's, SQLite's files too
    data_dir = Path(args.data).resolve()

    from notary.local.setup import embedded_chain_pid, stop_embedded_chain

    chain_was_running = embedded_chain_pid(data_dir) is not None
    # SIGTERM (systemd, container runtimes, `kill`) must stop what this run started, as
    # Ctrl-C does. Its default action ends the process at once, and uvicorn re-raises a
    # SIGTERM it caught once it has shut down: as SystemExit, the finally below still runs.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        return _serve(args, data_dir)
    finally:
        # Ctrl-C stops everything this run started, the chain too (it keeps its state file
        # and the next run starts it again); a chain found running is left as it was.
        if not chain_was_running and stop_embedded_chain(data_dir):
            print(f"Stopped the embedded chain; its state is kept in {data_dir / 'anvil'}.")


def _serve(args: argparse.Namespace, data_dir: Path) -> int:
    import uvicorn

    from api.core.server import uvicorn_options
    from api.core.settings import Settings
    from api.main import create_app
    from notary.anchoring.worker import run_worker
    from notary.local.setup import init_local, load_settings

    try:
        private_dir(data_dir)
        password = keystore_password(data_dir)
        print(f"Setting up the embedded deployment in {data_dir} …")
        setup = init_local(data_dir, password=password)
        settings = Settings(
            data_dir=data_dir,
            database_url=setup.db_url,
            public_base_url=f"http://{HOST}:{args.port}",
        )
        api_key = demo_publisher_key(
            data_dir, setup.db_url, setup.office_ids["demo"], settings.key_secret
        )
        worker_settings = load_settings(data_dir, password=password)
    except NotaryError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. the data dir's path is a file, or not writable
        print(f"make run: cannot use {data_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1

    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(worker_settings, stop), daemon=True)
    worker.start()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=HOST,
            port=args.port,
            log_level="warning",
            **uvicorn_options(),  # slow clients are cut off (api.core.server)
        )
    )
    base = f"http://{HOST}:{args.port}"

    def announce() -> None:
        while not server.started:
            time.sleep(0.1)
        print()
        print("Disclosure notary is running (Ctrl-C stops it; state is kept).")
        print(f"  chain:             {setup.chain_url} (chain id {setup.chain_id})")
        print(f"  registry:          {setup.registry}")
        print(f"  home page:         {base}/   (register, sign-in, console)")
        print(f"  interactive docs:  {base}/api/v1/docs")
        print(f"  verify page:       {base}/verify")
        print(f"  demo office key:   {api_key}   (publisher role)")
        print(f"  admin key:         {settings.admin_key}   (development only)")
        if not args.no_sample:
            try:
                publish_sample(base, api_key, data_dir)
            except Exception as exc:  # the service itself keeps running
                print(f"  sample release:    not published ({exc})")
        sys.stdout.flush()
        if args.once:
            server.should_exit = True

    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run()
    finally:
        stop.set()
        worker.join(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
