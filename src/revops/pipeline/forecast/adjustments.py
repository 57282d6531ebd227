"""Manager adjustments and manual deal probabilities: human judgement, stored beside the data.

Both are append-only rows keyed by time, never edits of the deal or of the rep's call: a manager's
number sits next to the rep's, and a probability set by hand lives in its own table, so a stage
change or a fresh load of opportunities can never overwrite it. Each write goes to the audit log
in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pyarrow as pa

from revops.audit import audit_batch
from revops.errors import RevOpsError
from revops.pipeline.forecast.periods import Period
from revops.warehouse import Batch, Warehouse
from revops.warehouse.clock import utc_now
from revops.warehouse.schema import (
    FORECAST_CATEGORIES,
    FORECAST_LEVELS,
    OPPORTUNITY_TYPES,
    REGIONS,
    table,
)
from revops.warehouse.warehouse import arrow_schema


class ForecastInputError(RevOpsError, ValueError):
    """An adjustment or override that cannot be recorded as given."""


def _exists(wh: Warehouse, table: str, column: str, value: str) -> bool:
    t = wh.table(table)
    return bool(wh.execute(t.filter(t[column] == value).count()) > 0)


def adjust(
    wh: Warehouse,
    *,
    period: Period,
    level: str,
    subject_id: str,
    category: str,
    amount: float,
    note: str,
    actor: str,
    opportunity_type: str = "all",
    at: datetime | None = None,
) -> dict[str, object]:
    """Record a manager's number for one roll-up cell; the rep's call stays as it was."""
    if level not in FORECAST_LEVELS:
        raise ForecastInputError(f"level {level!r} is not one of {', '.join(FORECAST_LEVELS)}")
    if category not in FORECAST_CATEGORIES:
        raise ForecastInputError(
            f"category {category!r} is not one of {', '.join(FORECAST_CATEGORIES)}"
        )
    if opportunity_type not in (*OPPORTUNITY_TYPES, "all"):
        raise ForecastInputError(
            f"opportunity type {opportunity_type!r} is not one of "
            f"{', '.join(OPPORTUNITY_TYPES)} or all"
        )
    if not note.strip():
        raise ForecastInputError("an adjustment needs a note saying why")
    if amount < 0 or amount != amount:
        raise ForecastInputError(f"adjustment amount must be a number ≥ 0, not {amount}")
    if level in ("rep", "manager") and not _exists(wh, "users", "user_id", subject_id):
        raise ForecastInputError(f"no user {subject_id!r} to adjust at level {level}")
    if level == "region" and subject_id not in REGIONS:
        raise ForecastInputError(f"region {subject_id!r} is not one of {', '.join(REGIONS)}")
    if level == "company" and subject_id != "all":
        raise ForecastInputError("the company level has one subject: all")
    row: dict[str, object] = {
        "period_start": period.start,
        "period_end": period.end,
        "level": level,
        "subject_id": subject_id,
        "opportunity_type": opportunity_type,
        "category": category,
        "amount": float(amount),
        "note": note.strip(),
        "adjusted_by": actor,
        "adjusted_at": at or utc_now(),
    }
    data = pa.Table.from_pylist([row])
    subject = f"{period.label or period.start}/{level}/{subject_id}/{opportunity_type}/{category}"
    wh.write_many(
        [
            Batch("forecast_adjustments", data, "append"),
            audit_batch(wh, actor, "forecast.adjusted", subject, row),
        ]
    )
    return row


def set_probability(
    wh: Warehouse,
    *,
    opportunity_id: str,
    probability: float | None,
    note: str,
    actor: str,
    at: datetime | None = None,
) -> dict[str, object]:
    """Set (or, with None, clear) a deal's manual win probability, 0–100."""
    if probability is not None and not 0 <= probability <= 100:
        raise ForecastInputError(f"probability must be between 0 and 100, not {probability}")
    if not note.strip():
        raise ForecastInputError("a manual probability needs a note saying why")
    if not _exists(wh, "opportunities", "opportunity_id", opportunity_id):
        raise ForecastInputError(f"no opportunity {opportunity_id!r}")
    row: dict[str, object] = {
        "opportunity_id": opportunity_id,
        "probability": None if probability is None else float(probability),
        "set_by": actor,
        "set_at": at or utc_now(),
        "note": note.strip(),
    }
    schema = arrow_schema(table("deal_probability_overrides"))
    data = pa.Table.from_pylist([row], schema=schema)
    wh.write_many(
        [
            Batch("deal_probability_overrides", data, "append"),
            audit_batch(wh, actor, "forecast.probability_set", opportunity_id, row),
        ]
    )
    return row


def adjustments_frame(wh: Warehouse) -> pd.DataFrame:
    out: pd.DataFrame = wh.execute(wh.table("forecast_adjustments"))
    return out
