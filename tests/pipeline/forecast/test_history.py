"""One forecast `History` serves the demo's backtest, methods and win-model report: the deal
history is read and replayed once and a win model fitted on the same rows is fitted once. On the
session's small demo (conftest.py `demo_run`) every figure from the shared path is, to the bit,
what each step computes on its own (a fresh history per step, as before the history existed), and
the shared history's fits in worker processes are the fits each step makes in its own process."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from revops.context import RevOps
from revops.pipeline.forecast import (
    History,
    forecast_methods,
    parse,
    run_backtest,
    win_model_report,
)

AS_OF = date(2026, 10, 31)  # the demo's last day (cli/demo.py DEMO_END)


def test_shared_history_gives_each_steps_own_figures(demo_run: tuple[Path, str]) -> None:
    ro = RevOps.open(None, demo_run[1].splitlines()[0])
    try:
        wh, model = ro.warehouse, ro.model
        period = parse(model, "2026Q4")
        shared = History(wh, model, workers=2)  # as `revops forecast` asks on two cores
        a = run_backtest(wh, model, store=False, history=shared)
        b = run_backtest(wh, model, store=False)
        m_shared = forecast_methods(wh, model, period, AS_OF, shared)
        own = History(wh, model)
        m_own = forecast_methods(wh, model, period, AS_OF, own)
        e_shared = win_model_report(wh, model, shared)
        e_own = win_model_report(wh, model)
    finally:
        ro.close()
    assert not a.weekly.empty
    pd.testing.assert_frame_equal(a.weekly, b.weekly, check_exact=True)
    pd.testing.assert_frame_equal(a.summary, b.summary, check_exact=True)
    assert a.skipped == b.skipped
    pd.testing.assert_frame_equal(m_shared.methods, m_own.methods, check_exact=True)
    pd.testing.assert_frame_equal(m_shared.creation, m_own.creation, check_exact=True)
    assert (m_shared.trained_through, m_shared.skipped) == (m_own.trained_through, m_own.skipped)
    for field in ("test_from", "n_test_rows", "n_test_deals", "auc", "brier", "stage_auc"):
        assert getattr(e_shared, field) == getattr(e_own, field), field
    pd.testing.assert_frame_equal(e_shared.calibration, e_own.calibration, check_exact=True)
    # Read once, replayed once; one model per distinct training set (the backtest's quarters,
    # the methods' and the evaluation's, each of which may be one of the backtest's).
    assert (shared.loads, shared.replays) == (1, 1)
    backtest_fits = a.weekly["period_start"].nunique()
    assert shared.fits <= backtest_fits + 2
    assert own.fits == 1


def test_a_history_serves_only_its_own_warehouse_and_model(demo_run: tuple[Path, str]) -> None:
    ro = RevOps.open(None, demo_run[1].splitlines()[0])
    try:
        other = History(ro.warehouse, ro.model.model_copy())
        with pytest.raises(ValueError, match="another warehouse or model"):
            win_model_report(ro.warehouse, ro.model, other)
    finally:
        ro.close()
