"""The warehouse's credits (credit_expr) equal the Python reference's (credit.credits, rules.py).

Random journeys, touch by touch, for all 14 models: channels from a small set (repeats and
direct channels), touch times from a few days (so touches tie in time, and time decay weighs
equal times), milestones anywhere or absent, and conversions with and without revenue. The
journeys are numbered here in Python, ties in time broken by touchpoint_id, the order the
warehouse numbers them in (journeys._in_lookback); every (model, conversion, touch) credit and
revenue credit must agree to 1e-9.
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import journey_paths

from revops.attribution.credit import credits, fit
from revops.attribution.credit_expr import credits_expr
from revops.config.attribution import DATA_DRIVEN_MODELS, MODELS, AttributionConfig

CHANNELS = ["email", "webinar", "paid_search", "direct", "events"]
CONVERTED_AT = pd.Timestamp("2026-02-01 23:59:59.999999")

touch = st.tuples(st.sampled_from(CHANNELS), st.integers(0, 3), st.integers(0, 99))
journey = st.tuples(
    st.lists(touch, min_size=1, max_size=7),
    st.one_of(st.none(), st.integers(0, 6)),  # lead-creation touch (by index, if that long)
    st.one_of(st.none(), st.integers(0, 6)),  # opportunity-creation touch
    st.one_of(st.none(), st.integers(1, 50_000)),  # revenue
)


def _frame(journeys: list[Any]) -> pd.DataFrame:
    """Rows as journeys.build_journeys gives them: in (conversion, time, touchpoint_id) order,
    `pos` from 0, `n`, `days_before`, one lead and one opportunity flag at most."""
    rows = []
    for j, (touches, lead, opp, revenue) in enumerate(journeys):
        ids = {}
        for k, (channel, day, tag) in enumerate(touches):
            tid = f"t{tag:02d}-{k}"  # tags repeat, so ties in time break on an arbitrary id
            ids[tid] = (channel, CONVERTED_AT - pd.Timedelta(days=3 * day, hours=tag % 5))
        order = sorted(ids, key=lambda t: (ids[t][1], t))
        for pos, tid in enumerate(order):
            channel, at = ids[tid]
            rows.append(
                {
                    "conversion_id": f"c{j:03d}",
                    "entity_id": f"e{j}",
                    "person_id": f"p{j}",
                    "account_id": None if j % 3 else f"a{j}",
                    "touchpoint_id": tid,
                    "channel": channel,
                    "campaign_id": None if pos % 2 else f"cmp-{channel}",
                    "occurred_at": at,
                    "converted_at": CONVERTED_AT,
                    "converted": True,
                    "revenue": float(revenue or 0.0),
                    "pos": pos,
                    "n": len(order),
                    "days_before": (CONVERTED_AT - at).total_seconds() / 86400.0,
                    "is_lead": lead == pos,
                    "is_opp": opp == pos,
                }
            )
    return pd.DataFrame(rows)


CON = ibis.duckdb.connect()
CFG = AttributionConfig(direct_channels=("direct", "events"), time_decay_half_life_days=3.5)


def _compare(frame: pd.DataFrame, model: str) -> None:
    fitted = fit(journey_paths(frame), model, CFG) if model in DATA_DRIVEN_MODELS else None
    ref = credits(frame, model, CFG, fitted)
    table = CON.create_table("journeys", frame.drop(columns="days_before"), overwrite=True)
    got = CON.to_pyarrow(credits_expr(table, model, CFG, fitted)).to_pandas()
    keys = ["conversion_id", "touchpoint_id"]
    both = ref.merge(got, on=keys, suffixes=("", "_sql"), validate="one_to_one")
    assert len(both) == len(ref) == len(got)
    assert (both["model"] == both["model_sql"]).all()
    for col in ("credit", "revenue_credit"):
        scale = np.maximum(1.0, np.abs(both[col].to_numpy()))
        assert np.all(np.abs(both[col] - both[f"{col}_sql"]) <= 1e-9 * scale), (model, col)


@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(journey, min_size=1, max_size=12))
def test_warehouse_credits_equal_the_reference(model: str, journeys: list[Any]) -> None:
    _compare(_frame(journeys), model)
