"""The anchoring worker's command line: the outbox loop for a data dir or explicit settings.

`python -m notary.cli.worker --data-dir DIR` (what `make run` starts), or `--db-url` and
`--key-file` for a deployment whose keys live elsewhere. One worker per signing key.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from notary.anchoring.worker import WorkerSettings, run_worker
from notary.chain.config import ChainConfig
from notary.errors import NotaryError
from notary.local.setup import load_settings
from notary.storage.keystore import load_key, read_password
from notary.storage.private_files import restrict_umask


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m notary.cli.worker`: run the loop for a data dir or explicit settings."""
    parser = argparse.ArgumentParser(
        prog="python -m notary.cli.worker", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data-dir", type=Path, help="a `notary init` data dir")
    parser.add_argument("--db-url", help="database URL (default: the data dir's)")
    parser.add_argument(
        "--key-file", action="append", type=Path, default=[], help="signer keystore"
    )
    parser.add_argument("--password-file", type=Path, help="else NOTARY_KEYSTORE_PASSWORD")
    parser.add_argument("--mode", default="auto", choices=["auto", "direct", "many", "batch"])
    parser.add_argument("--many-size", type=int, default=100)
    parser.add_argument("--max-jobs", type=int, default=16, help="transactions in flight")
    parser.add_argument("--exit-when-idle", action="store_true")
    restrict_umask()  # a SQLite database it opens first is created owner-only
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        if args.data_dir is not None:
            settings = load_settings(args.data_dir, password_file=args.password_file)
        else:
            if not args.db_url or not args.key_file:
                parser.error("give --data-dir, or --db-url and --key-file")
            if args.password_file:
                password = read_password(file=args.password_file)
            else:
                password = read_password(env="NOTARY_KEYSTORE_PASSWORD")
            signers = tuple(load_key(p, password) for p in args.key_file)
            settings = WorkerSettings(args.db_url, ChainConfig.load(None), signers)
        overrides: dict[str, Any] = {
            "mode": args.mode,
            "many_size": args.many_size,
            "max_jobs": args.max_jobs,
        }
        if args.db_url:
            overrides["db_url"] = args.db_url
        settings = dataclasses.replace(settings, **overrides)
        run_worker(settings, exit_when_idle=args.exit_when_idle)
    except NotaryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
