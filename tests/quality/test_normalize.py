"""The normalizers: hand cases per kind, and idempotence as a property (what makes fix safe)."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from quality_data import model

from revops.quality import normalize
from revops.quality.fix import plan_table, steps

ALIASES = {"u.s.": "US", "united states": "US", "uk": "GB"}


def test_country() -> None:
    assert normalize.country("U.S.", ALIASES) == "US"
    assert normalize.country("  United   States ", ALIASES) == "US"
    assert normalize.country("de", ALIASES) == "DE"
    assert normalize.country("FRA", ALIASES) == "FR"
    assert normalize.country("Germany", ALIASES) == "DE"
    assert normalize.country("Atlantis", ALIASES) == "Atlantis"


def test_state() -> None:
    assert normalize.state("California", "US", ("US", "CA")) == "CA"
    assert normalize.state("us-ny", "US", ("US", "CA")) == "NY"
    assert normalize.state("Ontario", "CA", ("US", "CA")) == "ON"
    assert normalize.state("qc", "CA", ("US", "CA")) == "QC"
    assert normalize.state("Bavaria", "DE", ("US", "CA")) == "Bavaria"  # unchecked country
    assert normalize.state("Narnia", "US", ("US", "CA")) == "Narnia"
    assert normalize.state("CA", None, ("US", "CA")) == "CA"


def test_phone() -> None:
    assert normalize.phone("+1 (415) 555-0100", None) == "+14155550100"
    assert normalize.phone("030 1234567", "DE") == "+49301234567"
    assert normalize.phone("030 1234567", None) == "030 1234567"  # no country: unreadable
    assert normalize.phone("12", "US") == "12"
    assert normalize.phone("call me", "US") == "call me"


def test_email_and_picklist_and_titles() -> None:
    assert normalize.email("  Ana@Acme.COM ") == "ana@acme.com"
    assert normalize.picklist(" paid  SEARCH", {"paid search": "paid_search"}) == "paid_search"
    assert normalize.picklist("other", {"paid search": "paid_search"}) == "other"
    titles = model().quality.titles
    assert titles is not None
    assert normalize.classify("Chief Technology Officer", titles.seniority, None) == "c_level"
    assert normalize.classify("Senior VP, Sales", titles.seniority, None) == "vp"
    assert normalize.classify("Analyst", titles.seniority, "individual_contributor") == (
        "individual_contributor"
    )
    assert normalize.classify("IT Manager", titles.function, "other") == "it"
    assert normalize.classify("Gardener", titles.function, "other") == "other"


PERSON_STEPS = [s for s in steps(model()) if s.table == "persons"]
values = st.one_of(
    st.sampled_from(["USA", "us", "gb", "Deutschland", "FRA", "Ontario", "California", "x"]),
    st.text(alphabet=" +-()0123456789abcXYZ@.", max_size=16),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(values, values, values, values, values), min_size=1, max_size=6))
def test_planning_twice_finds_nothing_the_second_time(rows: list[tuple[str, ...]]) -> None:
    """Apply a plan to a frame, plan again: nothing changes (the fix is idempotent)."""
    table_steps = PERSON_STEPS
    frame = pd.DataFrame(
        {
            "person_id": [f"P{i}" for i in range(len(rows))],
            "email": [r[0] for r in rows],
            "phone": [r[1] for r in rows],
            "country": [r[2] for r in rows],
            "state": [r[3] for r in rows],
            "source": [r[4] for r in rows],
            "title": [r[0] for r in rows],
            "seniority": [None] * len(rows),
            "job_function": [None] * len(rows),
        }
    )
    first = plan_table(frame, "person_id", table_steps)
    fixed = frame.set_index("person_id")
    for c in first:
        fixed.loc[c.record_id, c.field] = c.after
        assert c.before != c.after
    assert plan_table(fixed.reset_index(), "person_id", table_steps) == []
    # Undo = restore the before-values: exactly the original frame comes back.
    for c in first:
        fixed.loc[c.record_id, c.field] = c.before
    restored = fixed.reset_index().astype(object).where(fixed.reset_index().notna(), None)
    original = frame.astype(object).where(frame.notna(), None)
    blank = {"": None}
    assert restored.replace(blank).equals(original.replace(blank))
