"""Scoring against the warehouse: read the history, train, write lead_scores, store models.

The model and its validation report live in one joblib file in the output folder, next to a
JSON copy of the report, so `score report` shows the figures the sales side validated without
retraining and `score apply` stamps every score with the version that produced it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from revops.config.models import Lifecycle
from revops.config.scoring import ScoringConfig, frame_column
from revops.scoring.model import History, ScoringError, TrainedModels, features, train
from revops.scoring.rules import score_frame, to_naive_us
from revops.scoring.stages import StageMoves, stage_moves
from revops.warehouse import Batch, Warehouse

MODEL_FILE = "lead_model.joblib"
REPORT_FILE = "lead_model_report.json"
_PERSON_COLS = (
    "person_id", "title", "seniority", "job_function", "employees", "industry", "country",
    "source", "created_at",
)  # fmt: skip


def load_persons(wh: Warehouse, cfg: ScoringConfig | None = None) -> pd.DataFrame:
    """Persons with the columns scoring reads: the model's, and every fit field (custom fields
    by their column, account fields joined from the matched account as `account.x`)."""
    fields = cfg.fit_fields if cfg is not None else ()
    own = [frame_column(f) for f in fields if not f.startswith("account.")]
    cols = list(dict.fromkeys([*_PERSON_COLS, "account_id", *own]))
    p = wh.table("persons")
    absent = [c for c in cols if c not in p.columns]
    if absent:
        raise ScoringError(f"fit rules read persons columns the warehouse lacks: {absent}")
    expr = p.select(*cols)
    linked = [f for f in fields if f.startswith("account.")]
    if linked:
        a = wh.table("accounts")
        picked = a.select(a.account_id.name("_account"), *[a[f[8:]].name(f) for f in linked])
        expr = expr.left_join(picked, expr.account_id == picked._account).drop("_account")
    return wh.to_arrow(expr.order_by("person_id")).to_pandas()


def load_history(wh: Warehouse, cfg: ScoringConfig | None = None) -> History:
    """Persons, touches and stage changes, with the end of the data as the latest timestamp."""
    # ordered reads: the model's training split and boosting see rows in a stated order, so the
    # same data give the same scores (a database returns rows in any order)
    persons = load_persons(wh, cfg)
    touches = wh.to_arrow(
        wh.table("touchpoints")
        .select("person_id", "touch_type", "occurred_at")
        .order_by(["person_id", "occurred_at", "touch_type"])
    ).to_pandas()
    stages = wh.to_arrow(
        wh.table("lifecycle_history")
        .select("person_id", "to_stage", "changed_at")
        .order_by(["person_id", "changed_at", "to_stage"])
    ).to_pandas()
    stages["person_id"] = stages["person_id"].astype(str)
    stages["changed_at"] = to_naive_us(stages["changed_at"])
    if persons.empty:
        raise ScoringError("the warehouse has no persons to score")
    ends = [to_naive_us(persons["created_at"]).max()]
    ends += [to_naive_us(touches["occurred_at"]).max()] if len(touches) else []
    ends += [stages["changed_at"].to_numpy("datetime64[us]").max()] if len(stages) else []
    return History(persons, touches, stages, max(ends))


def check_stages(cfg: ScoringConfig, stage_names: set[str]) -> None:
    """A target stage the lifecycle does not declare would silently never be reached."""
    for t in cfg.model.targets:
        unknown = sorted(set(t.stages) - stage_names)
        if unknown:
            raise ScoringError(f"scoring target {t.name!r}: unknown lifecycle stages {unknown}")


def train_and_save(history: History, cfg: ScoringConfig, out: Path) -> TrainedModels:
    """Train every target and write the joblib model and its JSON report into `out`."""
    import joblib

    version = datetime.now().strftime("lead-%Y%m%dT%H%M%S")
    models = train(history, cfg, version)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(models, out / MODEL_FILE)
    report = report_dict(models, cfg.model.use_withheld)
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2, default=str))
    return models


def report_dict(models: TrainedModels, use_withheld: tuple[str, ...] = ()) -> dict[str, Any]:
    """The validation figures, without the estimators: what `score report` prints.

    Only the first target is applied (`score_all`); the others are reported only, and their
    verdict says so rather than promise a fallback that never happens. `use_withheld`
    (scoring.model.use_withheld) is what the first target's verdict says is done with it."""
    first = next(iter(models.targets), None)
    return {
        "version": models.version,
        "targets": {
            name: {
                "auc": t.auc,
                "rule_auc": t.rule_auc,
                "base_rate": t.base_rate,
                "n_train": t.n_train,
                "n_test": t.n_test,
                "split": t.split,
                "threshold": t.threshold,
                "deciles": t.deciles,
                "calibration": _calibration(t),
                "applied": name == first,
                "verdict": _verdict(t, first, name in use_withheld),
            }
            for name, t in models.targets.items()
        },
        "skipped": models.skipped,
    }


def _calibration(t: Any) -> dict[str, Any] | None:
    """Brier, ECE and the reliability tables before and after recalibration, or None."""
    c = getattr(t, "calibration", None)
    if c is None:
        return None
    return {
        "summary": c.summary(),
        "brier": c.brier,
        "ece": c.ece,
        "recalibrated": c.recalibrated,
        "brier_after": c.brier_after,
        "ece_after": c.ece_after,
        "table": c.table.to_dict("records"),
        "table_after": c.table_after.to_dict("records"),
    }


def _verdict(t: Any, first: str | None, overridden: bool) -> dict[str, Any] | None:
    """The model against the rule score out of time, and what is done with it (`first`: the
    applied target's name), or None for models stored before."""
    v = getattr(t, "verdict", None)
    if v is None:
        return None
    if t.target == first:
        summary = v.summary(overridden)
    else:
        unused = (
            f"reported only: nothing applies the {t.target} model or its rule score (only the "
            f"first target, {first}, fills lead_scores.predicted_sql_probability)"
        )
        summary = v.summary(instead=unused) if v.withheld else f"{v.summary()}; {unused}"
    return {
        "summary": summary,
        "withheld": v.withheld,
        "auc": v.auc,
        "baseline_auc": v.baseline_auc,
        "brier": v.brier,
        "baseline_brier": v.baseline_brier,
        "rows": v.rows,
    }


def load_models(out: Path) -> TrainedModels:
    import joblib

    path = out / MODEL_FILE
    if not path.exists():
        raise ScoringError(f"no trained lead model at {path}; run `revops score train` first")
    models = joblib.load(path)
    if not isinstance(models, TrainedModels):
        raise ScoringError(f"{path} is not a revops lead model")
    return models


@dataclass(frozen=True)
class ScoreRun:
    """The lead_scores rows written, when the lifecycle was given the stage moves, and in
    words where predicted_sql_probability came from (None: no model, left empty)."""

    table: pa.Table
    moves: StageMoves | None
    source: str | None = None


def apply_scores(
    wh: Warehouse,
    cfg: ScoringConfig,
    models: TrainedModels | None,
    as_of: datetime | None = None,
) -> pa.Table:
    """Score every person as of `as_of` into lead_scores, moving no stage (see `score_all`)."""
    return score_all(wh, cfg, models, as_of).table


def score_all(
    wh: Warehouse,
    cfg: ScoringConfig,
    models: TrainedModels | None,
    as_of: datetime | None = None,
    lifecycle: Lifecycle | None = None,
) -> ScoreRun:
    """Score every person as of `as_of` (default: the end of the data) into lead_scores and,
    with `lifecycle`, ask it for the stages the scores call for (`scoring.stages`), all in one
    transaction.

    Without a model the rule scores are still written, with an empty probability, so rule
    scoring never waits for a trained model. A first-target model that did not beat the rule
    score out of time is withheld: the rule score's calibrated probability is written instead
    (model_version `<version>:rule`), unless scoring.model.use_withheld names the target.
    """
    history = load_history(wh, cfg)
    at = to_naive_us([as_of])[0] if as_of is not None else history.data_end
    cut = np.full(len(history.persons), at)
    rule = score_frame(history.persons, history.touches, cfg, cut).frame
    frame = pd.DataFrame(
        {
            "person_id": rule["person_id"],
            "scored_at": pd.Series(cut).astype("datetime64[us]"),
            "fit": rule["fit"],
            "engagement": rule["engagement"],
            "combined": rule["combined"],
            "is_mql_ready": rule["is_mql_ready"],
        }
    )
    first = next(iter(models.targets.values()), None) if models else None
    source = None
    frame["predicted_sql_probability"] = np.nan
    frame["model_version"] = None
    if models is not None and first is not None:
        judged = getattr(first, "verdict", None)
        use = first.target in cfg.model.use_withheld
        verdict = judged.summary(use) if judged is not None else ""
        if judged is not None and judged.withheld and not use:
            frame["predicted_sql_probability"] = judged.baseline_probability(
                rule["combined"].to_numpy(float)
            )
            frame["model_version"] = f"{models.version}:rule"
            source = f"the rule score as a probability: {verdict}"
        else:
            x = features(history, cfg, cut, models.categories)
            frame["predicted_sql_probability"] = first.predict(x)
            frame["model_version"] = models.version
            source = f"the {first.target} model"
            if judged is not None and judged.withheld:
                source += f": {verdict}"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    moves = None
    if lifecycle is not None:
        when = pd.Timestamp(at).to_pydatetime()
        moves = stage_moves(wh, cfg, lifecycle, frame, when)
    wh.write_many([Batch("lead_scores", table), *(moves.batches if moves else [])])
    return ScoreRun(table, moves, source)
