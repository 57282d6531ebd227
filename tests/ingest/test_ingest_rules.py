"""Each validation rule on its own: what loads, what is quarantined, and with which reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from ingest_helpers import ACCOUNT_HEADER, SPEND_HEADER, column, quarantined, write

from revops.ingest import IngestError, load_file
from revops.warehouse import Warehouse


def _account(i: int, **overrides: str) -> dict[str, str]:
    row = {
        "account_id": f"A{i}",
        "name": f"Company {i}",
        "employees": "10",
        "annual_revenue": "1000",
        "region": "NA",
        "segment": "smb",
        "created_at": "2024-01-01",
    }
    row.update(overrides)
    return row


def _accounts_csv(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    lines = [",".join(f'"{v}"' for v in r.values()) for r in rows]
    return write(tmp_path, "accounts.csv", ACCOUNT_HEADER + "\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05", dt.datetime(2024, 3, 5)),
        ("2024-03-05T14:30:00", dt.datetime(2024, 3, 5, 14, 30)),
        ("2024-03-05 14:30:15", dt.datetime(2024, 3, 5, 14, 30, 15)),
        ("2024-03-05 14:30", dt.datetime(2024, 3, 5, 14, 30)),
        ("2024-03-05T14:30:00Z", dt.datetime(2024, 3, 5, 14, 30)),
        ("2024-03-05T14:30:00.250Z", dt.datetime(2024, 3, 5, 14, 30, 0, 250000)),
        ("2024-03-05T14:30:00+02:00", dt.datetime(2024, 3, 5, 12, 30)),
        ("2024-03-05T23:30:00-0300", dt.datetime(2024, 3, 6, 2, 30)),
        ("03/05/2024", dt.datetime(2024, 3, 5)),
        ("3/5/2024 2:30 PM", dt.datetime(2024, 3, 5, 14, 30)),
        ("3/5/2024, 12:05 AM", dt.datetime(2024, 3, 5, 0, 5)),
        ("03/05/2024 14:30", dt.datetime(2024, 3, 5, 14, 30)),
    ],
)
def test_timestamp_spellings(
    warehouse: Warehouse, tmp_path: Path, text: str, expected: object
) -> None:
    # Each spelling is loaded next to a bad value too, so the regex path is tested, not only
    # Arrow's fast ISO cast for clean columns.
    rows = [_account(1, created_at=text), _account(2, created_at="yesterday")]
    report = load_file(warehouse, _accounts_csv(tmp_path, rows), "accounts")
    assert (report.inserted, report.quarantined) == (1, 1)
    assert column(warehouse, "accounts", "created_at", "account_id") == [expected]


@pytest.mark.parametrize(
    "text",
    ["2024-02-30", "2023-02-29", "13/01/2024", "2024-13-01", "2024-03-05T25:00", "5 March 2024",
     "2024/03/05", "3/5/24", "0/5/2024 1:00 PM", "3/5/2024 13:00 PM"],
)  # fmt: skip
def test_broken_dates_are_quarantined(warehouse: Warehouse, tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "spend.csv", SPEND_HEADER + f"c1,2024-01-01,1\nc2,{text},2\n")
    report = load_file(warehouse, path, "campaign_spend")
    assert (report.inserted, report.quarantined) == (1, 1)
    [bad] = quarantined(warehouse, report.load_id)
    assert bad[:3] == (
        2,
        "spend_date",
        f"spend_date: '{text}' is not a valid date (use YYYY-MM-DD or MM/DD/YYYY)",
    )


def test_date_columns_take_datetimes_in_utc(warehouse: Warehouse, tmp_path: Path) -> None:
    text = "c1,2024-01-31T23:30:00-02:00,1\nc2,2024-01-31 10:00,2\nc3,1/31/2024 11:59 PM,3\n"
    load_file(warehouse, write(tmp_path, "s.csv", SPEND_HEADER + text), "campaign_spend")
    assert column(warehouse, "campaign_spend", "spend_date", "campaign_id") == [
        dt.date(2024, 2, 1),
        dt.date(2024, 1, 31),
        dt.date(2024, 1, 31),
    ]


def test_numbers(warehouse: Warehouse, tmp_path: Path) -> None:
    rows = [
        _account(1, employees="1,200", annual_revenue="1,234,567.89"),
        _account(2, employees=" 42 ", annual_revenue="-0.5"),
        _account(3, employees="1200.0", annual_revenue="1e3"),
        _account(4, employees="", annual_revenue=""),
        _account(5, employees="12,00"),
        _account(6, employees="3.5"),
        _account(7, annual_revenue="ten"),
        _account(8, annual_revenue="1e999"),
        _account(9, employees="99999999999999999999"),
    ]
    report = load_file(warehouse, _accounts_csv(tmp_path, rows), "accounts")
    assert (report.inserted, report.quarantined) == (4, 5)
    assert column(warehouse, "accounts", "employees", "account_id") == [1200, 42, 1200, None]
    revenue = column(warehouse, "accounts", "annual_revenue", "account_id")
    assert revenue == [1234567.89, -0.5, 1000.0, None]
    assert [r[2] for r in quarantined(warehouse, report.load_id)] == [
        "employees: '12,00' is not a valid integer",
        "employees: '3.5' is not a valid integer",
        "annual_revenue: 'ten' is not a valid number",
        "annual_revenue: '1e999' is not a valid number",
        "employees: '99999999999999999999' is not a valid integer",
    ]


def test_booleans(warehouse: Warehouse, tmp_path: Path) -> None:
    header = "user_id,name,team,role,is_active\n"
    values = ["true", "FALSE", "1", "0", "Yes", "no", "maybe", "2"]
    body = "".join(f"u{i},N,T,ae,{v}\n" for i, v in enumerate(values))
    report = load_file(warehouse, write(tmp_path, "users.csv", header + body), "users")
    assert (report.inserted, report.quarantined) == (6, 2)
    assert column(warehouse, "users", "is_active", "user_id") == [
        True, False, True, False, True, False,
    ]  # fmt: skip
    assert [r[:3] for r in quarantined(warehouse, report.load_id)] == [
        (
            7,
            "is_active",
            "is_active: 'maybe' is not a valid boolean (use true/false, yes/no or 1/0)",
        ),
        (8, "is_active", "is_active: '2' is not a valid boolean (use true/false, yes/no or 1/0)"),
    ]


def test_enums_match_case_insensitively_and_store_the_canonical_value(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    rows = [
        _account(1, region="emea", segment="MID_MARKET"),
        _account(2, region=" Apac ", segment="Enterprise"),
        _account(3, region="", segment=""),  # optional enums may be empty
        _account(4, region="Europe"),
    ]
    report = load_file(warehouse, _accounts_csv(tmp_path, rows), "accounts")
    assert (report.inserted, report.quarantined) == (3, 1)
    assert column(warehouse, "accounts", "region", "account_id") == ["EMEA", "APAC", None]
    assert column(warehouse, "accounts", "segment", "account_id") == [
        "mid_market", "enterprise", None,
    ]  # fmt: skip
    [bad] = quarantined(warehouse, report.load_id)
    assert bad[2] == "region: 'Europe' is not one of NA, EMEA, APAC, LATAM"


@pytest.mark.parametrize(
    ("email", "ok"),
    [
        ("ann@example.com", True),
        ("Ann.O'Neil+crm@sub.example.co.uk", True),
        ("bob@", False),
        ("@example.com", False),
        ("bob@example", False),
        ("bob example@example.com", False),
        ("bob..x@example.com", False),
        ("bob@-example.com", False),
        ("bob@@example.com", False),
    ],
)
def test_emails(warehouse: Warehouse, tmp_path: Path, email: str, ok: bool) -> None:
    header = "person_id,email,created_at\n"
    path = write(tmp_path, "p.csv", header + f'p1,"{email}",2024-01-01\n')
    report = load_file(warehouse, path, "persons")
    assert report.quarantined == (0 if ok else 1)
    if not ok:
        [bad] = quarantined(warehouse, report.load_id)
        assert bad[2] == f"email: '{email}' is not a valid email"


def test_required_values_and_every_failure_in_the_reason(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    rows = [_account(1), _account(2, name=" ", employees="x", created_at="")]
    report = load_file(warehouse, _accounts_csv(tmp_path, rows), "accounts")
    [bad] = quarantined(warehouse, report.load_id)
    assert bad[:3] == (
        2,
        "name",
        "name: required value is empty; employees: 'x' is not a valid integer; "
        "created_at: required value is empty",
    )
    assert report.problems == {
        ("name", "required"): 1,
        ("employees", "int"): 1,
        ("created_at", "required"): 1,
    }


def test_long_values_are_cut_in_reasons_but_kept_in_raw(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    long = "x" * 200
    report = load_file(
        warehouse, _accounts_csv(tmp_path, [_account(1, employees=long)]), "accounts"
    )
    [bad] = quarantined(warehouse, report.load_id)
    assert bad[2] == f"employees: '{'x' * 80}…' is not a valid integer"
    assert long in bad[3]


def test_missing_required_column_refuses_the_file(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write(tmp_path, "spend.csv", "campaign_id,amount,note\nc1,5,hi\n")
    with pytest.raises(IngestError) as err:
        load_file(warehouse, path, "campaign_spend")
    message = str(err.value)
    assert str(path) in message
    assert "missing required column(s) spend_date" in message
    assert "'campaign_id', 'amount', 'note'" in message
    assert warehouse.count("load_log") == 0


def test_missing_column_names_the_export_column_and_guesses_the_preset(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    path = write(tmp_path, "costs.csv", "Program ID,Cost\n1042,5\n")
    with pytest.raises(IngestError, match=r"spend_date \(export column 'Cost Date'\)"):
        load_file(warehouse, path, "campaign_spend", "marketo")
    with pytest.raises(IngestError, match="looks like a marketo export, try preset 'marketo'"):
        load_file(warehouse, path, "campaign_spend")


def test_headers_match_case_insensitively_and_extras_are_reported(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    path = write(
        tmp_path, "s.csv", "Campaign_ID, SPEND_DATE ,Amount,Currency,Notes\nc1,2024-01-01,5,USD,x\n"
    )
    report = load_file(warehouse, path, "campaign_spend")
    assert report.inserted == 1
    assert report.ignored_columns == ("Currency", "Notes")
    assert "ignored columns: Currency, Notes" in report.summary()


def test_two_columns_for_one_field_refuse_the_file(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "Program ID,campaign_id,Cost Date,Cost\n1,2,2024-01-01,5\n")
    with pytest.raises(IngestError, match=r"both map to campaign_spend\.campaign_id"):
        load_file(warehouse, path, "campaign_spend", "marketo")


def test_unknown_table_preset_and_system_tables(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", SPEND_HEADER + "c1,2024-01-01,5\n")
    with pytest.raises(IngestError, match="unknown table 'spend'"):
        load_file(warehouse, path, "spend")
    with pytest.raises(IngestError, match="unknown source 'pipedrive'"):
        load_file(warehouse, path, "campaign_spend", "pipedrive")
    with pytest.raises(IngestError, match="has no mapping for table 'campaign_spend'"):
        load_file(warehouse, path, "campaign_spend", "salesforce")
    with pytest.raises(IngestError, match="system table"):
        load_file(warehouse, path, "quarantine")


def test_unmapped_preset_values_pass_through_to_validation(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    header = "Id,Name,Channel__c\n"
    path = write(tmp_path, "c.csv", header + "c1,A,Paid Search\nc2,B,Podcasts\n")
    load_file(warehouse, path, "campaigns", "salesforce")
    assert column(warehouse, "campaigns", "channel", "campaign_id") == ["paid_search", "Podcasts"]
