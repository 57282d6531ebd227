"""Consent: the current state per person, purpose and channel, derived from the ledger.

The ledger (`consent_ledger`) is append-only: every opt-in, opt-out, confirmation and
do-not-contact flag is an event, so the state on any day can be recomputed and proved. The
rules, in order of strength:

1. a do-not-contact event (any purpose, any channel) blocks the person everywhere, for good;
2. for each purpose × channel the latest *effective* event wins (by `recorded_at`, then
   `event_id`); an opt-in whose double opt-in is still `pending` is not effective, so it can
   never override an opt-out: only its confirmation (a new `confirmed` opt-in event) can;
3. for a purpose that needs double opt-in, an opt-in that is not `confirmed` does not count;
4. with no effective event, the purpose's `default_basis` applies, except in
   `explicit_consent_countries` (and for unknown countries), where an opt-in is required.

An event's purpose or channel may be `*`: it applies to every purpose or channel.
Everything here is a pure Ibis expression, so the same rules run on DuckDB and PostgreSQL, and
`audience` filters any outgoing list with them, erased persons excluded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from revops.config.privacy import PrivacyConfig
from revops.errors import RevOpsError
from revops.warehouse import Batch, Warehouse
from revops.warehouse.schema import (
    CONSENT_STATUSES,
    DOUBLE_OPT_IN_STATES,
    LAWFUL_BASES,
    table,
)
from revops.warehouse.warehouse import arrow_schema

ANY = "*"


def _grid(config: PrivacyConfig) -> ir.Table:
    rows = [(p.name, c, p.double_opt_in) for p in config.purposes for c in config.channels]
    return ibis.memtable(
        pa.table(
            {
                "g_purpose": pa.array([r[0] for r in rows], pa.string()),
                "g_channel": pa.array([r[1] for r in rows], pa.string()),
                "g_needs_doi": pa.array([r[2] for r in rows], pa.bool_()),
            }
        )
    )


def do_not_contact(ledger: ir.Table) -> ir.Table:
    """Persons flagged do-not-contact, with the latest reason and when it was recorded."""
    flagged = ledger.filter(ledger.do_not_contact.notnull() & (ledger.do_not_contact != ""))
    return flagged.group_by("person_id").aggregate(
        do_not_contact=flagged.do_not_contact.argmax(flagged.recorded_at),
        flagged_at=flagged.recorded_at.max(),
    )


def consent_state(ledger: ir.Table, config: PrivacyConfig) -> ir.Table:
    """One row per person × purpose × channel that has ledger events.

    `status` is opt_in, opt_out, unconfirmed (an opt-in a double-opt-in purpose has not had
    confirmed) or pending (only pending opt-ins so far); `consented` is what outgoing lists
    use: an effective, valid opt-in and no do-not-contact.
    """
    grid = _grid(config)
    expanded = ledger.join(
        grid,
        [
            (ledger.purpose == grid.g_purpose) | (ledger.purpose == ANY),
            (ledger.channel == grid.g_channel) | (ledger.channel == ANY),
        ],
    )
    pending = (expanded.status == "opt_in") & (expanded.double_opt_in == "pending")
    keys = ["person_id", "g_purpose", "g_channel"]
    effective = expanded.filter(~pending.fill_null(False))
    order = ibis.window(
        group_by=keys,
        order_by=[ibis.desc(effective.recorded_at), ibis.desc(effective.event_id)],
    )
    latest = (
        effective.mutate(_rank=ibis.row_number().over(order))
        .filter(lambda t: t._rank == 0)
        .drop("_rank")
    )
    waiting = expanded.filter(pending.fill_null(False))
    waiting = waiting.group_by(keys).aggregate(
        pending_at=waiting.recorded_at.max(), w_needs_doi=waiting.g_needs_doi.max()
    )
    state = latest.outer_join(waiting, keys)
    person = ibis.coalesce(state.person_id, state.person_id_right)
    purpose = ibis.coalesce(state.g_purpose, state.g_purpose_right)
    channel = ibis.coalesce(state.g_channel, state.g_channel_right)
    needs_doi = ibis.coalesce(state.g_needs_doi, state.w_needs_doi)
    status = ibis.cases(
        (state.status.isnull(), "pending"),
        (state.status == "opt_out", "opt_out"),
        (needs_doi & (state.double_opt_in.fill_null("") != "confirmed"), "unconfirmed"),
        else_="opt_in",
    )
    out = state.select(
        person_id=person,
        purpose=purpose,
        channel=channel,
        status=status,
        lawful_basis=state.lawful_basis,
        source=state.source,
        recorded_at=state.recorded_at,
        pending_at=state.pending_at,
    )
    dnc = do_not_contact(ledger.view())
    joined = out.view().left_join(dnc, "person_id")  # view(): a join's projection re-joined
    return joined.select(
        "person_id",
        "purpose",
        "channel",
        "status",
        "lawful_basis",
        "source",
        "recorded_at",
        "pending_at",
        do_not_contact=joined.do_not_contact,
        consented=(joined.status == "opt_in") & joined.do_not_contact.isnull(),
    )


def contactable(
    persons: ir.Table,
    ledger: ir.Table,
    tombstones: ir.Table,
    config: PrivacyConfig,
    purpose: str,
    channel: str,
) -> ir.Table:
    """The person_ids that may be contacted for `purpose` over `channel` right now."""
    rule = config.purpose(purpose)
    config.check_channel(channel)
    state = consent_state(ledger, config)
    state = state.filter((state.purpose == purpose) & (state.channel == channel))
    state = state.select("person_id", "status", "recorded_at")
    base = persons.select("person_id", "country")
    joined = base.left_join(state, "person_id")
    explicit = [c.upper() for c in config.explicit_consent_countries]
    country = joined.country.upper()
    by_default = ibis.literal(rule.default_basis is not None) & (
        joined.country.notnull() & ~country.isin(explicit)
    )
    decided = joined.recorded_at.notnull()
    ok = ibis.ifelse(decided, joined.status == "opt_in", by_default)
    allowed = joined.filter(ok.fill_null(False)).select("person_id")
    dnc = do_not_contact(ledger.view()).select("person_id")
    erased = tombstones.filter(tombstones.person_id.notnull()).select("person_id")
    # NOT IN subqueries rather than anti joins: ibis renders those as LEFT ANTI JOIN here,
    # which PostgreSQL does not have. Both subqueries are null-free.
    blocked = allowed.person_id.isin(dnc.person_id) | allowed.person_id.isin(erased.person_id)
    return allowed.filter(~blocked)


def audience(
    wh: Warehouse,
    purpose: str,
    channel: str,
    people: ir.Table | Iterable[str],
    *,
    config: PrivacyConfig | None = None,
) -> ir.Table | list[str]:
    """Filter an outgoing list to the persons consented for `purpose` over `channel`.

    `people` is an Ibis table with a `person_id` column (its rows come back, filtered) or
    person ids (the allowed ones come back, in the order given). Erased persons and persons
    flagged do-not-contact never pass.
    """
    cfg = config or PrivacyConfig()
    ok = contactable(
        wh.table("persons"),
        wh.table("consent_ledger"),
        wh.table("privacy_tombstones"),
        cfg,
        purpose,
        channel,
    )
    if isinstance(people, ir.Table):
        return people.filter(people.person_id.isin(ok.person_id))
    ids = list(people)
    if not ids:
        return []
    wanted = ibis.memtable(pa.table({"person_id": pa.array(sorted(set(ids)), pa.string())}))
    chosen = ok.filter(ok.person_id.isin(wanted.person_id))
    allowed = set(wh.to_arrow(chosen).column(0).to_pylist())
    return [i for i in ids if i in allowed]


@dataclass(frozen=True)
class ConsentEvent:
    """One ledger event as a caller states it; `record_consent` checks it and stamps it."""

    person_id: str
    purpose: str
    channel: str
    status: str
    lawful_basis: str | None = "consent"
    source: str | None = None
    recorded_at: datetime | None = None
    double_opt_in: str | None = None
    do_not_contact: str | None = None


def _check(event: ConsentEvent, config: PrivacyConfig) -> None:
    if event.purpose != ANY:
        config.purpose(event.purpose)
    if event.channel != ANY:
        config.check_channel(event.channel)
    for name, value, allowed in (
        ("status", event.status, CONSENT_STATUSES),
        ("lawful_basis", event.lawful_basis, LAWFUL_BASES),
        ("double_opt_in", event.double_opt_in, DOUBLE_OPT_IN_STATES),
    ):
        if value is not None and value not in allowed:
            raise RevOpsError(f"consent {name} {value!r} is not one of {', '.join(allowed)}")


def _utc(at: datetime | None) -> datetime | None:
    """Naive UTC, as the warehouse stores timestamps; a naive input is taken as UTC."""
    if at is None or at.tzinfo is None:
        return at
    return at.astimezone(UTC).replace(tzinfo=None)


def consent_batch(events: Iterable[ConsentEvent], config: PrivacyConfig) -> Batch:
    """Checked events as an append batch for `consent_ledger` (write it with its audit entry)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = list(events)
    for e in rows:
        _check(e, config)

    def doi(e: ConsentEvent) -> str | None:
        if e.double_opt_in is not None or e.status != "opt_in" or e.purpose == ANY:
            return e.double_opt_in
        return "pending" if config.purpose(e.purpose).double_opt_in else "not_required"

    data = {
        "event_id": [uuid.uuid4().hex for _ in rows],
        "person_id": [e.person_id for e in rows],
        "purpose": [e.purpose for e in rows],
        "channel": [e.channel for e in rows],
        "status": [e.status for e in rows],
        "lawful_basis": [e.lawful_basis for e in rows],
        "source": [e.source for e in rows],
        "recorded_at": [_utc(e.recorded_at) or now for e in rows],
        "double_opt_in": [doi(e) for e in rows],
        "do_not_contact": [e.do_not_contact for e in rows],
    }
    schema = arrow_schema(table("consent_ledger"))
    return Batch("consent_ledger", pa.table(data, schema=schema), "append")
