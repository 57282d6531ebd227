"""Every CLI write is refused to a viewer (exit 1, naming role and action) and allowed to its roles.

Users: boss (revops_admin, the first writer), mo (marketing_ops), so (sales_ops), vic (no grant,
so a viewer). Authorization happens before any work, so a refused command never touches data;
an allowed one gets past it (some then stop on the empty warehouse with their own error, which
is fine here: the point is who is let in).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from gov_case import OLD, new_dict
from typer.testing import CliRunner

from revops.access import Principal, grant, grants
from revops.access.grants import cli_principal
from revops.access.roles import allowed_roles
from revops.audit import entries
from revops.cli import app
from revops.governance import versions
from revops.warehouse import Warehouse

runner = CliRunner()
USERS = {"revops_admin": "boss", "marketing_ops": "mo", "sales_ops": "so", "viewer": "vic"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("roles")
    old, new = root / "old.yaml", root / "new.yaml"
    old.write_text(yaml.safe_dump(OLD, sort_keys=False))
    new.write_text(yaml.safe_dump(new_dict(), sort_keys=False))
    persons = root / "persons.csv"
    persons.write_text(
        "person_id,email,title,created_at\nx1,x1@example.com,CFO,2025-01-01T00:00:00\n"
    )
    events = root / "events.csv"  # x1 becomes an MQL, so route run has someone to route
    events.write_text(
        "event_id,person_id,stage,occurred_at\n"
        "e1,x1,Lead,2025-01-01T00:00:00\ne2,x1,MQL,2025-01-02T00:00:00\n"
    )
    return {
        "root": str(root),
        "old": str(old),
        "new": str(new),
        "csv": str(persons),
        "events": str(events),
    }


def _warehouse(site: dict[str, str], name: str, monkeypatch: pytest.MonkeyPatch) -> str:
    url = str(Path(site["root"]) / f"{name}.duckdb")
    with Warehouse.connect(url) as wh:
        monkeypatch.setenv("REVOPS_USER", "boss")
        admin = cli_principal(wh)  # the first writer bootstraps as revops_admin
        assert admin == Principal("boss", "revops_admin")
        grant(wh, admin, "mo", "marketing_ops")
        grant(wh, admin, "so", "sales_ops")
        assert grants(wh) == {"boss": "revops_admin", "mo": "marketing_ops", "so": "sales_ops"}
    monkeypatch.delenv("REVOPS_USER")
    return url


def _commands(site: dict[str, str]) -> list[tuple[str, list[str]]]:
    """(action, argv) for every command that writes to the warehouse."""
    return [
        ("data.load", ["load", site["csv"], "--table", "persons"]),
        ("lifecycle.run", ["lifecycle", "run"]),
        ("quality.fix", ["quality", "fix"]),
        ("quality.fix", ["quality", "undo", "run-1"]),
        ("quality.fix", ["quality", "scorecard"]),
        ("identity.merge", ["quality", "dedupe", "--table", "persons"]),
        ("identity.merge", ["quality", "merge", "a", "b"]),
        ("identity.merge", ["quality", "unmerge", "m-1"]),
        ("identity.merge", ["quality", "match"]),
        ("revenue.run", ["revenue", "run"]),
        ("attribution.run", ["attribution", "run"]),
        ("scoring.write", ["score", "train", "--out", str(Path(site["root"]) / "model")]),
        ("scoring.write", ["score", "apply", "--rules-only"]),
        ("routing.run", ["route", "run"]),
        ("leads.respond", ["route", "accept", "x1"]),
        ("leads.respond", ["route", "reject", "x1", "--reason", "spam"]),
        ("sla.escalate", ["route", "breaches", "--escalate"]),
        ("config.apply", ["apply", site["new"], "--approved-by", "cfo", "--reason", "r"]),
        ("config.apply", ["rollback", "0", "--reason", "r"]),
    ]


def _run(argv: list[str], user: str, url: str, site: dict[str, str]) -> tuple[int, str]:
    env = {"REVOPS_USER": user, "COLUMNS": "300", "REVOPS_API_KEY": ""}
    result = runner.invoke(app, [*argv, "-w", url, "-c", site["old"]], env=env)
    return result.exit_code, result.output


def test_viewer_is_refused_every_write(
    site: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _warehouse(site, "viewer", monkeypatch)
    with Warehouse.connect(url) as wh:
        before = len(entries(wh))
    for action, argv in _commands(site):
        code, out = _run(argv, "vic", url, site)
        assert code == 1, (argv, out)
        assert f"vic has role viewer, which may not {action}" in out, (argv, out)
    with Warehouse.connect(url) as wh:
        assert len(entries(wh)) == before  # nothing was written, not even an audit entry
        count = wh.sql('SELECT count(*) FROM "persons"')[0][0]
        assert count == 0


def test_each_role_gets_exactly_its_actions(
    site: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """marketing_ops and sales_ops against every write: refused exactly where the role table
    says; where both are allowed, one of them is run (the work itself is slow on some)."""
    url = _warehouse(site, "matrix", monkeypatch)
    for action, argv in _commands(site):
        roles = ("marketing_ops", "sales_ops")
        refused = [r for r in roles if r not in allowed_roles(action)]
        allowed = [r for r in roles if r in allowed_roles(action)]
        for role in refused:
            code, out = _run(argv, USERS[role], url, site)
            assert code == 1, (role, argv, out)
            assert f"{USERS[role]} has role {role}, which may not {action}" in out
        for role in allowed[:1]:
            code, out = _run(argv, USERS[role], url, site)
            assert "which may not" not in out, (role, argv, out)


def test_allowed_roles_do_the_work_and_it_is_audited(
    site: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _warehouse(site, "work", monkeypatch)
    code, out = _run(["load", site["csv"], "--table", "persons"], "mo", url, site)
    assert code == 0, out
    code, out = _run(["load", site["events"], "--table", "lifecycle_events"], "mo", url, site)
    assert code == 0, out
    code, out = _run(["lifecycle", "run"], "so", url, site)
    assert code == 0, out
    # the MQL is from 2025: route run reaches back to it only when told to
    code, out = _run(["route", "run", "--since", "2025-01-01"], "so", url, site)
    assert code == 0, out
    assert "routed 1 persons" in out
    code, out = _run(
        ["apply", site["new"], "--approved-by", "cfo", "--reason", "stricter MQL"],
        "boss",
        url,
        site,
    )
    assert code == 0, out
    assert "version 1 active" in out
    code, out = _run(["rollback", "0", "--reason", "too strict"], "boss", url, site)
    assert code == 0, out
    assert "version 2 active: the text of version 0" in out
    with Warehouse.connect(url) as wh:
        actions = [(e.actor, e.action) for e in entries(wh)]
        assert [v.version for v in versions.history(wh)] == [0, 1, 2]
    assert actions[-4:] == [
        ("so", "routing.routed"),
        ("boss", "config.baseline"),
        ("boss", "config.applied"),
        ("boss", "config.rolled_back"),
    ]
    code, out = _run(["history"], "vic", url, site)
    assert code == 0, out
    assert "rollback to 0" in out
    assert "stricter MQL" in out
    assert "too strict" in out


def test_apply_refuses_without_approver_or_reason_and_invalid_files(
    site: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _warehouse(site, "refuse", monkeypatch)
    code, out = _run(["apply", site["new"], "--reason", "r"], "boss", url, site)
    assert code == 1
    assert "--approved-by is required" in out
    code, out = _run(["apply", site["new"], "--approved-by", "cfo"], "boss", url, site)
    assert code == 1
    assert "--reason is required" in out
    bad = Path(site["root"]) / "bad.yaml"
    bad.write_text(
        "company: {name: X}\nlifecycle: {stages: [], transitions: {}}\nmetrics: []\nnonsense: 1\n"
    )
    code, out = _run(["apply", str(bad), "--approved-by", "c", "--reason", "r"], "boss", url, site)
    assert code == 1
    assert "invalid operating model" in out
    assert "nonsense" in out
    with Warehouse.connect(url) as wh:
        assert versions.history(wh) == []


def test_plan_cli_on_the_hand_worked_company(
    site: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gov_case import seed

    url = str(Path(site["root"]) / "plan.duckdb")
    with Warehouse.connect(url) as wh:
        seed(wh)
    code, out = _run(["plan", site["new"], "--months", "2"], "vic", url, site)
    assert code == 0, out
    assert "stage MQL: required fields: title → title, country" in out
    assert "lifecycle: 2 of 10 persons would change stage" in out
    assert "routing: 3 of 4 leads created 2025-05-21 10:00 – 2025-06-20 10:00" in out
    assert "1 decided by a different rule; 2 by the same rule" in out
    assert "Metric won" in out
    assert "Metric win_rate" in out
    assert "Metric big_bookings" in out
    assert "old formula: count(opportunities) where is_won, by close_date" in out
    assert re.search(r"│ 2025-05 │\s+2 │\s+1 │\s+−1 │", out), out  # a true minus
