"""Export the replayed history: JSON Lines and a CSV that opens cleanly in a spreadsheet.

One row per revision, in chain order, with the record's status at the end of the replay
(`current`, `superseded`, `revoked`, `replaced`). The CSV is UTF-8 with a byte-order mark
(so Excel reads Chinese office names correctly), every field quoted, timestamps in ISO 8601
UTC, and every hash and address `0x`-prefixed so no spreadsheet turns a hex string into a
number; text that starts like a formula is prefixed with `'`.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from notary.audit.state import ACTIVE, ReplayState

EXPORT_FORMAT = "disclosure-notary/replay-export/v1"
COLUMNS = (
    "record_id",
    "version",
    "kind",
    "status",
    "office_number",
    "office_name",
    "valid_until",
    "content_hash",
    "metadata_hash",
    "prev_leaf",
    "leaf",
    "signer",
    "block_number",
    "tx_hash",
    "log_index",
)
_KINDS = {0: "disclosure", 1: "certificate"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def iso(seconds: int) -> str:
    """Unix seconds as ISO 8601 UTC (`2026-01-31T00:00:00Z`); empty for 0 (no end)."""
    if not seconds:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rows(state: ReplayState) -> Iterator[dict[str, Any]]:
    """Each replayed revision as an export row (see `COLUMNS`)."""
    offices = state.office_by_number()
    for entry in state.revisions:
        record = state.records.get(entry.record_id)
        if record is None or entry.version < record.version:
            status = "superseded"
        elif record.status == ACTIVE:
            status = "current"
        else:
            status = record.status
        office = offices.get(entry.office_number)
        yield {
            "record_id": entry.record_id,
            "version": entry.version,
            "kind": _KINDS.get(entry.kind, str(entry.kind)),
            "status": status,
            "office_number": entry.office_number,
            "office_name": office.name if office else "",
            "valid_until": iso(entry.valid_until),
            "content_hash": entry.content_hash,
            "metadata_hash": entry.metadata_hash,
            "prev_leaf": entry.prev_leaf,
            "leaf": entry.leaf,
            "signer": entry.signer,
            "block_number": entry.block_number,
            "tx_hash": entry.tx_hash,
            "log_index": entry.log_index,
        }


def write_jsonl(state: ReplayState, path: str | os.PathLike[str]) -> Path:
    """One JSON object per revision; the first line is a header naming format and chain."""
    target = Path(path)
    with target.open("w", encoding="utf-8", newline="\n") as out:
        header = {
            "format": EXPORT_FORMAT,
            "chain_id": state.chain_id,
            "registry": state.registry,
            "last_block": state.last_block,
            "accumulator": {"hash": state.acc_hash, "count": state.acc_count},
        }
        out.write(json.dumps(header, ensure_ascii=False) + "\n")
        for row in rows(state):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return target


def write_csv(state: ReplayState, path: str | os.PathLike[str]) -> Path:
    """The spreadsheet form (see the module docstring)."""
    target = Path(path)
    with target.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for row in rows(state):
            writer.writerow([_cell(row[c]) for c in COLUMNS])
    return target


def _cell(value: Any) -> str:
    text = str(value)
    if text.startswith(_FORMULA) and not text.startswith("0x"):
        return "'" + text
    return text
