"""The append-only, hash-chained audit log every write in revops records itself in."""

from revops.audit.log import (
    AuditEntry,
    AuditNote,
    Verification,
    audit_batch,
    chain_batch,
    entries,
    head,
    record,
    verify,
)

__all__ = [
    "AuditEntry",
    "AuditNote",
    "Verification",
    "audit_batch",
    "chain_batch",
    "entries",
    "head",
    "record",
    "verify",
]
