"""Free-mail provider detection.

A person writing from gmail.com tells us nothing about their employer, so domain
evidence from such addresses must never link a lead to an account or two people
to each other. The provider list ships as package data so it can be reviewed and
extended without touching code.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

__all__ = ["free_mail_domains", "is_free_mail"]


@lru_cache(maxsize=1)
def free_mail_domains() -> frozenset[str]:
    """The shipped set of free-mail domains (lowercase, no leading '@' or 'www.')."""
    text = (
        resources.files("revops.identity")
        .joinpath("data/free_mail_domains.txt")
        .read_text(encoding="utf-8")
    )
    domains = set()
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip().lower()
        if entry:
            domains.add(entry)
    return frozenset(domains)


def is_free_mail(domain: str) -> bool:
    """True when ``domain`` (or an email address) belongs to a free-mail provider.

    Accepts a bare domain, a full address or a ``www.``-prefixed host; subdomains of
    a provider (``mail.yahoo.com``) count as the provider.
    """
    value = (domain or "").strip().lower().rstrip(".")
    if "@" in value:
        value = value.rsplit("@", 1)[1]
    if value.startswith("www."):
        value = value[4:]
    if not value:
        return False
    known = free_mail_domains()
    if value in known:
        return True
    parts = value.split(".")
    return any(".".join(parts[i:]) in known for i in range(1, len(parts) - 1))
