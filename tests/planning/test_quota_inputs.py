"""Quota plans for several periods from inputs read once give the plans each period gives alone.

The demo plans five quarters as of one day; `quota_inputs` reads the reps, their potential and
the capture rate (measured from bookings here: the default model sets none) once for all.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from revops.planning.run import plan_quotas, quota_inputs
from revops.warehouse import Warehouse

from .test_store import _model, _seed

AS_OF = date(2026, 10, 31)


def test_plans_from_shared_inputs_are_the_plans_made_alone(warehouse: Warehouse) -> None:
    _seed(warehouse)
    model = _model()
    assert model.planning.quotas.capture_rate is None  # the rate comes from the bookings
    inputs = quota_inputs(warehouse, model, AS_OF)
    assert inputs.rate > 0
    for period in ("2026-Q3", "2026-Q4", "2027-Q1"):
        alone = plan_quotas(warehouse, model, period, "bottom_up", None, AS_OF)
        shared = plan_quotas(warehouse, model, period, "bottom_up", None, AS_OF, inputs)
        pd.testing.assert_frame_equal(shared.quotas, alone.quotas)
        assert (shared.capture_rate, shared.start, shared.end) == (
            alone.capture_rate,
            alone.start,
            alone.end,
        )
        assert shared.quotas["quota"].sum() > 0


def test_inputs_of_another_day_are_refused(warehouse: Warehouse) -> None:
    _seed(warehouse)
    model = _model()
    inputs = quota_inputs(warehouse, model, AS_OF)
    with pytest.raises(ValueError, match="quota inputs as of"):
        plan_quotas(warehouse, model, "2026-Q4", "bottom_up", None, date(2026, 9, 30), inputs)
