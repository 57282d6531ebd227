"""The forecast engine's entry points: warehouse and operating model in, frames out.

Front ends (CLI, API, notebooks) call these; each reads what it needs once, runs the pure
functions of the sibling modules and, where it writes, writes in one atomic batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial

import pandas as pd
import pyarrow as pa

from revops.config.models import OperatingModel
from revops.errors import RevOpsError
from revops.pipeline.forecast import periods as P
from revops.pipeline.forecast.adjustments import adjustments_frame
from revops.pipeline.forecast.backtest import (
    BacktestResult,
    backtest,
    stored_rows,
    summarize,
    train,
)
from revops.pipeline.forecast.changes import changes, summary
from revops.pipeline.forecast.creation import not_yet_created
from revops.pipeline.forecast.data import (
    human_inputs_until,
    latest_data_date,
    load,
    states,
)
from revops.pipeline.forecast.history import History
from revops.pipeline.forecast.holdout import start_evaluate_replay
from revops.pipeline.forecast.methods import closed_won, combine, open_parts
from revops.pipeline.forecast.recommend import (
    RECOMMENDED,
    Call,
    Choice,
    candidates,
    choose,
    phase_of,
    recommend,
    walk_forward,
)
from revops.pipeline.forecast.replay import current_rows, finished_quarters
from revops.pipeline.forecast.rollup import counting, deal_calls, rollup
from revops.pipeline.forecast.snapshots import read_snapshot, take_snapshots
from revops.pipeline.forecast.win_model import Evaluation
from revops.warehouse import Batch, Warehouse


def parse(model: OperatingModel, text: str) -> P.Period:
    """A period from the command line, under this model's fiscal calendar."""
    return P.parse_period(
        text, model.company.fiscal_year_start_month, model.forecast.fiscal_year_named_by
    )


def forecast_rollup(
    wh: Warehouse,
    model: OperatingModel,
    period: P.Period,
    as_of: date,
    opportunity_type: str | None = None,
) -> pd.DataFrame:
    """The rep → manager → region → company roll-up, calls and adjustments side by side.

    Adjustments count from their own timestamp; as of the data's last date (the present, as far
    as the warehouse knows) every adjustment recorded so far counts.
    """
    frame = states(wh, model, [as_of], open_only=False, narrow=partial(counting, period=period))
    calls = deal_calls(frame, period)
    users: pd.DataFrame = wh.execute(
        wh.table("users").select("user_id", "name", "manager_id", "region")
    )
    until = human_inputs_until(as_of, latest_data_date(wh))
    out = rollup(calls, users, adjustments_frame(wh), period, until)
    if opportunity_type is not None:
        out = out[out["opportunity_type"] == opportunity_type].reset_index(drop=True)
    return out


@dataclass
class MethodsResult:
    methods: pd.DataFrame  # method × type: closed won, open part, not yet created, forecast
    creation: pd.DataFrame  # the not-yet-created estimate and its parts
    skipped: dict[str, str]
    trained_through: date | None
    call: Call | None = None  # the recommended call, when a backtest is stored
    call_note: str = ""  # why there is no recommended call


def stored_backtest(wh: Warehouse) -> pd.DataFrame:
    """The methods' weekly backtest rows stored by the last backtest (not the recommendation)."""
    t = wh.table("forecast_backtests")
    weekly: pd.DataFrame = wh.execute(t.filter(t.method != RECOMMENDED))
    if weekly.empty:
        return weekly
    weekly["quarter"] = weekly["period_start"].astype(str)
    return weekly


def choices(wh: Warehouse, model: OperatingModel) -> dict[str, Choice]:
    """Per phase of the quarter, the candidate with the best stored backtest."""
    weekly = stored_backtest(wh)
    if weekly.empty:
        return {}
    return choose(candidates(weekly), model.forecast.band_quantiles)


def forecast_methods(
    wh: Warehouse,
    model: OperatingModel,
    period: P.Period,
    as_of: date,
    history: History | None = None,
) -> MethodsResult:
    """Every method's forecast for `period` as of `as_of`, trained on what was known then.

    `history` shares the deal history (and its replay and fits) with the run's other steps."""
    h = History(wh, model) if history is None else history.check(wh, model)
    data = h.data
    cfg = model.forecast
    done = [q for q in finished_quarters(data, model) if q.end < as_of]
    past = h.replay(done)
    trained = train(past, model, as_of, partial(h.start_fit, past))
    rows, x = current_rows(wh, model, data, period, as_of, past.prepared)
    types = sorted(data.deals["opportunity_type"].dropna().unique())
    parts = open_parts(rows, cfg, model.pipeline, trained.learned, trained.model, x)
    nyc = not_yet_created(data.deals, data.closes, period, as_of, done[-cfg.lookback_quarters :])
    table = combine(
        closed_won(data.closes, period, as_of),
        parts,
        nyc.set_index("opportunity_type")["expected"],
        types,
    )
    result = MethodsResult(table, nyc, trained.skipped, trained.trained_through)
    picks = choices(wh, model)
    if not picks:
        result.call_note = "no backtest stored: run `revops forecast backtest` first"
        return result
    phase = phase_of(pd.Series([as_of]), pd.Series([period.start]), pd.Series([period.end]))[0]
    totals = table[table["opportunity_type"] == "all"].set_index("method")["forecast"]
    ahead = max(0, (period.start - as_of).days - 1)
    result.call = recommend({str(k): float(v) for k, v in totals.items()}, phase, picks, ahead)
    if result.call is None:
        result.call_note = f"the backtest has no {phase}-quarter weeks for today's methods"
    return result


def run_backtest(
    wh: Warehouse,
    model: OperatingModel,
    *,
    last: int | None = None,
    store: bool = True,
    progress: Callable[[str], None] | None = None,
    history: History | None = None,
) -> BacktestResult:
    """Backtest the last `forecast.backtest_quarters` quarters (or `last`) with the recommended
    call's walk-forward rows beside the methods'.

    Only the configured window is stored (replacing the previous run), so `forecast_accuracy`
    and the recommended call do not depend on who ran the backtest or with which `--last`.
    `progress` hears each phase as it starts (the CLI shows it; the engine never prints);
    `history` shares the deal history (and its replay and fits) with the run's other steps.
    """
    step = progress or (lambda _phase: None)
    step("loading deal history")
    h = History(wh, model) if history is None else history.check(wh, model)
    data = h.data
    quarters = finished_quarters(data, model)
    if len(quarters) <= model.forecast.min_training_quarters:
        raise RevOpsError(
            f"the history holds {len(quarters)} finished quarter(s); backtesting needs more than "
            f"forecast.min_training_quarters ({model.forecast.min_training_quarters})"
        )
    targets = quarters[model.forecast.min_training_quarters :]
    configured = model.forecast.backtest_quarters
    window = configured if last is None else last
    if window:
        targets = targets[-window:]
    step(f"replaying {len(quarters)} quarters week by week")
    past = h.replay(quarters)
    step(f"forecasting {len(targets)} quarters with every method")
    result = backtest(past, data, model, targets, partial(h.start_fit, past))
    if result.weekly.empty:
        return result
    step("choosing the recommended call on earlier quarters")
    rec = walk_forward(result.weekly, model.forecast.band_quantiles)
    weekly = pd.concat([result.weekly, rec.drop(columns=["phase", "chosen"])], ignore_index=True)
    result = BacktestResult(weekly, summarize(weekly), result.skipped, rec)
    if store and window == configured:
        step("storing forecast_backtests")
        rows = stored_rows(weekly, model.forecast.primary_method)
        table = pa.Table.from_pandas(rows, preserve_index=False)
        wh.write_many([Batch("forecast_backtests", table, "replace")])
    return result


def start_win_model_report(
    wh: Warehouse, model: OperatingModel, history: History | None = None
) -> Callable[[], Evaluation]:
    """Start training the win model on early deals; calling the result waits for it and
    evaluates it on later deals it never saw (a caller goes on with its work meanwhile).

    `history` shares the deal history (and its replay and fits) with the run's other steps."""
    h = History(wh, model) if history is None else history.check(wh, model)
    past = h.replay(finished_quarters(h.data, model))
    if past.empty:
        raise RevOpsError("no finished quarter with open deals: nothing to train the win model on")
    return start_evaluate_replay(past, partial(h.start_fit, past))


def win_model_report(
    wh: Warehouse, model: OperatingModel, history: History | None = None
) -> Evaluation:
    """Train the win model on early deals and evaluate it on later deals it never saw
    (`start_win_model_report`, waited for)."""
    return start_win_model_report(wh, model, history)()


def snapshot(wh: Warehouse, model: OperatingModel, dates: list[date]) -> int:
    """Store forecast snapshots for `dates`; re-running a date rewrites the same rows."""
    data = load(wh, model)
    return take_snapshots(wh, model, dates, data.overrides)


def snapshot_changes(
    wh: Warehouse,
    model: OperatingModel,
    start: date,
    end: date,
    period: P.Period | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Changes between two stored snapshots, as a table and a per-kind summary."""
    before, after = read_snapshot(wh, start), read_snapshot(wh, end)
    for day, frame in ((start, before), (end, after)):
        if frame.empty:
            raise RevOpsError(
                f"no forecast snapshot for {day}; take one with `revops forecast snapshot "
                f"--as-of {day}`"
            )
    order = {s.name: i for i, s in enumerate(model.pipeline.stages)}
    changed = changes(before, after, period, order)
    return changed, summary(changed)
