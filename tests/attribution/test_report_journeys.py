"""The attribution report builds each conversion's journeys once and reuses them: the W-shaped
credits it stored on the session's small demo are, row for row and to the bit, what a fresh
`attribute` gives (which builds the journeys anew, as the report did for each use before)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from revops.attribution.run import attribute
from revops.config import load_config
from revops.reports.attribution import DICTIONARY_MODEL
from revops.warehouse import Warehouse

CFG = load_config(Path(__file__).parents[2] / "examples" / "revops.yaml").model.attribution
KEY = ["conversion_id", "touchpoint_id"]
VALUES = ["entity_id", "channel", "campaign_id", "credit", "revenue_credit"]


@pytest.mark.parametrize("conversion", ["opportunity", "closed_won"])
def test_stored_credits_are_a_fresh_runs(demo_run: tuple[Path, str], conversion: str) -> None:
    path = demo_run[1].splitlines()[0]
    with Warehouse.connect(path, create=False) as wh:
        t = wh.table("attribution_credits")
        stored = wh.execute(
            t.filter((t.model == DICTIONARY_MODEL) & (t.conversion_type == conversion))
        )
        fresh = attribute(wh, conversion, CFG, DICTIONARY_MODEL).credits  # type: ignore[arg-type]
    assert len(stored) > 0
    a = stored[KEY + VALUES].sort_values(KEY, ignore_index=True)
    b = fresh[KEY + VALUES].sort_values(KEY, ignore_index=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=True)
