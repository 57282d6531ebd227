"""How well identity resolution recovers the demo's planted truth.

Dedupe is scored on record pairs: a true pair is two records of one planted entity, a
predicted pair is two records in one auto-merge cluster. Matching is scored per person: a
prediction is correct when the chosen account is the true account or a planted duplicate of it
(matching to either copy of a duplicated company is the right company). Predictions for persons
outside the truth count as false positives. Run it before merging: merged records are gone.
The dedupe match probability is also judged for calibration on the same labelled pairs
(`revops.identity.calibration`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from revops.config.models import OperatingModel
from revops.errors import RevOpsError
from revops.models.calibration import CalibrationReport
from revops.warehouse import Warehouse

__all__ = [
    "Evaluation",
    "Score",
    "cluster_pairs",
    "entity_pairs",
    "evaluate",
    "matching_score",
    "pair_score",
]

Pair = tuple[str, str]


@dataclass(frozen=True)
class Score:
    name: str
    true_positives: int
    predicted: int
    actual: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.actual if self.actual else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(groups: Iterable[list[str]]) -> set[Pair]:
    out: set[Pair] = set()
    for members in groups:
        for a, b in combinations(sorted(set(members)), 2):
            out.add((a, b))
    return out


def entity_pairs(truth: pd.DataFrame) -> set[Pair]:
    """Record pairs of one entity, from (record_id, true_entity_id) rows."""
    return _pairs(truth.groupby("true_entity_id")["record_id"].apply(list))


def cluster_pairs(clusters: pa.Table) -> set[Pair]:
    """Record pairs of one predicted cluster, from (cluster_id, record_id) rows."""
    frame = clusters.select(["cluster_id", "record_id"]).to_pandas()
    return _pairs(frame.groupby("cluster_id")["record_id"].apply(list))


@dataclass(frozen=True)
class Evaluation:
    """Precision, recall and F1 per task, and the calibration of each dedupe's probability."""

    scores: list[Score]
    calibration: list[CalibrationReport]


def pair_score(name: str, predicted: set[Pair], actual: set[Pair]) -> Score:
    return Score(name, len(predicted & actual), len(predicted), len(actual))


def matching_score(matches: pd.DataFrame, truth: pd.DataFrame, accounts: pd.DataFrame) -> Score:
    """Score (person_id, account_id) predictions against (person_id, true_account_id)."""
    entity = dict(zip(accounts["record_id"], accounts["true_entity_id"], strict=True))
    truth_of = dict(zip(truth["person_id"], truth["true_account_id"], strict=True))
    correct = sum(
        1
        for person, account in zip(matches["person_id"], matches["account_id"], strict=True)
        if person in truth_of
        and entity.get(account, account) == entity.get(truth_of[person], truth_of[person])
    )
    return Score("lead-to-account matching", correct, len(matches), len(truth))


def _truth(truth_dir: Path, name: str) -> pd.DataFrame:
    path = truth_dir / f"{name}.csv"
    if not path.exists():
        raise RevOpsError(f"no planted truth at {path}; generate it with `revops demo`")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def evaluate(wh: Warehouse, model: OperatingModel, truth_dir: Path) -> Evaluation:
    """Precision, recall and F1 of person dedupe, account dedupe and lead-to-account matching;
    Brier, ECE and reliability of each dedupe's match probability on every labelled pair."""
    from revops.identity.calibration import every_pair, match_calibration
    from revops.identity.dedupe import dedupe_frame, read_records
    from revops.identity.matching import match_accounts

    scores = []
    calibration = []
    tables: tuple[tuple[Literal["persons", "accounts"], str], ...] = (
        ("persons", "person_duplicates"),
        ("accounts", "account_duplicates"),
    )
    for table, stem in tables:
        truth = _truth(truth_dir, stem)
        live = set(
            wh.to_arrow(wh.table(table).select("person_id" if table == "persons" else "account_id"))
            .column(0)
            .to_pylist()
        )
        truth = truth[truth["record_id"].isin(live)]
        settings = every_pair(model.dedupe.settings(table))
        result = dedupe_frame(read_records(wh, model, table), settings)
        actual = entity_pairs(truth)
        scores.append(pair_score(f"{table} dedupe", cluster_pairs(result.clusters), actual))
        every = f"{table} match, all candidate pairs"
        calibration.append(match_calibration(every, result.pairs, actual))
        floor = model.dedupe.settings(table).review_threshold
        decides = f"{table} match, pairs ≥ review threshold {floor:g}"
        calibration.append(match_calibration(decides, result.pairs, actual, floor))
    leads = _truth(truth_dir, "lead_accounts")
    pt = wh.table("persons")
    persons = wh.to_arrow(
        pt.filter(pt.account_id.isnull() | pt.person_id.isin(leads["person_id"].tolist())).select(
            "person_id", "email", "company", "country"
        )
    )
    leads = leads[leads["person_id"].isin(set(persons["person_id"].to_pylist()))]
    matches = match_accounts(persons, wh.to_arrow(wh.table("accounts")), model.matching)
    confident = matches.filter(
        pc.greater_equal(matches["confidence"], model.matching.write_threshold)
    ).to_pandas()
    scores.append(matching_score(confident, leads, _truth(truth_dir, "account_duplicates")))
    return Evaluation(scores, calibration)
