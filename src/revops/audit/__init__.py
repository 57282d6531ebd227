"""The append-only, hash-chained audit log every write in revops records itself in."""

from revops.audit.log import AuditEntry, Verification, audit_batch, entries, head, record, verify

__all__ = ["AuditEntry", "Verification", "audit_batch", "entries", "head", "record", "verify"]
