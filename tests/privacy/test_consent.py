"""Consent state from the ledger: a hand-worked sequence, the audience filter on both backends,
and a hypothesis property against a plain-Python reference of the rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.config.privacy import PrivacyConfig, Purpose
from revops.privacy import ConsentEvent, audience, consent_batch, consent_state, contactable
from revops.warehouse import Warehouse
from revops.warehouse.schema import table
from revops.warehouse.warehouse import arrow_schema

T0 = datetime(2025, 1, 1, 9)
CFG = PrivacyConfig(
    purposes=(
        Purpose(name="marketing", double_opt_in=True, default_basis="legitimate_interest"),
        Purpose(name="sales", default_basis=None),
    ),
    channels=("email", "phone"),
    explicit_consent_countries=("DE",),
)


def _ledger(rows: list[tuple[str, str, str, str, int, str | None, str | None]]) -> pa.Table:
    """(person, purpose, channel, status, minute, double_opt_in, do_not_contact) rows."""
    data = {
        "event_id": [f"e{i:03d}" for i in range(len(rows))],
        "person_id": [r[0] for r in rows],
        "purpose": [r[1] for r in rows],
        "channel": [r[2] for r in rows],
        "status": [r[3] for r in rows],
        "lawful_basis": ["consent"] * len(rows),
        "source": ["test"] * len(rows),
        "recorded_at": [T0 + timedelta(minutes=r[4]) for r in rows],
        "double_opt_in": [r[5] for r in rows],
        "do_not_contact": [r[6] for r in rows],
    }
    return pa.table(data, schema=arrow_schema(table("consent_ledger")))


def _persons(countries: dict[str, str | None]) -> pa.Table:
    return pa.table(
        {
            "person_id": pa.array(list(countries), pa.string()),
            "email": pa.array([f"{p}@x.com" for p in countries], pa.string()),
            "country": pa.array(list(countries.values()), pa.string()),
            "created_at": pa.array([T0] * len(countries), pa.timestamp("us")),
        }
    )


# Hand-worked: marketing needs double opt-in; DE needs explicit consent; US may be mailed
# for marketing on legitimate interest until an opt-out; sales has no default at all.
HAND = [
    ("a", "marketing", "email", "opt_in", 0, "pending", None),  # a: pending only
    ("b", "marketing", "email", "opt_in", 0, "confirmed", None),  # b: confirmed opt-in
    ("b", "marketing", "email", "opt_out", 5, None, None),  # ... then opts out
    ("b", "marketing", "email", "opt_in", 9, "pending", None),  # ... pending cannot override
    ("c", "marketing", "email", "opt_out", 0, None, None),  # c: opt-out
    ("c", "marketing", "email", "opt_in", 3, "confirmed", None),  # ... then confirmed opt-in
    ("d", "marketing", "*", "opt_in", 0, "confirmed", None),  # d: confirmed on every channel
    ("d", "*", "*", "opt_out", 1, None, "legal"),  # ... then do-not-contact everywhere
    ("d", "sales", "phone", "opt_in", 2, "not_required", None),  # DNC beats this later opt-in
    ("e", "marketing", "email", "opt_in", 0, "not_required", None),  # e: unconfirmed for DOI
    ("f", "sales", "phone", "opt_in", 0, "not_required", None),  # f: sales calls ok
]
COUNTRIES: dict[str, str | None] = {
    "a": "DE",
    "b": "DE",
    "c": "US",
    "d": "DE",
    "e": "DE",
    "f": "US",
    "g": "US",
    "h": "DE",
}


@pytest.fixture
def con() -> Iterator[ibis.BaseBackend]:
    backend = ibis.duckdb.connect()
    yield backend
    backend.disconnect()


def test_state_of_a_hand_made_sequence(con: ibis.BaseBackend) -> None:
    state = con.to_pyarrow(consent_state(ibis.memtable(_ledger(HAND)), CFG)).to_pylist()
    by_key = {(r["person_id"], r["purpose"], r["channel"]): r for r in state}
    mk = "marketing"
    assert by_key[("a", mk, "email")]["status"] == "pending"
    assert by_key[("b", mk, "email")]["status"] == "opt_out"
    assert by_key[("b", mk, "email")]["pending_at"] == T0 + timedelta(minutes=9)
    assert by_key[("c", mk, "email")]["status"] == "opt_in"
    assert by_key[("d", mk, "phone")]["status"] == "opt_out"  # the later '*' event wins
    assert by_key[("d", mk, "phone")]["do_not_contact"] == "legal"
    assert by_key[("d", "sales", "email")]["status"] == "opt_out"  # '*' purpose expanded
    assert by_key[("d", "sales", "phone")]["status"] == "opt_in"
    assert not by_key[("d", "sales", "phone")]["consented"]  # do-not-contact beats it
    assert by_key[("e", mk, "email")]["status"] == "unconfirmed"
    assert by_key[("f", "sales", "phone")]["status"] == "opt_in"
    consented = {k for k, r in by_key.items() if r["consented"]}
    assert consented == {("c", mk, "email"), ("f", "sales", "phone")}
    assert len(state) == 1 + 1 + 1 + 4 + 1 + 1  # d: 2 purposes x 2 channels


def test_contactable_applies_defaults_by_country(con: ibis.BaseBackend) -> None:
    persons = ibis.memtable(_persons(COUNTRIES))
    ledger = ibis.memtable(_ledger(HAND))
    stones = ibis.memtable(pa.table({"person_id": pa.array(["g"], pa.string())}))

    def ok(purpose: str, channel: str) -> set[str]:
        expr = contactable(persons, ledger, stones, CFG, purpose, channel)
        return set(con.to_pyarrow(expr).column("person_id").to_pylist())

    # marketing/email: c opted in again; f (US, no event) on legitimate interest; g (US) too,
    # but erased; a, b, d, e, h are in DE (explicit consent) without a valid opt-in
    assert ok("marketing", "email") == {"c", "f"}
    # marketing/phone: nobody recorded for c; c and f are US, so legitimate interest applies
    assert ok("marketing", "phone") == {"c", "f"}
    assert ok("sales", "phone") == {"f"}
    assert ok("sales", "email") == set()


def test_audience_filters_lists_and_tables(warehouse: Warehouse) -> None:
    warehouse.write("persons", _persons(COUNTRIES))
    events = [
        ConsentEvent("b", "marketing", "email", "opt_in", double_opt_in="confirmed"),
        ConsentEvent("c", "marketing", "email", "opt_out"),
        ConsentEvent("h", "marketing", "email", "opt_in"),  # DOI purpose: pending by default
    ]
    warehouse.write_many([consent_batch(events, CFG)])
    # h: DE and only pending; b: DE, confirmed; c: opted out; f, g: US, legitimate interest;
    # zz: no such person. Order of the input list is kept.
    wanted = ["h", "b", "c", "f", "g", "zz"]
    assert audience(warehouse, "marketing", "email", wanted, config=CFG) == ["b", "f", "g"]
    persons = warehouse.table("persons")
    out = audience(warehouse, "marketing", "email", persons, config=CFG)
    assert not isinstance(out, list)
    assert sorted(warehouse.to_arrow(out).column("person_id").to_pylist()) == ["b", "f", "g"]
    ledger = warehouse.to_arrow(warehouse.table("consent_ledger")).to_pylist()
    assert {r["person_id"]: r["double_opt_in"] for r in ledger}["h"] == "pending"


def test_bad_events_are_refused() -> None:
    with pytest.raises(KeyError, match="unknown consent purpose"):
        consent_batch([ConsentEvent("a", "spam", "email", "opt_in")], CFG)
    with pytest.raises(KeyError, match="unknown consent channel"):
        consent_batch([ConsentEvent("a", "sales", "fax", "opt_in")], CFG)
    from revops.errors import RevOpsError

    with pytest.raises(RevOpsError, match="status"):
        consent_batch([ConsentEvent("a", "sales", "email", "maybe")], CFG)


# -- property: the Ibis rules agree with a plain reference, and opt-outs never leak -----------
def reference(
    events: list[tuple[str, str, str, str, int, str | None, str | None]],
    countries: dict[str, str | None],
    purpose: str,
    channel: str,
) -> set[str]:
    """The rules of revops.privacy.consent, written the obvious way."""
    rule = CFG.purpose(purpose)
    out = set()
    for person, country in countries.items():
        mine = [
            (minute, f"e{i:03d}", status, doi, dnc)
            for i, (p, pu, ch, status, minute, doi, dnc) in enumerate(events)
            if p == person and pu in (purpose, "*") and ch in (channel, "*")
        ]
        if any(dnc for p, *_, dnc in events if p == person):
            continue
        effective = [e for e in mine if not (e[2] == "opt_in" and e[3] == "pending")]
        if effective:
            _, _, status, doi, _ = max(effective, key=lambda e: (e[0], e[1]))
            ok = status == "opt_in" and (not rule.double_opt_in or doi == "confirmed")
        else:
            explicit = country is None or country in CFG.explicit_consent_countries
            ok = rule.default_basis is not None and not explicit
        if ok:
            out.add(person)
    return out


PEOPLE = ["p0", "p1", "p2", "p3"]
event = st.tuples(
    st.sampled_from(PEOPLE),
    st.sampled_from(["marketing", "sales", "*"]),
    st.sampled_from(["email", "phone", "*"]),
    st.sampled_from(["opt_in", "opt_out"]),
    st.integers(0, 6),  # few minutes: ties happen, broken by event id
    st.sampled_from(["pending", "confirmed", "not_required", None]),
    st.sampled_from([None, None, None, None, "requested"]),
)


@settings(max_examples=30, deadline=None)  # ~0.2 s each: compiling the expression
@given(
    events=st.lists(event, max_size=14),
    countries=st.lists(st.sampled_from(["DE", "US", None]), min_size=4, max_size=4),
    purpose=st.sampled_from(["marketing", "sales"]),
    channel=st.sampled_from(["email", "phone"]),
)
def test_audience_matches_reference_and_never_leaks_opt_outs(
    events: list[tuple[str, str, str, str, int, str | None, str | None]],
    countries: list[str | None],
    purpose: str,
    channel: str,
) -> None:
    by_person = dict(zip(PEOPLE, countries, strict=True))
    con = _CON
    expr = contactable(
        ibis.memtable(_persons(by_person)),
        ibis.memtable(_ledger(events)),
        ibis.memtable(pa.table({"person_id": pa.array([], pa.string())})),
        CFG,
        purpose,
        channel,
    )
    got = set(con.to_pyarrow(expr).column("person_id").to_pylist())
    assert got == reference(events, by_person, purpose, channel)
    for person in PEOPLE:  # the headline rule, stated on its own
        mine = [
            (m, f"e{i:03d}", s, d)
            for i, (p, pu, ch, s, m, d, _) in enumerate(events)
            if p == person and pu in (purpose, "*") and ch in (channel, "*")
        ]
        effective = [e for e in mine if not (e[2] == "opt_in" and e[3] == "pending")]
        if effective and max(effective, key=lambda e: (e[0], e[1]))[2] == "opt_out":
            assert person not in got


_CON = ibis.duckdb.connect()
