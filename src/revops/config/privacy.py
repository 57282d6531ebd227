"""The `privacy:` section of revops.yaml: consent purposes, channels and regional defaults.

Consent is recorded per purpose and channel (GDPR Art. 6/7, ePrivacy): a person can accept
product updates by email and refuse sales calls. What happens when the ledger is silent depends
on where the person is: in the EEA, the UK and Switzerland marketing needs explicit, provable
consent, while elsewhere a purpose may rest on legitimate interest until the person opts out.
That default is declared here per purpose, never hard-coded in an engine.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LawfulBasis = Literal[
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interest",
]

# EEA members, the UK and Switzerland: marketing there needs an explicit, recorded opt-in.
EXPLICIT_CONSENT_COUNTRIES = (
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
    "GB", "CH",
)  # fmt: skip


class Model(BaseModel):
    """Same contract as `config.models.Model`; repeated because models.py imports this module."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Purpose(Model):
    """One reason to contact people. `default_basis` is the lawful basis assumed when the ledger
    has no event for a person outside `explicit_consent_countries`; None means an opt-in is
    always needed. `double_opt_in` makes an opt-in count only once it is confirmed."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    double_opt_in: bool = False
    default_basis: LawfulBasis | None = None


def _default_purposes() -> tuple[Purpose, ...]:
    return (
        Purpose(
            name="marketing",
            description="Newsletters, nurture programs, event invitations.",
            double_opt_in=True,
            default_basis="legitimate_interest",
        ),
        Purpose(name="sales_outreach", description="Prospecting calls and emails by reps."),
        Purpose(
            name="product_updates",
            description="Release notes and service announcements to customers.",
            default_basis="contract",
        ),
    )


class PrivacyConfig(Model):
    """Consent purposes and channels, and where explicit consent is required."""

    purposes: tuple[Purpose, ...] = Field(default_factory=_default_purposes)
    channels: tuple[str, ...] = ("email", "phone", "sms")
    explicit_consent_countries: tuple[str, ...] = EXPLICIT_CONSENT_COUNTRIES

    @model_validator(mode="after")
    def _unique(self) -> PrivacyConfig:
        names = [p.name for p in self.purposes]
        for label, values in (("purpose", names), ("channel", list(self.channels))):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"{label} names must be unique; repeated: {', '.join(dupes)}")
            if "*" in values:
                raise ValueError(f"'*' is reserved (it means every {label} in a ledger event)")
        if not self.purposes or not self.channels:
            raise ValueError("privacy needs at least one purpose and one channel")
        return self

    def purpose(self, name: str) -> Purpose:
        for p in self.purposes:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.purposes)
        raise KeyError(f"unknown consent purpose {name!r}; purposes in revops.yaml: {known}")

    def check_channel(self, name: str) -> str:
        if name not in self.channels:
            known = ", ".join(self.channels)
            raise KeyError(f"unknown consent channel {name!r}; channels in revops.yaml: {known}")
        return name
