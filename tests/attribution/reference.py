"""Paths built in Python from every journey's touches, as the engine built them before the
warehouse counted them: the reference the pushed-down path counts are checked against
(test_path_counts.py), and the way the credit tests fit models on hand-made journey tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from revops.attribution.paths import Paths


def journey_paths(journeys: pd.DataFrame) -> Paths:
    """One path per journey (channels in `pos` order), converted or not, with its revenue."""
    heads = journeys[journeys["pos"] == 0]
    offsets = np.flatnonzero(journeys["pos"].to_numpy() == 0)
    arr = pa.ListArray.from_arrays(
        pa.array(np.append(offsets, len(journeys)), pa.int32()),
        pa.array(journeys["channel"].astype(str).to_numpy(), pa.string()),
    )
    converted = heads["converted"].to_numpy(dtype=bool)
    return Paths.from_arrow(
        arr,
        converted.astype(np.float64),
        (~converted).astype(np.float64),
        np.where(converted, heads["revenue"].to_numpy(dtype=np.float64), 0.0),
    )


def counted(paths: Paths) -> dict[str, tuple[float, float, float]]:
    """Paths as `a > b` strings, each with its conversions, nulls and value summed."""
    out: dict[str, tuple[float, float, float]] = {}
    for i in range(len(paths)):
        codes = paths.codes[paths.offsets[i] : paths.offsets[i + 1]]
        key = " > ".join(paths.channels[c] for c in codes)
        c, n, v = out.get(key, (0.0, 0.0, 0.0))
        out[key] = (
            c + float(paths.conversions[i]),
            n + float(paths.nulls[i]),
            v + float(paths.value[i]),
        )
    return out
