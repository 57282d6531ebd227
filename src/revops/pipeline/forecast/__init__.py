"""Forecasting: roll-ups with manager adjustments, weekly snapshots and their changes, stage-
weighted and model-based forecasts, pipeline not yet created, and backtests of every method."""

from revops.pipeline.forecast.adjustments import ForecastInputError, adjust, set_probability
from revops.pipeline.forecast.engine import (
    MethodsResult,
    forecast_methods,
    forecast_rollup,
    parse,
    run_backtest,
    snapshot,
    snapshot_changes,
    win_model_report,
)
from revops.pipeline.forecast.history import History
from revops.pipeline.forecast.periods import Period, parse_period, quarter, quarter_of

__all__ = [
    "ForecastInputError",
    "History",
    "MethodsResult",
    "Period",
    "adjust",
    "forecast_methods",
    "forecast_rollup",
    "parse",
    "parse_period",
    "quarter",
    "quarter_of",
    "run_backtest",
    "set_probability",
    "snapshot",
    "snapshot_changes",
    "win_model_report",
]
