"""The intake scorer (`api.scores`) against the batch scorer (`scoring.rules.score_frame`).

Two implementations of the same rules: the plain-Python one on the intake answer path, the
vectorized one everywhere else. On generated leads (field values drawn from the example
config's own rule values, in random case, with near misses, words inside other words and
numbers on the band edges) both must give exactly the same floats and MQL flag.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from api_support import EXAMPLE
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.api.scores import score_lead
from revops.config import load_config
from revops.scoring.rules import score_frame, to_naive_us
from revops.warehouse.schema import TOUCH_TYPES

CFG = load_config(EXAMPLE).model.scoring
AT = datetime(2025, 6, 10, 10, 0)

TITLES = [
    "VP Sales",
    "vice president",
    "Director of IT",
    "CTO",
    "ctor",
    "Head of Growth",
    "Account Manager",
    "Chief Scientist",
    "intern",
    "",
    "Sales director, EMEA",
]
INDUSTRIES = ["Software", "software", "SOFTWARE ", "Retail", "Media", "Farming", ""]
COUNTRIES = ["US", "us", "DE", "GB", "FR", "CA"]
EMPLOYEES = [0, 49, 50, 199, 200, 999, 1000, 5000]


def text(choices: list[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(choices), st.text(max_size=12))


@st.composite
def lead(draw: st.DrawFn) -> tuple[dict[str, Any], str | None]:
    person = {
        "person_id": "p",
        "title": draw(text(TITLES)),
        "industry": draw(text(INDUSTRIES)),
        "country": draw(text(COUNTRIES)),
        "source": draw(text(["web", "demo_request", "event"])),
        "employees": draw(st.one_of(st.none(), st.sampled_from(EMPLOYEES), st.integers(0, 10**6))),
    }
    form = draw(st.one_of(st.none(), st.sampled_from(TOUCH_TYPES)))
    return person, form


def batch(person: dict[str, Any], form: str | None) -> tuple[float, float, float, bool]:
    touches = pd.DataFrame(
        [{"person_id": "p", "touch_type": form, "occurred_at": AT}] if form else [],
        columns=["person_id", "touch_type", "occurred_at"],
    )
    frame = score_frame(pd.DataFrame([person]), touches, CFG, np.asarray(to_naive_us([AT]))).frame
    row = frame.iloc[0]
    return (
        float(row["fit"]),
        float(row["engagement"]),
        float(row["combined"]),
        bool(row["is_mql_ready"]),
    )


@settings(max_examples=300, deadline=None)
@given(lead())
def test_the_intake_scorer_equals_the_batch_scorer(case: tuple[dict[str, Any], str | None]) -> None:
    person, form = case
    s = score_lead(person, form, CFG)
    assert (s.fit, s.engagement, s.combined, s.is_mql_ready) == batch(person, form)


def test_the_hand_worked_lead_of_test_intake() -> None:
    """US VP, 500 employees, Software, demo request: fit 18 + 15 + 25 + 5 = 63, engagement 25
    (a demo_request touch at age 0), combined 88 >= 60 with fit >= 20: MQL-ready."""
    person = {"title": "VP Sales", "employees": 500, "industry": "Software", "country": "US"}
    s = score_lead(person, "demo_request", CFG)
    assert (s.fit, s.engagement, s.combined, s.is_mql_ready) == (63.0, 25.0, 88.0, True)
