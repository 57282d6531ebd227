"""Matching a file's columns to the canonical table, through a preset when one is given.

Matching is exact first, then case-insensitive (exports drift: HubSpot writes both "Company
name" and "Company Name"). A canonical column name is accepted even under a preset, so a file
tidied by hand still loads. Columns that match nothing are ignored but reported; a required
column that matches nothing refuses the whole file, because every row would fail the same way,
unless the file is an update file (`updates=True`: a write-back file re-imported carries the id
and a few fields only); then the missing columns are returned and `load_file` accepts the file
only if every row names a stored record. Import columns of fields revops owns but no table
column holds (a preset's `writeback:`) are revops's own output: skipped, not reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from revops.config.sources import SourceObject, shipped_sources
from revops.ingest.errors import IngestError
from revops.warehouse.schema import Table


@dataclass(frozen=True)
class ColumnPlan:
    """Canonical column → the file column feeding it (in file order), and what was ignored."""

    sources: dict[str, str]
    ignored: tuple[str, ...]
    custom: dict[str, str] = field(default_factory=dict)  # custom field name → file column
    missing: tuple[str, ...] = ()  # required columns absent (an update file's)


def _lookup(preset: SourceObject | None, t: Table) -> tuple[dict[str, str], dict[str, str]]:
    exact = dict(preset.columns) if preset else {}
    for name in t.column_names:
        exact.setdefault(name, name)
    folded: dict[str, str] = {}
    for source, canonical in exact.items():
        folded.setdefault(source.casefold(), canonical)
    return exact, folded


def plan_columns(
    path: Path,
    columns: tuple[str, ...],
    t: Table,
    preset: SourceObject | None,
    preset_name: str,
    *,
    updates: bool = False,
) -> ColumnPlan:
    """Map the file's `columns` onto `t`, or refuse the file (IngestError) when that is hopeless."""
    exact, folded = _lookup(preset, t)
    sources: dict[str, str] = {}
    ignored: list[str] = []
    custom_fields = preset.custom if preset else {}
    custom: dict[str, str] = {}
    owned = preset.writeback_columns() if preset else frozenset()
    for col in columns:
        key = col.strip()
        canonical = exact.get(key) or folded.get(key.casefold())
        if canonical is None and key in custom_fields:
            custom[custom_fields[key].name] = col
        elif canonical is None and key in owned:
            continue
        elif canonical is None:
            ignored.append(col)
        elif canonical in sources:
            raise IngestError(
                f"{path}: columns {sources[canonical]!r} and {col!r} both map to "
                f"{t.name}.{canonical}; keep one of them"
            )
        else:
            sources[canonical] = col
    missing = [c.name for c in t.columns if c.required and c.name not in sources]
    keyed = all(k in sources for k in t.primary_key)
    if missing and not (updates and keyed):
        raise IngestError(_missing_message(path, t, missing, columns, preset, preset_name))
    return ColumnPlan(sources, tuple(ignored), custom, tuple(missing))


def _missing_message(
    path: Path,
    t: Table,
    missing: list[str],
    columns: tuple[str, ...],
    preset: SourceObject | None,
    preset_name: str,
) -> str:
    export = {canonical: source for source, canonical in (preset.columns if preset else {}).items()}
    named = [f"{m} (export column {export[m]!r})" if m in export else m for m in missing]
    found = ", ".join(repr(c) for c in columns) or "none"
    via = f" with preset {preset_name!r}" if preset else ""
    msg = (
        f"{path}: cannot load into {t.name}{via}: missing required column(s) "
        f"{', '.join(named)}; the file has columns {found}"
    )
    if len(columns) == 1 and any(sep in columns[0] for sep in ";\t|"):
        msg += "; is it separated by something other than commas? Save it as comma-separated"
    if preset is None:
        guess = _guess_preset(columns, t.name)
        if guess:
            msg += f"; it looks like a {guess} export, try preset {guess!r}"
    return msg


def _guess_preset(columns: tuple[str, ...], table: str) -> str | None:
    """The preset whose export names cover most of the file's columns, if any covers half."""
    have = {c.strip().casefold() for c in columns}
    best, best_hits = None, 0
    for name, objects in shipped_sources().items():
        for mapping in objects.values():
            if mapping.table != table:
                continue
            hits = len(have & {s.casefold() for s in mapping.columns})
            if hits > best_hits:
                best, best_hits = name, hits
    return best if best_hits * 2 >= max(len(have), 1) else None
