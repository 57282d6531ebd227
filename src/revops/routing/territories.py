"""Territories matched on geography, industry and size band, compiled to set lookups.

The matched account is the better source of truth for a company's country, industry and size,
so its fields win and the lead's own answers fill the gaps (a lead with no account still
routes). State exists only on the lead; region only on the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from revops.config.routing import Territory
from revops.routing.rules import Record

# the columns a territory may read (see `CompiledTerritory.miss`), for readers that fetch only
# what routing uses: state exists only on the lead, region only on the account
LEAD_COLUMNS = ("country", "state", "industry", "employees")
ACCOUNT_COLUMNS = ("country", "region", "industry", "employees")


def _pick(lead: Record, account: Record | None, column: str) -> Any:
    if account is not None:
        value = account.get(column)
        if value is not None:
            return value
    return lead.get(column)


@dataclass(frozen=True, slots=True)
class CompiledTerritory:
    name: str
    countries: frozenset[str]
    regions: frozenset[str]
    states: frozenset[str]
    industries: frozenset[str]
    min_employees: int | None
    max_employees: int | None
    config: Territory

    @classmethod
    def of(cls, t: Territory) -> CompiledTerritory:
        return cls(
            t.name,
            frozenset(t.countries),
            frozenset(t.regions),
            frozenset(t.states),
            frozenset(t.industries),
            t.min_employees,
            t.max_employees,
            t,
        )

    def miss(self, lead: Record, account: Record | None) -> str | None:
        """None when the lead falls in this territory, otherwise the first criterion it fails."""
        if self.countries:
            country = _pick(lead, account, "country")
            if country not in self.countries:
                return f"country {country!r} not in {sorted(self.countries)}"
        if self.regions:
            region = None if account is None else account.get("region")
            if region not in self.regions:
                return f"region {region!r} not in {sorted(self.regions)}"
        if self.states:
            state = lead.get("state")
            if state not in self.states:
                return f"state {state!r} not in {sorted(self.states)}"
        if self.industries:
            industry = _pick(lead, account, "industry")
            if industry not in self.industries:
                return f"industry {industry!r} not in {sorted(self.industries)}"
        if self.min_employees is not None or self.max_employees is not None:
            employees = _pick(lead, account, "employees")
            if employees is None:
                return "employees unknown for a size band"
            if self.min_employees is not None and employees < self.min_employees:
                return f"employees {employees} < {self.min_employees}"
            if self.max_employees is not None and employees >= self.max_employees:
                return f"employees {employees} >= {self.max_employees}"
        return None


def match(
    territories: tuple[CompiledTerritory, ...], lead: Record, account: Record | None
) -> tuple[CompiledTerritory | None, str]:
    """The first territory the lead falls in, or None with every territory's miss."""
    misses = []
    for t in territories:
        why = t.miss(lead, account)
        if why is None:
            return t, f"in territory {t.name!r}"
        misses.append(f"{t.name}: {why}")
    return None, "no territory: " + "; ".join(misses)
