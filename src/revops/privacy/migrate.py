"""Turning PII encryption on for a warehouse that already holds data in clear.

Encrypting the columns in place would leave the old plaintext in the DuckDB file's freed blocks
(see erase.py: UPDATE does not remove bytes), so an existing warehouse is instead copied, table
by table, into a NEW file opened with REVOPS_PII_KEY: every row passes through `write_many`,
which encrypts the PII columns before they are staged. The copy lands in one transaction, then
an audit entry records it; the operator deletes (or shreds) the plaintext file afterwards.
Rows are copied as stored, so the audit log's hash chain stays valid in the new file.
"""

from __future__ import annotations

from pathlib import Path

from revops.audit import record
from revops.errors import RevOpsError
from revops.warehouse import Batch, Warehouse
from revops.warehouse.pii import PII_KEY_ENV
from revops.warehouse.schema import TABLES

_SKIP = {"pii_keys"}  # the destination registers its own key


def encrypt_copy(source: str | Path, target: Path, *, actor: str) -> dict[str, int]:
    """Copy the plaintext warehouse at `source` into a new encrypted DuckDB file `target`.

    Needs REVOPS_PII_KEY in the environment; refuses an existing target so that nothing is
    ever overwritten. Returns the rows copied per table (tables with no rows omitted).
    """
    target = Path(target)
    if target.exists():
        raise RevOpsError(f"{target} already exists: encrypt_copy writes a new warehouse only")
    with Warehouse.connect(source, create=False, pii_from_env=False) as src:
        if src.backend != "duckdb":
            raise RevOpsError("encrypt_copy reads DuckDB warehouses (PII mode is DuckDB-only)")
        # (an already encrypted source is refused by connect: it holds a registered key)
        present = src._existing_columns()  # an older warehouse may lack newer columns
        data = {
            t.name: src.to_arrow(
                src.table(t.name).select(*[c for c in t.column_names if c in present[t.name]])
            )
            for t in TABLES
            if t.name in present and t.name not in _SKIP
        }
    copied = {name: rows.num_rows for name, rows in data.items() if rows.num_rows}
    try:
        with Warehouse.connect(target) as dst:
            if dst.pii is None:
                raise RevOpsError(f"set {PII_KEY_ENV}: the copy is encrypted with it")
            dst.write_many([Batch(name, data[name], "replace") for name in copied])
            record(dst, actor, "privacy.pii_encrypted", "warehouse", {"rows_copied": copied})
    except BaseException:
        target.unlink(missing_ok=True)
        Path(str(target) + ".wal").unlink(missing_ok=True)
        raise
    return copied
