"""Finding a data subject and every row about them, by walking the data model.

A person is found by their normalised email, in `persons` and in the before-images of the
merge log (a merged-away duplicate's email lives only there). Rows about them are then found
in every table of `schema.TABLES`, so a table another engine adds later is covered without a
change here:

- columns named `person_id`, and columns with a relation to `persons`;
- tables that name records generically (`table_name`/`target_table` = persons plus an id
  column: quality changes, merge log, dedupe pairs and clusters, duplicate alerts);
- the audit log's subject;
- any text column containing the person's email (quarantine's raw JSON, notes), and
  quarantine rows whose raw JSON holds their phone or both of their names (a row refused for
  a mistyped email still names them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import reduce

import ibis.expr.types as ir

from revops.errors import RevOpsError
from revops.privacy.identifiers import normalize_email, normalize_phone
from revops.warehouse import Warehouse
from revops.warehouse.schema import TABLES, Table

# (kind column, id columns) of tables that point at records of any table by id
_GENERIC_IDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "quality_changes": ("table_name", ("record_id",)),
    "merge_log": ("table_name", ("survivor_id", "merged_id")),
    "dedupe_pairs": ("target_table", ("left_id", "right_id")),
    "dedupe_clusters": ("target_table", ("record_id", "cluster_id")),
    "duplicate_alerts": ("target_table", ("record_id", "matched_id")),
}
_MIN_TOKEN = 5  # shorter strings (a 4-letter name) would match unrelated rows


@dataclass(frozen=True)
class Subject:
    """A person as found: their ids and the identifying values stored for them."""

    email: str  # normalised
    person_ids: tuple[str, ...]
    emails: tuple[str, ...]  # every stored spelling, lower-cased
    phones: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]

    @property
    def search_tokens(self) -> tuple[str, ...]:
        """Values that find rows about the person in any text: their email spellings.

        Not the phone: a switchboard number is shared, and an access request must never
        return, nor an erasure touch, another person's rows. Phones find quarantine rows only.
        """
        values = {self.email, *self.emails}
        return tuple(sorted(v for v in values if len(v) >= _MIN_TOKEN))

    @property
    def scrub_tokens(self) -> tuple[str, ...]:
        """Everything to remove from text in rows about the person, longest first."""
        names = {f"{f} {n}" for f in self.first_names for n in self.last_names}
        names |= {n for n in (*self.first_names, *self.last_names) if len(n) >= 2}
        values = set(self.search_tokens) | set(self.phones) | names
        return tuple(sorted(values, key=lambda v: (-len(v), v)))

    @property
    def found(self) -> bool:
        return bool(self.person_ids)


def _norm_expr(col: ir.StringValue) -> ir.StringValue:
    return col.strip().lower().re_replace(r"\+[^@]*@", "@")


def find_subject(wh: Warehouse, email: str) -> Subject:
    """The person(s) behind `email`, including duplicates merged away into a survivor."""
    norm = normalize_email(email)
    if not norm or "@" not in norm:
        raise RevOpsError(f"{email!r} is not an email address")
    persons = wh.table("persons")
    hits = persons.filter(_norm_expr(persons.email) == norm)
    rows = wh.to_arrow(
        hits.select("person_id", "email", "phone", "first_name", "last_name")
    ).to_pylist()
    ids = {r["person_id"] for r in rows}
    found = list(rows)
    log = wh.table("merge_log")
    local, _, domain = norm.partition("@")  # a +tag may sit between them in the stored JSON
    before = log.merged_before.lower()
    merged = log.filter(
        (log.table_name == "persons") & before.contains(local) & before.contains(domain)
    )
    for r in wh.to_arrow(merged.select("survivor_id", "merged_id", "merged_before")).to_pylist():
        image = json.loads(r["merged_before"])
        if normalize_email(image.get("email")) == norm:
            ids |= {r["survivor_id"], r["merged_id"]}
            found.append(image)
    if ids - {r["person_id"] for r in rows}:  # survivors of merges: their own values count too
        extra = persons.filter(persons.person_id.isin(sorted(ids)))
        found += wh.to_arrow(
            extra.select("person_id", "email", "phone", "first_name", "last_name")
        ).to_pylist()

    def values(key: str) -> tuple[str, ...]:
        vals = {str(f[key]).strip().lower() for f in found if f.get(key)}
        return tuple(sorted(v for v in vals if v))

    phones = {p for p in values("phone") if normalize_phone(p)}
    return Subject(
        email=norm,
        person_ids=tuple(sorted(ids)),
        emails=values("email"),
        phones=tuple(sorted(phones)),
        first_names=values("first_name"),
        last_names=values("last_name"),
    )


def _any(preds: list[ir.BooleanValue]) -> ir.BooleanValue | None:
    return reduce(lambda a, b: a | b, preds) if preds else None


def reference_filter(t: Table, expr: ir.Table, subject: Subject) -> ir.BooleanValue | None:
    """A predicate selecting the rows of `t` about `subject`, or None if it cannot have any."""
    ids = list(subject.person_ids)
    preds: list[ir.BooleanValue] = []
    if ids:
        id_cols = {c.name for c in t.columns if c.name == "person_id"}
        id_cols |= {r.column for r in t.relations if r.table == "persons"}
        if t.name == "persons":
            id_cols.add("person_id")
        preds += [expr[c].isin(ids) for c in sorted(id_cols)]
        if t.name in _GENERIC_IDS:
            kind, cols = _GENERIC_IDS[t.name]
            hit = _any([expr[c].isin(ids) for c in cols])
            if hit is not None:
                preds.append((expr[kind] == "persons") & hit)
        if t.name == "attribution_credits":
            preds.append((expr.level == "person") & expr.entity_id.isin(ids))
        if t.name == "audit_log":
            preds.append(expr.subject.isin(ids))
    if t.name == "persons":  # its emails were matched, normalised, by find_subject
        return _any(preds)
    text_cols = [c.name for c in t.columns if c.type == "string"]
    for token in subject.search_tokens:
        preds += [expr[c].lower().contains(token) for c in text_cols]
    if t.name == "quarantine":  # refused rows have no person id: phone and names find them
        preds += [expr.raw.contains(p) for p in subject.phones if len(p) >= _MIN_TOKEN]
        for first in subject.first_names:
            for last in subject.last_names:
                raw = expr.raw.lower()
                preds.append(raw.contains(f'"{first}"') & raw.contains(f'"{last}"'))
    return _any(preds)


def rows_about(wh: Warehouse, subject: Subject) -> dict[str, ir.Table]:
    """For every table that can hold rows about `subject`, the expression selecting them."""
    out: dict[str, ir.Table] = {}
    for t in TABLES:
        expr = wh.table(t.name)
        pred = reference_filter(t, expr, subject)
        if pred is not None:
            out[t.name] = expr.filter(pred)
    return out
