"""Parquet reading: typed columns as written, row numbers by position."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from revops.ingest.errors import IngestError
from revops.ingest.raw import Progress, RawData, refuse_duplicates, rows_to_json

_BATCH_ROWS = 65_536


def read_parquet(path: Path, progress: Progress | None) -> RawData:
    """Read a .parquet file batch by batch (for progress).

    A Parquet file cut short loses its footer, and with it the schema and every row group's
    location: nothing in it can be trusted, so it is refused rather than partially loaded.
    """
    total = path.stat().st_size
    batches: list[pa.RecordBatch] = []
    try:
        pf = pq.ParquetFile(path)
        rows_total = max(pf.metadata.num_rows, 1)
        schema = pf.schema_arrow
        done = 0
        for batch in pf.iter_batches(batch_size=_BATCH_ROWS):
            batches.append(batch)
            done += batch.num_rows
            if progress is not None:
                progress(total * done // rows_total, total)
    except (pa.ArrowInvalid, OSError) as exc:
        raise IngestError(
            f"{path}: not a complete Parquet file ({exc}); was it cut short while copying?"
        ) from exc
    names = tuple(schema.names)
    refuse_duplicates(path, names)
    data = pa.Table.from_batches(batches, schema=schema)
    row_numbers = np.arange(1, data.num_rows + 1, dtype=np.int64)
    return RawData(names, data, row_numbers, (), rows_to_json(data))
