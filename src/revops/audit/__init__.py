"""The append-only, hash-chained audit log every write in revops records itself in."""

from revops.audit.log import (
    AuditEntry,
    AuditNote,
    Verification,
    audit_batch,
    audited,
    chain_batch,
    entries,
    head,
    rechain,
    record,
    rows_of,
    verify,
)

__all__ = [
    "AuditEntry",
    "AuditNote",
    "Verification",
    "audit_batch",
    "audited",
    "chain_batch",
    "entries",
    "head",
    "rechain",
    "record",
    "rows_of",
    "verify",
]
