"""Consent for Northwind: a ledger with opt-ins, opt-outs, pending double opt-ins and DNC flags.

Marketing by email is the purpose that needs double opt-in (revops.yaml `privacy:`), so most
persons who opt in at sign-up get a `pending` event and, a day or two later for most of them, a
`confirmed` one; the rest stay pending and must never receive marketing. Some later opt out,
a few ask never to be contacted again (purpose and channel `*`), and a slice of leads accept
sales calls. It draws from its own random stream, so the other demo files are unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from revops.demo._common import END, days

_OPT_IN = 0.6  # of persons opt in to marketing email at sign-up
_CONFIRM = 0.8  # of those confirm the double opt-in
_OPT_OUT = 0.12  # of confirmed persons later opt out
_DNC = 0.01  # of all persons ask never to be contacted
_CALLS = 0.15  # of persons accept sales calls


def build(rng: np.random.Generator, persons: pd.DataFrame) -> pd.DataFrame:
    """The consent_ledger table for `persons` (person_id, created_at)."""
    n = len(persons)
    ids = persons["person_id"].to_numpy()
    created = persons["created_at"].to_numpy(dtype="datetime64[s]")
    opt_in = rng.random(n) < _OPT_IN
    confirmed = opt_in & (rng.random(n) < _CONFIRM)
    opted_out = confirmed & (rng.random(n) < _OPT_OUT)
    dnc = rng.random(n) < _DNC
    calls = rng.random(n) < _CALLS
    confirm_at = created + days(rng.uniform(0.05, 2.0, n))
    out_at = confirm_at + days(rng.exponential(120.0, n))
    dnc_at = created + days(rng.exponential(200.0, n))
    parts = [
        _events(ids, created, opt_in, "marketing", "email", "opt_in", "web_form", "pending"),
        _events(ids, confirm_at, confirmed, "marketing", "email", "opt_in", "double_opt_in",
                "confirmed"),
        _events(ids, out_at, opted_out, "marketing", "email", "opt_out", "unsubscribe_link",
                None),
        _events(ids, created, calls, "sales_outreach", "phone", "opt_in", "demo_request",
                "not_required"),
        _events(ids, dnc_at, dnc, "*", "*", "opt_out", "support_request", None, "requested"),
    ]  # fmt: skip
    ledger = pd.concat(parts, ignore_index=True)
    ledger = ledger[ledger["recorded_at"] <= END]
    ledger = ledger.sort_values(["recorded_at", "person_id"], kind="stable").reset_index(drop=True)
    ledger.insert(0, "event_id", [f"CNS-{i:08d}" for i in range(1, len(ledger) + 1)])
    return ledger


def _events(
    ids: np.ndarray,
    at: np.ndarray,
    mask: np.ndarray,
    purpose: str,
    channel: str,
    status: str,
    source: str,
    double_opt_in: str | None,
    do_not_contact: str | None = None,
) -> pd.DataFrame:
    k = int(mask.sum())
    return pd.DataFrame(
        {
            "person_id": ids[mask],
            "purpose": [purpose] * k,
            "channel": [channel] * k,
            "status": [status] * k,
            "lawful_basis": ["consent"] * k,
            "source": [source] * k,
            "recorded_at": at[mask],
            "double_opt_in": [double_opt_in] * k,
            "do_not_contact": [do_not_contact] * k,
        }
    )
