"""The forecast engine's figures on the session's small demo (conftest.py `demo_run`), to the bit,
as the code before the backtest was batched computed them (tests/cases/forecast_demo_figures.json,
written by that code on the same demo): the backtest's weekly forecasts, MAPE and bias, every
method for 2026Q4, the recommended call, the win model's held-out evaluation and
forecast_accuracy. Speeding the forecast up must leave every one of them as it was."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from revops.context import RevOps
from revops.metrics import compute
from revops.pipeline.forecast import (
    History,
    forecast_methods,
    parse,
    run_backtest,
    win_model_report,
)

CASE = Path(__file__).parents[2] / "cases" / "forecast_demo_figures.json"
AS_OF = date(2026, 10, 31)  # the demo's last day (cli/demo.py DEMO_END)


def figures(warehouse: str) -> dict[str, Any]:
    """The figures the case file holds, computed now, in its shape (floats exactly)."""
    ro = RevOps.open(None, warehouse)
    try:
        wh, model = ro.warehouse, ro.model
        history = History(wh, model)
        bt = run_backtest(wh, model, store=False, history=history)
        m = forecast_methods(wh, model, parse(model, "2026Q4"), AS_OF, history)
        ev = win_model_report(wh, model, history)
        accuracy = compute(wh, model, "forecast_accuracy", grain=None)
    finally:
        ro.close()
    w = bt.weekly.sort_values(["period_start", "as_of", "method"])
    return {
        "weekly": [[str(r.as_of), r.method, r.forecast, r.actual] for r in w.itertuples()],
        "summary": [
            [r.quarter, r.method, int(r.weeks), r.mape, r.bias] for r in bt.summary.itertuples()
        ],
        "skipped": bt.skipped,
        "methods": [[r.method, r.opportunity_type, r.forecast] for r in m.methods.itertuples()],
        "call": [m.call.method, m.call.forecast, m.call.low, m.call.high] if m.call else None,
        "evaluation": [str(ev.test_from), ev.n_test_rows, ev.auc, ev.brier, ev.stage_auc],
        "forecast_accuracy": float(accuracy["value"].iloc[0]),
    }


def test_forecast_figures_are_the_previous_code_s(demo_run: tuple[Path, str]) -> None:
    expected = json.loads(CASE.read_text())
    got = json.loads(json.dumps(figures(demo_run[1].splitlines()[0])))  # tuples → lists
    for key, value in expected.items():
        assert got[key] == value, key
    assert len(expected["weekly"]) > 200  # the case holds a real backtest
    assert expected["call"] is not None
