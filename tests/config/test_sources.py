"""The `sources:` section: shipped mapping files, overridden per key by revops.yaml."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from revops.cli import app
from revops.config import DEFAULT_CONFIG, OperatingModel
from revops.governance.diff import diff_models


def model_with(sources: Any) -> OperatingModel:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    return OperatingModel.model_validate({**data, "sources": sources})


def test_a_user_section_extends_and_overrides_the_shipped_mapping() -> None:
    base = model_with(None)
    lead = base.sources["salesforce"]["Lead"]
    assert lead.columns["ConvertedAccountId"] == "account_id"
    assert lead.deleted is not None
    assert lead.deleted.column == "IsDeleted"
    changed = model_with(
        {
            "salesforce": {
                "Lead": {
                    "columns": {"Region__c": None, "Country": None, "Rating": "industry"},
                    "custom": {"Segment__c": {"name": "segment_c", "type": "string"}},
                    "timezone": "Europe/Berlin",
                }
            },
            "pipedrive": {"deals": {"table": "opportunities", "columns": {"id": "opportunity_id"}}},
        }
    ).sources
    new_lead = changed["salesforce"]["Lead"]
    assert "Country" not in new_lead.columns  # null removes a shipped key
    assert new_lead.columns["Rating"] == "industry"
    assert new_lead.columns["Email"] == "email"  # the rest of the shipped mapping stays
    assert new_lead.custom["Segment__c"].name == "segment_c"
    assert new_lead.timezone == "Europe/Berlin"
    assert changed["pipedrive"]["deals"].table == "opportunities"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"salesforce": {"Lead": {"columns": {"X": "nope"}}}}, "persons has no column 'nope'"),
        ({"salesforce": {"Lead": {"timezone": "Mars/Base"}}}, "unknown time zone 'Mars/Base'"),
        ({"x": {"y": {"table": "quarantine"}}}, "written by revops itself"),
        (
            {"salesforce": {"Lead": {"custom": {"E": {"name": "email"}}}}},
            "'email' is a canonical column of persons",
        ),
    ],
)
def test_bad_mappings_are_refused_with_the_reason(section: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        model_with(section)


def test_plan_shows_a_mapping_change() -> None:
    old = model_with(None)
    new = model_with({"hubspot": {"contacts": {"timezone": "Europe/London"}}})
    changes = [c.text() for c in diff_models(old, new).changes]
    assert changes == ["sources.hubspot.contacts.timezone: none → Europe/London"]


def test_sources_show_prints_the_effective_mapping(tmp_path: Any) -> None:
    result = CliRunner().invoke(app, ["sources", "show", "salesforce.Lead"])
    assert result.exit_code == 0, result.output
    assert "salesforce.Lead → persons" in result.output
    assert "ConvertedAccountId: account_id" in result.output
    assert "timezone: America/New_York (company.timezone)" in result.output
    bad = CliRunner().invoke(app, ["sources", "show", "salesforce.Nope"])
    assert bad.exit_code != 0
    assert "has no object 'Nope'" in bad.output
