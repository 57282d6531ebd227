"""The `quality:` section: unknown names are config errors that name the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from revops.config import DEFAULT_CONFIG, ConfigError, load_config
from revops.config.quality import QualityConfig

SHIPPED = DEFAULT_CONFIG.read_text(encoding="utf-8")


def _with(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    assert SHIPPED.count(old) == 1
    text = SHIPPED.replace(old, new)
    line = text[: text.index(new)].count("\n") + 1
    path = tmp_path / "revops.yaml"
    path.write_text(text, encoding="utf-8")
    return path, line


def test_the_shipped_model_has_a_quality_section() -> None:
    q = load_config(DEFAULT_CONFIG).model.quality
    assert q.utm is not None
    assert q.titles is not None
    assert q.country_aliases["U.S."] == "US"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "- {table: accounts, field: country, format: country}",
            "- {table: accounts, field: contry, format: country}",
            "table 'accounts' has no column 'contry'",
        ),
        (
            "- {table: accounts, field: employees, min: 1, max: 5000000}",
            "- {table: acounts, field: employees, min: 1, max: 5000000}",
            "unknown table 'acounts'",
        ),
        (
            "- {table: accounts, field: employees, min: 1, max: 5000000}",
            "- {table: accounts, field: name, min: 1}",
            "accounts.name is not numeric",
        ),
        (
            "      - {pattern: '\\bdirector\\b', value: director}",
            "      - {pattern: '\\bdirector\\b', value: boss}",
            "Input should be 'c_level'",
        ),
    ],
)
def test_bad_rules_name_their_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    path, line = _with(tmp_path, old, new)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert f"revops.yaml:{line}: quality." in text
    assert message in text


def test_cross_field_rules() -> None:
    with pytest.raises(ValueError, match="needs country_field"):
        QualityConfig.model_validate(
            {"formats": [{"table": "persons", "field": "state", "format": "state"}]}
        )
    with pytest.raises(ValueError, match="composite primary key"):
        QualityConfig.model_validate(
            {"picklists": [{"table": "campaign_spend", "field": "campaign_id"}]}
        )
    with pytest.raises(ValueError, match="not in allowed"):
        QualityConfig.model_validate(
            {"picklists": [{"table": "persons", "field": "source", "allowed": ["a"],
                            "map": {"x": "b"}}]}
        )  # fmt: skip
    with pytest.raises(ValueError, match="not a valid regular expression"):
        QualityConfig.model_validate({"titles": {"seniority": [{"pattern": "(", "value": "vp"}]}})
    with pytest.raises(ValueError, match="ISO alpha-2"):
        QualityConfig.model_validate({"country_aliases": {"USA": "United States"}})
