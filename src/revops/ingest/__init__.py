"""Ingestion: CRM and marketing-automation exports into the canonical warehouse tables.

`load_file` reads a CSV, Parquet or JSON lines file, maps its columns (optionally through a
Salesforce / HubSpot / Marketo preset), validates every value against the data model and
upserts the good rows; every refused row goes to `quarantine` with its reasons, and one
`load_log` row records the run — all in one transaction.
"""

from revops.ingest.errors import IngestError
from revops.ingest.load import load_file
from revops.ingest.report import LoadReport

__all__ = ["IngestError", "LoadReport", "load_file"]
