"""Shared building blocks of the demo generator: the calendar, id formats and sampling helpers.

Everything here is pure and vectorized. Times are numpy `datetime64[s]` (naive UTC), so the
generator never consults the wall clock: the company's history is pinned to the two years ending
2026-10-31, and the same seed always produces the same company.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
TimeArray = npt.NDArray[np.datetime64]
StrArray = npt.NDArray[np.str_]

COMPANY = "Northwind Analytics"
CURRENCY = "USD"
START = np.datetime64("2024-11-01T00:00:00", "s")
END = np.datetime64("2026-10-31T23:59:59", "s")
NAT = np.datetime64("NaT", "s")
DAY = np.timedelta64(86_400, "s")
WINDOW_DAYS = 730

CHANNELS = (
    "paid_search",
    "organic_search",
    "paid_social",
    "email",
    "events",
    "webinar",
    "partner",
    "referral",
    "direct",
    "outbound",
)
CH = {name: i for i, name in enumerate(CHANNELS)}
PRODUCTS = ("Core Analytics", "Data Pipelines", "Embedded BI", "AI Forecasting")
PRODUCT_MIX = (0.52, 0.20, 0.17, 0.11)

COUNTRIES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "NA": (("US", "CA"), (0.88, 0.12)),
    "EMEA": (
        ("GB", "DE", "FR", "NL", "SE", "ES", "IE", "CH"),
        (0.30, 0.22, 0.15, 0.09, 0.07, 0.07, 0.05, 0.05),
    ),
    "APAC": (("AU", "JP", "SG", "IN", "NZ"), (0.34, 0.22, 0.18, 0.20, 0.06)),
    "LATAM": (("BR", "MX", "AR", "CO", "CL"), (0.42, 0.28, 0.12, 0.10, 0.08)),
}
STATES: dict[str, tuple[str, ...]] = {
    "US": ("CA", "NY", "TX", "MA", "WA", "IL", "GA", "CO", "FL", "NC", "PA", "OR"),
    "CA": ("ON", "BC", "QC", "AB"),
    "AU": ("NSW", "VIC", "QLD", "WA"),
    "BR": ("SP", "RJ", "MG", "PR"),
    "MX": ("CMX", "JAL", "NLE"),
    "IN": ("KA", "MH", "DL", "TN"),
}

_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_SUFFIX = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)


def sigmoid(x: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def sf_ids(prefix: str, n: int) -> StrArray:
    """`n` Salesforce-style 18-character ids (`001…`) with a valid case-checksum suffix.

    Real exports carry 18-character ids; keeping the checksum right means anyone who converts
    them to 15-character ids and back gets the same strings.
    """
    if n == 0:
        return np.array([], dtype="<U18")
    body = np.empty((n, 15), dtype=np.uint8)
    body[:, :3] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    body[:, 3:8] = np.frombuffer(b"5g00N", dtype=np.uint8)
    num = np.arange(n, dtype=np.int64) + 1_000
    for pos in range(14, 7, -1):
        body[:, pos] = _BASE62[num % 62]
        num //= 62
    upper = (body >= ord("A")) & (body <= ord("Z"))
    weights = (1 << np.arange(5)).astype(np.int64)
    suffix = np.stack([upper[:, k * 5 : k * 5 + 5] @ weights for k in range(3)], axis=1)
    full = np.concatenate([body, _SUFFIX[suffix]], axis=1)
    return full.view("S18").ravel().astype("<U18")


def numeric_ids(rng: np.random.Generator, n: int, base: int, gap: int) -> StrArray:
    """Increasing numeric record ids with random gaps, as HubSpot and Marketo hand them out."""
    steps = rng.integers(1, gap, size=n, dtype=np.int64)
    return (base + np.cumsum(steps)).astype(str)


def choice_idx(rng: np.random.Generator, weights: FloatArray | list[float], n: int) -> IntArray:
    """`n` draws of category indices with the given (unnormalized) weights."""
    w = np.asarray(weights, dtype=np.float64)
    return np.asarray(rng.choice(len(w), size=n, p=w / w.sum()), dtype=np.int64)


def choice_by_row(rng: np.random.Generator, probs: FloatArray) -> IntArray:
    """One category per row of a (rows × categories) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    u = np.asarray(rng.random(probs.shape[0]))[:, None]
    return np.asarray((u > cum).sum(axis=1), dtype=np.int64)


def choice_by_group(rng: np.random.Generator, group: IntArray, table: FloatArray) -> IntArray:
    """One category per row, drawn from the probability row `table[group]` of its group."""
    out = np.zeros(len(group), dtype=np.int64)
    for g in range(table.shape[0]):
        rows = np.flatnonzero(group == g)
        if len(rows) and table[g].sum() > 0:
            out[rows] = choice_idx(rng, table[g], len(rows))
    return out


def pick_among(rng: np.random.Generator, allowed: BoolArray) -> IntArray:
    """For each row of a boolean matrix, a uniformly random column that is True (-1 if none)."""
    score = np.where(allowed, rng.random(allowed.shape), -1.0)
    out = score.argmax(axis=1).astype(np.int64)
    out[~allowed.any(axis=1)] = -1
    return out


def days(x: FloatArray | float) -> npt.NDArray[np.timedelta64]:
    """A float number of days as second-resolution timedeltas."""
    return np.asarray(np.round(np.asarray(x) * 86_400.0), dtype=np.int64).astype("m8[s]")


def delta(x: float) -> np.timedelta64:
    """A float number of days as one second-resolution timedelta."""
    return np.timedelta64(round(x * 86_400.0), "s")


def business_times(rng: np.random.Generator, n: int, growth: float = 0.6) -> TimeArray:
    """`n` sorted timestamps across the window with growth, weekly rhythm and office hours.

    The company grows, so later days are likelier (`growth` = extra volume at the end); weekends
    carry a third of a weekday; times of day follow a business-hours curve.
    """
    day_idx = np.arange(WINDOW_DAYS)
    weekday = (day_idx + 4) % 7  # 2024-11-01 is a Friday (weekday 4)
    weight = (1.0 + growth * day_idx / WINDOW_DAYS) * np.where(weekday >= 5, 0.35, 1.0)
    month = ((day_idx + 0) // 30.44).astype(int) % 12
    weight *= np.where(np.isin(month, (1, 2)), 0.85, 1.0)  # quiet around year end
    picks = choice_idx(rng, weight, n)
    secs = np.clip(rng.normal(14.0, 3.2, n), 0.0, 23.99) * 3600.0
    out = START + picks.astype("m8[D]").astype("m8[s]") + secs.astype(np.int64).astype("m8[s]")
    return np.sort(out)


def clip_time(t: TimeArray, lo: np.datetime64, hi: np.datetime64) -> TimeArray:
    return np.asarray(np.minimum(np.maximum(t, lo), hi))


def allocate(total: int, weights: list[float], minimum: int = 1) -> list[int]:
    """Split `total` into integer parts proportional to `weights` (largest remainder)."""
    w = np.asarray(weights, dtype=np.float64)
    raw = w / w.sum() * max(total - minimum * len(w), 0)
    parts = np.floor(raw).astype(int)
    rest = max(total - minimum * len(w), 0) - int(parts.sum())
    order = np.argsort(-(raw - parts), kind="stable")
    parts[order[:rest]] += 1
    return [int(p) + minimum for p in parts]


FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Daniel", "Karen", "Matthew", "Nancy", "Anthony", "Lisa", "Mark", "Emily", "Steven", "Ashley",
    "Andrew", "Michelle", "Joshua", "Amanda", "Kevin", "Melissa", "Brian", "Laura", "Oliver",
    "Sophie", "Lukas", "Hannah", "Lucas", "Emma", "Noah", "Mia", "Hugo", "Chloe", "Lars", "Ingrid",
    "Matteo", "Giulia", "Pablo", "Lucia", "Sean", "Aoife", "Hiroshi", "Yuki", "Wei", "Mei",
    "Arjun", "Priya", "Rahul", "Ananya", "Jack", "Charlotte", "Liam", "Olivia", "Gabriel", "Ana",
    "Mateo", "Valentina", "Santiago", "Camila", "Diego", "Fernanda", "Rafael", "Beatriz",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee",
    "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts",
    "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Dubois", "Lefevre", "Moreau", "Jansen",
    "de Vries", "Johansson", "Lindqvist", "Rossi", "Bianchi", "Fernandez", "Lopez", "Murphy",
    "O'Brien", "Kelly", "Tanaka", "Suzuki", "Sato", "Chen", "Wang", "Li", "Sharma", "Patel",
    "Gupta", "Singh", "Nguyen", "Silva", "Santos", "Oliveira", "Pereira", "Gomez", "Hernandez",
    "Ramirez", "Torres", "Costa", "Okafor", "Mensah", "Cohen", "Novak", "Kowalski", "Horvath",
)  # fmt: skip
