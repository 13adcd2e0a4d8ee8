"""`verifier`: check a file, a photo of a page, or a verify URL against the chain.

    verifier check FILE    any bytes; a stamped PDF is checked through its own QR codes
                           (unstamped bytes: `--index URL` asks a publishing service which
                           anchors hold them, then checks those on chain; without it every
                           anchor is scanned, up to `--max-scan-blocks` blocks)
    verifier scan IMAGE    a photo or scan of a page (PNG, JPEG …)
    verifier url URL       a verify URL or bare payload (optionally --file FILE to compare)

`--metadata FILE` (check, url): the revision's metadata as the office serves it
(`/api/v1/records/{id}/metadata`); shown, and a certificate's valid_from enforced, only when
its SHA-256 matches the chain's metadataHash (verifier.metadata).

Trust comes from `--trust FILE` (a trust list, see verifier.trust) or from one registry
given as `--rpc URL --registry ADDR --name NAME [--chain-id N]`.

Exit codes (one per verdict, 0 only for "authentic and current"):

    0  authentic_current                    the chain backs it and it is current
    10 superseded                           authentic, but a later version exists
    11 revoked                              authentic, but revoked by the office
    12 expired                              authentic certificate past its validity
    13 unknown                              no such record, version or content
    14 tampered                             bytes or code differ from the anchor
    15 untrusted_issuer                     registry/chain not in the trust list
    16 invalid_code                         not a valid code, or no code found
    17 issued_by_office_status_unchecked    offline: signature ok, status unchecked
    18 unavailable                          the chain could not be reached
    19 authentic_current, but its codes point to a host the trust list does not name
    20 not_yet_valid                        authentic certificate before its valid_from
    2  usage error (bad arguments, unreadable trust list or input file)

Every code's host is compared with the trust list's `verify_hosts` for its registry
(`verifier.hosts`, the rule the service's upload page uses): a foreign host is a warning
printed with the result, `foreign_hosts` and `host_warning` in the JSON, and exit 19 instead
of 0. With no `verify_hosts` for a registry its codes' hosts are listed as unchecked.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from verifier.hosts import HostCheck, check_hosts, stamped_code_texts
from verifier.metadata import check_metadata, public_record
from verifier.result import EXIT_CODES, STEP_LOOK, VERDICT_LOOK, VerificationResult
from verifier.trust import TrustEntry, TrustList, TrustListError, load_trust

USAGE_ERROR = 2
FOREIGN_HOST = 19
"""Exit code of an authentic and current result whose codes point to a foreign host."""

_STYLES = {
    "ok": "bold white on green",
    "warn": "bold black on yellow",
    "bad": "bold white on red",
    "neutral": "bold white on grey37",
}
"""The headline's rich style per tone (`verifier.result.VERDICT_LOOK`)."""
_COLOURS = {"ok": "green", "bad": "red", "neutral": "dim", "warn": "yellow"}
"""A step mark's colour per tone (`verifier.result.STEP_LOOK`)."""


def _salt(text: str) -> bytes:
    """`--salt`: 16 or 32 bytes as hex (an optional 0x prefix)."""
    try:
        salt = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise argparse.ArgumentTypeError("not hex") from None
    if len(salt) not in (16, 32):
        raise argparse.ArgumentTypeError(f"must be 16 or 32 bytes, not {len(salt)}")
    return salt


def _positive(text: str) -> int:
    """`--max-scan-blocks`: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _check(args: argparse.Namespace, trust: TrustList, data: bytes) -> VerificationResult:
    """`verifier check FILE`: through the index when one is given, else by a bounded scan."""
    from verifier.chainsource import MAX_SCAN_BLOCKS, RegistryPool
    from verifier.content_lookup import http_index
    from verifier.verify import verify_file

    index = http_index(args.index) if args.index else None  # IndexUrlError: a usage error
    pool = RegistryPool(max_scan_blocks=args.max_scan_blocks or MAX_SCAN_BLOCKS)
    return verify_file(data, trust, salt=args.salt, index=index, connect=pool)


def _parser() -> argparse.ArgumentParser:
    epilog = "exit codes: " + ", ".join(f"{c} {v.value}" for v, c in EXIT_CODES.items())
    parser = argparse.ArgumentParser(
        prog="verifier",
        description="Independently verify a disclosure or certificate against the chain: "
        "needs only an RPC URL and a trust list, never the office's server or database.",
        epilog=epilog + ", 2 usage error",
    )
    _shared_options(parser, defaults=True)
    # The same options after the subcommand (`verifier check FILE --rpc …`, as the README
    # writes it); there they default to nothing, so they never undo one given before it.
    shared = argparse.ArgumentParser(add_help=False)
    _shared_options(shared, defaults=False)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser(
        "check", parents=[shared], help="check a file (stamped PDF or any bytes)"
    )
    check.add_argument("path", metavar="FILE")
    check.add_argument(
        "--salt",
        metavar="HEX",
        type=_salt,
        help="an unstamped certificate's salt (16 or 32 bytes, hex, as printed with it)",
    )
    check.add_argument(
        "--index",
        metavar="URL",
        help="a publishing service's base URL: ask it which anchors hold unstamped bytes "
        "(checked on chain; without it the whole history is scanned)",
    )
    check.add_argument(
        "--max-scan-blocks",
        metavar="N",
        type=_positive,
        default=None,
        help="without --index, refuse to scan a history longer than N blocks (default 100000)",
    )
    scan = sub.add_parser("scan", parents=[shared], help="check a photo or scan of a page")
    scan.add_argument("path", metavar="IMAGE")
    url = sub.add_parser("url", parents=[shared], help="check a verify URL or bare payload")
    url.add_argument("url", metavar="URL")
    url.add_argument("--file", metavar="FILE", help="also check that FILE is the anchored content")
    for command in (check, url):
        command.add_argument(
            "--metadata",
            metavar="FILE",
            help="the revision's served metadata JSON, checked against the chain's metadataHash",
        )
    return parser


def _shared_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The trust and output options, accepted before and after the subcommand."""
    keep = {} if defaults else {"default": argparse.SUPPRESS}
    trust = parser.add_argument_group("trust (one of)")
    trust.add_argument("--trust", metavar="FILE", help="trust list JSON file", **keep)
    trust.add_argument("--rpc", metavar="URL", help="JSON-RPC URL of the chain", **keep)
    trust.add_argument("--registry", metavar="ADDR", help="registry contract address", **keep)
    trust.add_argument("--name", metavar="NAME", help="display name of that registry", **keep)
    trust.add_argument(
        "--chain-id", type=int, help="chain id (default: ask --rpc)", **(keep or {"default": None})
    )
    trust.add_argument(
        "--verify-host",
        metavar="HOST",
        action="append",
        help="with --rpc/--registry/--name: a host its verify URLs may use (repeatable)",
        **(keep or {"default": None}),
    )

    parser.add_argument("--json", action="store_true", help="print the result as JSON", **keep)


def _trust(args: argparse.Namespace) -> TrustList:
    if args.trust:
        if args.rpc:
            # An RPC URL given with a trust list overrides the list's own URLs.
            lst = load_trust(args.trust)
            # hosts kept; the list's other URLs are dropped for the one given
            return TrustList.of(dataclasses.replace(e, rpc_url=args.rpc, rpc_urls=()) for e in lst)
        return load_trust(args.trust)
    if not (args.rpc and args.registry and args.name):
        raise TrustListError("give --trust FILE, or all of --rpc, --registry and --name")
    chain_id = args.chain_id
    if chain_id is None:
        from verifier.rpc_http import RpcHttp, RpcHttpError

        try:
            chain_id = int(str(RpcHttp(args.rpc, timeout=5.0).call("eth_chainId", [])), 16)
        except (RpcHttpError, ValueError) as exc:  # unreachable node: a usage problem here
            raise TrustListError(f"cannot ask {args.rpc} for its chain id: {exc}") from exc
    entry = TrustEntry(
        chain_id, args.registry, args.name, args.rpc, verify_hosts=tuple(args.verify_host or ())
    )
    return TrustList.of([entry])


def _when(ts: int | None) -> str:
    if not ts:
        return "—"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render(
    result: VerificationResult, console: object | None = None, hosts: HostCheck | None = None
) -> None:
    """Print the verdict, the facts, any host warning and the trail of steps with rich."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Names and reasons come from the registry, the trust list and the file: printed as
    # plain `Text`, never parsed as rich markup ("[/]" in an office name raised MarkupError).
    con = console if isinstance(console, Console) else Console()
    look = VERDICT_LOOK[result.verdict]
    headline, style = f"{look.mark} {look.label.upper()}", _STYLES[look.tone]
    if hosts is not None and hosts.warning and result.verdict.is_authentic:
        headline, style = "⚠ AUTHENTIC, BUT ITS CODES POINT TO ANOTHER SITE", _STYLES["warn"]
    con.print(f" {headline} ", style=style)
    con.print(Text(result.reason))
    if hosts is not None and hosts.foreign:
        con.print(
            Text(
                "Warning: the QR codes point to a site the trust list does not name for this "
                f"registry: {', '.join(hosts.foreign)}. Do not enter anything there.",
                style="bold yellow",
            )
        )
    facts = Table(show_header=False, box=None, pad_edge=False)
    facts.add_column(style="bold")
    facts.add_column()
    rows = [
        ("issuer (trust list)", result.issuer_name),
        ("office (registry)", result.office_name),
        ("record", result.record_id),
        ("version", result.version),
        ("current version", result.current_version),
        ("page", _page(result)),
        ("kind", result.kind),
        ("content sha256", result.content_hash),
        ("anchored", _when(result.anchored_at) if result.anchored_at else None),
        ("replaced by", result.replaced_by),
        ("revocation reason hash", result.revoked_reason_hash),
        ("revoked", _when(result.revoked_at) if result.revoked_at else None),
        ("valid until", _when(result.valid_until) if result.valid_until else None),
        ("valid from", _when(result.valid_from) if result.valid_from else None),
        *((f"metadata: {k}", v) for k, v in public_record(result).items()),
    ]
    if hosts is not None and hosts.unchecked:
        rows.append(("hosts not checked", ", ".join(hosts.unchecked)))
    for key, value in rows:
        if value is not None:
            facts.add_row(key, Text(str(value)))
    con.print(facts)
    trail = Table(title="steps", show_lines=False)
    trail.add_column("", width=2)
    trail.add_column("step")
    trail.add_column("detail", overflow="fold")
    for step in result.steps:
        mark, tone = STEP_LOOK[step.status]
        trail.add_row(Text(mark, style=_COLOURS[tone]), Text(step.name), Text(step.detail))
    con.print(trail)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `verifier` command; returns the documented exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        trust = _trust(args)
    except TrustListError as exc:
        print(f"verifier: {exc}", file=sys.stderr)
        return USAGE_ERROR
    from verifier.content_lookup import IndexUrlError
    from verifier.verify import verify_image_codes, verify_payload

    try:
        if args.command == "check":
            data = Path(args.path).read_bytes()
            result = _check(args, trust, data)
            stamped = bool(result.steps) and result.steps[0].name == "read_stamp"
            texts: tuple[str, ...] = stamped_code_texts(data) if stamped else ()
        elif args.command == "scan":
            result, texts = verify_image_codes(Path(args.path).read_bytes(), trust)
        else:
            data = Path(args.file).read_bytes() if args.file else None
            result, texts = verify_payload(args.url, trust, data), (args.url,)
        metadata = getattr(args, "metadata", None)
        result = check_metadata(result, Path(metadata).read_bytes() if metadata else None)
    except OSError as exc:
        print(f"verifier: cannot read input: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except IndexUrlError as exc:
        print(f"verifier: {exc}", file=sys.stderr)
        return USAGE_ERROR
    hosts = check_hosts(texts, frozenset(), trust)
    code = FOREIGN_HOST if hosts.warning and result.verdict.is_authentic else result.exit_code
    if args.json:
        doc = result.to_dict()
        doc.update(
            exit_code=code,
            foreign_hosts=list(hosts.foreign),
            host_warning=hosts.warning,
            unchecked_hosts=list(hosts.unchecked),
        )
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        render(result, hosts=hosts)
    return code


def _page(result: VerificationResult) -> str | None:
    """The page fields, marked when nothing could check them (docs/qr-payload.md)."""
    if not result.page:
        return None
    shown = f"{result.page}/{result.page_count}"
    return shown if result.pages_checked else f"{shown} (as the code says; not checked)"


if __name__ == "__main__":
    raise SystemExit(main())
