"""What a load did, as data (for the CLI, tests and load_log) and as a few lines for people."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoadReport:
    """The outcome of one `load_file`.

    Invariant: `rows_in == inserted + updated + quarantined + deleted`; `deleted` rows were
    flagged deleted in the export (IsDeleted): never loaded, and stored copies removed. A
    primary key repeated inside the file counts its later rows as `updated` (each replaced the
    one before it, "latest wins"), so every input row is accounted for exactly once. `problems`
    counts failures by (field, kind); a row failing on two fields counts under both, so its
    values can sum to more than `quarantined`. Row-level failures use the pseudo-fields "(row)"
    and "(json)".
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
    problems: Mapping[tuple[str, str], int] = field(default_factory=dict)
    ignored_columns: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated

    def summary(self) -> str:
        """A short, PII-free summary: counts and field names, never values."""
        via = f" (preset {self.preset})" if self.preset else ""
        lines = [
            f"{self.file} → {self.table}{via}: {self.rows_in:,} rows in, "
            f"{self.inserted:,} inserted, {self.updated:,} updated, "
            f"{self.quarantined:,} quarantined"
            + (f", {self.deleted:,} deleted" if self.deleted else "")
            + f" [load {self.load_id}]"
        ]
        if self.problems:
            top = sorted(self.problems.items(), key=lambda kv: (-kv[1], kv[0]))
            shown = ", ".join(f"{f} ({kind}) × {n:,}" for (f, kind), n in top[:8])
            more = f", and {len(top) - 8} more" if len(top) > 8 else ""
            lines.append(f"  problems: {shown}{more}")
        if self.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(self.ignored_columns)}")
        return "\n".join(lines)
