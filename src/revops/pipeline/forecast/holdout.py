"""The win model's held-out evaluation on a replay the warehouse holds.

`win_model.evaluate` splits rows it is handed: test on the latest `test_fraction` of deals (by
creation date), train on rows of earlier deals whose period ended before the first test deal was
created. Here the same split is made on the replay's snapshot days without bringing them into
Python whole: the warehouse lists the creation dates (one per day at most) and counts the test
rows' outcomes, the model trains on the replay's pool rows (`Replay.pool`, capped), and the test
rows are read a few weeks at a time, keeping only their outcome, the two probabilities and the
as-of date. Every figure is the one `evaluate` gives on the whole frame, to the bit, while the
pool is not sampled.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pandas as pd

from revops.pipeline.forecast.data import ts
from revops.pipeline.forecast.replay import Replay, placed, quarter_fn, snapshot_days
from revops.pipeline.forecast.win_model import (
    Evaluation,
    StartFit,
    WinModelError,
    score,
    stage_probability,
    start_fit,
)


def start_evaluate_replay(
    past: Replay, fit_model: StartFit = start_fit
) -> Callable[[], Evaluation]:
    """Start fitting on early deals of `past`; calling the result waits for the model and
    scores the later deals (`win_model.start_evaluate`'s split)."""
    model, wh = past.model, past.wh
    cfg = model.forecast.win_model
    counts = past.counts()
    period_of = quarter_fn(model)
    last = past.data.data_end + timedelta(days=1)
    known = [
        d
        for d in snapshot_days(past.quarters, cfg.snapshot_days)
        if counts.get(d, 0) and period_of(d).end < last
    ]
    if not known:
        raise WinModelError("no deal has a finished period to learn from")
    t = placed(wh, model, known, past.prepared)
    created = ts(wh.execute(t.select("created_date").distinct())["created_date"])
    ordered = created.drop_duplicates().sort_values().to_numpy()
    at = min(len(ordered) - 1, int(len(ordered) * (1 - cfg.test_fraction)))
    test_from = pd.Timestamp(ordered[at]).date()
    later = t.filter(t.created_date >= test_from)
    outcomes = wh.execute(later.select("won_in_period").distinct())["won_in_period"]
    pool, x = past.pool()
    train = pool[ts(pool["period_end"]) < pd.Timestamp(test_from)] if not pool.empty else pool
    if train.empty or len(set(outcomes)) < 2:
        raise WinModelError("too little history to hold out later deals for evaluation")
    pending = fit_model(x.loc[train.index], train["won_in_period"].to_numpy(float), train, cfg)

    def scored() -> Evaluation:
        fitted = pending()
        y, p, stage_p, order = [], [], [], []
        deals: set[str] = set()
        since = pd.Timestamp(test_from)
        for rows, xs in past.chunks(known, test_from):
            test = (ts(rows["created_date"]) >= since).to_numpy()
            y.append(rows["won_in_period"].to_numpy(float)[test])
            p.append(fitted.predict(xs[test]))
            stage_p.append(stage_probability(rows.loc[test, "stage"], model.pipeline))
            order.append(ts(rows.loc[test, "as_of"]).to_numpy())
            deals.update(rows.loc[test, "opportunity_id"])
        return score(
            fitted,
            np.concatenate(y),
            np.concatenate(p),
            np.concatenate(stage_p),
            np.concatenate(order),
            test_from,
            len(deals),
        )

    return scored
