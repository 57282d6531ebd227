"""What the lead desk replay needs of each MQL, read from the warehouse a window at a time.

The replay (`routing.backfill`) routes every MQL of the history in time order, its state
(round robin, caps per day) carried from one to the next, so it must see them in order; but
it needs only one window of MQL moments at a time, each with the facts computed here by the
warehouse: the lead's and its account's columns the rules read, the touch it arrived with,
the first answer after it and the person's last MQL instant. Its memory then follows the
window, not the history.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from datetime import datetime

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from revops.warehouse import Warehouse

Window = tuple[datetime | None, datetime | None]  # [from, until) (None: unbounded)
ACCOUNT_PREFIX = "account__"  # the account's columns in a window's facts


def mql_windows(wh: Warehouse, mql: str, size: int) -> list[Window]:
    """Time ranges of about `size` MQL moments each, in order, covering every moment: the
    instant of every `size`-th moment starts a range, so one instant is never split (the
    replay orders the moments of one instant by person, within a window)."""
    h = wh.table("lifecycle_history")
    ever = h.filter(h.to_stage == mql)
    numbered = ever.select(at=ever.changed_at, n=ibis.row_number().over(order_by=ever.changed_at))
    cuts = numbered.filter(numbered.n > 0, numbered.n % size == 0).select("at").distinct()
    bounds: list[datetime | None] = wh.to_arrow(cuts.order_by("at")).column("at").to_pylist()
    edges = [None, *bounds, None]
    return list(itertools.pairwise(edges))


def window_facts(
    wh: Warehouse,
    mql: str,
    answers: Collection[str],
    lead_columns: Sequence[str],
    account_columns: Sequence[str],
    window: Window,
) -> pa.Table:
    """One row per MQL moment in `window` (a person's change into `mql`), in routing order
    (instant, then person id):

    - `person_id`, `at`, `found` (the person is in persons; the replay skips one who is not);
    - `lead_columns` of persons (null without the person), `account_columns` of their account
      prefixed `ACCOUNT_PREFIX` (`account__account_id` null without one);
    - `touch_type`: of the person's last touch at or before the instant (the later
      touchpoint_id among touches of one instant; touches of no known instant ignored);
    - `answered_at`, `answer_stage`: the person's first change into one of `answers` after the
      instant (in order of time, then stage), over their whole later history;
    - `last_mql`: the person's last MQL instant, after which the replay forgets them.
    """
    h = wh.table("lifecycle_history")
    ever = h.filter(h.to_stage == mql)
    start, until = window
    inside = ever
    if start is not None:
        inside = inside.filter(inside.changed_at >= start)
    if until is not None:
        inside = inside.filter(inside.changed_at < until)
    moments = inside.select("person_id", at=inside.changed_at)
    keys = moments.distinct()
    p = wh.table("persons")
    lead = p.select(
        _lead=p.person_id,
        _account=p.account_id,
        found=ibis.literal(True),
        **{c: p[c] for c in lead_columns if c != "person_id"},
    )
    a = wh.table("accounts")
    account = a.select(**{f"{ACCOUNT_PREFIX}{c}": a[c] for c in account_columns})
    account_key = account[f"{ACCOUNT_PREFIX}account_id"]
    touch = _last_touch(wh, keys)
    answer = _first_answer(h, answers, keys)
    last = ever.group_by(_last=ever.person_id).aggregate(last_mql=ever.changed_at.max())
    joined = (
        moments.left_join(lead, moments.person_id == lead._lead)
        .left_join(account, lead._account == account_key)
        .left_join(touch, [moments.person_id == touch._touch, moments.at == touch._touch_at])
        .left_join(answer, [moments.person_id == answer._answer, moments.at == answer._answer_at])
        .left_join(last, moments.person_id == last._last)
    )
    wanted = [
        "person_id",
        "at",
        "found",
        *(c for c in lead_columns if c != "person_id"),
        *account.columns,
        "touch_type",
        "answered_at",
        "answer_stage",
        "last_mql",
    ]
    facts = wh.to_arrow(joined.select(*wanted))
    found = facts.column("found").fill_null(False)
    facts = facts.set_column(facts.column_names.index("found"), "found", found)
    return facts.sort_by([("at", "ascending"), ("person_id", "ascending")])


def _first_of_each(table: ir.Table, order: list[ir.Value]) -> ir.Table:
    """The first row of each (person_id, at) of `table` in `order`."""
    rank = ibis.row_number().over(group_by=[table.person_id, table.at], order_by=order)
    ranked = table.mutate(_rank=rank)
    return ranked.filter(ranked._rank == 0).drop("_rank")


def _last_touch(wh: Warehouse, keys: ir.Table) -> ir.Table:
    """Per (person_id, at) of `keys` with a touch at or before it: the last one's type."""
    t = wh.table("touchpoints")
    t = t.select(
        _who=t.person_id, _when=t.occurred_at, _id=t.touchpoint_id, touch_type=t.touch_type
    )
    # Only the window's persons' touches, chosen first: joined with every touch, DuckDB 1.4
    # sizes the ranking that follows by its estimate of the join (9.7M pairs at scale 10,
    # 2026-12-06), and its hash tables held 250 MB for a window of 20k moments (40 MB so).
    t = t.filter(t._who.isin(keys.person_id))
    # a NULL occurred_at compares as unknown: such touches never join
    pairs = keys.join(t, [keys.person_id == t._who, t._when <= keys.at])
    last = _first_of_each(pairs, [pairs._when.desc(), pairs._id.desc()])
    return last.select(_touch=last.person_id, _touch_at=last.at, touch_type=last.touch_type)


def _first_answer(h: ir.Table, answers: Collection[str], keys: ir.Table) -> ir.Table:
    """Per (person_id, at) of `keys` answered later: the first change into `answers`."""
    c = h.filter(h.to_stage.isin(sorted(answers)))
    c = c.select(_who=c.person_id, answered_at=c.changed_at, answer_stage=c.to_stage)
    pairs = keys.join(c, [keys.person_id == c._who, c.answered_at > keys.at])
    first = _first_of_each(pairs, [pairs.answered_at, pairs.answer_stage])
    return first.select(
        _answer=first.person_id,
        _answer_at=first.at,
        answered_at=first.answered_at,
        answer_stage=first.answer_stage,
    )
