"""`notary audit …` and `notary checkpoint …`: the auditor's sub-commands of `notary`.

The chain comes from `--rpc`/`--registry`, else the environment (`NOTARY_RPC_URL`,
`NOTARY_REGISTRY`), else the data dir's `chain.json` when there is one: an auditor needs
nothing of the office but the registry address.

Exit codes: 0 all good; 1 the audit found something (violations, discrepancies, a
checkpoint the chain disagrees with); 2 bad input or an unreachable node or database.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from notary.errors import NotaryError

audit_app = typer.Typer(
    help="Replay the registry from its events, diff it with the database, raise alerts.",
    no_args_is_help=True,
)
checkpoint_app = typer.Typer(
    help="Signed checkpoints of the registry for outside witnesses.", no_args_is_help=True
)
console = Console(stderr=True)

RpcOpt = Annotated[
    str | None, typer.Option("--rpc", help="JSON-RPC URL (default: NOTARY_RPC_URL / config).")
]
RegistryOpt = Annotated[
    str | None, typer.Option("--registry", help="Registry address (default: NOTARY_REGISTRY).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
DbOpt = Annotated[
    str, typer.Option("--db", envvar="NOTARY_DATABASE_URL", help="Database URL (SQLAlchemy).")
]


def _client(rpc: str | None, registry: str | None, from_block: int | None = None):
    from notary.chain.client import RegistryClient, make_web3
    from notary.chain.config import ChainConfig
    from notary.local.setup import data_dir_from_env

    config = ChainConfig.load(data_dir_from_env())
    changes: dict[str, object] = {}
    if rpc:
        changes["rpc_url"] = rpc
    if registry:
        changes["registry"] = registry
    if from_block is not None:
        changes["start_block"] = from_block
    config = config.replace(**changes)
    web3 = make_web3(config)
    if "NOTARY_CHAIN_ID" not in os.environ:
        config = config.replace(chain_id=int(web3.eth.chain_id))
    return RegistryClient.connect(config, web3=web3)


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(2)


@audit_app.command("replay")
def replay_cmd(
    rpc: RpcOpt = None,
    registry: RegistryOpt = None,
    from_block: Annotated[
        int | None, typer.Option(help="First block of a new replay (default: config).")
    ] = None,
    to_block: Annotated[int | None, typer.Option(help="Last block (default: latest safe).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for state and exports.")] = Path("audit"),
    state: Annotated[
        Path | None, typer.Option(help="State file (default: OUT/replay-state.json).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild every record from the registry's events, check the rules, export JSONL + CSV.

    A second run continues from the last block the state file saw.
    """
    from notary.audit.export import write_csv, write_jsonl
    from notary.audit.runner import replay

    try:
        client = _client(rpc, registry, from_block)
        out.mkdir(parents=True, exist_ok=True)
        state_path = state or out / "replay-state.json"
        columns = (
            TextColumn("[bold]replay"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("blocks  {task.fields[logs]} logs"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, disable=as_json) as bar:
            task = bar.add_task("replay", total=None, logs=0)

            def progress(done: int, total: int, logs: int) -> None:
                bar.update(task, completed=done, total=total, logs=logs)

            result, summary = replay(
                client, state_path=state_path, to_block=to_block, progress=progress
            )
        jsonl = write_jsonl(result, out / "history.jsonl")
        csv_path = write_csv(result, out / "history.csv")
    except (NotaryError, OSError) as exc:
        raise _fail(exc) from None
    report = {
        "from_block": summary.from_block,
        "last_block": result.last_block,
        "new_logs": summary.logs,
        "revisions": len(result.revisions),
        "records": len(result.records),
        "accumulator": {"hash": result.acc_hash, "count": result.acc_count},
        "accumulator_matches_registry": result.registry_accumulator_ok,
        "violations": [
            {
                "rule": v.rule,
                "message": v.message,
                "block_number": v.block_number,
                "tx_hash": v.tx_hash,
            }
            for v in result.violations
        ],
        "files": {"state": str(state_path), "jsonl": str(jsonl), "csv": str(csv_path)},
    }
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        console.print(
            f"blocks {summary.from_block}…{result.last_block}: {len(result.revisions)} revisions "
            f"of {len(result.records)} records; accumulator "
            f"{'matches' if result.registry_accumulator_ok else 'DOES NOT MATCH'} the registry"
        )
        if result.violations:
            table = Table("rule", "block", "tx", "message", title="Rule violations")
            for v in result.violations:
                table.add_row(v.rule, str(v.block_number), v.tx_hash, v.message)
            console.print(table)
        console.print(f"exported {jsonl} and {csv_path}")
    raise typer.Exit(1 if result.violations else 0)


@audit_app.command("diff")
def diff_cmd(
    db: DbOpt,
    state: Annotated[Path, typer.Option(help="State file written by `audit replay`.")] = Path(
        "audit/replay-state.json"
    ),
    blobs: Annotated[Path | None, typer.Option(help="Blob store folder.")] = None,
    anchoring_delay: Annotated[
        float, typer.Option(help="Seconds a revision may wait to be anchored.")
    ] = 600.0,
    as_json: JsonOpt = False,
) -> None:
    """List every disagreement between the database and the replayed chain."""
    from datetime import timedelta

    from notary.audit.diff import run_diff
    from notary.audit.state import ReplayState
    from notary.db.session import make_engine, session_factory
    from notary.storage.blobstore import BlobStore

    try:
        replayed = ReplayState.load(state)
        engine = make_engine(db)
        with session_factory(engine, read_only=True)() as session:
            found = run_diff(
                session,
                replayed,
                BlobStore(blobs) if blobs else None,
                anchoring_delay=timedelta(seconds=anchoring_delay),
            )
        engine.dispose()
    except (NotaryError, OSError) as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps([d.to_json() for d in found], indent=2, ensure_ascii=False))
    elif found:
        table = Table("kind", "record", "v", "message", title="Database ≠ chain")
        for d in found:
            table.add_row(d.kind, d.record_id or "", str(d.version or ""), d.message)
        console.print(table)
    else:
        console.print("the database agrees with the chain")
    raise typer.Exit(1 if found else 0)


@audit_app.command("alerts")
def alerts_cmd(
    db: DbOpt,
    run: Annotated[
        bool, typer.Option("--run", help="Evaluate the rules first (needs --state).")
    ] = False,
    state: Annotated[Path, typer.Option(help="State file written by `audit replay`.")] = Path(
        "audit/replay-state.json"
    ),
    blobs: Annotated[Path | None, typer.Option(help="Blob store folder.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only this rule.")] = None,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only alerts nobody acknowledged yet.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """List stored alerts (the worker's scheduled audit raises them by itself); with --run,
    evaluate every rule now, store new alerts and POST them to NOTARY_AUDIT_WEBHOOK_URL."""
    from notary.audit.alerts import AlertConfig, alert_json, list_alerts, raise_alerts
    from notary.audit.diff import run_diff
    from notary.audit.state import ReplayState
    from notary.db.session import make_engine, session_factory, unit_of_work
    from notary.storage.blobstore import BlobStore

    try:
        engine = make_engine(db)
        factory = session_factory(engine)
        if run:
            config = AlertConfig.from_env()
            replayed = ReplayState.load(state)
            with unit_of_work(factory) as session:
                found = run_diff(
                    session,
                    replayed,
                    BlobStore(blobs) if blobs else None,
                    anchoring_delay=config.anchoring_delay,
                )
                result = raise_alerts(session, replayed, found, config)
                console.print(f"{len(result.new)} new alert(s)")
                if result.webhook is not None and not result.webhook.ok:
                    console.print(f"[yellow]warning:[/yellow] {result.webhook.error}")
        with factory() as session:
            rows = list_alerts(session, rule=rule, include_acknowledged=not open_only)
            alerts = [alert_json(a) for a in rows]
        engine.dispose()
    except (NotaryError, OSError) as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(alerts, indent=2, ensure_ascii=False, default=str))
        return
    table = Table("id", "rule", "severity", "created", "status", "message", title="Alerts")
    for a in alerts:
        table.add_row(
            str(a["id"]),
            a["rule"],
            a["severity"],
            a["created_at"] or "",
            _status(a),
            a["message"],
        )
    console.print(table)


def _status(alert: dict) -> str:
    """open / acked / acked, seen again (a recurrence after the acknowledgement)."""
    if not alert["acknowledged"]:
        return "open"
    return "acked, seen again" if alert["seen_after_ack"] else "acked"


@audit_app.command("ack")
def ack_cmd(
    db: DbOpt,
    alert_id: Annotated[int, typer.Argument(help="The alert's id (`notary audit alerts`).")],
    note: Annotated[str, typer.Option(help="Why it needs no further action.")],
    by: Annotated[
        str, typer.Option(help="Who acknowledges it (recorded as cli:NAME).", envvar="USER")
    ] = "operator",
    as_json: JsonOpt = False,
) -> None:
    """Acknowledge an alert with a note (it stays acknowledged if raised again)."""
    from notary.audit.alerts import acknowledge_alert, alert_json
    from notary.db.session import make_engine, session_factory, unit_of_work

    try:
        engine = make_engine(db)
        with unit_of_work(session_factory(engine)) as session:
            alert = alert_json(acknowledge_alert(session, alert_id, by=f"cli:{by}", note=note))
        engine.dispose()
    except (NotaryError, OSError) as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(alert, indent=2, ensure_ascii=False))
    else:
        console.print(
            f"alert {alert_id} ({alert['rule']}) acknowledged by {alert['acknowledged_by']}"
        )


@checkpoint_app.command("export")
def checkpoint_export(
    key: Annotated[Path, typer.Option(help="Governance keystore file.")],
    out: Annotated[Path, typer.Option(help="Where to write the checkpoint.")] = Path(
        "checkpoint.json"
    ),
    rpc: RpcOpt = None,
    registry: RegistryOpt = None,
    block: Annotated[int | None, typer.Option(help="Block (default: latest safe).")] = None,
    password_env: Annotated[
        str, typer.Option(help="Environment variable holding the key password.")
    ] = "NOTARY_GOVERNANCE_PASSWORD",
) -> None:
    """Sign (EIP-712, governance key) the registry's accumulator at a block."""
    from notary.chain.checkpoint import export
    from notary.storage.keystore import load_key

    try:
        password = os.environ.get(password_env) or typer.prompt("key password", hide_input=True)
        account = load_key(key, password)
        cp = export(_client(rpc, registry), account, block=block)
        cp.save(out)
    except (NotaryError, OSError) as exc:
        raise _fail(exc) from None
    console.print(f"checkpoint of block {cp.block_number}: {cp.acc_count} leaves, written to {out}")


@checkpoint_app.command("verify")
def checkpoint_verify(
    file: Annotated[Path, typer.Argument(help="Checkpoint file.")],
    rpc: Annotated[str, typer.Option("--rpc", help="JSON-RPC URL of the chain to check.")],
    signer: Annotated[
        str | None, typer.Option(help="Trusted governance address the signature must be by.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Does the chain still agree with the checkpoint? Exit 0 yes, 1 no (with the reason)."""
    from notary.chain.checkpoint import Checkpoint, CheckpointError, verify
    from notary.chain.client import make_web3
    from notary.chain.config import ChainConfig

    try:
        cp = Checkpoint.load(file)
    except CheckpointError as exc:
        raise _fail(exc) from None
    web3 = make_web3(ChainConfig(rpc_url=rpc, chain_id=cp.chain_id))
    result = verify(cp, web3, expected_signer=signer)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        for step in result.steps:
            mark = "[green]✓[/green]" if step.ok else "[red]✗[/red]"
            console.print(f"{mark} {step.name}: {step.detail}")
        console.print("[green]OK[/green]" if result.ok else f"[red]FAILED[/red] {result.reason}")
    raise typer.Exit(0 if result.ok else 1)
