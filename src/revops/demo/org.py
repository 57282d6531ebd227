"""The revenue team: territories by region × segment, and the people who work them.

Territories are the routing grid (4 regions × 3 segments). Account executives are spread over
them in proportion to the business each region brings; every territory has a manager and at
least one veteran AE hired before the window, so every deal has an owner who was already there.
One named AE, the star rep, closes clearly more of her deals than anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from revops.demo._common import (
    COUNTRIES,
    FIRST_NAMES,
    LAST_NAMES,
    IntArray,
    TimeArray,
    allocate,
    sf_ids,
)
from revops.warehouse.schema import REGIONS, SEGMENTS

STAR_REP = "Maya Okafor"
STAR_TERRITORY = ("NA", "mid_market")
_SEGMENT_LABEL = {"smb": "SMB", "mid_market": "Mid-Market", "enterprise": "Enterprise"}
_TIMEZONES = {
    "NA": ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"),
    "EMEA": ("Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Amsterdam"),
    "APAC": ("Australia/Sydney", "Asia/Singapore", "Asia/Tokyo"),
    "LATAM": ("America/Sao_Paulo", "America/Mexico_City"),
}
_REGION_WEIGHT = (0.42, 0.30, 0.16, 0.12)
_SEGMENT_WEIGHT = (0.36, 0.36, 0.28)


@dataclass(frozen=True)
class _Row:
    role: str
    team: str
    region: int
    terr: int | None
    start: np.datetime64
    active: bool


@dataclass(frozen=True)
class Org:
    """Users and territories plus the lookups the other generators route with."""

    users: pd.DataFrame  # canonical columns; user_id is the final Salesforce id
    territories: pd.DataFrame  # canonical columns
    ae_territory: IntArray  # per AE (index into users): territory number 0..11
    ae_users: IntArray  # user row of each AE
    ae_start: TimeArray
    veteran_of_territory: IntArray  # territory -> user row of a veteran AE
    star_user: int  # user row of the star rep
    sdr_users: IntArray
    sdr_region: IntArray
    sdr_start: TimeArray
    sdr_end: TimeArray
    csm_users: IntArray
    csm_region: IntArray


def territory_number(region: IntArray, segment: IntArray) -> IntArray:
    return np.asarray(region * len(SEGMENTS) + segment, dtype=np.int64)


def build_org(rng: np.random.Generator, scale: float) -> Org:
    """Territories and users; sizes grow with `scale` but never drop below one per territory."""
    n_ae = max(12, round(40 * scale))
    n_sdr = max(4, round(16 * scale))
    n_csm = max(4, round(10 * scale))
    n_mkt = max(3, round(6 * scale))

    terr_rows = [(r, s) for r in range(len(REGIONS)) for s in range(len(SEGMENTS))]
    terr_ids = np.array(
        [f"T-{REGIONS[r]}-{SEGMENTS[s].upper().replace('_', '')}" for r, s in terr_rows]
    )
    weights = [_REGION_WEIGHT[r] * _SEGMENT_WEIGHT[s] for r, s in terr_rows]
    ae_per_terr = allocate(n_ae, weights)

    rows: list[_Row] = []

    def add(
        role: str, team: str, region: int, terr: int | None, start: str, active: bool = True
    ) -> int:
        rows.append(_Row(role, team, region, terr, np.datetime64(start, "s"), active))
        return len(rows) - 1

    cro = add("executive", "Revenue Leadership", 0, None, "2019-03-04")
    managers = []
    for t, (r, s) in enumerate(terr_rows):
        managers.append(
            add(
                "manager",
                f"{REGIONS[r]} {_SEGMENT_LABEL[SEGMENTS[s]]} Sales",
                r,
                t,
                str(np.datetime64("2019-06-03") + int(rng.integers(0, 900))),
            )
        )
    ae_terr: list[int] = []
    ae_rows: list[int] = []
    veteran = np.zeros(len(terr_rows), dtype=np.int64)
    for t, count in enumerate(ae_per_terr):
        r, s = terr_rows[t]
        for k in range(count):
            hired_in_window = k > 0 and rng.random() < 0.18
            if hired_in_window:
                start = str(np.datetime64("2024-12-02") + int(rng.integers(0, 540)))
            else:
                start = str(np.datetime64("2020-01-06") + int(rng.integers(0, 880)))
            ae = add("ae", f"{REGIONS[r]} {_SEGMENT_LABEL[SEGMENTS[s]]} AE", r, t, start)
            if k == 0:
                veteran[t] = ae
            ae_terr.append(t)
            ae_rows.append(ae)
    star_terr = REGIONS.index(STAR_TERRITORY[0]) * 3 + SEGMENTS.index(STAR_TERRITORY[1])
    star = int(veteran[star_terr])

    sdr_rows: list[int] = []
    sdr_reg: list[int] = []
    sdr_end: list[np.datetime64] = []
    for r, count in enumerate(allocate(n_sdr, list(_REGION_WEIGHT))):
        for _ in range(count):
            start = str(np.datetime64("2022-02-07") + int(rng.integers(0, 900)))
            sdr_rows.append(add("sdr", f"{REGIONS[r]} SDR", r, None, start))
            sdr_reg.append(r)
            sdr_end.append(np.datetime64("NaT", "s"))
        # one SDR per region left mid-window: still the owner of what they qualified
        if count >= 2:
            sdr_rows.append(add("sdr", f"{REGIONS[r]} SDR", r, None, "2021-09-06", active=False))
            sdr_reg.append(r)
            sdr_end.append(np.datetime64("2025-06-30T23:59:59", "s"))
    csm_rows: list[int] = []
    csm_reg: list[int] = []
    for r, count in enumerate(allocate(n_csm, list(_REGION_WEIGHT))):
        for _ in range(count):
            start = str(np.datetime64("2021-01-04") + int(rng.integers(0, 1000)))
            csm_rows.append(add("csm", f"{REGIONS[r]} Customer Success", r, None, start))
            csm_reg.append(r)
    for _ in range(n_mkt):
        add(
            "marketing",
            "Demand Generation",
            0,
            None,
            str(np.datetime64("2021-03-01") + int(rng.integers(0, 1100))),
        )
    add("ops", "Revenue Operations", 0, None, "2020-08-03")
    add("ops", "Revenue Operations", 1, None, "2023-05-15")

    n = len(rows)
    ids = sf_ids("005", n)
    first = rng.choice(np.array(FIRST_NAMES), size=n)
    last = rng.choice(np.array(LAST_NAMES), size=n)
    names = np.char.add(np.char.add(first, " "), last)
    names[star] = STAR_REP
    emails = np.char.lower(np.char.replace(np.char.replace(names, " ", "."), "'", ""))
    emails = np.char.add(np.char.add(emails, np.arange(n).astype(str)), "@northwind-analytics.com")
    tz = [_TIMEZONES[REGIONS[row.region]] for row in rows]
    timezone = [zones[int(rng.integers(0, len(zones)))] for zones in tz]
    manager_of: list[str | None] = []
    for i, row in enumerate(rows):
        if i == cro:
            manager_of.append(None)
        elif row.role == "ae" and row.terr is not None:
            manager_of.append(str(ids[managers[row.terr]]))
        elif row.role in ("sdr", "csm"):
            # regional sales lead: the manager of the region's mid-market territory
            manager_of.append(str(ids[managers[row.region * 3 + 1]]))
        else:
            manager_of.append(str(ids[cro]))
    users = pd.DataFrame(
        {
            "user_id": ids,
            "name": names,
            "email": emails,
            "team": [row.team for row in rows],
            "role": [row.role for row in rows],
            "region": [REGIONS[row.region] for row in rows],
            "timezone": timezone,
            "manager_id": manager_of,
            "territory_id": [terr_ids[row.terr] if row.terr is not None else None for row in rows],
            "is_active": [row.active for row in rows],
            "start_date": np.array([row.start for row in rows], dtype="datetime64[s]"),
        }
    )
    territories = pd.DataFrame(
        {
            "territory_id": terr_ids,
            "name": [f"{REGIONS[r]} {_SEGMENT_LABEL[SEGMENTS[s]]}" for r, s in terr_rows],
            "region": [REGIONS[r] for r, _ in terr_rows],
            "segment": [SEGMENTS[s] for _, s in terr_rows],
            "countries": ["|".join(COUNTRIES[REGIONS[r]][0]) for r, _ in terr_rows],
            "owner_id": [ids[m] for m in managers],
        }
    )
    starts = users["start_date"].to_numpy()
    ae_idx = np.array(ae_rows, dtype=np.int64)
    sdr_idx = np.array(sdr_rows, dtype=np.int64)
    return Org(
        users=users,
        territories=territories,
        ae_territory=np.array(ae_terr, dtype=np.int64),
        ae_users=ae_idx,
        ae_start=starts[ae_idx],
        veteran_of_territory=veteran,
        star_user=star,
        sdr_users=sdr_idx,
        sdr_region=np.array(sdr_reg, dtype=np.int64),
        sdr_start=starts[sdr_idx],
        sdr_end=np.array(sdr_end, dtype="datetime64[s]"),
        csm_users=np.array(csm_rows, dtype=np.int64),
        csm_region=np.array(csm_reg, dtype=np.int64),
    )
