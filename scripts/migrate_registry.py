"""Re-anchor a registry's whole history into a freshly deployed registry, then re-verify it.

    python scripts/migrate_registry.py --old-registry 0xOLD --new-registry 0xNEW \\
        --governance-key keys/governance.json --signer-key keys/office-a.json \\
        --signer-key keys/office-b.json [--rpc URL] [--new-rpc URL] [--json]

    python scripts/migrate_registry.py --old-registry 0xOLD --new-registry 0xNEW --verify-only

See `notary.anchoring.migrate` and docs/operations.md ("Upgrading the registry"). A second run sends
only what the first did not. Key passwords come from the environment variable named by
`--password-env` (default `NOTARY_KEYSTORE_PASSWORD`). Other chain settings (gas policy,
confirmations, timeouts) come from the `NOTARY_*` environment as for every other command.

Exit codes: 0 re-verification clean; 1 mismatches (listed); 2 bad input or an unreachable node.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from notary.errors import NotaryError  # noqa: E402

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rpc", help="JSON-RPC URL of the old registry's chain (default: config)")
    p.add_argument("--old-registry", required=True, help="address of the old registry")
    p.add_argument("--old-from-block", type=int, default=0, help="old registry's deploy block")
    p.add_argument("--new-rpc", help="JSON-RPC URL of the new registry's chain (default: --rpc)")
    p.add_argument("--new-registry", required=True, help="address of the new registry")
    p.add_argument("--new-from-block", type=int, default=0, help="new registry's deploy block")
    p.add_argument("--governance-key", type=Path, help="keystore of the new registry's governor")
    p.add_argument(
        "--signer-key", type=Path, action="append", default=[], help="an office signer keystore"
    )
    p.add_argument("--password-env", default="NOTARY_KEYSTORE_PASSWORD")
    p.add_argument("--batch-size", type=int, default=100, help="revisions per anchorMany")
    p.add_argument("--verify-only", action="store_true", help="send nothing, only compare")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    return p


def _client(rpc: str | None, registry: str, start_block: int):
    from notary.chain.client import RegistryClient, make_web3
    from notary.chain.config import ChainConfig

    config = ChainConfig.from_env()
    config = config.replace(
        rpc_url=rpc or config.rpc_url, registry=registry, start_block=start_block
    )
    web3 = make_web3(config)
    config = config.replace(chain_id=int(web3.eth.chain_id))
    return RegistryClient.connect(config, web3=web3)


def main(argv: list[str] | None = None) -> int:
    """Run the migration (or only the re-verification); returns the exit code."""
    from notary.anchoring.migrate import migrate, verify_migration
    from notary.storage.keystore import load_key, read_password

    args = _parser().parse_args(argv)
    say = (lambda _m: None) if args.json else (lambda m: print(m, file=sys.stderr))
    try:
        old = _client(args.rpc, args.old_registry, args.old_from_block)
        new = _client(args.new_rpc or args.rpc, args.new_registry, args.new_from_block)
        if args.verify_only:
            verification = verify_migration(old, new)
            doc = {"verification": verification.to_json()}
        else:
            if args.governance_key is None:
                raise _BadArgs("--governance-key is required (or use --verify-only)")
            password = read_password(env=args.password_env)
            governance = load_key(args.governance_key, password)
            signers = [load_key(path, password) for path in args.signer_key]
            report = migrate(old, new, governance, signers, batch_size=args.batch_size, log=say)
            verification = report.verification
            doc = report.to_json()
    except (NotaryError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    assert verification is not None
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        for skipped in doc.get("skipped", []):
            say(f"skipped {skipped['record_id']}: {skipped['message']}")
        for m in verification.mismatches:
            where = f" {m.record_id} v{m.version}" if m.record_id else ""
            say(f"MISMATCH {m.kind}{where}: {m.message}")
        say(
            f"re-verified {verification.records} records, {verification.revisions} revisions: "
            + ("clean" if verification.ok else f"{len(verification.mismatches)} mismatch(es)")
        )
    return EXIT_OK if verification.ok else EXIT_MISMATCH


class _BadArgs(ValueError):
    pass


if __name__ == "__main__":
    sys.exit(main())
