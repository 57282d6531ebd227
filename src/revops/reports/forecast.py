"""The forecast report: every method's number for a period, the roll-up, and how each method did.

One offline HTML page: the methods side by side for the period as of a date, the region and
company roll-up with managers' adjustments beside the reps' calls, the stored backtest (MAPE and
bias per method per quarter, and how the error shrinks week by week through a quarter) and the
win model's AUC and calibration on later deals it never saw.

These are the forecast engine's figures, declared under `computed_elsewhere` in the operating
model (their formulas are printed here) and the same numbers `revops forecast methods | rollup`
print; the one dictionary figure, forecast_accuracy, is the dictionary's.
`forecast_report_data` gathers the numbers and `forecast_charts` draws them (the web
workspace's forecast report page shows both); `write_forecast_report` renders them.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from revops.context import RevOps
from revops.errors import RevOpsError
from revops.metrics import compute, formula
from revops.pipeline.forecast import History, forecast_methods, forecast_rollup
from revops.pipeline.forecast.backtest import summarize
from revops.pipeline.forecast.engine import MethodsResult
from revops.pipeline.forecast.periods import Period
from revops.pipeline.forecast.rollup import wide
from revops.pipeline.forecast.win_model import WITHHELD_MEANS, Evaluation, WinModelError
from revops.reports import charts
from revops.reports.formatting import format_value

METHOD_LABELS = {
    "category": "Category call (commit + share of best case)",
    "stage_default": "Stage-weighted, CRM probabilities",
    "stage_learned": "Stage-weighted, learned probabilities",
    "win_model": "Per-deal win model",
}


def stored_backtest(ro: RevOps) -> pd.DataFrame:
    """The weekly rows `revops forecast backtest` stored, with quarter labels."""
    wh = ro.warehouse
    weekly: pd.DataFrame = wh.execute(wh.table("forecast_backtests"))
    if weekly.empty:
        raise RevOpsError("no backtest stored yet: run `revops forecast backtest` first")
    from revops.pipeline.forecast.periods import quarter_of

    fy = ro.model.company.fiscal_year_start_month
    naming = ro.model.forecast.fiscal_year_named_by
    weekly["quarter"] = [
        quarter_of(pd.Timestamp(d).date(), fy, naming).label for d in weekly["period_start"]
    ]
    return weekly.sort_values(["period_start", "as_of", "method"]).reset_index(drop=True)


def _week_curve(weekly: pd.DataFrame) -> str:
    """Mean absolute % error by week of the quarter, per method: accuracy as the quarter runs."""
    w = weekly.assign(
        week=(pd.to_datetime(weekly["as_of"]) - pd.to_datetime(weekly["period_start"])).dt.days // 7
        + 1
    )
    g = w.groupby(["week", "method"])["abs_pct_error"].mean().unstack("method")
    g = g.reindex(columns=[m for m in METHOD_LABELS if m in g.columns])
    return charts.line_chart(
        [f"wk {int(k)}" for k in g.index],
        {m: g[m].tolist() for m in g.columns},
        "Mean absolute % error by week of the quarter (all backtested quarters)",
        "percent",
    )


@dataclass(frozen=True)
class ForecastReportData:
    """What the forecast report shows, computed once for the page and the web workspace."""

    period: Period
    as_of: dt.date
    weekly: pd.DataFrame  # the stored backtest, one row per method and as-of week
    summary: pd.DataFrame  # summarize(weekly): MAPE and bias per quarter and method, overall
    methods: MethodsResult  # every method's number, the recommended call, the creation model
    rollup: pd.DataFrame  # wide roll-up: region and company rows, all opportunity types
    evaluation: Evaluation | None  # the win model on later deals, None when not trained
    win_error: str  # why it was not trained
    accuracy: float | None  # the dictionary's forecast_accuracy over every backtested week


def forecast_report_data(
    ro: RevOps, period: Period, as_of: dt.date, history: History | None = None
) -> ForecastReportData:
    """The report's numbers for `period` as of `as_of`. The methods and the win model's
    evaluation read the deal history once between them (and with the backtest before, when
    the caller hands over the `history` it ran that with)."""
    from revops.pipeline.forecast.engine import start_win_model_report

    wh, model = ro.warehouse, ro.model
    history = History(wh, model) if history is None else history
    weekly = stored_backtest(ro)
    # With workers (`revops forecast report`), the evaluation's model trains in one while the
    # methods and the roll-up are computed.
    evaluation, win_error = None, ""
    try:
        scored = start_win_model_report(wh, model, history)
    except (WinModelError, RevOpsError) as exc:
        scored, win_error = None, str(exc)
    methods = forecast_methods(wh, model, period, as_of, history)
    roll = wide(forecast_rollup(wh, model, period, as_of))
    roll = roll[roll["level"].isin(["region", "company"]) & (roll["opportunity_type"] == "all")]
    try:
        evaluation = scored() if scored is not None else None
    except (WinModelError, RevOpsError) as exc:
        win_error = str(exc)
    accuracy = compute(wh, model, "forecast_accuracy", grain=None)
    raw = float(accuracy["value"].iloc[0]) if len(accuracy) else math.nan
    return ForecastReportData(
        period=period,
        as_of=as_of,
        weekly=weekly,
        summary=summarize(weekly),
        methods=methods,
        rollup=roll.reset_index(drop=True),
        evaluation=evaluation,
        win_error=win_error,
        accuracy=None if math.isnan(raw) else raw,
    )


def forecast_charts(data: ForecastReportData) -> dict[str, str]:
    """The report's charts as SVG (the web workspace's forecast report page shows the same)."""
    per_q = data.summary[data.summary["quarter"] != "overall"]
    quarters = list(dict.fromkeys(per_q["quarter"]))
    mape = per_q.pivot_table(index="quarter", columns="method", values="mape").reindex(quarters)
    return {
        "mape": charts.grouped_bars(
            quarters,
            {m: mape[m].tolist() for m in METHOD_LABELS if m in mape.columns},
            "MAPE per quarter and method (lower is better)",
            "percent",
        ),
        "weeks": _week_curve(data.weekly),
    }


def write_forecast_report(
    ro: RevOps, path: Path, period: Period, as_of: dt.date, history: History | None = None
) -> Path:
    """Render the forecast report for `period` as of `as_of` to `path` (see
    `forecast_report_data` for the `history` handed over)."""
    model = ro.model
    data = forecast_report_data(ro, period, as_of, history)
    methods, evaluation = data.methods, data.evaluation
    totals = methods.methods[methods.methods["opportunity_type"] == "all"]
    roll = data.rollup
    env = Environment(
        loader=PackageLoader("revops.reports", "templates"), autoescape=select_autoescape(["html"])
    )
    money = lambda v: format_value(float(v), "currency", model.company.currency)  # noqa: E731
    html = env.get_template("forecast.html").render(
        company=model.company.name,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        config_path=str(ro.config.path),
        config_digest=ro.config.digest,
        period=period,
        as_of=as_of,
        labels=METHOD_LABELS,
        primary=model.forecast.primary_method,
        totals=totals.to_dict("records"),
        call=methods.call,
        call_note=methods.call_note,
        creation=methods.creation.to_dict("records"),
        skipped=methods.skipped,
        trained_through=methods.trained_through,
        rollup=roll.to_dict("records"),
        rollup_columns=[c for c in roll.columns if c not in ("level", "subject_id")],
        summary=data.summary.to_dict("records"),
        svgs=forecast_charts(data),
        ev=evaluation,
        calibration=[] if evaluation is None else evaluation.calibration.to_dict("records"),
        win_error=data.win_error,
        withheld_means=WITHHELD_MEANS,
        accuracy=format_value(data.accuracy, "percent"),
        accuracy_formula=formula(model, "forecast_accuracy"),
        declared={f.name: f.formula for f in model.computed_elsewhere},
        money=money,
        pct=lambda v: "–" if pd.isna(v) else f"{float(v) * 100:.1f}%",
        cell=lambda v: (
            "–"
            if v is None or (isinstance(v, float) and pd.isna(v))
            else money(v)
            if isinstance(v, int | float)
            else str(v)
        ),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
