"""`quality fix` and `quality undo`: apply the safe normalizations, recorded so they can be undone.

Planning is pure (a frame in, changes out) and works on distinct values, so a 50k-row table
costs one pass per rule over its few thousand distinct spellings. Applying writes the changed
fields and their `quality_changes` rows in one transaction: either the fix and its record both
exist, or neither does. Every normalization is idempotent, so a second fix finds nothing to do.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from revops.config.models import OperatingModel
from revops.errors import RevOpsError
from revops.quality import normalize
from revops.warehouse import Batch, Warehouse, schema

Normalizer = Callable[[str, str | None], str | None]


class FixError(RevOpsError):
    """The warehouse cannot take the fix (e.g. it lacks a column the rules write)."""


@dataclass(frozen=True)
class Step:
    """One normalization: `source` (and `context`) in, a new value of `target` out."""

    table: str
    target: str
    rule: str
    fn: Normalizer
    source: str | None = None  # defaults to target
    context: str | None = None

    @property
    def reads(self) -> str:
        return self.source or self.target


@dataclass(frozen=True)
class Change:
    table: str
    record_id: str
    field: str
    before: str | None
    after: str
    rule: str


@dataclass(frozen=True)
class FixResult:
    run_id: str | None
    changes: tuple[Change, ...]

    def summary(self) -> pd.DataFrame:
        df = pd.DataFrame(
            [(c.table, c.field, c.rule) for c in self.changes], columns=["table", "field", "rule"]
        )
        return df.value_counts().rename("changes").reset_index()


@dataclass(frozen=True)
class UndoResult:
    run_id: str
    restored: int
    conflicts: int


def _picklist(mapping: dict[str, str]) -> Normalizer:
    return lambda value, _country: normalize.picklist(value, mapping)


def _state(countries: tuple[str, ...]) -> Normalizer:
    return lambda value, country: normalize.state(value, country, countries)


def steps(model: OperatingModel) -> list[Step]:
    """The safe normalizations the config asks for, in the order they must run.

    Countries come first because states and phones are read in the light of the country.
    """
    q = model.quality
    aliases = {normalize.picklist_key(k): v for k, v in q.country_aliases.items()}
    out: list[Step] = []
    for f in q.formats:
        if f.format == "country":
            out.append(
                Step(f.table, f.field, "country_code", lambda v, _c: normalize.country(v, aliases))
            )
    for p in q.picklists:
        mapping = {normalize.picklist_key(k): v for k, v in p.map.items()}
        out.append(Step(p.table, p.field, "picklist", _picklist(mapping)))
    for f in q.formats:
        if f.format == "state":
            out.append(
                Step(
                    f.table,
                    f.field,
                    "state_code",
                    _state(f.countries),
                    context=f.country_field,
                )
            )
        elif f.format == "phone":
            out.append(
                Step(f.table, f.field, "phone_e164", normalize.phone, context=f.country_field)
            )
        elif f.format in ("email", "business_email"):
            out.append(Step(f.table, f.field, "email_lowercase", lambda v, _c: normalize.email(v)))
    if q.titles is not None:
        t = q.titles
        out.append(
            Step(
                "persons",
                "seniority",
                "title_seniority",
                lambda v, _c: normalize.classify(v, t.seniority, t.default_seniority),
                source="title",
            )
        )
        out.append(
            Step(
                "persons",
                "job_function",
                "title_function",
                lambda v, _c: normalize.classify(v, t.function, t.default_function),
                source="title",
            )
        )
    return out


def _blank(value: object) -> bool:
    return (
        value is None or (isinstance(value, float) and value != value) or str(value).strip() == ""
    )


def plan_table(frame: pd.DataFrame, key: str, table_steps: list[Step]) -> list[Change]:
    """The changes `table_steps` make to `frame` (one row per record, `key` its primary key).

    Pure: used by `plan` on warehouse data and directly by tests and property checks.
    """
    df = frame.copy()
    original = {s.target: df[s.target].copy() for s in table_steps}
    rules: dict[str, pd.Series] = {}
    for s in table_steps:
        cols = [s.reads] + ([s.context] if s.context else [])
        pairs = df[cols].drop_duplicates()
        lookup: dict[tuple[object, object], str | None] = {}
        for row in pairs.itertuples(index=False):
            value = row[0]
            ctx = row[1] if s.context else None
            if _blank(value):
                continue
            lookup[(value, ctx)] = s.fn(str(value), None if _blank(ctx) else str(ctx))
        ctx_col = df[s.context] if s.context else pd.Series([None] * len(df), index=df.index)
        new = [
            lookup.get((v, c), old)
            for v, c, old in zip(df[s.reads], ctx_col, df[s.target], strict=True)
        ]
        new_series = pd.Series(new, index=df.index, dtype=object)
        changed = new_series.notna() & (new_series != df[s.target].astype(object))
        if changed.any():
            label = rules.setdefault(s.target, pd.Series("", index=df.index, dtype=object))
            label[changed] = label[changed].map(lambda r, n=s.rule: f"{r}+{n}" if r else n)
            df.loc[changed, s.target] = new_series[changed]
    changes: list[Change] = []
    for target, label in rules.items():
        before = original[target]
        diff = (label != "") & (df[target].astype(object) != before.astype(object))
        for rid, b, a, r in zip(
            df.loc[diff, key], before[diff], df.loc[diff, target], label[diff], strict=True
        ):
            changes.append(Change("", str(rid), target, None if _blank(b) else str(b), str(a), r))
    return changes


def plan(wh: Warehouse, model: OperatingModel) -> FixResult:
    """Every change `apply` would make, without writing anything (the dry run)."""
    by_table: dict[str, list[Step]] = {}
    for s in steps(model):
        by_table.setdefault(s.table, []).append(s)
    changes: list[Change] = []
    for name, table_steps in by_table.items():
        key = schema.table(name).primary_key[0]
        cols = [key, *(c for s in table_steps for c in (s.reads, s.target, s.context) if c)]
        t = wh.table(name)
        missing = [c for c in dict.fromkeys(cols) if c not in t.columns]
        if missing:
            raise FixError(
                f"warehouse table {name!r} has no column {', '.join(missing)}: it was created "
                "by an older revops; add the column(s) or rebuild the warehouse"
            )
        frame = wh.execute(t.select(*dict.fromkeys(cols)))
        for c in plan_table(frame, key, table_steps):
            changes.append(Change(name, c.record_id, c.field, c.before, c.after, c.rule))
    return FixResult(None, tuple(changes))


def field_batches(changes: list[Change], value: Callable[[Change], str | None]) -> list[Batch]:
    """Upsert batches that set `value(change)` on each changed field, one per table and field."""
    groups: dict[tuple[str, str], list[Change]] = {}
    for c in changes:
        groups.setdefault((c.table, c.field), []).append(c)
    batches = []
    for (table, field), rows in groups.items():
        key = schema.table(table).primary_key[0]
        data = pa.table(
            {
                key: pa.array([c.record_id for c in rows], pa.string()),
                field: pa.array([value(c) for c in rows], pa.string()),
            }
        )
        batches.append(Batch(table, data, "upsert"))
    return batches


def apply(wh: Warehouse, model: OperatingModel, *, now: dt.datetime | None = None) -> FixResult:
    """Plan and write the fix: changed fields and their change records in one transaction."""
    planned = plan(wh, model).changes
    if not planned:
        return FixResult(None, ())
    at = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    run_id = f"fix-{at:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    log = pa.table(
        {
            "change_id": [f"{run_id}:{i:07d}" for i in range(len(planned))],
            "fix_run_id": [run_id] * len(planned),
            "table_name": [c.table for c in planned],
            "record_id": [c.record_id for c in planned],
            "field": [c.field for c in planned],
            "before": pa.array([c.before for c in planned], pa.string()),
            "after": [c.after for c in planned],
            "rule": [c.rule for c in planned],
            "changed_at": pa.array([at] * len(planned), pa.timestamp("us")),
        }
    )
    batches = field_batches(list(planned), lambda c: c.after)
    wh.write_many([*batches, Batch("quality_changes", log, "append")])
    return FixResult(run_id, planned)
