"""A load cleans lead sources and countries exactly as the intake API does (`quality.edge`), on
DuckDB and PostgreSQL, with the shipped example operating model.

persons.csv: 'Paid Search' → paid_search (the taxonomy spelled another way), 'PPC' →
paid_search (the persons.source picklist map), 'carrier_pigeon' → other (unknown; never a new
channel) with a quality_changes row of rule unknown_source keeping the value given; countries
'us' → US, 'Germany' → DE, 'U.K.' → GB (an alias), 'Narnia' stays for `quality check`.
touchpoints.csv: channel 'carrier_pigeon' → other, with the value given as its empty utm_source,
so the UTM audit flags it. `quality undo LOAD_ID` restores what the load changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revops.config import load_config
from revops.context import RevOps
from revops.quality.edge import UnknownSource, source_channel
from revops.quality.undo import undo
from revops.quality.utm import audit as utm_audit
from revops.warehouse import Warehouse

EXAMPLE = Path(__file__).parents[2] / "examples" / "revops.yaml"
MODEL = load_config(EXAMPLE).model


def test_a_load_normalizes_sources_and_countries_and_flags_unknown_sources(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    ro = RevOps(load_config(EXAMPLE), warehouse)
    persons = tmp_path / "persons.csv"
    persons.write_text(
        "person_id,email,source,country,created_at\n"
        "p1,a@x.com,Paid Search,us,2026-03-01T09:00:00\n"
        "p2,b@x.com,PPC,Germany,2026-03-01T09:00:00\n"
        "p3,c@x.com,carrier_pigeon,U.K.,2026-03-01T09:00:00\n"
        "p4,d@x.com,referral,Narnia,2026-03-01T09:00:00\n"
    )
    report = ro.load(persons, "persons")
    assert report.inserted == 4, report
    rows = warehouse.sql("SELECT person_id, source, country FROM persons ORDER BY person_id")
    assert rows == [
        ("p1", "paid_search", "US"),
        ("p2", "paid_search", "DE"),
        ("p3", "other", "GB"),
        ("p4", "referral", "Narnia"),
    ]
    flags = warehouse.sql(
        "SELECT record_id, field, before, after, rule, fix_run_id FROM quality_changes "
        "WHERE rule = 'unknown_source'"
    )
    assert flags == [("p3", "source", "carrier_pigeon", "other", "unknown_source", report.load_id)]
    assert warehouse.sql("SELECT count(*) FROM quality_changes") == [(6,)]

    again = ro.load(persons, "persons")  # the same export again: nothing changes, nothing logged
    assert (again.updated, again.unchanged) == (0, 4)
    assert warehouse.sql("SELECT count(*) FROM quality_changes") == [(6,)]

    touches = tmp_path / "touches.csv"
    touches.write_text(
        "touchpoint_id,person_id,occurred_at,channel,touch_type\n"
        "t1,p1,2026-03-02T09:00:00,carrier_pigeon,form_fill\n"
        "t2,p2,2026-03-02T09:00:00,Paid Social,form_fill\n"
    )
    ro.load(touches, "touchpoints")
    assert warehouse.sql(
        "SELECT touchpoint_id, channel, utm_source FROM touchpoints ORDER BY touchpoint_id"
    ) == [("t1", "other", "carrier_pigeon"), ("t2", "paid_social", None)]
    assert ro.model.quality.utm is not None
    flagged = utm_audit(warehouse, ro.model.quality.utm).values
    unknown = flagged[(flagged["field"] == "utm_source") & (flagged["value"] == "carrier_pigeon")]
    assert unknown["issue"].tolist() == ["unknown"]

    undo(warehouse, report.load_id)
    assert warehouse.sql("SELECT source, country FROM persons WHERE person_id = 'p3'") == [
        ("carrier_pigeon", "U.K.")
    ]


@given(st.text(min_size=1, max_size=30).filter(lambda s: s.strip()))
def test_any_source_is_a_declared_channel(value: str) -> None:
    """Whatever a form or an export sends, the stored channel is one the taxonomy declares."""
    assert MODEL.quality.utm is not None
    channel = source_channel(value, MODEL.quality)
    assert channel.channel in MODEL.quality.utm.channels
    assert (channel.unknown is None) == (channel.channel != "other" or value.strip() == "other")


def test_without_an_unknown_channel_an_unknown_source_is_refused() -> None:
    assert MODEL.quality.utm is not None
    utm = MODEL.quality.utm.model_copy(update={"unknown_channel": None})
    quality = MODEL.quality.model_copy(update={"utm": utm})
    with pytest.raises(UnknownSource, match="carrier_pigeon"):
        source_channel("carrier_pigeon", quality)
    assert source_channel("Paid Search", quality).channel == "paid_search"


_SPELLINGS = ["Paid Search", "PPC", "paid-search", "carrier_pigeon", "referral", "", "  ", None]
_COUNTRIES = ["us", "Germany", "U.K.", "Narnia", "DEU", "", None]


@given(
    st.lists(
        st.tuples(st.sampled_from(_SPELLINGS), st.sampled_from(_COUNTRIES)), min_size=1, max_size=30
    )
)
def test_normalizing_a_table_judges_each_value_as_the_api_does(
    rows: list[tuple[str | None, str | None]],
) -> None:
    """Judged once per distinct value, a table comes out as if each row went through the API's
    one-value functions: same stored values, same changes in the same order."""
    import pyarrow as pa

    from revops.quality.edge import _normalized, normalize_table

    ids = [f"p{i}" for i in range(len(rows))]
    table = pa.table(
        {
            "person_id": ids,
            "source": pa.array([s for s, _ in rows], pa.string()),
            "country": pa.array([c for _, c in rows], pa.string()),
        }
    )
    out = normalize_table("persons", table, MODEL.quality)
    expected_changes = []
    for field, at in (("source", 0), ("country", 1)):
        column = []
        for pid, row in zip(ids, rows, strict=True):
            new, rule = _normalized(field, row[at], MODEL.quality)
            if new is not None and new != row[at]:
                expected_changes.append(
                    {"record_id": pid, "field": field, "before": row[at], "after": new}
                    | {"rule": rule}
                )
                column.append(new)
            else:
                column.append(row[at])
        assert out.table.column(field).to_pylist() == column
    assert out.changes.to_pylist() == expected_changes
