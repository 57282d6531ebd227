"""Does a Fellegi–Sunter match probability mean what it says? Measured on labelled pairs.

The model learns m, u and λ by EM without a single label, so every labelled pair is one it
never saw; its probability still rests on conditional independence of the compared fields,
which real records break (a wrong surname often comes with a wrong given name), so it is
typically too sure near 0 and 1. Labels come from a known truth (the demo's planted duplicates,
FEBRL's true links): a candidate pair is 1 when both records are one true entity.

Every candidate pair blocking produced is scored and labelled, not only those above the review
threshold, so the whole range of probabilities is judged; but nearly all candidates are clear
non-matches near 0, whose weight makes the overall ECE small whatever happens near 1. So the
pairs in the decision range (at or above the review threshold: those a reviewer sees or that
merge) are judged on their own too, and recalibrated on their own when off.

Pairs have no time, so they are split in two by a stable hash of the left record: the first
half decides and fits any recalibration (`revops.models.calibration.assess`: ECE above 0.02
and above chance), the second half, held out, is scored before and after. Pairs blocking never
produced are a recall question, not calibration.

The recalibration maps the match weight, not the probability, by isotonic regression: the
weight is the log-odds the probability is made of, but above a weight of about 20 every
probability is 1.0 to within 1e-6, where the log-odds a fit on the probability uses are
clipped, so a 22 and a 42 look alike to it. The weight takes one value per comparison pattern,
a few dozen, so the isotonic map is a step per pattern that a few hundred pairs can fit, and it
can hold the demo's 16.9 (a namesake at the same company, whose e-mail differs by the digit
that tells them apart: rarely one person) down where Platt's single slope on the log-odds,
tied to the patterns around it, could not (on the full demo its ECE stayed at 0.054).
"""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from revops.config.dedupe import DedupeSettings
from revops.models.calibration import CalibrationReport, assess

Pair = tuple[str, str]
Array = npt.NDArray[np.float64]
EVERY_PAIR = 1e-12  # a review threshold that keeps every scored candidate pair


def every_pair(settings: DedupeSettings) -> DedupeSettings:
    """The same settings, returning every scored candidate pair (clusters are unchanged: they
    depend on the auto-merge threshold only)."""
    return settings.model_copy(update={"review_threshold": EVERY_PAIR})


def labelled(pairs: pa.Table, truth: set[Pair]) -> tuple[Array, Array, npt.NDArray[np.int64]]:
    """(label, match probability, split order) per scored pair; truth pairs are (min, max)."""
    left = pairs.column("left_id").to_pylist()
    right = pairs.column("right_id").to_pylist()
    y = np.array([(min(a, b), max(a, b)) in truth for a, b in zip(left, right, strict=True)], float)
    p = np.asarray(pairs.column("match_probability").to_numpy(zero_copy_only=False), float)
    order = np.array([zlib.crc32(str(a).encode()) for a in left], np.int64)
    return y, p, order


def match_calibration(
    name: str, pairs: pa.Table, truth: set[Pair], floor: float = 0.0
) -> CalibrationReport:
    """Brier, ECE and the reliability table of the match probability on labelled pairs at or
    above `floor`, with a recalibration fitted on the first half when it is off."""
    y, p, order = labelled(pairs, truth)
    weight = np.asarray(pairs.column("match_weight").to_numpy(zero_copy_only=False), float)
    keep = p >= floor
    return assess(name, y[keep], p[keep], order[keep], score=("match weight", weight[keep]))
