"""Deals: opportunities, their Salesforce-style stage history, and the sales activities on them.

New-business deals come from persons reaching the Opportunity stage. Their size and cycle scale
with the segment (enterprise ≈ 5× larger, ≈ 2× longer), their odds with region (EMEA clearly
below NA), owner (the star rep) and source channel. Each deal walks Prospecting → Discovery →
Solution → Proposal → Negotiation and ends Closed Won or Closed Lost, or is still open on
2026-10-31; some walks regress a stage and some push their close date, as real pipelines do.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from revops.demo._common import (
    DAY,
    END,
    PRODUCT_MIX,
    BoolArray,
    FloatArray,
    IntArray,
    TimeArray,
    choice_idx,
    days,
    logit,
    sigmoid,
)
from revops.demo.funnel import Funnel
from revops.demo.org import Org
from revops.demo.people import Accounts, Persons

OPEN_STAGES = ("Prospecting", "Discovery", "Solution", "Proposal", "Negotiation")
STAGE_NAMES = (*OPEN_STAGES, "Closed Won", "Closed Lost")
STAGE_PROBABILITY = np.array([10.0, 20.0, 40.0, 60.0, 80.0, 100.0, 0.0])
STAGE_FORECAST = np.array(
    ["pipeline", "pipeline", "pipeline", "best_case", "commit", "closed", "omitted"]
)
OPP_TYPES = ("new_business", "expansion", "renewal")
# new-business ACV (USD) and planned cycle (days) by segment
DEAL_SIZE = np.array([11_000.0, 26_000.0, 100_000.0])
CYCLE_DAYS = np.array([32.0, 55.0, 96.0])
_REGION_WIN = np.array([0.25, -0.8, 0.0, -0.15])
_CHANNEL_WIN = np.array([0.0, 0.05, -0.5, -0.1, 0.1, 0.2, 0.3, 0.4, 0.1, 0.0])
STAR_BOOST = 1.6
OUTCOME_OPEN, OUTCOME_WON, OUTCOME_LOST = 0, 1, 2
CROSS_SELL_SHARE = 0.25  # a cross-sell at a customer, as a share of a new logo's deal size


@dataclass
class Opps:
    """A batch of opportunities as parallel arrays (one entry per deal)."""

    account: IntArray
    owner: IntArray  # user row
    person: IntArray  # -1 when no contact
    kind: IntArray  # index into OPP_TYPES
    product: IntArray  # index into revenue.PRODUCTS
    created: TimeArray
    planned_close: TimeArray
    close: TimeArray  # actual close time; for open deals the expected close
    outcome: IntArray
    amount: FloatArray
    source: IntArray  # lead source channel, -1 if none
    campaign: IntArray  # campaign index, -1 if none
    pushed: BoolArray

    def __len__(self) -> int:
        return len(self.account)

    @staticmethod
    def concat(batches: list[Opps]) -> Opps:
        cols = {f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(Opps)}
        return Opps(**cols)

    def take(self, idx: IntArray) -> Opps:
        return Opps(**{f.name: getattr(self, f.name)[idx] for f in fields(Opps)})


def owner_on(org: Org, accounts: Accounts, account: IntArray, when: TimeArray) -> IntArray:
    """The account owner, or the territory's veteran AE if the owner had not started yet."""
    owner = accounts.owner[account]
    starts = org.users["start_date"].to_numpy()
    late = starts[owner] > when
    owner[late] = org.veteran_of_territory[accounts.territory[account[late]]]
    return owner


def timing(
    rng: np.random.Generator,
    created: TimeArray,
    cycle: FloatArray,
    win_p: FloatArray,
    push_p: float,
) -> tuple[TimeArray, TimeArray, IntArray, BoolArray]:
    """Planned close, actual (or expected) close, outcome and push flag for new deals."""
    n = len(created)
    pushed = rng.random(n) < push_p
    planned = created + days(cycle)
    stretch = np.where(pushed, rng.uniform(1.25, 1.9, n), rng.uniform(0.85, 1.05, n))
    won = rng.random(n) < win_p
    actual = created + days(cycle * np.where(won, stretch, stretch * rng.uniform(0.45, 1.0, n)))
    outcome = np.where(won, OUTCOME_WON, OUTCOME_LOST)
    still_open = actual > END
    outcome[still_open] = OUTCOME_OPEN
    # open deals whose planned date already passed get pushed into the next quarter
    stale = still_open & (planned < END) & (rng.random(n) < 0.75)
    actual[stale] = END + days(rng.uniform(10, 120, int(stale.sum())))
    actual[still_open & ~stale] = np.maximum(planned, END + DAY)[still_open & ~stale]
    pushed |= stale
    return planned, actual, outcome, pushed


def new_business(
    rng: np.random.Generator, persons: Persons, funnel: Funnel, accounts: Accounts, org: Org
) -> Opps:
    """One new-business opportunity per person who reached the Opportunity stage."""
    person = np.flatnonzero(~np.isnat(funnel.opp))
    n = len(person)
    account = persons.company_account[person]
    seg = accounts.segment[account]
    created = funnel.opp[person]
    owner = owner_on(org, accounts, account, created)
    fit = persons.fit[person]
    channel = persons.channel[person]
    score = (
        logit(0.36)
        + _REGION_WIN[accounts.region[account]]
        + 0.35 * fit
        + _CHANNEL_WIN[channel]
        + np.where(owner == org.star_user, STAR_BOOST, 0.0)
    )
    cycle = CYCLE_DAYS[seg] * rng.gamma(6.0, 1 / 6.0, n)
    planned, close, outcome, pushed = timing(
        rng, created, cycle, sigmoid(score), 0.22 + 0.15 * (seg == 2)
    )
    amount = np.round(DEAL_SIZE[seg] * rng.lognormal(0.0, 0.35, n) * (1 + 0.08 * fit), -2)
    return Opps(
        account=account,
        owner=owner,
        person=person,
        kind=np.zeros(n, dtype=np.int64),
        product=choice_idx(rng, list(PRODUCT_MIX), n),
        created=created,
        planned_close=planned,
        close=close,
        outcome=outcome,
        amount=np.maximum(amount, 1_000.0),
        source=channel,
        campaign=persons.campaign[person],
        pushed=pushed,
    )


def cross_sell(opps: Opps) -> Opps:
    """A deal opened at an account that had already bought is a cross-sell: an expansion of the
    customer (another team or module), a fraction of a new logo's deal.

    Without this every buying group of a customer that reached the Opportunity stage booked a
    new-business deal of full size: new-business bookings ran at nearly three times new ARR and
    expansion ARR at seven times expansion bookings, and NRR reached 158%. Public surveys put
    median NRR near 100-110% (SaaS Capital 2019 retention benchmarks; KeyBanc Capital Markets
    SaaS survey 2019), so a cross-sell is sized at `CROSS_SELL_SHARE` of the deal it would have
    been. Churn is not known yet here, so an account that churned and comes back through a
    buying group counts as a cross-sell too (rare: churn waits for a contract anniversary).
    """
    first_won = np.full(int(opps.account.max()) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    won = opps.outcome == OUTCOME_WON
    np.minimum.at(first_won, opps.account[won], opps.close[won].astype(np.int64))
    # opened at a customer, or won after another deal of the account already was
    after = np.where(won, opps.close, opps.created).astype(np.int64)
    existing = (opps.kind == 0) & (after > first_won[opps.account])
    kind = np.where(existing, 1, opps.kind)
    amount = np.where(
        existing, np.maximum(np.round(opps.amount * CROSS_SELL_SHARE, -2), 1_000.0), opps.amount
    )
    return replace(opps, kind=kind, amount=amount)


@dataclass(frozen=True)
class History:
    frame: pd.DataFrame  # opp, stage, changed_at, amount, close_date, forecast, probability
    final_stage: IntArray
    final_close: TimeArray
    final_amount: FloatArray  # the deal's amount now: its last history row's, as in a CRM


def stage_history(rng: np.random.Generator, opps: Opps) -> History:
    """Every stage change of every deal, vectorized over all rows at once."""
    n = len(opps)
    closed = opps.outcome != OUTCOME_OPEN
    elapsed = (np.minimum(opps.close, END) - opps.created).astype(np.int64) / 86_400.0
    planned_len = np.maximum((opps.planned_close - opps.created).astype(np.int64) / 86_400, 1)
    k = np.full(n, 5, dtype=np.int64)
    lost = opps.outcome == OUTCOME_LOST
    k[lost] = 1 + choice_idx(rng, [0.3, 0.25, 0.2, 0.15, 0.1], int(lost.sum()))
    is_open = ~closed
    progress = (
        elapsed[is_open] / planned_len[is_open] * 4.0 * rng.uniform(0.7, 1.1, int(is_open.sum()))
    )
    k[is_open] = np.clip(1 + np.floor(progress), 1, 5).astype(np.int64)
    reg = (k >= 3) & (rng.random(n) < 0.1)
    r = 2 + np.floor(rng.random(n) * np.maximum(k - 2, 1)).astype(np.int64)
    nb = k + 2 * reg
    push = opps.pushed
    p = np.floor(rng.random(n) * nb).astype(np.int64)
    length = nb + push + closed

    opp = np.repeat(np.arange(n), length)
    first = np.cumsum(length) - length
    j = np.arange(len(opp)) - np.repeat(first, length)
    P, R = p[opp], r[opp]
    b = np.where(push[opp] & (j > P), j - 1, j)
    seq = np.where(reg[opp] & (b == R + 1), R - 1, np.where(reg[opp] & (b > R + 1), b - 2, b))
    is_close_row = closed[opp] & (j == length[opp] - 1)
    won = opps.outcome[opp] == OUTCOME_WON
    stage = np.where(is_close_row, np.where(won, 5, 6), seq)

    u = rng.uniform(0.15, 0.85, len(opp))
    slots = np.maximum(length[opp] - closed[opp].astype(np.int64), 1)
    frac = np.where(j == 0, 0.0, (j - 1 + u) / slots)
    frac = np.where(is_close_row, 1.0, frac)
    open_span = np.where(closed, 1.0, rng.uniform(0.6, 1.0, n))[opp]
    span = (np.minimum(opps.close, END) - opps.created).astype(np.int64)[opp] * open_span
    changed = opps.created[opp] + (frac * span).astype(np.int64).astype("m8[s]")
    close_date = np.where(push[opp] & (j <= P), opps.planned_close[opp], opps.close[opp])
    initial = np.round(opps.amount * rng.uniform(0.7, 1.3, n), -2)
    amount = np.where((stage < 3) & (opps.kind[opp] == 0), initial[opp], opps.amount[opp])
    frame = pd.DataFrame(
        {
            "opp": opp,
            "stage": np.array(STAGE_NAMES)[stage],
            "changed_at": changed,
            "amount": amount,
            "close_date": close_date.astype("datetime64[D]"),
            "forecast_category": STAGE_FORECAST[stage],
            "probability": STAGE_PROBABILITY[stage],
        }
    )
    last = np.cumsum(length) - 1
    return History(frame, stage[last], close_date[last], amount[last])


_NEXT_STEPS = (
    ("Book discovery call", "Confirm budget owner"),
    ("Schedule demo", "Map decision process"),
    ("Technical validation", "Share solution design"),
    ("Send revised proposal", "Pricing review with finance"),
    ("Redline MSA with legal", "Signature by end of month"),
)
NEXT_STEP_MISSING = 0.15


def next_steps(rng: np.random.Generator, final_stage: IntArray) -> np.ndarray:
    """The rep's next step on open deals, left empty on ~15% of them (a hygiene gap to find).

    Closed deals have none. Drawn from its own generator so adding the field changes no other
    planted number.
    """
    pick = rng.integers(0, 2, len(final_stage))
    missing = rng.random(len(final_stage)) < NEXT_STEP_MISSING
    out = np.full(len(final_stage), None, dtype=object)
    for stage, options in enumerate(_NEXT_STEPS):
        rows = np.flatnonzero((final_stage == stage) & ~missing)
        out[rows] = np.array(options, dtype=object)[pick[rows]]
    return out


_SUBJECTS = {
    "call": ("Call", "Discovery call", "Follow-up call", "Qualification call"),
    "email": (
        "Email: Following up",
        "Email: Northwind Analytics overview",
        "Email: Proposal attached",
        "Email: Next steps",
    ),
    "meeting": (
        "Demo",
        "Discovery meeting",
        "Pricing review",
        "Technical deep dive",
        "Executive alignment",
    ),
    "task": ("Send proposal", "Update close plan", "Prepare business case"),
}
ACTIVITY_KINDS = ("call", "email", "meeting", "task")
_OUTCOMES = np.array(["Connected", "Left Voicemail", "No Answer"])


def activities(
    rng: np.random.Generator, persons: Persons, funnel: Funnel, accounts: Accounts, opps: Opps
) -> pd.DataFrame:
    """SDR outreach on accepted leads and AE/CSM work on deals: calls, emails, meetings, tasks."""
    sal = np.flatnonzero(~np.isnat(funnel.sal) & ~funnel.dirty)
    c1 = rng.poisson(3.3, len(sal)) + 1
    who1 = np.repeat(sal, c1)
    start1 = funnel.mql[who1]
    end1 = np.minimum(funnel.sal[who1] + 10 * DAY, END)
    t1 = start1 + (rng.random(len(who1)) * (end1 - start1).astype(np.int64)).astype(
        np.int64
    ).astype("m8[s]")
    kind1 = choice_idx(rng, [0.55, 0.40, 0.05, 0.0], len(who1))
    matched = funnel.matched[who1]
    sdr_part = pd.DataFrame(
        {
            "user": funnel.sal_owner[who1],
            "person": who1,
            "account": np.where(matched, persons.company_account[who1], -1),
            "opp": -1,
            "occurred_at": t1,
            "kind": kind1,
        }
    )
    seg = accounts.segment[opps.account]
    lam = np.array([5.0, 7.5, 12.0])[seg] * np.where(opps.kind == 0, 1.0, 0.5)
    c2 = rng.poisson(lam)
    o = np.repeat(np.arange(len(opps)), c2)
    end2 = np.minimum(opps.close[o], END)
    t2 = opps.created[o] + (rng.random(len(o)) * (end2 - opps.created[o]).astype(np.int64)).astype(
        np.int64
    ).astype("m8[s]")
    deal_part = pd.DataFrame(
        {
            "user": opps.owner[o],
            "person": opps.person[o],
            "account": opps.account[o],
            "opp": o,
            "occurred_at": t2,
            "kind": choice_idx(rng, [0.30, 0.45, 0.20, 0.05], len(o)),
        }
    )
    acts = pd.concat([sdr_part, deal_part], ignore_index=True)
    acts = acts[acts["occurred_at"] <= END].sort_values(["occurred_at", "user"], kind="stable")
    acts = acts.reset_index(drop=True)
    kind = acts["kind"].to_numpy()
    subject = np.empty(len(acts), dtype=object)
    for i, name in enumerate(ACTIVITY_KINDS):
        rows = np.flatnonzero(kind == i)
        options = np.array(_SUBJECTS[name])
        subject[rows] = options[rng.integers(0, len(options), len(rows))]
    outcome = np.where(kind == 0, _OUTCOMES[choice_idx(rng, [0.35, 0.4, 0.25], len(acts))], "")
    acts["subject"] = subject
    acts["outcome"] = outcome
    acts["kind"] = np.array(ACTIVITY_KINDS)[kind]
    return acts
