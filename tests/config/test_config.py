from __future__ import annotations

from pathlib import Path

import pytest

from revops.config import DEFAULT_CONFIG, ConfigError, load_config

EXAMPLE = Path(__file__).parents[2] / "examples" / "revops.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "revops.yaml"
    p.write_text(text)
    return p


def _example_with(old: str, new: str, tmp_path: Path) -> Path:
    text = EXAMPLE.read_text()
    assert old in text
    return _write(tmp_path, text.replace(old, new, 1))


def _line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(needle)


def test_the_shipped_example_is_valid_and_is_the_packaged_default() -> None:
    loaded = load_config(EXAMPLE)
    assert DEFAULT_CONFIG.resolve() == EXAMPLE.resolve()
    stages = loaded.model.lifecycle.stage_names
    for required in (
        "Lead",
        "MQL",
        "SAL",
        "SQL",
        "Opportunity",
        "Customer",
        "Recycled",
        "Nurture",
        "Disqualified",
    ):
        assert required in stages
    names = {m.name for m in loaded.model.metrics}
    assert {
        "leads",
        "mqls",
        "sals",
        "sqls",
        "opportunities_created",
        "pipeline_created",
        "mql_to_sql",
        "sql_to_won",
        "win_rate",
        "avg_deal_size",
        "sales_cycle_days",
        "sales_velocity",
        "bookings",
    } <= names
    assert {m.type for m in loaded.model.metrics} == {"simple", "ratio", "derived", "conversion"}


def test_an_unknown_owner_is_reported_with_its_line_and_metric(tmp_path: Path) -> None:
    path = _example_with(
        "    owner: sales_ops\n    format: percent\n    type: ratio",
        "    owner: finance\n    format: percent\n    type: ratio",
        tmp_path,
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    line = _line_of(path, "owner: finance")
    assert f"revops.yaml:{line}: metrics[" in str(err.value)
    assert "(win_rate).owner" in str(err.value)


def test_a_misspelled_key_names_its_line(tmp_path: Path) -> None:
    path = _example_with("  entry_stages: [Lead]", "  entry_stage: [Lead]", tmp_path)
    with pytest.raises(ConfigError, match=r"revops.yaml:\d+: lifecycle.entry_stage: Extra inputs"):
        load_config(path)


def test_a_measure_on_a_missing_column_is_refused(tmp_path: Path) -> None:
    path = _example_with(
        "agg: sum, column: amount, time: created_date",
        "agg: sum, column: amout, time: created_date",
        tmp_path,
    )
    with pytest.raises(ConfigError, match="table 'opportunities' has no column 'amout'"):
        load_config(path)


def test_a_transition_to_an_undeclared_stage_is_refused(tmp_path: Path) -> None:
    path = _example_with("Customer: []", "Customer: [Churned]", tmp_path)
    with pytest.raises(ConfigError, match="unknown stage 'Churned'"):
        load_config(path)


def test_a_ratio_over_an_unknown_metric_is_refused(tmp_path: Path) -> None:
    path = _example_with("denominator: closed_deals", "denominator: closed_dealz", tmp_path)
    with pytest.raises(ConfigError, match="unknown metric 'closed_dealz'"):
        load_config(path)


def test_a_required_field_that_persons_lack_is_refused(tmp_path: Path) -> None:
    path = _example_with(
        "required_fields: [email, company, country]",
        "required_fields: [email, company, budget]",
        tmp_path,
    )
    with pytest.raises(ConfigError, match="persons has no column 'budget'"):
        load_config(path)


def test_duplicate_keys_and_broken_yaml_name_their_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="line 2: duplicate key 'version'"):
        load_config(_write(tmp_path, "version: 1\nversion: 2\n"))
    with pytest.raises(ConfigError, match=r"revops.yaml:2: not valid YAML"):
        load_config(_write(tmp_path, "version: 1\ncompany: name: x\n"))


def test_the_digest_changes_with_the_content(tmp_path: Path) -> None:
    a = load_config(EXAMPLE).digest
    b = load_config(_example_with("name: Northwind Analytics", "name: Contoso", tmp_path)).digest
    assert a != b
    assert len(a) == 16


def test_the_same_text_is_validated_once_and_a_same_size_rewrite_is_seen(tmp_path: Path) -> None:
    """One validated model per distinct text is shared for the process, so a command reading
    revops.yaml several times parses it once; the key is the text, so rewriting the file with
    a change of the same size at once (same size, maybe the same mtime) is not served stale."""
    first = load_config(EXAMPLE)
    assert load_config(EXAMPLE).model is first.model
    copy = _write(tmp_path, EXAMPLE.read_text())
    assert load_config(copy).model is first.model
    assert load_config(copy).path == copy  # where it came from is the caller's path
    edited = _example_with("fiscal_year_start_month: 2", "fiscal_year_start_month: 4", tmp_path)
    assert edited.stat().st_size == copy.stat().st_size
    assert load_config(edited).model.company.fiscal_year_start_month == 4
    assert first.model.company.fiscal_year_start_month == 2
