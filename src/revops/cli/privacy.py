"""`revops privacy` and `revops audience`: consent, subject export and erasure, pseudonyms.

Commands print person ids and counts, never an email back (beyond the argument typed), so a
terminal log or CI output holds no PII.
"""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path
from typing import Annotated

import typer

from revops.access import require
from revops.audit import audit_batch, record
from revops.cli._common import (
    ConfigOpt,
    Format,
    FormatOpt,
    WarehouseOpt,
    console,
    formatted,
    open_revops,
    print_frame,
)
from revops.errors import RevOpsError
from revops.privacy.crypto import write_owner_only
from revops.privacy.export import csv_cell

privacy_app = typer.Typer(help="Consent, data subject rights and pseudonyms.", no_args_is_help=True)
consent_app = typer.Typer(help="The consent ledger.", no_args_is_help=True)
audience_app = typer.Typer(help="Outgoing lists, filtered by consent.", no_args_is_help=True)
privacy_app.add_typer(consent_app, name="consent")


@consent_app.command("record")
def consent_record(
    person_id: Annotated[str, typer.Argument(help="Person id.")],
    purpose: Annotated[str, typer.Option(help="Purpose from revops.yaml, or '*'.")],
    channel: Annotated[str, typer.Option(help="Channel from revops.yaml, or '*'.")],
    status: Annotated[str, typer.Option(help="opt_in or opt_out.")],
    basis: Annotated[str, typer.Option(help="Lawful basis.")] = "consent",
    source: Annotated[str | None, typer.Option(help="Where it was captured.")] = None,
    double_opt_in: Annotated[
        str | None,
        typer.Option(help="pending, confirmed or not_required (default from the purpose)."),
    ] = None,
    dnc: Annotated[
        str | None, typer.Option("--do-not-contact", help="Flag do-not-contact with this reason.")
    ] = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Append one consent event to the ledger (audited)."""
    from revops.privacy.consent import ConsentEvent, consent_batch

    with open_revops(config, warehouse) as ro:
        actor = require(ro.warehouse, "consent.write").actor
        persons = ro.warehouse.table("persons")
        if not ro.warehouse.execute(persons.filter(persons.person_id == person_id).count()):
            raise RevOpsError(f"no person with id {person_id!r}")
        event = ConsentEvent(
            person_id, purpose, channel, status, basis, source, None, double_opt_in, dnc
        )
        batch = consent_batch([event], ro.model.privacy)
        details = {"purpose": purpose, "channel": channel, "status": status, "dnc": dnc}
        audit = audit_batch(ro.warehouse, actor, "consent.recorded", person_id, details)
        ro.warehouse.write_many([batch, audit])
    console.print(f"[green]✓[/] recorded {status} for {person_id} ({purpose} / {channel})")


@consent_app.command("show")
@formatted
def consent_show(
    person_id: Annotated[str, typer.Argument(help="Person id.")],
    fmt: FormatOpt = Format.table,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """The current consent state of one person, per purpose and channel."""
    from revops.privacy.consent import consent_state

    with open_revops(config, warehouse) as ro:
        state = consent_state(ro.warehouse.table("consent_ledger"), ro.model.privacy)
        frame = ro.warehouse.execute(
            state.filter(state.person_id == person_id).order_by("purpose", "channel")
        )
    if frame.empty:
        console.print(f"no consent events for {person_id}: regional defaults apply")
        return
    print_frame(frame.drop(columns=["person_id"]), f"consent of {person_id}")


@privacy_app.command("export")
def privacy_export(
    email: Annotated[str, typer.Argument(help="The data subject's email.")],
    out: Annotated[
        Path | None, typer.Option(help="Write the JSON here (encrypted with the key set).")
    ] = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Every row about a person, across every table, as one JSON document (audited)."""
    from revops.privacy.export import export_subject, to_json, write_export

    with open_revops(config, warehouse) as ro:
        actor = require(ro.warehouse, "privacy.export").actor
        doc = export_subject(ro.warehouse, email)
        ids = ",".join(doc["person_ids"]) or "quarantine only"
        counts = {name: len(rows) for name, rows in doc["tables"].items()}
        record(ro.warehouse, actor, "privacy.exported", ids, {"rows": counts})
        if out is None:
            typer.echo(to_json(doc))
            return
        encrypted = write_export(doc, out)
    how = "encrypted" if encrypted else "unencrypted (set REVOPS_ENCRYPTION_KEY), mode 0600"
    console.print(
        f"[green]✓[/] {sum(counts.values())} rows from {len(counts)} tables about {ids} "
        f"written to {out}, {how}"
    )


@privacy_app.command("erase")
def privacy_erase(
    email: Annotated[str, typer.Argument(help="The data subject's email.")],
    reason: Annotated[str, typer.Option(help="Why, e.g. the request ticket.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Anonymize a person in every table and keep a tombstone that blocks re-import."""
    from revops.privacy.erase import erase

    with open_revops(config, warehouse) as ro:
        actor = require(ro.warehouse, "privacy.erase").actor
        if not yes and not typer.confirm("Erase this person everywhere? This cannot be undone"):
            raise typer.Exit(1)
        report = erase(ro.warehouse, email, reason=reason, actor=actor)
    who = ", ".join(report.person_ids) or "no stored person (tombstone only)"
    total = sum(report.rows_changed.values())
    console.print(f"[green]✓[/] erased {who}: {total} rows anonymized")
    for name, n in sorted(report.rows_changed.items()):
        console.print(f"  {name}: {n}")
    console.print(f"  tombstone {report.tombstone_id}; storage: {report.storage}")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


@privacy_app.command("encrypt-copy")
def privacy_encrypt_copy(
    source: Annotated[str, typer.Argument(help="The plaintext DuckDB warehouse file.")],
    target: Annotated[Path, typer.Argument(help="The new, encrypted warehouse file.")],
) -> None:
    """Copy a plaintext warehouse into a new file with PII columns encrypted (REVOPS_PII_KEY).

    A copy, not an in-place change: rewriting rows in place would leave the plaintext in the
    old file's free blocks. Delete the old file once the copy is checked.
    """
    from revops.cli._common import user_errors
    from revops.privacy import encrypt_copy
    from revops.warehouse import Warehouse

    with user_errors():
        with Warehouse.connect(source, create=False, pii_from_env=False) as wh:
            actor = require(wh, "privacy.encrypt").actor
        copied = encrypt_copy(source, target, actor=actor)
    console.print(f"[green]✓[/] {sum(copied.values()):,} rows in {len(copied)} tables → {target}")


@privacy_app.command("pseudonymize")
def privacy_pseudonymize(config: ConfigOpt = None, warehouse: WarehouseOpt = None) -> None:
    """Recompute person_pseudonyms (HMAC, key from REVOPS_PSEUDONYM_KEY) and analytics_persons."""
    from revops.privacy.pseudonyms import VIEW, refresh_pseudonyms

    with open_revops(config, warehouse) as ro:
        require(ro.warehouse, "privacy.pseudonymize")
        n = refresh_pseudonyms(ro.warehouse)
    console.print(f"[green]✓[/] {n:,} pseudonyms; analysts read the view {VIEW}")


@audience_app.command("export")
def audience_export(
    purpose: Annotated[str, typer.Option(help="Purpose from revops.yaml.")],
    channel: Annotated[str, typer.Option(help="Channel from revops.yaml.")],
    out: Annotated[Path, typer.Option(help="CSV to write (mode 0600).")],
    people: Annotated[
        Path | None,
        typer.Option(help="CSV with a person_id column: filter this list instead of everyone."),
    ] = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write the persons consented for PURPOSE over CHANNEL (never opted-out or erased ones)."""
    from revops.privacy.consent import audience

    with open_revops(config, warehouse) as ro:
        actor = require(ro.warehouse, "audience.export").actor
        persons = ro.warehouse.table("persons")
        if people is not None:
            ids = _read_ids(people)
            persons = persons.filter(persons.person_id.isin(ids))
        chosen = audience(ro.warehouse, purpose, channel, persons, config=ro.model.privacy)
        assert not isinstance(chosen, list)
        cols = ["person_id", "email", "first_name", "last_name", "country"]
        rows = ro.warehouse.to_arrow(chosen.select(*cols).order_by("person_id")).to_pylist()
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols)
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
        write_owner_only(out, buf.getvalue().encode("utf-8"))
        details = {"purpose": purpose, "channel": channel, "rows": len(rows), "file": str(out)}
        record(ro.warehouse, actor, "audience.exported", f"{purpose}/{channel}", details)
    mode = stat.S_IMODE(out.stat().st_mode)
    console.print(f"[green]✓[/] {len(rows):,} consented persons written to {out} (mode {mode:04o})")


def _read_ids(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or "person_id" not in reader.fieldnames:
            raise RevOpsError(f"{path}: needs a person_id column")
        return [row["person_id"] for row in reader if row["person_id"]]
