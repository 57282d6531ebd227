"""Privacy: the consent ledger, subject export and erasure with tombstones, pseudonyms.

Engines and front ends filter every outgoing list through `audience`; the intake API asks
`is_erased` / `erased_mask` before it creates a person.
"""

from revops.privacy.consent import ConsentEvent, audience, consent_batch, consent_state, contactable
from revops.privacy.erase import ErasureReport, erase
from revops.privacy.export import export_subject, write_export
from revops.privacy.migrate import encrypt_copy
from revops.privacy.pseudonyms import refresh_pseudonyms
from revops.privacy.tombstones import erased_mask, is_erased

__all__ = [
    "ConsentEvent",
    "ErasureReport",
    "audience",
    "consent_batch",
    "consent_state",
    "contactable",
    "encrypt_copy",
    "erase",
    "erased_mask",
    "export_subject",
    "is_erased",
    "refresh_pseudonyms",
    "write_export",
]
