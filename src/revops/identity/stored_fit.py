"""The Fellegi-Sunter fit duplicate rules reuse, stored in the warehouse (`dedupe_models`).

Refitting on every load was slow (the fit was most of a load's screening) and unstable: on
data with few real duplicates EM does not converge, and dropping one record of 150,000 moved
λ from 3.3e-7 to 5.0e-9, so the same row could be blocked by one load and let in by the next.
A fit is made once, when a table first has records to screen (or by `revops quality dedupe`,
or on request), stored with the settings it was made under and the size of its population,
and reused until one of the `stale` reasons holds. Every fit is a new row, so the table is the
audit trail of when and why the model changed. A fit's weights never fall as similarity rises
(`fellegi_sunter.pool_adjacent_violators`): a fit stored before that guard is stale.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from revops.config.dedupe import DedupeSettings
from revops.identity import fellegi_sunter as fs
from revops.warehouse import Warehouse
from revops.warehouse import table as table_def
from revops.warehouse.warehouse import arrow_schema

# A fit is reused until the stored records outnumber its population by this factor. λ, the
# chance that two random records are one entity, falls as the population grows (each record
# has about as many duplicates, among more records), so a fit at most this much smaller than
# what is stored is at most log2(2) = 1 bit off in every match weight; refits then come at
# geometrically spaced sizes, so their cost per record stored stays bounded.
GROWTH = 2.0


def settings_hash(settings: DedupeSettings) -> str:
    """What the fit depends on, hashed: fields, comparisons, blocking, EM and sampling settings.
    The review and auto-merge thresholds only read the fit, so changing them keeps it."""
    used = settings.model_dump(mode="json", exclude={"auto_merge_threshold", "review_threshold"})
    return hashlib.sha256(json.dumps(used, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StoredFit:
    """One row of `dedupe_models`."""

    table: str
    fitted_at: datetime
    records: int
    settings_hash: str
    reason: str
    params: fs.FellegiSunterParams


def latest(wh: Warehouse, table: str) -> StoredFit | None:
    """The table's newest fit, or None when none was made."""
    t = wh.table("dedupe_models")
    expr = t.filter(t.target_table == table).order_by(t.fitted_at.desc()).limit(1)
    rows = wh.to_arrow(expr).to_pylist()
    if not rows:
        return None
    row = rows[0]
    return StoredFit(
        table,
        row["fitted_at"],
        int(row["records"]),
        row["settings_hash"],
        row["reason"],
        fs.FellegiSunterParams.from_json(row["params"]),
    )


def history(wh: Warehouse) -> pa.Table:
    """Every fit, newest first, what `revops quality model` lists: without its JSON, but with
    `repaired`, the fields whose fitted weights fell as similarity rose and were pooled
    (`fellegi_sunter.pool_adjacent_violators`), comma-separated: a fit with several says EM
    found little to learn from (records with few real duplicates)."""
    t = wh.table("dedupe_models")
    fits = wh.to_arrow(t.order_by([t.target_table, t.fitted_at.desc()]))
    repaired = [
        ", ".join(c.field for c in fs.FellegiSunterParams.from_json(p).comparisons if c.repaired)
        for p in fits.column("params").to_pylist()
    ]
    fits = fits.drop_columns(["params"])
    return fits.append_column("repaired", pa.array(repaired, pa.string()))


def stale(fit: StoredFit | None, settings: DedupeSettings, stored: int) -> str | None:
    """Why `fit` cannot screen a load into `stored` records, or None when it can."""
    if fit is None:
        return "first fit"
    if fit.settings_hash != settings_hash(settings):
        return "dedupe settings changed"
    if stored > GROWTH * fit.records:
        return f"records grew from {fit.records:,} to {stored:,}"
    if not fs.is_monotone(fit.params):
        # fitted before the guard: an exact agreement may count against a match (issue 12)
        return "weights fall as similarity rises"
    return None


def fit_row(
    table: str,
    params: fs.FellegiSunterParams,
    settings: DedupeSettings,
    *,
    records: int,
    reason: str,
    now: datetime,
) -> pa.Table:
    """The `dedupe_models` row recording a fit."""
    row = {
        "target_table": [table],
        "fitted_at": [now],
        "records": [records],
        "settings_hash": [settings_hash(settings)],
        "reason": [reason],
        "prior": [params.lambda_],
        "iterations": [params.iterations],
        "converged": [params.converged],
        "params": [params.to_json()],
    }
    return pa.table(row, schema=arrow_schema(table_def("dedupe_models")))


def save(
    wh: Warehouse,
    table: str,
    params: fs.FellegiSunterParams,
    settings: DedupeSettings,
    *,
    records: int,
    reason: str,
    now: datetime,
    defer: list[pa.Table] | None = None,
) -> StoredFit:
    """Store a fit as the table's newest; returns it as `latest` will read it. With `defer`,
    the row is added there instead, for the caller to write in its own transaction (a load
    stores the fit it made with the rows it screened, so a crash leaves neither or both)."""
    row = fit_row(table, params, settings, records=records, reason=reason, now=now)
    if defer is not None:
        defer.append(row)
    else:
        wh.write("dedupe_models", row, "append")
    return StoredFit(table, now, records, settings_hash(settings), reason, params)
