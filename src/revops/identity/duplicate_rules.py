"""Duplicate rules at entry: a new row that matches a stored record is allowed with an alert, or
blocked, as Salesforce duplicate rules do.

New rows are compared only with stored records that share a blocking key with them, so the check
costs a join, not a scan. The model (m, u, λ) is fitted on stored plus incoming records, the
population the rows are about to join; rows of one load are not compared with each other (a
later `revops quality dedupe` finds those).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.dedupe import DuplicateRule
from revops.config.models import OperatingModel
from revops.identity import fellegi_sunter as fs
from revops.identity.blocking import block_keys, candidate_pairs, cross_pairs
from revops.identity.compare import comparison_matrix
from revops.identity.dedupe import fit_candidates, prepare, read_records
from revops.warehouse import Warehouse
from revops.warehouse import table as table_def

if TYPE_CHECKING:
    from revops.ingest.raw import RawData

TableName = Literal["persons", "accounts"]

CHECK_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("matched_id", pa.string()),
        ("probability", pa.float64()),
        ("rule", pa.string()),
        ("action", pa.string()),
    ]
)


def _applies(rule: DuplicateRule, preset: str | None, source: str | None) -> bool:
    """A rule naming `salesforce` covers every Salesforce object (`salesforce.Lead`) too."""
    system = preset.partition(".")[0] if preset else None
    named = preset in rule.sources or system in rule.sources
    return not rule.sources or named or source in rule.sources


def check_new_records(
    wh: Warehouse,
    model: OperatingModel,
    table: TableName,
    records: pa.Table,
    *,
    preset: str | None = None,
) -> pa.Table:
    """One row per incoming record: its best stored match, and the rule and action that fire.

    `records` has the table's columns (its primary key, or `id`). `matched_id`, `rule` and
    `action` are null when no rule fires; `probability` is the best match's, or null.
    """
    pk = table_def(table).primary_key[0]
    settings = model.dedupe.settings(table)
    id_col = pk if pk in records.column_names else "id"
    n_new = records.num_rows
    rules = [r for r in model.dedupe.rules if r.table == table]
    stored = read_records(wh, model, table) if rules and n_new else None
    new_ids = pc.cast(records.column(id_col), pa.string()).combine_chunks()
    best_p = np.full(n_new, np.nan)
    best_id: list[str | None] = [None] * n_new
    if stored is not None and stored.num_rows:
        incoming = pa.table(
            {"id": new_ids}
            | {
                f: records.column(f) if f in records.column_names else pa.nulls(n_new, pa.string())
                for f in settings.fields
            }
        )
        both = pa.concat_tables([stored, incoming.cast(stored.schema)])
        prep = prepare(both, settings)
        n_old = stored.num_rows
        keys = block_keys(prep.fields, settings.blocking)
        left, right, _ = cross_pairs(
            keys.slice(0, n_old), keys.slice(n_old), settings.max_block_size
        )
        kinds = [c.kind for c in settings.comparisons]
        levels = comparison_matrix(prep.encoded, kinds, left, right)
        all_l, all_r, _ = candidate_pairs(keys, settings.max_block_size)
        all_levels = comparison_matrix(prep.encoded, kinds, all_l, all_r)
        params = fit_candidates(prep, settings, all_l, all_r, all_levels, keys)
        prob = fs.probabilities(fs.match_weights(levels, params))
        ids = prep.ids.to_pylist()
        for lpos, rpos, p in zip(left.tolist(), right.tolist(), prob.tolist(), strict=True):
            new = rpos - n_old
            if ids[lpos] == ids[rpos]:
                continue  # the row updates this very record
            if np.isnan(best_p[new]) or p > best_p[new]:
                best_p[new], best_id[new] = p, ids[lpos]
    sources = (
        records.column("source").to_pylist() if "source" in records.column_names else [None] * n_new
    )
    out_rule: list[str | None] = []
    out_action: list[str | None] = []
    out_match: list[str | None] = []
    for i in range(n_new):
        fired = next(
            (
                r
                for r in rules
                if _applies(r, preset, sources[i])
                and not np.isnan(best_p[i])
                and best_p[i] >= r.threshold
            ),
            None,
        )
        out_rule.append(fired.name if fired else None)
        out_action.append(fired.action if fired else None)
        out_match.append(best_id[i] if fired else None)
    probability = pa.array([None if np.isnan(p) else float(p) for p in best_p], pa.float64())
    return pa.table(
        [new_ids, pa.array(out_match, pa.string()), probability, out_rule, out_action],
        schema=CHECK_SCHEMA,
    )


@dataclass(frozen=True)
class Screened:
    """A load after its duplicate rules: rows to write, rows to quarantine, alerts to record."""

    good: pa.Table
    quarantine: pa.Table
    alerts: pa.Table


def screen_load(
    wh: Warehouse,
    model: OperatingModel,
    table_name: str,
    preset: str | None,
    raw: RawData,
    bad_rows: np.ndarray,
    good: pa.Table,
    quarantine: pa.Table,
    *,
    load_id: str,
    file: str,
    now: datetime,
) -> Screened:
    """Apply the duplicate rules to a validated load; blocked rows join the quarantine rows."""
    table: TableName = "persons" if table_name == "persons" else "accounts"
    check = check_new_records(wh, model, table, good, preset=preset)
    action = check.column("action")
    blocked = pc.fill_null(pc.equal(action, "block"), False)
    allowed = pc.fill_null(pc.equal(action, "allow"), False)
    positions = np.setdiff1d(np.arange(raw.data.num_rows), bad_rows)
    blocked_idx = np.flatnonzero(blocked.to_numpy(zero_copy_only=False))
    if len(blocked_idx):
        hits = check.take(pa.array(blocked_idx))
        reasons = [
            f"duplicate of {m} (rule {r}, p={p:.2f})"
            for m, r, p in zip(
                hits["matched_id"].to_pylist(),
                hits["rule"].to_pylist(),
                hits["probability"].to_pylist(),
                strict=True,
            )
        ]
        n = len(blocked_idx)
        extra = pa.table(
            {
                "load_id": [load_id] * n,
                "target_table": [table] * n,
                "file": [file] * n,
                "row_number": pa.array(raw.row_numbers[positions[blocked_idx]], pa.int64()),
                "field": [table_def(table).primary_key[0]] * n,
                "reason": reasons,
                "raw": raw.raw_json(positions[blocked_idx]),
                "quarantined_at": pa.array([now] * n, pa.timestamp("us")),
            },
            schema=quarantine.schema,
        )
        quarantine = pa.concat_tables([quarantine, extra]).sort_by("row_number")
        good = good.filter(pc.invert(blocked))
    alerts = check.filter(allowed)
    n = alerts.num_rows
    alerts = pa.table(
        {
            "alert_id": [f"{load_id}-{i}" for i in range(n)],
            "load_id": [load_id] * n,
            "target_table": [table] * n,
            "record_id": alerts["record_id"],
            "matched_id": alerts["matched_id"],
            "rule": alerts["rule"],
            "probability": alerts["probability"],
            "created_at": pa.array([now] * n, pa.timestamp("us")),
        }
    )
    return Screened(good, quarantine, alerts)
