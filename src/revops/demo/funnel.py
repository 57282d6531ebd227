"""The lifecycle funnel: when each person becomes MQL, SAL, SQL and Opportunity, and the events.

Progression is a chain of logistic draws: fit and channel shift the odds (webinar MQLs qualify
to SQL about twice as often as the average; paid social is the weakest at every step), and so
does attending a webinar between MQL and the SQL decision: that attendance is drawn here, raises
the odds of qualifying, and becomes a webinar touchpoint inside the window. Every
stage change becomes a lifecycle event that follows the transitions in examples/revops.yaml,
and every person is given the fields the stage they enter requires. A small, counted set of
events breaks the rules on purpose (see `effects.py`) so the lifecycle engine has real
rejections to show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from revops.demo._common import (
    END,
    NAT,
    BoolArray,
    IntArray,
    TimeArray,
    days,
    logit,
    pick_among,
    sigmoid,
)
from revops.demo.effects import planted_count
from revops.demo.org import Org
from revops.demo.people import Accounts, Persons
from revops.warehouse.schema import REGIONS

STAGES = (
    "Lead",
    "MQL",
    "SAL",
    "SQL",
    "Opportunity",
    "Customer",
    "Recycled",
    "Nurture",
    "Disqualified",
)
S = {name: i for i, name in enumerate(STAGES)}
_MQL_SHIFT = np.array([0.0, 0.1, -0.7, -0.2, 0.2, 0.35, 0.2, 0.4, 0.3, -0.1])
_SQL_SHIFT = np.array([-0.15, -0.05, -1.0, -0.25, 0.05, 1.85, 0.3, 0.45, 0.1, 0.0])
# planted: share of MQLs who attend a webinar (live or on demand) before the SQL decision, and
# how much that attendance shifts the log-odds of qualifying to SQL
WEBINAR_ATTEND = 0.22
WEBINAR_SQL_LIFT = 1.3
_SOURCES = {
    "Lead": "form",
    "MQL": "scoring",
    "SAL": "rep",
    "SQL": "rep",
    "Opportunity": "crm_sync",
    "Customer": "crm_sync",
    "Recycled": "rep",
    "Nurture": "nurture_program",
    "Disqualified": "rep",
}


@dataclass
class Funnel:
    """Stage times per person (NaT = never reached) and the resulting ownership."""

    mql: TimeArray
    sal: TimeArray
    sql: TimeArray
    opp: TimeArray
    sal_owner: IntArray  # user row of the accepting SDR, -1 if none
    matched: BoolArray  # person carries account_id
    dirty: BoolArray  # planted unloadable rows
    exit_stage: IntArray  # holding/exit stage after the last funnel step (-1 = none)
    exit_time: TimeArray
    webinar_at: TimeArray  # webinar attended between MQL and the SQL decision (NaT = none)


def _after(
    rng: np.random.Generator, base: TimeArray, mask: BoolArray, lo: float, hi: float
) -> TimeArray:
    out = np.full(len(base), NAT)
    t = base[mask] + days(rng.uniform(lo, hi, int(mask.sum())))
    out[mask] = np.where(t <= END, t, NAT)
    return out


# SDR response: the SLA for a demo request is 15 business minutes (routing.sla), and teams that
# hold such an SLA meet it most of the time. Each accepted MQL is answered from the first
# business moment (09:00-17:00 Monday to Friday in its region's main timezone) at or after
# it became MQL: 85% within 1-14 minutes, the rest a tail of breaches (15 minutes plus an
# exponential wait of mean 4 hours). Rejections (MQL → Disqualified) come within the day.
REGION_TZ = {
    "NA": "America/New_York",
    "EMEA": "Europe/London",
    "APAC": "Australia/Sydney",
    "LATAM": "America/Sao_Paulo",
}
ON_TIME = 0.85
TAIL_MEAN_MINUTES = 240.0
REJECT_DAYS = (0.01, 0.5)


def _business_start(at: TimeArray, tz: str) -> TimeArray:
    """The first instant at or after each UTC time inside 09:00-17:00 Mon-Fri local in tz."""
    local = pd.DatetimeIndex(at).tz_localize("UTC").tz_convert(tz)
    day = local.normalize()
    hour = local.hour + local.minute / 60 + local.second / 3600
    open_now = (local.dayofweek < 5) & (hour >= 9) & (hour < 17)
    before = (local.dayofweek < 5) & (hour < 9)
    # otherwise the next weekday's 09:00
    nxt = day + pd.Timedelta(days=1)
    shift = np.where(nxt.dayofweek == 5, 2, np.where(nxt.dayofweek == 6, 1, 0))
    nxt = nxt + pd.to_timedelta(shift, unit="D")
    start = np.where(open_now, local, np.where(before, day, nxt))
    start_index = pd.DatetimeIndex(start)
    nine = pd.to_timedelta(np.where(open_now, 0, 9), unit="h")
    # normalize() keeps the zone; adding 9 h of wall time across a DST change is close enough
    out = (start_index + nine).tz_convert("UTC").tz_localize(None)
    return np.asarray(out.to_numpy(), dtype="datetime64[s]")


def sdr_response(mql: TimeArray, region: IntArray, draw: npt.NDArray[np.float64]) -> TimeArray:
    """When each MQL is accepted (see ON_TIME): `draw` is one standard exponential per MQL,
    turned into minutes through its quantile, so the random stream is one draw per SAL."""
    u = 1.0 - np.exp(-draw)  # uniform on [0, 1)
    fast = 1.0 + 13.0 * u / ON_TIME
    tail_u = np.clip((u - ON_TIME) / (1.0 - ON_TIME), 0.0, 1.0 - 1e-12)
    slow = 15.0 - TAIL_MEAN_MINUTES * np.log1p(-tail_u)
    minutes = np.where(u < ON_TIME, fast, slow)
    out = np.full(len(mql), NAT)
    for r, name in enumerate(REGIONS):
        mask = region == r
        if mask.any():
            out[mask] = _business_start(mql[mask], REGION_TZ[name])
    return out + days(minutes / 1440.0)


def progress(
    rng: np.random.Generator,
    persons: Persons,
    accounts: Accounts,
    org: Org,
    attend_rng: np.random.Generator,
) -> Funnel:
    """Draw every person's path through Lead → MQL → SAL → SQL → Opportunity.

    `attend_rng` draws the webinar attendance between MQL and SQL on its own stream.
    """
    n = persons.n
    ch = persons.channel
    fit = persons.fit
    p_mql = sigmoid(logit(0.30) + 0.75 * fit + _MQL_SHIFT[ch])
    is_mql = (rng.random(n) < p_mql) & persons.has_company
    mql = _after(rng, persons.created, is_mql, 0.0, 0.0)
    mql[is_mql] = persons.created[is_mql] + days(rng.gamma(1.6, 9.0, int(is_mql.sum())) + 0.1)
    mql[mql > END] = NAT
    reach = ~np.isnat(mql)

    is_sal = reach & (rng.random(n) < 0.72)
    # `pace`: how fast an accepted lead moves on towards SQL (the SQL decision and the SAL
    # stage's exits are counted from it); `sal`: when the SDR accepted it (`sdr_response`),
    # never after `pace`, so the SQL decision always follows the acceptance
    pace = np.full(n, NAT)
    rows = np.flatnonzero(is_sal)
    draw = rng.exponential(1.0, rows.size)
    pace[rows] = mql[rows] + days(1.8 * draw + 0.05)
    pace[pace > END] = NAT
    sal = np.full(n, NAT)
    region = accounts.region[persons.company_account[rows]]
    sal[rows] = np.minimum(sdr_response(mql[rows], region, draw), pace[rows])
    sal[np.isnat(pace)] = NAT
    # planted: attending a webinar after MQL raises the odds of qualifying, whatever the source
    attends = reach & (attend_rng.random(n) < WEBINAR_ATTEND)
    p_sql = sigmoid(logit(0.30) + 0.55 * fit + _SQL_SHIFT[ch] + WEBINAR_SQL_LIFT * attends)
    is_sql = ~np.isnat(pace) & (rng.random(n) < p_sql)
    sql = np.full(n, NAT)
    sql[is_sql] = pace[is_sql] + days(rng.gamma(2.0, 5.0, int(is_sql.sum())) + 0.5)
    sql[sql > END] = NAT
    # the attendance falls between MQL and SQL, or within three weeks of MQL for the rest
    frac = attend_rng.uniform(0.15, 0.95, n)
    wait = days(attend_rng.uniform(0.5, 21.0, n))
    webinar_at = np.full(n, NAT)
    qualified = attends & ~np.isnat(sql)
    webinar_at[qualified] = mql[qualified] + (
        (sql[qualified] - mql[qualified]).astype(np.int64) * frac[qualified]
    ).astype(np.int64).astype("m8[s]")
    rest = attends & np.isnat(sql)
    webinar_at[rest] = mql[rest] + wait[rest]
    webinar_at[webinar_at > END] = NAT
    is_opp = ~np.isnat(sql) & (rng.random(n) < 0.72)
    opp = np.full(n, NAT)
    opp[is_opp] = sql[is_opp] + days(rng.exponential(4.0, int(is_opp.sum())) + 0.2)
    opp[opp > END] = NAT

    # the SDR who accepted the lead: one of the region's SDRs employed on that day
    sal_owner = np.full(n, -1, dtype=np.int64)
    rows = np.flatnonzero(~np.isnat(pace))
    region = accounts.region[persons.company_account[rows]]
    t = pace[rows][:, None]
    employed = (org.sdr_start[None, :] <= t) & (
        np.isnat(org.sdr_end)[None, :] | (org.sdr_end[None, :] >= t)
    )
    pick = pick_among(rng, employed & (org.sdr_region[None, :] == region[:, None]))
    sal_owner[rows] = org.sdr_users[pick]

    # exits from the stage a person stalled in
    last = np.select(
        [~np.isnat(opp), ~np.isnat(sql), ~np.isnat(sal), ~np.isnat(mql)],
        [S["Opportunity"], S["SQL"], S["SAL"], S["MQL"]],
        S["Lead"],
    )
    u = rng.random(n)
    exit_stage = np.full(n, -1, dtype=np.int64)
    exit_time = np.full(n, NAT)
    rules = (
        # stalled stage, anchor, [(upper bound of u, exit stage, min days, max days)]
        ("Lead", persons.created, [(0.08, "Disqualified", 1, 30), (0.38, "Nurture", 20, 90)]),
        # an MQL the SDR disqualifies is rejected within the working day (the lead desk's
        # rejections); the rest is recycled by marketing weeks later
        ("MQL", mql, [(0.20, "Disqualified", *REJECT_DAYS), (0.75, "Recycled", 7, 45)]),
        (
            "SAL",
            pace,
            [(0.30, "Disqualified", 10, 60), (0.80, "Recycled", 10, 60), (1.00, "Nurture", 10, 60)],
        ),
        ("SQL", sql, [(0.40, "Disqualified", 14, 60), (1.00, "Recycled", 14, 60)]),
    )
    for stalled, anchor, options in rules:
        lower = 0.0
        for upper, target, lo, hi in options:
            mask = (last == S[stalled]) & (u >= lower) & (u < upper)
            exit_time[mask] = _after(rng, anchor, mask, lo, hi)[mask]
            exit_stage[mask] = np.where(np.isnat(exit_time[mask]), -1, S[target])
            lower = upper

    matched = (rng.random(n) < 0.8) | ~np.isnat(sql)
    # planted dirty rows: people who never went anywhere, so nothing else refers to them
    dirty = np.zeros(n, dtype=bool)
    idle = np.flatnonzero((last == S["Lead"]) & (exit_stage == -1))
    k = min(planted_count("dirty_persons", n), len(idle))
    dirty[rng.choice(idle, size=k, replace=False)] = True
    return Funnel(mql, sal, sql, opp, sal_owner, matched, dirty, exit_stage, exit_time, webinar_at)


@dataclass(frozen=True)
class OppOutcome:
    """What happened to each person's own opportunity (NaT/False when they had none)."""

    won_at: TimeArray
    lost_at: TimeArray


def lifecycle_events(
    rng: np.random.Generator, persons: Persons, funnel: Funnel, outcome: OppOutcome
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Every lifecycle event (person, stage, occurred_at, source) plus the planted violations.

    Returns the events sorted by time and the number of planted violations by kind.
    """
    n = persons.n
    clean = ~funnel.dirty
    parts: list[tuple[IntArray, str, TimeArray]] = []

    def emit(stage: str, when: TimeArray, mask: BoolArray | None = None) -> None:
        ok = ~np.isnat(when) & clean
        if mask is not None:
            ok &= mask
        rows = np.flatnonzero(ok)
        parts.append((rows, stage, when[rows]))

    emit("Lead", persons.created)
    emit("MQL", funnel.mql)
    emit("SAL", funnel.sal)
    emit("SQL", funnel.sql)
    emit("Opportunity", funnel.opp)
    emit("Customer", outcome.won_at)
    lost = ~np.isnat(outcome.lost_at)
    lost_exit = np.full(n, NAT)
    lost_exit[lost] = outcome.lost_at[lost] + days(rng.uniform(1, 14, int(lost.sum())))
    lost_exit[lost_exit > END] = NAT
    to_nurture = rng.random(n) < 0.35
    emit("Recycled", lost_exit, ~to_nurture)
    emit("Nurture", lost_exit, to_nurture)
    for held_stage in ("Recycled", "Nurture", "Disqualified"):
        emit(held_stage, funnel.exit_time, funnel.exit_stage == S[held_stage])

    # people back from Recycled / Nurture re-qualify some months later
    held = np.where(~np.isnat(lost_exit), lost_exit, funnel.exit_time)
    holding = (~np.isnat(lost_exit)) | np.isin(funnel.exit_stage, (S["Recycled"], S["Nurture"]))
    again = holding & (rng.random(n) < 0.18) & persons.has_company
    remql = np.full(n, NAT)
    remql[again] = held[again] + days(rng.uniform(30, 200, int(again.sum())))
    remql[remql > END] = NAT
    emit("MQL", remql)

    person = np.concatenate([p for p, _, _ in parts])
    stage = np.concatenate([np.full(len(p), S[s]) for p, s, _ in parts])
    when = np.concatenate([w for _, _, w in parts])
    planted: dict[str, int] = {}

    # planted: skipped stages requested while the person is still a Lead
    next_event = np.full(n, END)
    not_lead = stage != S["Lead"]
    np.minimum.at(next_event, person[not_lead], when[not_lead])
    gap = (next_event - persons.created).astype(np.int64)
    candidates = np.flatnonzero(clean & persons.has_company & (gap > 2 * 86_400))
    k = min(planted_count("skipped_stage_events", n), len(candidates))
    skip = np.sort(rng.choice(candidates, size=k, replace=False))
    skip_stage = rng.choice(
        np.array([S["SQL"], S["SAL"], S["Opportunity"]]), size=k, p=[0.6, 0.25, 0.15]
    )
    skip_when = persons.created[skip] + (rng.uniform(0.2, 0.8, k) * gap[skip]).astype(
        np.int64
    ).astype("m8[s]")
    planted["skipped_stage_events"] = k

    # planted: MQL requested by scoring for people who never gave a company
    nameless = np.flatnonzero(clean & ~persons.has_company)
    k2 = min(planted_count("mql_missing_company", n), len(nameless))
    bad_mql = np.sort(rng.choice(nameless, size=k2, replace=False))
    bad_when = persons.created[bad_mql] + days(rng.uniform(1, 30, k2))
    bad_when = np.minimum(bad_when, END)
    # they may already be in Nurture/Disqualified by then; keep them in Lead so the only
    # reason to refuse is the missing company
    drop = np.isin(person, bad_mql) & (stage != S["Lead"])
    planted["mql_missing_company"] = k2

    person = np.concatenate([person[~drop], skip, bad_mql])
    stage = np.concatenate([stage[~drop], skip_stage, np.full(k2, S["MQL"])])
    when = np.concatenate([when[~drop], skip_when, bad_when])
    order = np.lexsort((stage, person, when))
    events = pd.DataFrame(
        {
            "person": person[order],
            "stage": np.array(STAGES)[stage[order]],
            "occurred_at": when[order],
        }
    )
    events["source"] = events["stage"].map(_SOURCES)
    return events, planted
