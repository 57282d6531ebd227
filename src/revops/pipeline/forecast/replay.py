"""Replaying the past: open deals on every week of every finished quarter, placed and labelled.

One `pipeline_as_of` query rebuilds each week's open pipeline from stage history; each row is
placed in the quarter of its as-of date, labelled with whether it closed won by that quarter's
end and given the win model's features (all computed from rows stamped before the as-of
instant). The learned methods train on slices of these rows that `features.training_rows` allows,
which is how the backtest guarantees it never learns from the future.

The replay stays in the warehouse. It has a row per open deal and week, so it grows with the
company while what the forecast makes of it (a figure per week and method, learned rates per
cell, one model) does not; holding it in pandas made the forecast's memory grow with the data
(issue 19). Python reads it a few weeks at a time (`Replay.chunks`, at most `CHUNK_ROWS` rows
at once, each chunk's rows and features the same as in a whole read, since a row depends only on
its own deal and week), the learned stage probabilities are the warehouse's aggregates of it
(`Replay.learned`), and the win models train on one pool of rows (`Replay.pool`: every open deal
on the snapshot days of the finished quarters) that is, above
`forecast.win_model.max_training_rows`, a seeded sample stratified by outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import ibis
import numpy as np
import pandas as pd

from revops.config.models import OperatingModel
from revops.pipeline.forecast import periods as P
from revops.pipeline.forecast.data import (
    ForecastData,
    present_overrides,
    states_with_evidence,
    ts,
    with_overrides,
)
from revops.pipeline.forecast.evidence import (
    EVIDENCE,
    Prepared,
    open_as_of,
    open_deals_with_evidence,
    prepare,
)
from revops.pipeline.forecast.features import PHASES, label, place
from revops.pipeline.forecast.weighted import FALLBACKS, cells
from revops.pipeline.forecast.win_model import features
from revops.warehouse import Warehouse

# Rows read into Python at once (whole days: a day with more is read alone). The 1x demo has
# about 600 open deals a week, so one of its quarters is one read.
CHUNK_ROWS = 20_000
# What the win models' pool keeps of each row: the fit orders by as-of date and reports the span
# and deals it saw, the evaluation splits by creation date and period end.
_SUMS = ("amount", "won_amount", "deals", "rows", "won_rows")  # `weighted.learn`'s, per cell
POOL_COLUMNS = (
    "as_of",
    "opportunity_id",
    "created_date",
    "period_start",
    "period_end",
    "won_in_period",
)


def quarter_fn(model: OperatingModel) -> Callable[[date], P.Period]:
    """The fiscal quarter of a day under this operating model."""
    fy, naming = model.company.fiscal_year_start_month, model.forecast.fiscal_year_named_by
    return lambda d: P.quarter_of(d, fy, naming)


def finished_quarters(data: ForecastData, model: OperatingModel) -> list[P.Period]:
    """Quarters lying wholly between the first deal's creation and the end of the data."""
    if data.deals.empty:
        return []
    first = ts(data.deals["created_date"]).min().date()
    fy, naming = model.company.fiscal_year_start_month, model.forecast.fiscal_year_named_by
    return P.quarters_between(first, data.data_end, fy, naming)


def snapshot_days(quarters: Sequence[P.Period], every: int) -> list[date]:
    """The weeks of `quarters` the win model trains on: one week in each `every` days of a
    quarter (`win_model.snapshot_days`), so a deal open all quarter is not counted 13 times."""
    return [d for q in quarters for d in q.weeks() if (d - q.start).days % every < 7]


def calendar(days: Sequence[date], period_for: Callable[[date], P.Period]) -> ibis.Table:
    """Each as-of day with its instant (midnight after) and the quarter it is placed in, with
    the phase of that quarter (`features.place`, computed here per day, not per row)."""
    out: dict[str, list[object]] = {
        "as_of": [],
        "_cut": [],
        "period_start": [],
        "period_end": [],
        "phase": [],
    }
    for d in sorted(set(days)):
        p = period_for(d)
        length = (p.end - p.start).days + 1
        elapsed = max((d - p.start).days + 1, 0) / length
        out["as_of"].append(d)
        out["_cut"].append(datetime.combine(d + timedelta(days=1), time()))
        out["period_start"].append(p.start)
        out["period_end"].append(p.end)
        out["phase"].append(PHASES[min(max(int(elapsed * 3), 0), 2)])
    return ibis.memtable(out)


def placed(
    wh: Warehouse, model: OperatingModel, days: Sequence[date], prepared: Prepared | None = None
) -> ibis.Table:
    """Open deals on `days`, placed and labelled by the warehouse as `features.place` and
    `features.label` do in pandas: period, phase, due_in_period and won_in_period."""
    stages = model.pipeline
    history, opps = wh.table("opportunity_stage_history"), wh.table("opportunities")
    p = prepare(history, opps, stages) if prepared is None else prepared
    snap = open_as_of(p, days, stages)
    out = snap.join(calendar(days, quarter_fn(model)), "as_of")
    won = out._won & (out._closed_at >= out._cut) & (out._final <= out.period_end)
    due = (out.close_date >= out.period_start) & (out.close_date <= out.period_end)
    return out.select(
        "as_of",
        "opportunity_id",
        "stage",
        "amount",
        "opportunity_type",
        "created_date",
        "period_start",
        "period_end",
        "phase",
        due_in_period=due.fill_null(False),
        won_in_period=won.fill_null(False),
    )


def _rows(
    wh: Warehouse, model: OperatingModel, data: ForecastData, expr: ibis.Table
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of an `open_deals_with_evidence` query placed, labelled and with features."""
    out: pd.DataFrame = wh.execute(expr.order_by(["as_of", "opportunity_id"]))
    for col in ("as_of", "close_date", "created_date", "changed_at"):
        out[col] = ts(out[col])
    rows = label(place(out, quarter_fn(model)), data.closes)
    rows = with_overrides(rows, data.overrides).reset_index(drop=True)
    x = features(rows, data, model.pipeline)
    return rows.drop(columns=list(EVIDENCE)), x


def sample_ranks(counts: dict[bool, int], cap: int, seed: int) -> dict[bool, np.ndarray]:
    """Which rows of each outcome a sample of at most `cap` rows keeps: positions in the
    outcome's rows in (as-of date, deal) order, drawn by `numpy.random.default_rng(seed)`.

    Each outcome keeps its share of `cap` (rounded down; at least one row of an outcome that
    occurs), so the sample's win rate is the pool's; the same counts and seed give the same
    positions on every backend and machine."""
    total = sum(counts.values())
    rng = np.random.default_rng(seed)
    out: dict[bool, np.ndarray] = {}
    for won in (False, True):
        n = counts.get(won, 0)
        k = min(n, max(1, cap * n // total)) if n else 0
        out[won] = np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)
    return out


def batches(days: Sequence[date], counts: Mapping[date, int], limit: int) -> list[list[date]]:
    """`days` in date order, in runs of consecutive days holding at most `limit` rows by
    `counts` (a day with more alone); days without a row are left out. Python reads a replay
    one run at a time, so what it holds at once does not grow with the company."""
    out: list[list[date]] = []
    batch: list[date] = []
    size = 0
    for d in sorted(days):
        n = counts.get(d, 0)
        if not n:
            continue
        if batch and size + n > limit:
            out.append(batch)
            batch, size = [], 0
        batch.append(d)
        size += n
    if batch:
        out.append(batch)
    return out


def _only(
    keys: pd.DataFrame | None, days: Sequence[date]
) -> Callable[[ibis.Table], ibis.Table] | None:
    """A narrowing of a read of `days` to the sampled (as_of, opportunity_id) `keys` of those
    days (None: no sample, every row)."""
    if keys is None:
        return None
    keep = ibis.memtable(keys[keys["as_of"].isin(set(days))].reset_index(drop=True))
    return lambda t: t.semi_join(keep, ["as_of", "opportunity_id"])


@dataclass
class Replay:
    """The weekly open-deal rows of the given quarters, left in the warehouse."""

    wh: Warehouse
    model: OperatingModel
    data: ForecastData
    quarters: list[P.Period]
    _root: Replay | None = field(default=None, repr=False)
    _counts: dict[date, int] | None = field(default=None, init=False, repr=False)
    _pool: tuple[pd.DataFrame, pd.DataFrame] | None = field(default=None, init=False, repr=False)
    pool_rows: int = field(default=0, init=False)  # rows the pool stands for, sampled or not
    reads: int = field(default=0, init=False)  # queries that brought rows into Python

    _prepared: Prepared | None = field(default=None, init=False, repr=False)

    @property
    def prepared(self) -> Prepared:
        """The stage history's windows, computed once into tables of the warehouse's cache
        (`evidence.Prepared`) and read by every query on this replay and its subsets."""
        if self._root is not None:
            return self._root.prepared
        if self._prepared is None:
            wh = self.wh
            self._prepared = prepare(
                wh.table("opportunity_stage_history"),
                wh.table("opportunities"),
                self.model.pipeline,
                wh.cache,
            )
        return self._prepared

    def _snap(self, days: Sequence[date]) -> ibis.Table:
        """The open deals on `days` (`pipeline_as_of`), off the prepared history."""
        return open_as_of(self.prepared, days, self.model.pipeline)

    @property
    def days(self) -> list[date]:
        return sorted({d for q in self.quarters for d in q.weeks()})

    def counts(self) -> dict[date, int]:
        """Open deals per replayed day, counted by the warehouse (one query for the root)."""
        if self._root is not None:
            every = self._root.counts()
            return {d: every.get(d, 0) for d in self.days}
        if self._counts is None:
            self._counts = {}
            if self.days:
                snap = self._snap(self.days)
                per = self.wh.execute(snap.group_by("as_of").aggregate(n=snap.count()))
                got = {
                    pd.Timestamp(d).date(): int(n)
                    for d, n in zip(per["as_of"], per["n"], strict=True)
                }
                self._counts = {d: got.get(d, 0) for d in self.days}
        return self._counts

    @property
    def empty(self) -> bool:
        return not any(self.counts().values())

    def subset(self, quarters: Sequence[P.Period]) -> Replay:
        """The replay of some of these quarters: their weeks' rows, the same rows and features a
        replay of `quarters` alone gives (a row depends only on its own deal and week), sharing
        this replay's counts and win-model pool."""
        return Replay(self.wh, self.model, self.data, list(quarters), self._root or self)

    def read(
        self, days: Sequence[date] | None = None, created_from: date | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Rows and features of `days` (all replayed days by default) in one read, of deals
        created on or after `created_from` if given: for a small company or a few days;
        `chunks` keeps a large one's memory flat."""
        days = self.days if days is None else sorted(days)
        if not days:
            return pd.DataFrame(), pd.DataFrame()
        only = None
        if created_from is not None:
            since = created_from
            only = lambda t: t.filter(t.created_date >= since)  # noqa: E731
        return self._read(days, only)

    def _read(
        self, days: Sequence[date], only: Callable[[ibis.Table], ibis.Table] | None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        self.reads += 1
        wh, model = self.wh, self.model
        expr = open_deals_with_evidence(
            wh.table("opportunity_stage_history"),
            wh.table("opportunities"),
            wh.table("activities"),
            days,
            model.pipeline,
            only,
            self.prepared,
        )
        return _rows(wh, model, self.data, expr)

    def chunks(
        self, days: Sequence[date], created_from: date | None = None
    ) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
        """Rows and features of `days` in date order (of deals created on or after
        `created_from` if given), whole days at a time, each read holding at most `CHUNK_ROWS`
        rows (or one day); days without such a deal are not read."""
        counts = self.counts() if created_from is None else self._counts_since(created_from)
        for batch in batches(days, counts, CHUNK_ROWS):
            yield self.read(batch, created_from)

    def _counts_since(self, created_from: date) -> dict[date, int]:
        """Open deals created on or after `created_from`, per replayed day."""
        snap = self._snap(self.days)
        snap = snap.filter(snap.created_date >= created_from)
        per = self.wh.execute(snap.group_by("as_of").aggregate(n=snap.count()))
        pairs = zip(per["as_of"], per["n"], strict=True)
        return {pd.Timestamp(d).date(): int(n) for d, n in pairs}

    def learned(self, quarters: Sequence[P.Period], min_deals: int) -> dict | None:
        """`weighted.learn` on the rows of `quarters`, aggregated by the warehouse; None when
        they hold no open deal. Amounts are summed there: sums of whole amounts are exact in any
        order, so the rates are the ones pandas computes."""
        days = [d for q in quarters for d in q.weeks()]
        counts = self.counts()
        if not any(counts.get(d, 0) for d in days):
            return None
        t = placed(self.wh, self.model, days, self.prepared)
        amount = t.amount.cast("float64").fill_null(0.0)
        every = sorted({k for keys in FALLBACKS for k in keys})
        # Each deal's rows summed per finest cell first: the key sets' distinct deal counts
        # then hash a row per deal and cell, not one per deal and week.
        d = t.group_by([*every, "opportunity_id"]).aggregate(
            amount=amount.sum(),
            won_amount=ibis.ifelse(t.won_in_period, amount, 0.0).sum(),
            rows=t.count(),
            won_rows=t.count(where=t.won_in_period),
        )
        parts = []
        for i, keys in enumerate(FALLBACKS):
            g = d.group_by(list(keys)).aggregate(
                amount=d.amount.sum(),
                won_amount=d.won_amount.sum(),
                deals=d.opportunity_id.nunique(),
                rows=d.rows.sum().cast("int64"),
                won_rows=d.won_rows.sum().cast("int64"),
            )
            # One query for every key set: the others' keys are null, `_set` tells them apart.
            pad = {k: ibis.null(d[k].type()) for k in every if k not in keys}
            parts.append(g.mutate(_set=ibis.literal(i), **pad).select("_set", *every, *_SUMS))
        frame = self.wh.execute(ibis.union(*parts))
        out = {}
        for i, keys in enumerate(FALLBACKS):
            g = frame[frame["_set"] == i].infer_objects()  # a key null in other sets: object
            g = g.sort_values(list(keys), kind="stable")
            g = g.set_index(list(keys))[list(_SUMS)]
            g["won_rows"] = g["won_rows"].astype(float)
            out[keys] = cells(g, min_deals)
        return out

    def pool(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The win models' training rows (`POOL_COLUMNS`) and features: every open deal on the
        snapshot days of these quarters, in (as-of date, deal) order, or above
        `win_model.max_training_rows` a seeded sample of them stratified by outcome
        (`sample_ranks`). A subset's pool is its root's rows on the subset's days, so fits on
        the same days share their rows."""
        cfg = self.model.forecast.win_model
        if self._root is not None:
            rows, x = self._root.pool()
            if rows.empty:
                return rows, x
            days = {pd.Timestamp(d) for d in snapshot_days(self.quarters, cfg.snapshot_days)}
            keep = ts(rows["as_of"]).isin(days).to_numpy()
            return rows[keep], x[keep]
        if self._pool is None:
            self._pool = self._read_pool()
        return self._pool

    def _read_pool(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        cfg = self.model.forecast.win_model
        counts = self.counts()
        days = [d for d in snapshot_days(self.quarters, cfg.snapshot_days) if counts.get(d, 0)]
        self.pool_rows = sum(counts[d] for d in days)
        if not days:
            return pd.DataFrame(columns=list(POOL_COLUMNS)), pd.DataFrame()
        cap = cfg.max_training_rows
        keys = None
        if cap is not None and self.pool_rows > cap:
            # The sample's keys come to Python (model-sized) and go back as a table: inside the
            # evidence query as a subquery, DuckDB held several times the memory for it.
            keys = self.wh.execute(self._sample(days, cap))
            keys["as_of"] = ts(keys["as_of"]).dt.date
            counts = keys.groupby("as_of").size().to_dict()
        # Read `CHUNK_ROWS` at a time, keeping the pool's columns of each read: read whole, the
        # evidence query's hash tables and the reads' full frames (with the copies placing,
        # labelling and the overrides make of them) were the step's peak, while the pool only
        # keeps six columns and the features. A row depends only on its own deal and week, so
        # the pieces, in date order, are the whole read's rows in its order.
        rows, xs = [], []
        for batch in batches(days, counts, CHUNK_ROWS):
            rows_b, x_b = self._read(batch, _only(keys, batch))
            rows.append(rows_b[list(POOL_COLUMNS)])
            xs.append(x_b)
            del rows_b
        return pd.concat(rows, ignore_index=True), pd.concat(xs, ignore_index=True)

    def _sample(self, days: Sequence[date], cap: int) -> ibis.Table:
        """(as_of, opportunity_id) of the rows `sample_ranks` keeps, chosen by the warehouse."""
        t = placed(self.wh, self.model, days, self.prepared)
        per = self.wh.execute(t.group_by("won_in_period").aggregate(n=t.count()))
        counts = {bool(w): int(n) for w, n in zip(per["won_in_period"], per["n"], strict=True)}
        ranks = sample_ranks(counts, cap, self.model.forecast.win_model.seed)
        picks = ibis.memtable(
            {
                "_won": [w for w in (False, True) for _ in ranks[w]],
                "_rank": np.concatenate([ranks[False], ranks[True]]),
            }
        )
        w = ibis.window(group_by=t.won_in_period, order_by=[t.as_of, t.opportunity_id])
        ranked = t.mutate(_rank=ibis.row_number().over(w))
        kept = ranked.join(picks, [ranked.won_in_period == picks._won, ranked._rank == picks._rank])
        return kept.select("as_of", "opportunity_id")


def replay(
    wh: Warehouse, model: OperatingModel, data: ForecastData, quarters: Sequence[P.Period]
) -> Replay:
    """Every week of every quarter in `quarters`, left in the warehouse until read."""
    return Replay(wh, model, data, list(quarters))


def current_rows(
    wh: Warehouse,
    model: OperatingModel,
    data: ForecastData,
    period: P.Period,
    as_of: date,
    prepared: Prepared | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Open deals as of `as_of`, placed in `period` (which may lie ahead), with features
    (off a replay's `prepared` history windows when the caller has them)."""
    frame = states_with_evidence(wh, model, [as_of], prepared)
    overrides = present_overrides(data.overrides, as_of, data.data_end)
    rows = with_overrides(place(frame, lambda _d: period), overrides).reset_index(drop=True)
    return rows.drop(columns=list(EVIDENCE)), features(rows, data, model.pipeline)
