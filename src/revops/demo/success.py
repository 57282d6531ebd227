"""Customer-success data for Northwind: product usage, support tickets, invoices, champion changes.

Generated from the subscription book after it is built, so the signals lead the planted churn:
in the six months before an account churns its active users fall (to about a quarter in the
last month), it opens about three times as many tickets (more of them high or urgent), pays
late far more often (some invoices never paid) and often loses its champion. Accounts about to
expand grow usage first. Healthy accounts get noise (random dips, stray tickets and late
payments, the odd champion change), so health is a signal and not a label.

It draws from its own random stream (seeded from the company seed), so adding it left every
other demo file byte-identical.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from revops.demo._common import END, PRODUCTS, StrArray

FIRST_MONTH = np.datetime64("2024-01", "M")
LAST_MONTH = END.astype("datetime64[M]")
LAST_DAY = END.astype("datetime64[D]")
_LEAD = 6  # months of warning before a churn
EMBEDDED_BI = PRODUCTS.index("Embedded BI")


def _month_ends(months: np.ndarray) -> np.ndarray:
    return (months + 1).astype("datetime64[D]") - 1


def mrr_matrix(subs: pd.DataFrame, n_accounts: int, months: np.ndarray) -> np.ndarray:
    """MRR per account (rows) at each month end (columns), the same semantics as revops.revenue."""
    ends = _month_ends(months)
    start = subs["start"].to_numpy(dtype="datetime64[D]")[:, None]
    stop = subs["end"].to_numpy(dtype="datetime64[D]")[:, None]
    live = (start <= ends[None, :]) & (np.isnat(stop) | (stop >= ends[None, :]))
    out = np.zeros((n_accounts, len(months)))
    rows = np.repeat(subs["account"].to_numpy(), len(months)).reshape(live.shape)
    cols = np.broadcast_to(np.arange(len(months)), live.shape)
    np.add.at(
        out,
        (rows[live], cols[live]),
        np.broadcast_to(subs["mrr"].to_numpy()[:, None], live.shape)[live],
    )
    return out


def _months_until(event: np.ndarray) -> np.ndarray:
    """For each cell, months until the next True in its row (large when none)."""
    n, m = event.shape
    out = np.full((n, m), 999, dtype=np.int64)
    nxt = np.full(n, 999, dtype=np.int64)
    for j in range(m - 1, -1, -1):
        nxt = np.where(event[:, j], 0, nxt + 1)
        out[:, j] = nxt
    return out


def _ids(prefix: str, n: int, width: int) -> StrArray:
    """`prefix` + a zero-padded sequence number, for `n` rows (numbered from 1)."""
    if n == 0:
        return np.array([], dtype=f"<U{len(prefix) + width}")
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width))


def _times_in(rng: np.random.Generator, months: np.ndarray) -> np.ndarray:
    start = months.astype("datetime64[s]")
    span = ((months + 1).astype("datetime64[s]") - start).astype(np.int64)
    offset = (rng.random(len(months)) * span).astype(np.int64).astype("m8[s]")
    return np.asarray(start + offset)


def _future_churn(rng: np.random.Generator, subs: pd.DataFrame, mrr: np.ndarray) -> np.ndarray:
    """Months after the data ends at which live accounts will churn (0: not planned).

    Renewals lost after the window are not in the book yet, but their warning signs are already
    in the success data, so an at-risk list on the last month has real churners to find. Embedded
    BI customers are the likeliest, as in the book.
    """
    live = mrr[:, -1] > 0
    open_lines = subs[subs["end"].isna()]
    embedded = np.zeros(len(mrr), dtype=bool)
    embedded[open_lines.loc[open_lines["product"] == EMBEDDED_BI, "account"].to_numpy()] = True
    p = np.where(embedded, 0.25, 0.05)
    will = live & (rng.random(len(mrr)) < p)
    return np.where(will, rng.integers(1, _LEAD + 1, len(mrr)), 0)


def build(
    rng: np.random.Generator, subs: pd.DataFrame, account_ids: StrArray
) -> dict[str, pd.DataFrame]:
    """The four customer-success tables in canonical columns, keyed by table name."""
    months = np.arange(FIRST_MONTH - 12, LAST_MONTH + 1)
    mrr = mrr_matrix(subs, len(account_ids), months)
    churn = np.zeros(mrr.shape, dtype=bool)
    churn[:, 1:] = (mrr[:, :-1] > 0) & (mrr[:, 1:] == 0)
    grow = np.zeros(mrr.shape, dtype=bool)
    grow[:, 1:] = (mrr[:, :-1] > 0) & (mrr[:, 1:] > mrr[:, :-1] * 1.01)
    to_churn = _months_until(churn)
    future = _future_churn(rng, subs, mrr)
    ahead = (len(months) - 1 - np.arange(len(months)))[None, :] + future[:, None]
    to_churn = np.where((future[:, None] > 0) & (to_churn >= 999), ahead, to_churn)
    to_grow = _months_until(grow)
    keep = months >= FIRST_MONTH
    mrr, to_churn, to_grow, months = mrr[:, keep], to_churn[:, keep], to_grow[:, keep], months[keep]
    live = mrr > 0
    acc, col = np.nonzero(live)
    k = to_churn[acc, col]
    g = to_grow[acc, col]
    # a third of churners leave without warning (budget cuts, acquisitions): signals, not labels
    loud = (rng.random(len(account_ids)) < 0.67)[acc]
    warn = (k >= 1) & (k <= _LEAD) & loud
    # and some healthy accounts go through a rough patch that they recover from
    episode = rng.integers(0, len(months) + 40, len(account_ids))[acc]
    rough = (col >= episode) & (col < episode + 4)
    n = len(acc)

    base = np.maximum(2.0, 4.0 * (mrr[acc, col] / 100.0) ** 0.6) * rng.lognormal(0, 0.1, n)
    account_size = np.exp(rng.normal(0, 0.3, len(account_ids)))[acc]
    factor = np.where(warn, np.maximum(0.35, 1.0 - 0.1 * (_LEAD + 1 - k)), 1.0)
    factor *= np.where(rough, 0.7, 1.0)
    factor *= np.where((g >= 1) & (g <= 3), 1.0 + 0.1 * (4 - g), 1.0)
    factor *= rng.lognormal(0, 0.12, n)
    users = np.maximum(1, np.round(base * account_size * factor)).astype(np.int64)
    usage = pd.DataFrame(
        {
            "account_id": account_ids[acc],
            "month": months[col].astype("datetime64[D]"),
            "active_users": users,
            "events": (users * rng.gamma(8.0, 25.0, n)).round().astype(np.int64),
        }
    )

    rate = np.where(warn & (k <= 4), 1.0, np.where(rough, 0.8, 0.45))
    rate = rate * np.where(mrr[acc, col] > 2000, 1.5, 1.0)
    count = rng.poisson(rate)
    t_row = np.repeat(np.arange(n), count)
    opened = _times_in(rng, months[col[t_row]])
    severe = np.where(warn[t_row], 0.45, 0.15)
    p = rng.random(len(t_row))
    priority = np.where(
        p < severe * 0.4, "urgent", np.where(p < severe, "high", np.where(p < 0.7, "normal", "low"))
    )
    closed = opened + (rng.exponential(2.5, len(t_row)) * 86_400).astype(np.int64).astype("m8[s]")
    still_open = closed > END
    tickets = pd.DataFrame(
        {
            "ticket_id": _ids("ZD-", len(t_row), 7),
            "account_id": account_ids[acc[t_row]],
            "opened_at": opened,
            "closed_at": np.where(still_open, np.datetime64("NaT", "s"), closed),
            "priority": priority,
            "status": np.where(
                still_open, "open", np.where(rng.random(len(t_row)) < 0.5, "solved", "closed")
            ),
        }
    ).sort_values(["opened_at", "ticket_id"], kind="stable")
    tickets["ticket_id"] = _ids("ZD-", len(tickets), 7)

    due = months[col].astype("datetime64[D]") + 27  # due on the 28th of the month billed
    late_p = np.where(warn & (k <= 4), 0.3, np.where(rough, 0.15, 0.06))
    late = rng.random(n) < late_p
    delay = np.where(late, rng.uniform(16, 60, n), rng.uniform(-10, 5, n)).round().astype(np.int64)
    unpaid = (warn & (k <= 2) & (rng.random(n) < 0.15)) | (due + delay > LAST_DAY)
    invoices = pd.DataFrame(
        {
            "invoice_id": _ids("INV-", n, 8),
            "account_id": account_ids[acc],
            "due_date": due,
            "paid_date": np.where(unpaid, np.datetime64("NaT", "D"), due + delay),
            "amount": mrr[acc, col].round(2),
        }
    )
    invoices = invoices[invoices["due_date"] <= LAST_DAY].reset_index(drop=True)

    change = rng.random(n) < np.where(warn & (k >= 2), 0.06, 0.008)
    if change.sum() < min(3, n):  # tiny companies still get a few, so the table is never empty
        change[rng.choice(n, size=min(3, n), replace=False)] = True
    champions = pd.DataFrame(
        {
            "change_id": _ids("CHG-", int(change.sum()), 6),
            "account_id": account_ids[acc[change]],
            "changed_at": _times_in(rng, months[col[change]]),
        }
    )
    return {
        "product_usage": usage,
        "support_tickets": tickets.reset_index(drop=True),
        "invoices": invoices,
        "champion_changes": champions,
    }
