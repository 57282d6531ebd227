"""Privacy features on a warehouse whose PII columns are encrypted (REVOPS_PII_KEY).

The privacy world plants the subject in every table that can mention a person; with the key
set, not one of those bytes may reach the DuckDB file, yet access requests and erasure must
work exactly as without the key, because they read through `Warehouse.table` (decrypting).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from privacy_world import EMAIL, FIRST, LAST, PHONE, build, traces

from revops.audit import entries, verify
from revops.errors import RevOpsError
from revops.privacy import encrypt_copy, erase, export_subject
from revops.warehouse import TABLES, Warehouse, WarehouseError

KEY = "privacy-tests-pii-key-0123456789"
NEEDLES = (b"quillfeather", b"zephyrine", b"7946 0958", b"7946-0958", b"xylophone")


def test_export_and_erase_work_and_the_file_never_holds_plaintext(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVOPS_PII_KEY", KEY)
    path = tmp_path / "pii.duckdb"
    with Warehouse.connect(path) as wh:
        build(wh)
        wh.con.raw_sql("CHECKPOINT")
        data = path.read_bytes().lower()
        # job titles are not flagged PII (kept in clear for scoring and routing)
        for needle in NEEDLES[:4]:
            assert needle not in data, needle

        document = export_subject(wh, EMAIL.upper())
        assert document["person_ids"] == ["P1", "P1B"]
        person = next(r for r in document["tables"]["persons"] if r["person_id"] == "P1")
        assert (person["first_name"], person["last_name"], person["phone"]) == (FIRST, LAST, PHONE)
        assert {"quarantine", "merge_log", "activities"} <= set(document["tables"])

        report = erase(wh, EMAIL, reason="GDPR Art. 17 request #7", actor="dpo")
        assert report.person_ids == ("P1", "P1B")
        assert traces(wh) == {}  # read decrypted: nothing about her is left in any table
        stored = wh.sql("SELECT email FROM \"persons\" WHERE person_id = 'P1'")[0][0]
        assert stored.startswith("enc1:")  # the placeholder is written encrypted too
    data = path.read_bytes().lower()
    for needle in NEEDLES:
        assert needle not in data, needle
    with Warehouse.connect(path) as wh:  # the rewritten file reopens with the same key
        row = wh.to_arrow(wh.table("persons").filter(wh.table("persons").person_id == "P1"))
        assert row.column("email")[0].as_py().endswith("@erased.invalid")


def test_encrypt_copy_turns_a_plaintext_warehouse_into_an_encrypted_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = tmp_path / "plain.duckdb", tmp_path / "encrypted.duckdb"
    monkeypatch.delenv("REVOPS_PII_KEY", raising=False)
    with Warehouse.connect(source) as wh:
        build(wh)
        expected = {t.name: wh.to_arrow(wh.table(t.name)) for t in TABLES}
    monkeypatch.setenv("REVOPS_PII_KEY", KEY)
    with pytest.raises(WarehouseError, match="already holds PII in clear"):
        Warehouse.connect(source)

    copied = encrypt_copy(source, target, actor="dpo")
    assert copied["persons"] == expected["persons"].num_rows
    data = target.read_bytes().lower()
    for needle in NEEDLES[:4]:
        assert needle not in data, needle
    with Warehouse.connect(target) as wh:
        for t in TABLES:
            if t.name in {"pii_keys", "audit_log"}:
                continue
            got = wh.to_arrow(wh.table(t.name)).sort_by([(k, "ascending") for k in t.primary_key])
            want = expected[t.name].sort_by([(k, "ascending") for k in t.primary_key])
            assert got.to_pylist() == want.to_pylist(), t.name
        assert verify(wh).ok  # rows copied as stored: the hash chain still holds
        assert entries(wh)[-1].action == "privacy.pii_encrypted"
    with pytest.raises(RevOpsError, match="already exists"):
        encrypt_copy(source, target, actor="dpo")
    with pytest.raises(WarehouseError, match="holds encrypted PII"):
        encrypt_copy(target, tmp_path / "again.duckdb", actor="dpo")
    assert not (tmp_path / "again.duckdb").exists()


def test_encrypt_copy_command_needs_an_admin_and_leaves_no_plaintext(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from revops.access import cli_principal, grant
    from revops.cli import app

    monkeypatch.delenv("REVOPS_PII_KEY", raising=False)
    monkeypatch.setenv("REVOPS_USER", "ada")
    source = tmp_path / "plain.duckdb"
    with Warehouse.connect(source) as wh:
        build(wh)
        grant(wh, cli_principal(wh), "vic", "viewer")  # ada bootstraps as revops_admin
    monkeypatch.setenv("REVOPS_PII_KEY", KEY)
    runner = CliRunner()

    monkeypatch.setenv("REVOPS_USER", "vic")
    refused = runner.invoke(app, ["privacy", "encrypt-copy", str(source), str(tmp_path / "v")])
    assert refused.exit_code == 1
    assert "may not privacy.encrypt" in refused.output
    assert not (tmp_path / "v").exists()

    monkeypatch.setenv("REVOPS_USER", "ada")
    target = tmp_path / "encrypted.duckdb"
    done = runner.invoke(app, ["privacy", "encrypt-copy", str(source), str(target)])
    assert done.exit_code == 0, done.output
    data = target.read_bytes().lower()
    for needle in NEEDLES[:4]:
        assert needle not in data, needle
    with Warehouse.connect(target) as wh:
        assert verify(wh).ok
        assert entries(wh)[-1].action == "privacy.pii_encrypted"
