"""The safe normalizations, as pure functions of one value (and its country, where it matters).

"Safe" means the result says the same thing as the input in the canonical spelling: a function
returns the input unchanged when it is not sure. Every function is idempotent, which is what
makes a second `quality fix` a no-op.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import phonenumbers

from revops.config.quality import TitleRule
from revops.quality.reference import country_lookup, subdivisions

_SPACES = re.compile(r"\s+")


def picklist_key(value: str) -> str:
    """Case- and spacing-insensitive key, so 'united  states' finds the 'United States' alias."""
    return _SPACES.sub(" ", value.strip()).casefold()


def email(value: str) -> str:
    return value.strip().lower()


def country(value: str, aliases: Mapping[str, str]) -> str:
    """An ISO alpha-2 code from an alias ('U.S.'), a code in any case, alpha-3 or a name."""
    alias = aliases.get(picklist_key(value))
    if alias is not None:
        return alias
    code = country_lookup(value)
    return code if code is not None else value


def state(value: str, country_code: str | None, countries: Sequence[str]) -> str:
    """The subdivision code ('CA') from 'ca', 'US-CA' or 'California', for checked countries."""
    if country_code is None or country_code not in countries:
        return value
    key = value.strip().lower()
    key = key.removeprefix(country_code.lower() + "-")
    code = subdivisions(country_code).get(key)
    return code if code is not None else value


def phone(value: str, country_code: str | None) -> str:
    """E.164 ('+13545045068') when the number parses and has a possible length, else unchanged.

    A number without a leading '+' needs the person's country to be read; without one it stays.
    """
    text = value.strip()
    region = country_code if country_code and not text.startswith("+") else None
    if region is None and not text.startswith("+"):
        return value
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(parsed):
        return value
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def picklist(value: str, mapping: Mapping[str, str]) -> str:
    return mapping.get(picklist_key(value), value)


def classify(title: str, rules: Sequence[TitleRule], default: str | None) -> str | None:
    """The value of the first rule whose pattern matches the title (case-insensitive)."""
    for rule in rules:
        if re.search(rule.pattern, title, flags=re.IGNORECASE):
            return rule.value
    return default
