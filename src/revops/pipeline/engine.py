"""The pipeline engine's edge: runs the pure analytics on a warehouse and returns frames.

The CLI, the report and notebooks call these; each executes a few Ibis expressions built by
`analytics` and `hygiene` and hands back pandas frames. Before anything runs, stage names in
the history are checked against the operating model, so an undeclared stage fails loudly
instead of being counted as an unranked open stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from revops.config.pipeline import PipelineConfig
from revops.errors import RevOpsError
from revops.pipeline import analytics as an
from revops.pipeline import hygiene as hy
from revops.pipeline.snapshot import pipeline_as_of
from revops.pipeline.stages import pipeline_changes, require_declared, undeclared_stages
from revops.warehouse import Warehouse
from revops.warehouse.sums import exact_sum

SnapshotBy = Literal["stage", "owner", "segment", "region", "opportunity_type", "forecast_category"]


@dataclass(frozen=True)
class PipelineMetrics:
    """Everything `revops pipeline metrics` shows for one as-of date."""

    as_of: date
    since: date
    win_rates: pd.DataFrame
    velocity: pd.DataFrame
    conversion: pd.DataFrame
    time_in_stage: pd.DataFrame
    skips: pd.DataFrame
    coverage: pd.DataFrame
    coverage_total: pd.DataFrame


@dataclass(frozen=True)
class Hygiene:
    as_of: date
    scorecard: pd.DataFrame
    flags: pd.DataFrame  # one row per (deal, rule), with evidence


class PipelineEngine:
    """Pipeline analytics for one warehouse under one operating model."""

    def __init__(self, warehouse: Warehouse, config: PipelineConfig) -> None:
        self.wh = warehouse
        self.config = config
        self.t = an.PipelineTables.read(warehouse.table)
        require_declared(
            list(warehouse.execute(undeclared_stages(self.t.history, config))["stage"])
        )

    def _read(self, expr: ir.Table) -> ir.Table:
        """`expr` run now and held as an in-memory table for the queries that read it: for
        small results (a row per stage, quota holder or open deal) whose query would otherwise
        run again inside each reader, or hold its memory beside theirs."""
        return ibis.memtable(self.wh.to_arrow(expr))

    def build_changes(self) -> int:
        """Rebuild `pipeline_changes` from stage history (replace, atomic); returns its rows.

        The metric dictionary's skip, regression, push and time-in-stage metrics read it.
        Computed and written inside the warehouse where it can (`Warehouse.replace_where`):
        read out as Arrow, its rows (one per history row) were 225 MB of the pipeline step's
        peak at 10x demo scale on PostgreSQL.
        """
        changes = pipeline_changes(self.t.history, self.config)
        return self.wh.replace_where("pipeline_changes", lambda _: ibis.literal(True), [changes])

    def latest_day(self) -> date:
        """The day of the newest stage change: the default as-of date ("as of the data")."""
        value = self.wh.execute(self.t.history.changed_at.max())
        if value is None or pd.isna(value):
            raise RevOpsError("opportunity_stage_history is empty; load stage history first")
        return pd.Timestamp(value).date()

    def snapshot(self, as_of: date, by: SnapshotBy = "stage") -> pd.DataFrame:
        """Open pipeline on `as_of` by `by`: deals, value, weighted value, share of value."""
        snap = pipeline_as_of(
            self.t.history, self.t.opportunities, [as_of], self.config, open_only=True
        )
        if by in an.DIMENSIONS:
            attrs = an.deal_attributes(self.t).select("opportunity_id", by)
            snap = snap.join(attrs, "opportunity_id")
        amount = snap.amount.fill_null(0.0)
        # the probability written with the row, else the stage's default from the operating model
        default = ibis.cases(
            *[(snap.stage == s.name, s.probability) for s in self.config.stages], else_=0.0
        )
        weighted = amount * snap.probability.fill_null(default) / 100
        agg = snap.group_by(snap[by].name(by)).aggregate(
            deals=snap.count(), value=exact_sum(amount), weighted_value=exact_sum(weighted)
        )
        df = self.wh.execute(agg)
        if by == "stage":
            order = {s.name: i for i, s in enumerate(self.config.stages)}
            df = df.assign(_o=df["stage"].map(order)).sort_values("_o").drop(columns="_o")
        else:
            df = df.sort_values("value", ascending=False)
        total = df["value"].sum()
        df["share"] = df["value"] / total if total else 0.0
        return df.reset_index(drop=True)

    def deals(self, as_of: date) -> pd.DataFrame:
        """Every deal open on `as_of` with its state that day."""
        snap = pipeline_as_of(
            self.t.history, self.t.opportunities, [as_of], self.config, open_only=True
        )
        return self.wh.execute(snap.order_by(snap.amount.desc()))

    def metrics(
        self,
        as_of: date,
        *,
        since: date | None = None,
        by: tuple[str, ...] = (),
        quota_day: date | None = None,
    ) -> PipelineMetrics:
        t, cfg, run = self.t, self.config, self.wh.execute
        start = since or as_of - timedelta(days=an.DEFAULT_LOOKBACK_DAYS)
        # Parts with windows over all stage history run in queries of their own, each read
        # back as a row per quota holder or group: in one query their windows held memory at
        # once (at 10x coverage 145 MB of DuckDB's memory and velocity 120 MB; now under 95).
        # A row per quota holder, computed once for the table and the company total.
        cov = self._read(
            an.coverage(
                t,
                cfg,
                as_of,
                quota_day,
                booked=self._read(an.quota_bookings(t, cfg, as_of, quota_day)),
                pipeline=self._read(an.quota_pipeline(t, cfg, as_of, quota_day)),
            )
        )
        names = t.users.select(user_id=t.users.user_id, name=t.users.name)
        named = cov.left_join(names, "user_id").select("name", *cov.columns)
        # win rates once, a row per group: shown, and read by the velocity's query
        rates = self._read(an.win_rates(t, cfg, as_of, since=start, by=by))
        return PipelineMetrics(
            as_of=as_of,
            since=start,
            win_rates=run(rates),
            velocity=run(an.sales_velocity(t, cfg, as_of, since=start, by=by, rates=rates)),
            conversion=run(an.stage_conversion(t, cfg, as_of, by=by)),
            time_in_stage=run(an.time_in_stage(t, cfg, as_of, by=by)),
            skips=run(an.skips_and_regressions(t, cfg, as_of, by=by)),
            coverage=run(named.order_by(named.user_id)),
            coverage_total=run(an.coverage_total(cov)),
        )

    def hygiene(self, as_of: date, *, rep: str | None = None) -> Hygiene:
        # The usual stage times (a row per stage, from every deal's history) are read first, on
        # their own: inside the flags query their windows over all history held memory beside
        # the open deals' (at 10x 255 MB of DuckDB's memory for the one query, 87 MB for each
        # of the two).
        usual = self._read(hy.usual_stage_days(self.t, self.config, as_of))
        wide = hy.deal_flags(self.t, self.config, as_of, usual)
        if rep is not None:
            wide = wide.filter(wide.owner_id == rep)
        # One row per open deal, computed once: the scorecard and the flag rows (one branch per
        # rule) each rebuilt the point-in-time pipeline under it otherwise, at several times
        # the cost of reading back a row per open deal.
        wide = self._read(wide)
        names = self.t.users.select(owner_id=self.t.users.user_id, rep=self.t.users.name)
        card = hy.scorecard(wide, self.config)
        card = card.left_join(names, "owner_id").select("rep", *card.columns)
        card_df = self.wh.execute(card.order_by([card.clean_share, card.owner_id]))
        flags = hy.flag_rows(wide, self.config)
        flags = flags.left_join(names, "owner_id").select("rep", *flags.columns)
        return Hygiene(as_of, card_df, hy.with_evidence(self.wh.execute(flags)))

    def over_time(self, start: date, end: date, *, by: str = "stage") -> pd.DataFrame:
        """Weekly open pipeline from `start` to `end` split by `by`: as_of, key, deals, value."""
        dates = an.weekly_dates(start, end)
        df = self.wh.execute(an.pipeline_over_time(self.t, self.config, dates, by=by))
        df["as_of"] = pd.to_datetime(df["as_of"])
        return df.sort_values(["as_of", "key"]).reset_index(drop=True)

    def created(
        self, as_of: date, *, grain: str = "month", since: date | None = None
    ) -> pd.DataFrame:
        df = self.wh.execute(
            an.pipeline_created(self.t, self.config, as_of, grain=grain, since=since)
        )
        df["period"] = pd.to_datetime(df["period"])
        return df.sort_values("period").reset_index(drop=True)
