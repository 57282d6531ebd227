"""Journeys: the touches before each conversion (and each non-conversion), inside a lookback.

Conversion events, per type (`ConversionType`):

* `mql`, `sql`: an entity's first entry into the MQL (SQL) lifecycle stage (lifecycle_history);
  no revenue. Non-conversions: entities with touches that never entered the stage, ending at
  their last touch.
* `opportunity`: each opportunity of the configured `opportunity_types`, at the end of its
  created_date, with its amount as revenue (pipeline). Non-conversions: entities with touches
  and no such opportunity, ending at their last touch.
* `closed_won`: each won opportunity of those types at the end of its close_date, with its
  amount (revenue). Non-conversions: the lost ones, at their close date.

The entity is the person (`level: person`) or the account (`level: account`: the touches of all
persons of the account, for account-based attribution). A journey holds the entity's touches
with `converted_at - lookback <= occurred_at <= converted_at`, in time order.

Milestones, for the U/W-shaped and full-path models: the lead-creation touch is the last touch
at or before the lead's creation (persons.created_at; for an account, its first person's); the
opportunity-creation touch is the last touch at or before the end of the opportunity's
created_date. A journey without a touch at or before the milestone has none (see rules.py).

The warehouse builds them: one query joins, windows and orders the touches, and only the
converting journeys' rows come into Python (credits are placed on them; the attribution report
places and sums them in the warehouse instead, placed.py); the journeys that did
not convert, which the Markov chain also reads, come only as counts (counts.fit_counts: moves
between channels, ends, channel sets). `path_counts`, the distinct paths with their counts, is
what a caller that wants the paths themselves reads (the tests check the counts against it).
Never is every touchpoint merged with its person read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pandas as pd

from revops.attribution.paths import Paths
from revops.config.attribution import AttributionConfig, ConversionType
from revops.warehouse import Warehouse
from revops.warehouse.parts import in_part
from revops.warehouse.sums import exact_sum

# a conversion on a day happens at the day's last microsecond (the warehouse's precision)
END_OF_DAY = ibis.interval(days=1) - ibis.interval(microseconds=1)
Bucket = tuple[int, int]  # (index, count): the entities whose id hashes to index, of count
WHOLE: Bucket = (0, 1)  # every entity


@dataclass(frozen=True)
class Inputs:
    """The warehouse journeys are built in: its touchpoints, persons, lifecycle_history and
    opportunities stay there; only the journeys' rows come out."""

    wh: Warehouse
    _tables: dict[str, ir.Table] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def table(self, name: str) -> ir.Table:
        """The warehouse's table, looked up once per `Inputs`: each lookup asks the database for
        the table's schema (about 3 ms on DuckDB), and one run's journeys, counts and credits
        ask for the same four tables hundreds of times. An `Inputs` lives for one run, in
        which those tables do not change."""
        if name not in self._tables:
            self._tables[name] = self.wh.table(name)
        return self._tables[name]


def load_inputs(wh: Warehouse) -> Inputs:
    """The tables journeys are built from (nothing is read until `build_journeys`)."""
    return Inputs(wh)


def in_bucket(entity_id: ir.StringValue, bucket: Bucket) -> ir.BooleanValue:
    """Whether an entity is in `bucket`: its id's hash modulo the bucket count is the bucket's
    index. Equal ids hash alike, so every entity, with all its journeys, is in exactly one."""
    index, count = bucket
    return in_part(entity_id, index, count)


def _entity_touches(
    inp: Inputs, cfg: AttributionConfig, keys: ir.Table | None, bucket: Bucket = WHOLE
) -> ir.Table:
    """Touches with the entity they count for (person or account) and, given `keys` (the
    entity_id of the conversions wanted), the person's account; touches without an entity
    are left out, and so are those of entities outside `bucket`.

    Without `keys` (the counts the data-driven models read) the person level needs no person
    at all; with them, only the persons of those entities are read, so that the warehouse
    holds a hash table of them rather than of every person. The bucket filters the
    touchpoints (person level) or the persons (account level) before any join."""
    tp = inp.table("touchpoints")
    t = tp.select("touchpoint_id", "person_id", "occurred_at", "channel", "campaign_id")
    persons = inp.table("persons").select("person_id", "account_id")
    if cfg.level == "person":
        t = t.filter(t.person_id.notnull())
        if bucket != WHOLE:
            t = t.filter(in_bucket(t.person_id, bucket))
        t = t.mutate(entity_id=t.person_id)
        if keys is None:
            return t
        persons = persons.semi_join(keys, persons.person_id == keys.entity_id)
        t = t.left_join(persons, "person_id").select(*t.columns, "account_id")
        return t.select(*(c for c in t.columns if c != "entity_id"), "entity_id")
    persons = persons.filter(persons.account_id.notnull())
    if bucket != WHOLE:
        persons = persons.filter(in_bucket(persons.account_id, bucket))
    if keys is not None:
        persons = persons.semi_join(keys, persons.account_id == keys.entity_id)
    t = t.join(persons, "person_id").select(*t.columns, "account_id")
    return t.mutate(entity_id=t.account_id)


def _last_touches(inp: Inputs, cfg: AttributionConfig, bucket: Bucket = WHOLE) -> ir.Table:
    """entity_id, converted_at: each entity's last touch (where its non-conversion ends), of
    the entities in `bucket` (filtered before the grouping, which DuckDB would not do itself).

    Built apart from `_entity_touches`, not from it: a query that read that expression twice
    would share it as one common table expression, which DuckDB materializes, holding every
    touch with its person in memory (most of the attribution step's peak)."""
    tp = inp.table("touchpoints").select("person_id", "occurred_at")
    if cfg.level == "person":
        t = tp.select(entity_id=tp.person_id, at=tp.occurred_at)
        if bucket != WHOLE:
            t = t.filter(in_bucket(t.entity_id, bucket))
    else:
        persons = inp.table("persons").select("person_id", "account_id")
        if bucket != WHOLE:
            persons = persons.filter(in_bucket(persons.account_id, bucket))
        t = tp.join(persons, "person_id").select(entity_id=persons.account_id, at=tp.occurred_at)
    t = t.filter(t.entity_id.notnull())
    return t.group_by("entity_id").aggregate(converted_at=t.at.max())


def _lead_times(inp: Inputs, cfg: AttributionConfig, keys: ir.Table) -> ir.Table:
    """entity_id, lead_at: when each entity of `keys` became a lead (its first person's
    creation)."""
    p = inp.table("persons")
    key = p.person_id if cfg.level == "person" else p.account_id
    p = p.filter(key.notnull()).semi_join(keys, key == keys.entity_id)
    return p.group_by(entity_id=key).aggregate(lead_at=p.created_at.cast("timestamp").min())


def _conversions(
    inp: Inputs,
    conversion: ConversionType,
    cfg: AttributionConfig,
    converted_only: bool = False,
    bucket: Bucket = WHOLE,
) -> ir.Table:
    """One row per conversion and, unless `converted_only`, non-conversion: entity_id
    converted_at conversion_id revenue opp_at converted; of the entities in `bucket`."""
    key = "person_id" if cfg.level == "person" else "account_id"
    no_time = ibis.null("timestamp")
    # filled with 0.0 once read: PostgreSQL types a bare 0.0 as NUMERIC
    no_revenue = ibis.null("float64")
    if conversion in ("mql", "sql"):
        lh = inp.table("lifecycle_history")
        lh = lh.filter(lh.to_stage == conversion.upper())
        persons = inp.table("persons").select("person_id", "account_id")
        lh = lh.left_join(persons, "person_id").select("person_id", "account_id", "changed_at")
        lh = lh.filter(lh[key].notnull())
        first = lh.group_by(entity_id=lh[key]).aggregate(
            converted_at=lh.changed_at.cast("timestamp").min()
        )
        conv = first.select(
            "entity_id",
            "converted_at",
            conversion_id=ibis.literal(f"{conversion}:") + first.entity_id.cast("string"),
            revenue=no_revenue,
            opp_at=no_time,
            converted=ibis.literal(True),
        )
    else:
        o = inp.table("opportunities")
        o = o.filter(o.opportunity_type.isin(list(cfg.opportunity_types)), o[key].notnull())
        won = ibis.literal(True)
        prefix: ir.StringValue = ibis.literal(f"{conversion}:")
        if conversion == "closed_won":
            o = o.filter(o.is_closed.fill_null(False))
            when = o.close_date.cast("timestamp") + END_OF_DAY
            won = o.is_won.fill_null(False)
            prefix = won.ifelse("closed_won:", "closed_won:lost:")
        else:
            when = o.created_date.cast("timestamp") + END_OF_DAY
        amount = o.amount.fill_null(0.0).cast("float64")
        conv = o.select(
            entity_id=o[key],
            converted_at=when,
            conversion_id=prefix + o.opportunity_id.cast("string"),
            revenue=won.ifelse(amount, 0.0),
            opp_at=o.created_date.cast("timestamp") + END_OF_DAY,
            converted=won,
        )
    if bucket != WHOLE:
        conv = conv.filter(in_bucket(conv.entity_id, bucket))
    if converted_only:
        return conv.filter(conv.converted)
    if conversion != "closed_won":  # entities with touches and no conversion: at the last touch
        never = _last_touches(inp, cfg, bucket).anti_join(conv, "entity_id")
        conv = conv.union(
            never.select(
                "entity_id",
                converted_at=never.converted_at.cast("timestamp"),
                conversion_id=ibis.literal(f"{conversion}:none:") + never.entity_id,
                revenue=no_revenue,
                opp_at=no_time,
                converted=ibis.literal(False),
            )
        )
    return conv


def _lookback_touches(
    inp: Inputs,
    conversion: ConversionType,
    cfg: AttributionConfig,
    converted_only: bool,
    detail: bool = True,
    numbered: bool = False,
    bucket: Bucket = WHOLE,
) -> ir.Table:
    """Each conversion's touches inside its lookback, in no order. With `detail`, each row
    also holds the lead's creation (`lead_at`) and the touch's account; the counts of the
    data-driven models need neither. With `numbered`, each row holds its conversion's number
    (`journey`, an integer in no particular order, unique within this one query): an 8-byte
    key for the counts to partition and group the touches by, where conversion_id is a string
    of 20 to 30 characters. With `bucket`, only the journeys of the entities in it (`in_bucket`):
    an entity's journeys, converted or not, are all in one bucket, and the filter reaches the
    touchpoints before they are joined, so a bucket's query reads only its share of them."""
    conv = _conversions(inp, conversion, cfg, converted_only, bucket)
    if numbered:
        conv = conv.mutate(journey=ibis.row_number())
    keys = conv.select("entity_id") if detail else None
    touches = _entity_touches(inp, cfg, keys, bucket)
    if keys is not None:
        lead = _lead_times(inp, cfg, keys)
        conv = conv.left_join(lead, "entity_id").select(*conv.columns, "lead_at")
    j = conv.join(touches, "entity_id").select(
        *conv.columns, *(c for c in touches.columns if c != "entity_id")
    )
    lookback = ibis.interval(days=cfg.lookback_days.days(conversion))
    at = j.occurred_at.cast("timestamp")
    return j.filter(at <= j.converted_at, at >= j.converted_at - lookback)


def _in_lookback(
    inp: Inputs, conversion: ConversionType, cfg: AttributionConfig, converted_only: bool
) -> ir.Table:
    """Each conversion's touches inside its lookback, numbered in time order (`pos`, from 0;
    touches at the same instant in touchpoint_id order) and counted (`n`)."""
    j = _lookback_touches(inp, conversion, cfg, converted_only)
    order = [j.occurred_at, j.touchpoint_id]
    return j.mutate(
        pos=ibis.row_number().over(group_by=j.conversion_id, order_by=order),
        n=j.conversion_id.count().over(group_by=j.conversion_id),
    )


def marked_touches(
    inp: Inputs, conversion: ConversionType, cfg: AttributionConfig, converted_only: bool = True
) -> ir.Table:
    """The journeys' touches with their milestones marked (`is_lead`, `is_opp`), in no order."""
    j = _in_lookback(inp, conversion, cfg, converted_only)
    marks = {}
    for flag, milestone in (("is_lead", "lead_at"), ("is_opp", "opp_at")):
        before = (j.occurred_at.cast("timestamp") <= j[milestone]).fill_null(False)
        last = before.ifelse(j.pos, -1).max().over(group_by=j.conversion_id)
        marks[flag] = before & (j.pos == last)
    return j.mutate(**marks)


def journeys_expr(
    inp: Inputs, conversion: ConversionType, cfg: AttributionConfig, converted_only: bool = True
) -> ir.Table:
    """The journeys as one query (see `build_journeys`), but `days_before`."""
    j = marked_touches(inp, conversion, cfg, converted_only)
    return j.order_by(["conversion_id", "occurred_at", "touchpoint_id"])


def path_counts_expr(inp: Inputs, conversion: ConversionType, cfg: AttributionConfig) -> ir.Table:
    """The input of the data-driven models as one query: one row per distinct channel path
    (`path`, the journey's channels in `pos` order) with the journeys that took it, converted
    (`conversions`) and not (`nulls`), and the revenue of the converted ones (`value`).

    Rows come in order of the smallest conversion_id that took each path, so channels are
    numbered in the order they first appear across the journeys sorted by conversion_id, as
    they were when the paths were built in Python from every touch."""
    j = _in_lookback(inp, conversion, cfg, converted_only=False)
    if inp.wh.backend == "spark":  # Ibis cannot order Spark's collect_list: sort by pos
        pairs = ibis.struct({"pos": j.pos, "channel": j.channel}).collect().sort()
        path = pairs.map(lambda pair: pair.channel)
    else:
        path = j.channel.collect(order_by=j.pos)
    per = j.group_by(["conversion_id", "converted", "revenue"]).aggregate(path=path)
    won = per.converted
    counts = per.group_by("path").aggregate(
        conversions=won.ifelse(1, 0).sum(),
        nulls=won.ifelse(0, 1).sum(),
        value=exact_sum(won.ifelse(per.revenue.fill_null(0.0), 0.0)),
        first=per.conversion_id.min(),
    )
    return counts.order_by("first").drop("first")


def path_counts(inp: Inputs, conversion: ConversionType, cfg: AttributionConfig) -> Paths:
    """Distinct channel paths with their counts (see `path_counts_expr`): as many rows as there
    are distinct paths, which grow with the journeys; a run fits the models on
    `counts.fit_counts`, whose rows do not."""
    t = inp.wh.to_arrow(path_counts_expr(inp, conversion, cfg))
    return Paths.from_arrow(
        t["path"],
        t["conversions"].to_numpy(),
        t["nulls"].to_numpy(),
        t["value"].to_numpy(),
    )


def build_journeys(
    inp: Inputs, conversion: ConversionType, cfg: AttributionConfig, converted_only: bool = True
) -> pd.DataFrame:
    """Touches of every converting journey (with `converted_only=False`, of the journeys that
    did not convert too), in order: one row per (conversion, touch).

    Columns: entity_id converted_at conversion_id revenue opp_at converted lead_at
    touchpoint_id person_id occurred_at channel campaign_id account_id pos n days_before
    is_lead is_opp. Conversions with no touch in the lookback have no rows (they cannot be
    attributed). The warehouse joins, windows and orders them: only the journeys' rows are
    read, never every touchpoint with its person.
    """
    expr = journeys_expr(inp, conversion, cfg, converted_only)
    j: pd.DataFrame = inp.wh.to_arrow(expr).to_pandas()
    # times as the warehouse keeps them (µs); a day's end as pandas made it from a date (ns)
    days = ["opp_at", "converted_at"] if conversion in ("opportunity", "closed_won") else ["opp_at"]
    for col in days:
        j[col] = j[col].astype("datetime64[ns]")
    j["revenue"] = j["revenue"].fillna(0.0)
    j["pos"] = j["pos"].astype("int64")
    j["n"] = j["n"].astype("int64")
    j["days_before"] = (j["converted_at"] - j["occurred_at"]).dt.total_seconds() / 86400.0
    cols = [c for c in j.columns if c != "days_before"]
    cols.insert(cols.index("n") + 1, "days_before")
    return j[cols].astype({"is_lead": bool, "is_opp": bool})
