"""What a load did, as data (for the CLI, tests and load_log) and as a few lines for people."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoadReport:
    """The outcome of one `load_file`.

    Invariant: `rows_in == inserted + updated + unchanged + quarantined + duplicates +
    deleted + ignored`. `deleted` rows were flagged deleted in the export (IsDeleted): never
    loaded, and stored copies removed. `ignored` rows are no records of the table by the
    mapping's `keep:` (a history export's other fields) or folded into another row's save
    (`history:`): not errors, so not quarantined. A row whose primary key the file repeats
    later is a `duplicate`: the last row wins and the earlier ones are counted here and
    sampled in `duplicate_ids` (id, its row numbers), so no input row is dropped unseen.
    `unchanged` rows equal the stored row (or are older than it by `updated_at`) and were not
    written. `problems` counts failures by
    (field, kind); a row failing on two fields counts under both, so its values can sum to more
    than `quarantined`. Row-level failures use the pseudo-fields "(row)" and "(json)". Blank
    lines are not rows; `blank_lines` says how many were skipped.
    """

    load_id: str
    file: str
    table: str
    preset: str | None
    rows_in: int
    inserted: int
    updated: int
    quarantined: int
    deleted: int = 0
    ignored: int = 0
    unchanged: int = 0
    known_quarantined: int = 0  # of `quarantined`: already in quarantine from an earlier load
    duplicates: int = 0
    duplicate_ids: tuple[tuple[str, tuple[int, ...]], ...] = ()
    alerts: int = 0
    blank_lines: int = 0
    problems: Mapping[tuple[str, str], int] = field(default_factory=dict)
    ignored_columns: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def summary(self) -> str:
        """A short, PII-free summary: counts, field names and ids, never other values."""
        via = f" (preset {self.preset})" if self.preset else ""
        lines = [
            f"{self.file} → {self.table}{via}: {self.rows_in:,} rows in, "
            f"{self.inserted:,} inserted, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged, {self.quarantined:,} quarantined, "
            f"{self.duplicates:,} repeated ids"
            + (f", {self.deleted:,} deleted" if self.deleted else "")
            + f" [load {self.load_id}]"
        ]
        if self.ignored:
            lines.append(
                f"  ignored: {self.ignored:,} rows that are no records of their own (other "
                "fields of a history export, values the mapping does not map, saves folded)"
            )
        if self.problems:
            top = sorted(self.problems.items(), key=lambda kv: (-kv[1], kv[0]))
            shown = ", ".join(f"{f} ({kind}) × {n:,}" for (f, kind), n in top[:8])
            more = f", and {len(top) - 8} more" if len(top) > 8 else ""
            lines.append(f"  quarantine reasons: {shown}{more}")
        if self.known_quarantined:
            lines.append(
                f"  {self.known_quarantined:,} of the quarantined rows were already in "
                "quarantine from an earlier load and were not filed again"
            )
        if self.duplicates:
            shown = "; ".join(
                f"{key} (rows {', '.join(map(str, rows))})" for key, rows in self.duplicate_ids
            )
            more = ", …" if self.duplicates > len(self.duplicate_ids) else ""
            lines.append(
                f"  ids repeated in the file (the last row of each was loaded, "
                f"{self.duplicates:,} earlier rows were not): {shown}{more}"
            )
        if self.alerts:
            lines.append(f"  duplicate alerts: {self.alerts:,} new records match stored ones")
        if self.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(self.ignored_columns)}")
        if self.blank_lines:
            lines.append(f"  blank lines skipped (not rows): {self.blank_lines:,}")
        return "\n".join(lines)
