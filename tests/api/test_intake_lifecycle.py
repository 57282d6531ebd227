"""The intake lifecycle (`api.intake._lifecycle`) against the batch engine over the whole group.

Settling a journal group reuses the engine's outcome per pattern (MQL-ready or not, which
required fields are filled) instead of running `apply_events` over every group. On generated
groups (required fields missing, blank, whitespace of several kinds, numbers; persons ready
and not) the rows written and the stages answered must be exactly what one `apply_events` call
over the group's events gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
from api_support import EXAMPLE
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.api.intake import SOURCE, _lifecycle, entry_stages
from revops.config import load_config
from revops.lifecycle.engine import apply_events, required_columns

MODEL = load_config(EXAMPLE).model
COLUMNS = required_columns(MODEL.lifecycle)
VALUES = st.sampled_from([None, "", "  ", "\u2003", "\t", "x", "Acme", "US", 0, 5000])


@dataclass(frozen=True)
class Lead:
    """The parts of `Admitted` the lifecycle reads."""

    person_id: str
    person: dict[str, Any]
    at: datetime


def engine(created: list[Lead], mql: list[bool]) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    """One `apply_events` over every event of the group: what intake did before the reuse."""
    events = [
        {
            "event_id": f"{a.person_id}-{n}-{stage.lower()}",
            "person_id": a.person_id,
            "stage": stage,
            "occurred_at": a.at,
            "source": SOURCE,
        }
        for a, ready in zip(created, mql, strict=True)
        for n, stage in enumerate(entry_stages(ready, MODEL))
    ]
    schema = pa.schema(
        [
            ("event_id", pa.string()),
            ("person_id", pa.string()),
            ("stage", pa.string()),
            ("occurred_at", pa.timestamp("us")),
            ("source", pa.string()),
        ]
    )
    persons = pa.table(
        {
            c: pa.array([None if (v := a.person.get(c)) is None else str(v) for a in created])
            for c in COLUMNS
        }
    )
    r = apply_events(pa.Table.from_pylist(events, schema), persons, MODEL.lifecycle)
    stages = dict(
        zip(r.stages["person_id"].to_pylist(), r.stages["lifecycle_stage"].to_pylist(), strict=True)
    )
    return r.history, r.rejections, stages


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.fixed_dictionaries(dict.fromkeys(COLUMNS[1:], VALUES)), st.booleans()),
        min_size=1,
        max_size=12,
    ),
    st.integers(0, 3600),
)
def test_reused_outcomes_equal_the_engine_over_the_group(
    rows: list[tuple[dict[str, Any], bool]], offset: int
) -> None:
    at = datetime(2025, 6, 10, 9, 0) + timedelta(seconds=offset)
    created = [
        Lead(f"api-{i:04d}", {**fields, "person_id": f"api-{i:04d}"}, at + timedelta(seconds=i))
        for i, (fields, _) in enumerate(rows)
    ]
    mql = [ready for _, ready in rows]
    _, history, rejections, stages = _lifecycle(created, mql, MODEL)  # type: ignore[arg-type]
    want_history, want_rejections, want_stages = engine(created, mql)
    assert history.equals(want_history)
    assert rejections.equals(want_rejections)
    assert stages == want_stages
