"""Recurring revenue: subscriptions, and the renewal, expansion and win-back deals that move them.

A won new-business deal starts a contract: a subscription line for its product, billed from the
day after close. Each contract year may bring an expansion (a new product line, or an upsell
that replaces the line at a higher MRR); at the anniversary a renewal deal renews it flat,
contracts it (a downgrade, or an add-on dropped) or loses it (churn, every line ends). Churned
accounts sometimes come back through a win-back deal (reactivation). Embedded BI churns far more
than the other products. A book of customers won before the window gives the company revenue
on day one; their original deals (and lost ones of that era) are part of the CRM history.

Contracts are few (thousands), so this one part walks them in a plain loop; the per-row work
everywhere else stays vectorized.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from revops.demo._common import (
    DAY,
    END,
    PRODUCT_MIX,
    PRODUCTS,
    START,
    IntArray,
    choice_idx,
    days,
    delta,
)
from revops.demo.deals import (
    CYCLE_DAYS,
    DEAL_SIZE,
    OUTCOME_LOST,
    OUTCOME_OPEN,
    OUTCOME_WON,
    Opps,
    owner_on,
    timing,
)
from revops.demo.org import Org
from revops.demo.people import Accounts

# chance that a contract is not renewed at its anniversary, by primary product (mid-market);
# with the segment factor below GRR lands near 92%, inside the 85-95% public surveys report
# (SaaS Capital 2019 B2B SaaS retention benchmarks: median gross retention near 90%)
CHURN = (0.08, 0.10, 0.45, 0.10)
# ... times this by segment: small customers leave more often, so logo churn runs above dollar
# churn as survey data show (SaaS Capital 2019 retention benchmarks: retention rises with ACV)
_SEGMENT_CHURN = (2.6, 1.3, 0.5)
_EXPANSION = (0.22, 0.32, 0.45)  # chance of an expansion deal per contract year, by segment
_REACTIVATE = 0.22
_LEGACY_SHARE = 0.07


def account_csm(org: Org, accounts: Accounts, account: IntArray) -> IntArray:
    """The customer success manager (user row) of each account: one of its region's CSMs, picked
    by account index. Renewals are owned by this CSM and the account record names the same one,
    so a save task addressed to the account's CSM reaches the person who owns the renewal.
    """
    out = np.full(len(account), -1, dtype=np.int64)
    region = accounts.region[account]
    for r in range(4):
        csms = org.csm_users[org.csm_region == r]
        here = region == r
        out[here] = csms[account[here] % len(csms)]
    return out


@dataclass
class _Deal:
    account: int
    owner: int
    kind: int
    product: int
    created: np.datetime64
    planned: np.datetime64
    close: np.datetime64
    outcome: int
    amount: float
    source: int


def legacy_book(rng: np.random.Generator, accounts: Accounts, org: Org) -> Opps:
    """Deals closed in the two years before the window: the starting customer base."""
    n_won = max(3, round(_LEGACY_SHARE * accounts.n))
    n = round(n_won * 3.0)
    weight = np.array([1.0, 2.2, 3.5])[accounts.segment]
    account = choice_idx(rng, weight, n)
    seg = accounts.segment[account]
    won = np.zeros(n, dtype=bool)
    won[:n_won] = True
    span = (START - 8 * DAY - np.datetime64("2022-11-01T00:00:00", "s")).astype(np.int64)
    close = np.datetime64("2022-11-01T00:00:00", "s") + (rng.random(n) * span).astype(
        np.int64
    ).astype("m8[s]")
    cycle = CYCLE_DAYS[seg] * rng.gamma(6.0, 1 / 6.0, n)
    created = close - days(cycle)
    amount = np.maximum(np.round(DEAL_SIZE[seg] * rng.lognormal(0.0, 0.35, n), -2), 1_000.0)
    return Opps(
        account=account,
        owner=owner_on(org, accounts, account, created),
        person=np.full(n, -1, dtype=np.int64),
        kind=np.zeros(n, dtype=np.int64),
        product=choice_idx(rng, list(PRODUCT_MIX), n),
        created=created,
        planned_close=close,
        close=close,
        outcome=np.where(won, OUTCOME_WON, OUTCOME_LOST),
        amount=amount,
        source=choice_idx(rng, [2, 1, 1, 1, 2, 1, 2, 1, 1, 3], n),
        campaign=np.full(n, -1, dtype=np.int64),
        pushed=np.zeros(n, dtype=bool),
    )


def _day(t: np.datetime64) -> np.datetime64:
    return t.astype("datetime64[D]")


@dataclass
class _Line:
    product: int
    mrr: float
    start: np.datetime64  # day
    end: np.datetime64 | None  # last day billed
    opp: int


def contracts(
    rng: np.random.Generator,
    won: Opps,
    won_index: IntArray,
    accounts: Accounts,
    org: Org,
    first_index: int,
) -> tuple[pd.DataFrame, Opps]:
    """Walk every contract started by a won deal; return subscription lines and the new deals.

    `won_index` is each won deal's index in the final opportunity list, `first_index` the index
    the first deal created here will get; subscriptions refer to deals by those indices.
    """
    lines_out: list[_Line] = []
    line_account: list[int] = []
    deals: list[_Deal] = []
    queue = [
        (
            int(won.account[i]),
            int(won.product[i]),
            float(won.amount[i]),
            won.close[i],
            int(won_index[i]),
        )
        for i in range(len(won))
    ]
    starts = org.users["start_date"].to_numpy()
    end_day = _day(END)

    def add_deal(d: _Deal) -> int:
        deals.append(d)
        return first_index + len(deals) - 1

    def new_deal(
        account: int,
        kind: int,
        product: int,
        created: np.datetime64,
        cycle: float,
        win_p: float,
        amount: float,
        owner: int,
    ) -> tuple[int, _Deal]:
        planned, close, outcome, _ = timing(
            rng, np.array([created]), np.array([cycle]), np.array([win_p]), 0.15
        )
        d = _Deal(
            account,
            owner,
            kind,
            product,
            created,
            planned[0],
            close[0],
            int(outcome[0]),
            round(amount, -2),
            -1,
        )
        return add_deal(d), d

    def sales_owner(account: int, when: np.datetime64) -> int:
        ae = int(accounts.owner[account])
        if starts[ae] <= when:
            return ae
        return int(org.veteran_of_territory[accounts.territory[account]])

    position = 0
    while position < len(queue):
        account, product, arr, closed_at, opp_index = queue[position]
        position += 1
        seg = int(accounts.segment[account])
        csm = int(account_csm(org, accounts, np.array([account]))[0])
        lines = [_Line(product, round(arr / 12.0, 2), _day(closed_at) + 1, None, opp_index)]
        primary = lines[0]
        year_start = lines[0].start
        while True:
            anniv = year_start + 365
            if rng.random() < _EXPANSION[seg]:
                created = year_start.astype("datetime64[s]") + delta(float(rng.uniform(45, 250)))
                if created <= END:
                    held = {ln.product for ln in lines if ln.end is None}
                    free = [p for p in range(len(PRODUCTS)) if p not in held]
                    add_on = bool(free) and rng.random() < 0.5
                    new_product = free[int(rng.integers(0, len(free)))] if add_on else product
                    extra = primary.mrr * 12 * float(rng.uniform(0.2, 0.6))
                    idx, d = new_deal(
                        account,
                        1,
                        new_product,
                        created,
                        40.0,
                        0.55,
                        extra,
                        sales_owner(account, created),
                    )
                    if d.outcome == OUTCOME_WON:
                        on = _day(d.close) + 1
                        if add_on:
                            lines.append(_Line(new_product, round(extra / 12.0, 2), on, None, idx))
                        else:
                            primary.end = on - 1
                            primary = _Line(
                                product, round(primary.mrr + extra / 12.0, 2), on, None, idx
                            )
                            lines.append(primary)
            renew_created = (anniv - 75).astype("datetime64[s]")
            if renew_created > END:
                break
            arr_now = round(sum(ln.mrr for ln in lines if ln.end is None) * 12, -2)
            due = (anniv - 1).astype("datetime64[s]") + delta(0.5)
            if anniv - 1 > end_day:
                add_deal(
                    _Deal(
                        account, csm, 2, product, renew_created, due, due, OUTCOME_OPEN, arr_now, -1
                    )
                )
                break
            churn = bool(rng.random() < min(CHURN[product] * _SEGMENT_CHURN[seg], 0.9))
            closed = due - delta(float(rng.uniform(0, 20)) if not churn else 0.0)
            outcome = OUTCOME_LOST if churn else OUTCOME_WON
            deal = _Deal(account, csm, 2, product, renew_created, due, closed, outcome, arr_now, -1)
            idx = add_deal(deal)
            if churn:
                for ln in lines:
                    if ln.end is None:
                        ln.end = anniv - 1
                back = anniv.astype("datetime64[s]") + delta(float(rng.uniform(60, 240)))
                if rng.random() < _REACTIVATE and back <= END:
                    amount = arr_now * float(rng.uniform(0.6, 1.0))
                    p2 = int(choice_idx(rng, list(PRODUCT_MIX), 1)[0])
                    idx2, d2 = new_deal(
                        account,
                        0,
                        p2,
                        back,
                        float(CYCLE_DAYS[seg]),
                        0.6,
                        amount,
                        sales_owner(account, back),
                    )
                    d2.source = int(rng.choice([1, 3, 8, 9]))
                    if d2.outcome == OUTCOME_WON:
                        queue.append((account, p2, d2.amount, d2.close, idx2))
                break
            for ln in lines:
                if ln.end is None and ln is not primary and rng.random() < CHURN[ln.product] * 0.6:
                    ln.end = anniv - 1
            if rng.random() < 0.10:
                primary.end = anniv - 1
                primary = _Line(
                    product, round(primary.mrr * float(rng.uniform(0.6, 0.85)), 2), anniv, None, idx
                )
                lines.append(primary)
            deal.amount = round(sum(ln.mrr for ln in lines if ln.end is None) * 12, -2)
            year_start = anniv
        lines_out.extend(lines)
        line_account.extend([account] * len(lines))

    frame = pd.DataFrame(
        {
            "account": np.array(line_account, dtype=np.int64),
            "product": np.array([ln.product for ln in lines_out], dtype=np.int64),
            "mrr": np.array([ln.mrr for ln in lines_out], dtype=np.float64),
            "start": np.array([ln.start for ln in lines_out], dtype="datetime64[D]"),
            "end": np.array(
                [ln.end if ln.end is not None else np.datetime64("NaT") for ln in lines_out],
                dtype="datetime64[D]",
            ),
            "opp": np.array([ln.opp for ln in lines_out], dtype=np.int64),
        }
    )
    frame = frame[frame["start"] <= end_day].reset_index(drop=True)
    n = len(deals)
    new = Opps(
        account=np.array([d.account for d in deals], dtype=np.int64),
        owner=np.array([d.owner for d in deals], dtype=np.int64),
        person=np.full(n, -1, dtype=np.int64),
        kind=np.array([d.kind for d in deals], dtype=np.int64),
        product=np.array([d.product for d in deals], dtype=np.int64),
        created=np.array([d.created for d in deals], dtype="datetime64[s]"),
        planned_close=np.array([d.planned for d in deals], dtype="datetime64[s]"),
        close=np.array([d.close for d in deals], dtype="datetime64[s]"),
        outcome=np.array([d.outcome for d in deals], dtype=np.int64),
        amount=np.array([max(d.amount, 500.0) for d in deals], dtype=np.float64),
        source=np.array([d.source for d in deals], dtype=np.int64),
        campaign=np.full(n, -1, dtype=np.int64),
        pushed=np.zeros(n, dtype=bool),
    )
    return frame, new
