"""`revops quality dedupe` on a warehouse file: planted duplicates found, stored and shown."""

from __future__ import annotations

from pathlib import Path

from test_dedupe_rules import _stored_rows, _write
from typer.testing import CliRunner

from revops.cli import app
from revops.ingest import load_file
from revops.warehouse import Warehouse


def test_quality_dedupe_finds_the_planted_pairs_and_stores_them(tmp_path: Path) -> None:
    url = str(tmp_path / "wh.duckdb")
    with Warehouse.connect(url) as wh:
        load_file(wh, _write(tmp_path / "persons.csv", _stored_rows()), "persons")
    result = CliRunner().invoke(
        app, ["quality", "dedupe", "--table", "persons", "-w", url, "--top", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "Duplicate clusters in persons" in result.output
    planted = {(f"p{i * 7:04d}", f"d{i:04d}") for i in range(30)}
    with Warehouse.connect(url) as wh:
        rows = wh.sql(
            "SELECT left_id, right_id, status FROM dedupe_pairs WHERE target_table = 'persons'"
        )
        clusters = wh.sql("SELECT cluster_id, record_id, cluster_size FROM dedupe_clusters")
    found = {(min(a, b), max(a, b)) for a, b, status in rows if status == "auto_merge"}
    found = {(b, a) if a.startswith("d") else (a, b) for a, b in found}
    assert len(found & planted) >= 27  # typo'd first name, other email: a few may go to review
    assert len(found - planted) <= 1
    assert all(size == 2 for _, _, size in clusters)
