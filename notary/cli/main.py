"""`notary`: the publishing office's command line.

Every command takes `--json` (one JSON document on stdout) and `--data-dir` (default
`./.notary`, env `NOTARY_DATA_DIR`). Keystore passwords come from
`NOTARY_KEYSTORE_PASSWORD` or `--password-file`, never from the command line.

Exit codes:

| code | meaning                                                        |
| ---- | -------------------------------------------------------------- |
| 0    | done                                                           |
| 1    | not found or bad input (missing file, unknown record, conflict) |
| 2    | usage error (unknown option, missing argument)                 |
| 3    | unauthorised (wrong password, key not authorised, suspended)   |
| 4    | chain node or database unavailable                             |
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from notary.cli.audit import audit_app, checkpoint_app
from notary.errors import NotaryError, Unauthorised, Unavailable
from notary.storage.private_files import restrict_umask

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_UNAUTHORISED, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4

app = typer.Typer(
    help="Notarise disclosures on the registry chain. Exit codes: 0 ok, 1 not found/bad "
    "input, 2 usage, 3 unauthorised/wrong password, 4 chain/database unavailable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
office_app = typer.Typer(help="Offices and their signer keys (governance).", no_args_is_help=True)
app.add_typer(office_app, name="office")
app.add_typer(audit_app, name="audit")
app.add_typer(checkpoint_app, name="checkpoint")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="NOTARY_DATA_DIR", help="Data dir (default ./.notary)."),
]
PasswordFileOpt = Annotated[
    Path | None,
    typer.Option(help="File holding the keystore password (else NOTARY_KEYSTORE_PASSWORD)."),
]
OfficeOpt = Annotated[str, typer.Option("--office", help="Office short name in the data dir.")]


def _emit(as_json: bool, data: Any, text: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    else:
        typer.echo(text)


# -- init and worker -------------------------------------------------------------------------


@app.command()
def init(
    data_dir: DataDirOpt = None,
    password_file: PasswordFileOpt = None,
    db_url: Annotated[str | None, typer.Option(help="Database URL (default SQLite).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Set up (or find) the local chain, keys, registry, demo office and database."""
    from notary.local.setup import init_local, read_password, shown_db_url

    setup = init_local(data_dir, password=read_password(password_file), db_url=db_url)
    data = setup.to_json()
    lines = [f"data dir  {setup.data_dir}", f"chain     {setup.chain_url} (id {setup.chain_id})"]
    lines += [f"registry  {setup.registry}", f"database  {shown_db_url(setup.db_url)}"]
    lines += [f"office    {n}: {setup.office_ids[n]}" for n in setup.office_ids]
    _emit(as_json, data, "\n".join(lines))


@app.command()
def worker(
    data_dir: DataDirOpt = None,
    password_file: PasswordFileOpt = None,
    mode: Annotated[str, typer.Option(help="auto, direct, many or batch.")] = "auto",
    once: Annotated[bool, typer.Option(help="Exit when nothing is left to anchor.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the anchoring worker (reconciles with the chain first)."""
    from notary.anchoring.worker import run_worker
    from notary.local.setup import load_settings

    if mode not in ("auto", "direct", "many", "batch"):
        raise typer.BadParameter(f"unknown mode {mode!r}", param_hint="--mode")
    settings = load_settings(data_dir, password_file=password_file, mode=mode)
    with contextlib.suppress(KeyboardInterrupt):
        run_worker(settings, exit_when_idle=once)
    _emit(as_json, {"stopped": True}, "worker stopped")


# -- offices ---------------------------------------------------------------------------------


@office_app.command("add")
def office_add(
    short_name: Annotated[str, typer.Argument(help="Short name, e.g. tax (a-z0-9_-).")],
    name: Annotated[str, typer.Option("--name", help="Full office name.")],
    data_dir: DataDirOpt = None,
    password_file: PasswordFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register an office with a new signer key."""
    from notary.cli import ops as cli_ops

    entry = cli_ops.office_add(data_dir, password_file, short_name, name)
    _emit(as_json, entry, f"office {short_name}: {entry['office_id']} (number {entry['number']})")


@office_app.command("suspend")
def office_suspend(
    short_name: str,
    data_dir: DataDirOpt = None,
    password_file: PasswordFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Suspend an office: its signers can no longer anchor or revoke."""
    from notary.cli import ops as cli_ops

    tx = cli_ops.office_suspend(data_dir, password_file, short_name)
    _emit(as_json, {"office": short_name, "tx": tx}, f"office {short_name} suspended ({tx})")


@office_app.command("signer-add")
def office_signer_add(
    short_name: str,
    key_name: Annotated[str, typer.Option(help="Name of the new key file (office-<name>).")],
    data_dir: DataDirOpt = None,
    password_file: PasswordFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a new signer key for the office and authorise it (key rotation, step 1)."""
    from notary.cli import ops as cli_ops

    out = cli_ops.signer_add(data_dir, password_file, short_name, key_name)
    _emit(as_json, out, f"signer {out['signer']} added to {short_name}")


@office_app.command("signer-revoke")
def office_signer_revoke(
    short_name: str,
    address: Annotated[str, typer.Argument(help="Signer address to revoke.")],
    data_dir: DataDirOpt = None,
    password_file: PasswordFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """End a signer's authority (its earlier anchors stay valid)."""
    from notary.cli import ops as cli_ops

    out = cli_ops.signer_revoke(data_dir, password_file, short_name, address)
    _emit(as_json, out, f"signer {address} revoked from {short_name}")


# -- records ---------------------------------------------------------------------------------

MaskOpt = Annotated[bool, typer.Option("--mask", help="Publish a copy with personal data masked.")]
OverrideOpt = Annotated[
    str | None,
    typer.Option(help="Publish despite personal data found; the reason is recorded."),
]


@app.command()
def publish(
    files: Annotated[list[Path], typer.Argument(help="Files to publish (one record each).")],
    title: Annotated[str, typer.Option(help="Title (the file name is appended for several).")],
    category: Annotated[str, typer.Option(help="Category, e.g. budget.")],
    office: OfficeOpt = "demo",
    reviewer: Annotated[str, typer.Option(help="Reviewer's name.")] = "office",
    language: Annotated[str, typer.Option(help="BCP 47 language tag.")] = "zh-CN",
    published_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today).")] = None,
    tier: Annotated[str, typer.Option(help="Access tier: public, restricted or internal.")] = (
        "public"
    ),
    document_number: Annotated[
        str | None, typer.Option(help="Document number (文号), anchored with the metadata.")
    ] = None,
    mask: MaskOpt = False,
    pii_override_reason: OverrideOpt = None,
    data_dir: DataDirOpt = None,
    password_file: PasswordFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check FILE(s) as the API does (type from the bytes, PII guard, tier), accept them as
    new records and anchor them; prints id, tx, verify link."""
    from notary.cli import ops as cli_ops

    try:
        day = date.fromisoformat(published_on) if published_on else date.today()
    except ValueError:
        raise typer.BadParameter(
            f"must be a date as YYYY-MM-DD, not {published_on!r}", param_hint="--published-on"
        ) from None
    results = cli_ops.publish(
        data_dir,
        password_file,
        files,
        title=title,
        category=category,
        office=office,
        reviewer=reviewer,
        language=language,
        published_on=day,
        tier=tier,
        document_number=document_number,
        mask=mask,
        override=pii_override_reason,
        progress=not as_json and len(files) > 1,
    )
    text = "\n".join(_revision_line(r) for r in results)
    _emit(as_json, results if len(results) > 1 else results[0], text)


@app.command()
def revise(
    record: Annotated[str, typer.Argument(help="Record id (64 hex digits).")],
    file: Path,
    title: Annotated[str | None, typer.Option(help="New title (default: unchanged).")] = None,
    note: Annotated[str | None, typer.Option(help="Change note.")] = None,
    mask: MaskOpt = False,
    pii_override_reason: OverrideOpt = None,
    data_dir: DataDirOpt = None,
    password_file: PasswordFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish FILE as the next version of RECORD (the API's checks) and anchor it."""
    from notary.cli import ops as cli_ops

    result = cli_ops.revise(
        data_dir, password_file, record, file, title=title, note=note, mask=mask,
        override=pii_override_reason,
    )  # fmt: skip
    _emit(as_json, result, _revision_line(result))


@app.command()
def revoke(
    record: str,
    reason: Annotated[str, typer.Option(help="Why (its SHA-256 goes on chain).")],
    data_dir: DataDirOpt = None,
    password_file: PasswordFileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke RECORD with a reason and anchor the revocation."""
    from notary.cli import ops as cli_ops

    out = cli_ops.revoke(data_dir, password_file, record, reason)
    _emit(as_json, out, f"record {out['record_id']} revoked ({out['state']}, tx {out['tx']})")


@app.command()
def status(
    target: Annotated[str, typer.Argument(help="Record id or a file to look up by hash.")],
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Status of a record (or of the record a file belongs to), from the database and chain."""
    from notary.cli import ops as cli_ops

    out = cli_ops.status(data_dir, target)
    text = (
        f"record {out['record_id']}: {out['status']}, version {out['version']} "
        f"({out['anchor_state']}), chain head version {out['chain_version']}"
    )
    _emit(as_json, out, text)


@app.command()
def history(
    record: str,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every version of RECORD with its anchor."""
    from notary.cli import ops as cli_ops

    out = cli_ops.history(data_dir, record)
    lines = [
        f"v{r['version']}  {r['anchor_state']:<8}  {r['content_hash']}  tx {r['tx']}"
        for r in out["revisions"]
    ]
    _emit(as_json, out, "\n".join([f"record {out['record_id']} ({out['status']})", *lines]))


@app.command()
def stamp(
    record: Annotated[str, typer.Argument(help="Record id (64 hex digits).")],
    file: Annotated[Path, typer.Argument(help="The PDF exactly as published (anchored).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the stamped PDF.")],
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Put a QR code and a verify line on every page of FILE (an incremental update: FILE's
    bytes stay a prefix of OUT, so its SHA-256 still verifies)."""
    from notary.cli import ops as cli_ops

    done = cli_ops.stamp(data_dir, record, file, out)
    _emit(as_json, done, f"stamped record {done['record_id']} v{done['version']} into {out}")


def _revision_line(r: dict[str, Any]) -> str:
    return (
        f"{r['file']}: record {r['record_id']} v{r['version']} {r['anchor_state']} "
        f"tx {r['tx']}\n  verify: {r['verify_url']}"
    )


# -- entry point -----------------------------------------------------------------------------


def exit_code(exc: BaseException) -> int:
    """The documented exit code for an error."""
    if isinstance(exc, Unauthorised):
        return EXIT_UNAUTHORISED
    if isinstance(exc, Unavailable):
        return EXIT_UNAVAILABLE
    return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors become one line on stderr and the documented exit code."""
    restrict_umask()  # before any command creates a file: data dir, keys, database
    as_json = "--json" in (argv if argv is not None else sys.argv[1:])
    try:
        # Without standalone mode, click returns a command's `typer.Exit(code)` as the value.
        code = app(args=argv, standalone_mode=False)
    except NotaryError as exc:
        return _fail(exc, exit_code(exc), as_json)
    except FileNotFoundError as exc:
        return _fail(exc, EXIT_BAD_INPUT, as_json)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        return _fail(RuntimeError("aborted"), EXIT_USAGE, as_json)
    except Exception as exc:
        if callable(getattr(exc, "show", None)) and hasattr(exc, "exit_code"):
            exc.show()  # a usage error from the argument parser
            return EXIT_USAGE
        return _fail(exc, EXIT_BAD_INPUT, as_json, unexpected=True)
    return code if isinstance(code, int) else EXIT_OK


def _fail(exc: BaseException, code: int, as_json: bool, *, unexpected: bool = False) -> int:
    kind = type(exc).__name__
    message = str(exc) or kind
    if unexpected:
        message = f"unexpected {kind}: {message}"
    if as_json:
        sys.stdout.write(json.dumps({"error": kind, "message": message, "exit_code": code}) + "\n")
    print(f"error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
