"""Reference data for validity: ISO 3166 countries and subdivisions, from `pycountry`.

A maintained package rather than a hand-kept list, so a new country or a renamed subdivision
arrives with a dependency update. The sets are built once; SQL checks pass them to `isin`.
"""

from __future__ import annotations

from functools import lru_cache

import pycountry

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code."""
    return frozenset(c.alpha_2 for c in pycountry.countries)


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """Lower-cased alpha-3 codes, names, official and common names → alpha-2."""
    out: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("alpha_3", "name", "official_name", "common_name"):
            value = getattr(c, attr, None)
            if value:
                out[str(value).lower()] = c.alpha_2
    return out


def country_lookup(text: str) -> str | None:
    """The alpha-2 code an exact code or name (any case) stands for; None when it is unknown."""
    key = text.strip().lower()
    if len(key) == 2 and key.upper() in country_codes():
        return key.upper()
    return _country_names().get(key)


@lru_cache(maxsize=16)
def subdivisions(country: str) -> dict[str, str]:
    """Subdivision codes of `country` without the country prefix ('CA'), and lower-cased
    names → code; empty when pycountry knows no subdivisions for it."""
    out: dict[str, str] = {}
    for sub in pycountry.subdivisions.get(country_code=country) or ():
        code = sub.code.split("-", 1)[1]
        out[code.lower()] = code
        out[sub.name.lower()] = code
    return out


def subdivision_codes(countries: tuple[str, ...]) -> frozenset[str]:
    """'US-CA'-style codes for the given countries, for one `isin` over country || '-' || state."""
    return frozenset(
        f"{country}-{code}" for country in countries for code in set(subdivisions(country).values())
    )
