"""Writing the company out as the source systems would export it.

Column names come from the shipped source mappings (`revops/config/mappings/*.yaml`, so the
files load through them; the first export column listed for a canonical column is written), and
the values are what those systems put in an export: Salesforce picklist labels ("New Business",
"Best Case"), ISO datetimes with milliseconds and `Z`, `true`/`false`; HubSpot's "Original
Source" labels and naive `YYYY-MM-DD HH:MM` times in the portal's time zone (the demo company's,
America/New_York); Marketo activity names ("Visit Webpage") and `Z` timestamps. Tables no CRM
owns keep canonical names: territories (CSV), subscriptions (Parquet, from billing) and
lifecycle events (JSON lines). Output is byte-for-byte deterministic.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from revops.config import DEFAULT_CONFIG
from revops.config.sources import SourceObject, Sources, effective, find_object
from revops.warehouse.schema import table as schema_table

CHANNEL_LABELS = {
    "paid_search": "Paid Search",
    "organic_search": "Organic Search",
    "paid_social": "Paid Social",
    "email": "Email Marketing",
    "events": "Trade Show",
    "webinar": "Webinar",
    "partner": "Partner",
    "referral": "Referrals",
    "direct": "Direct Traffic",
    "outbound": "Outbound",
}
# HubSpot's "Original Source" calls events "Offline Sources"
HUBSPOT_SOURCES = {**CHANNEL_LABELS, "events": "Offline Sources"}
OPP_TYPE_LABELS = {
    "new_business": "New Business",
    "expansion": "Existing Customer - Upgrade",
    "renewal": "Existing Customer - Renewal",
}
FORECAST_LABELS = {
    "pipeline": "Pipeline",
    "best_case": "Best Case",
    "commit": "Commit",
    "omitted": "Omitted",
    "closed": "Closed",
}
TOUCH_LABELS = {
    "web_visit": "Visit Webpage",
    "form_fill": "Fill Out Form",
    "content_download": "Download Content",
    "demo_request": "Request Demo",
    "email_open": "Open Email",
    "email_click": "Click Email",
    "ad_click": "Click Ad",
    "event_attended": "Attend Event",
    "webinar_attended": "Attend Webinar",
    "chat": "Chat",
    "meeting": "Meeting",
}
SEGMENT_LABELS = {"smb": "SMB", "mid_market": "Mid-Market", "enterprise": "Enterprise"}
ACTIVITY_LABELS = {"call": "Call", "email": "Email", "meeting": "Event", "task": "Task"}

# canonical value -> export label, per preset, table and canonical column
LABELS: dict[str, dict[str, dict[str, dict[str, str]]]] = {
    "salesforce": {
        "accounts": {"segment": SEGMENT_LABELS},
        "campaigns": {"channel": CHANNEL_LABELS},
        "opportunities": {
            "opportunity_type": OPP_TYPE_LABELS,
            "forecast_category": FORECAST_LABELS,
            "lead_source": CHANNEL_LABELS,
        },
        "opportunity_stage_history": {"forecast_category": FORECAST_LABELS},
        "activities": {"activity_type": ACTIVITY_LABELS},
    },
    "hubspot": {
        "persons": {
            "source": HUBSPOT_SOURCES,
            "person_type": {"lead": "Lead", "contact": "Contact"},
        },
    },
    "marketo": {"touchpoints": {"touch_type": TOUCH_LABELS, "channel": CHANNEL_LABELS}},
}
# Salesforce's CreatedDate is a datetime even where the data model keeps only the date;
# Task.ActivityDate is a date even though the data model keeps a timestamp.
_KIND_OVERRIDES = {"salesforce": {"CreatedDate": "timestamp", "ActivityDate": "date"}}


# the demo company's time zone (config/default.yaml company.timezone): HubSpot writes local time
HUBSPOT_TIMEZONE = "America/New_York"


@cache
def demo_sources() -> Sources:
    """The shipped mappings with the demo company's own `sources:` (config/default.yaml) laid
    over them: its exports carry its custom fields (Account.Customer_Success_Manager__c) as a
    real org's do, and they load through the model that declares them."""
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(DEFAULT_CONFIG.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    return {
        system: {name: SourceObject.model_validate(obj) for name, obj in objects.items()}
        for system, objects in effective(data.get("sources")).items()
    }


def demo_mapping(preset: str, table: str) -> SourceObject:
    """The mapping a demo file follows (`salesforce.Task`, or a system and a table)."""
    return find_object(demo_sources(), preset, table)[1]


def export_columns(mapping: SourceObject) -> dict[str, str]:
    """Export column → canonical column, the first export column listed per canonical one."""
    out: dict[str, str] = {}
    for source, canonical in mapping.columns.items():
        if canonical not in out.values():
            out[source] = canonical
    return out


def _text(values: np.ndarray, missing: np.ndarray) -> pa.Array:
    """A numpy text array as an Arrow string array, `missing` rows as nulls."""
    return pa.array(values.astype(str), type=pa.string(), mask=missing)


# How each system writes a time, as the text Arrow casts a timestamp to ("2026-10-31 18:00:00")
# is changed into it: the separator between date and time, how many characters of that text
# are kept, and what follows. Casting and slicing is 4 to 15 times faster than `strftime`,
# which formats each value through a time-zone library (the demo's touchpoints alone are
# 500,000 values); tests/demo/test_writers.py checks it against `strftime`'s formats.
_TIME_FORMATS = {
    "salesforce": ("T", 19, ".000Z"),  # %Y-%m-%dT%H:%M:%S.000Z
    "hubspot": (" ", 16, ""),  # %Y-%m-%d %H:%M
    "marketo": ("T", 19, "Z"),  # %Y-%m-%dT%H:%M:%SZ
    "canonical": ("T", 19, ""),  # %Y-%m-%dT%H:%M:%S
}


def format_timestamps(values: pd.Series, style: str) -> pa.Array:
    """Datetimes as `style` exports them; missing values become nulls."""
    if style == "hubspot":
        utc = pd.to_datetime(values).dt.tz_localize("UTC")
        values = utc.dt.tz_convert(HUBSPOT_TIMEZONE).dt.tz_localize(None)
    arr = pa.array(values.to_numpy(dtype="datetime64[s]"), type=pa.timestamp("s"))
    separator, width, suffix = _TIME_FORMATS[style]
    text = pc.utf8_slice_codeunits(pc.cast(arr, pa.string()), 0, width)
    if separator != " ":
        text = pc.replace_substring(text, " ", separator, max_replacements=1)
    return pc.binary_join_element_wise(text, suffix, "") if suffix else text


def format_dates(values: pd.Series) -> pa.Array:
    """Dates as every system exports them (2026-10-31); missing values become nulls."""
    arr = values.to_numpy(dtype="datetime64[s]").astype("datetime64[D]")
    return pc.cast(pa.array(arr, type=pa.date32()), pa.string())


def _format(values: pd.Series, kind: str, style: str) -> pa.Array:
    if kind == "timestamp":
        return format_timestamps(values, style)
    if kind == "date":
        return format_dates(values)
    if kind == "bool":
        flags = values.to_numpy(dtype=bool)
        return _text(np.where(flags, "true", "false"), np.zeros(len(flags), dtype=bool))
    if kind in ("int", "float"):
        num = values.to_numpy(dtype=np.float64)
        missing = np.isnan(num)
        if kind == "int":
            return _text(np.where(missing, 0, num).astype(np.int64), missing)
        return _text(np.round(num, 2), missing)
    arr = pa.array(values, type=pa.string(), from_pandas=True)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def export_frame(frame: pd.DataFrame, table: str, preset: str) -> pa.Table:
    """A canonical frame as `preset` would export `table`: its columns, labels and formats."""
    columns = export_columns(demo_mapping(preset, table))
    system = preset.partition(".")[0]
    spec = schema_table(table)
    labels = LABELS.get(system, {}).get(table, {})
    arrays: list[pa.Array] = []
    for export_name, canonical in columns.items():
        kind = _KIND_OVERRIDES.get(system, {}).get(export_name, spec.column(canonical).type)
        values = frame[canonical]
        if canonical in labels:
            values = values.astype(object).map(labels[canonical])
        arrays.append(_format(values, kind, system))
    return pa.Table.from_arrays(arrays, names=list(columns))


def canonical_frame(frame: pd.DataFrame, table: str) -> pa.Table:
    """A canonical frame with values rendered as text in ISO formats (for CSV and JSON)."""
    spec = schema_table(table)
    cols = [col for col in spec.columns if col.name in frame]
    arrays = [_format(frame[col.name], col.type, "canonical") for col in cols]
    return pa.Table.from_arrays(arrays, names=[col.name for col in cols])


def write_csv(text: pa.Table, path: Path) -> None:
    """All-text table to CSV: every value quoted, missing values left empty."""
    pacsv.write_csv(text, path, pacsv.WriteOptions(quoting_style="needed"))


def write_jsonl(text: pa.Table, path: Path) -> None:
    """All-text table to JSON lines; missing values are omitted, as an event stream sends them.

    Values are ids, stage names and ISO times (checked: no quotes or backslashes), so each line
    is assembled with Arrow string kernels and the file is the concatenated string buffer.
    """
    parts = []
    for name, column in zip(text.column_names, text.columns, strict=True):
        assert not pc.any(pc.match_substring_regex(column, r'["\\]')).as_py()
        parts.append(
            pc.binary_join_element_wise(f'"{name}":"', column, '"', "", null_handling="emit_null")
        )
    body = pc.binary_join_element_wise(*parts, ",", null_handling="skip")
    lines = pc.binary_join_element_wise("{", body, "}\n", "").combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset :]
    data = lines.buffers()[2]
    start, stop = int(offsets[0]), int(offsets[len(lines)])
    path.write_bytes(data.to_pybytes()[start:stop] if data is not None else b"")


def write_parquet(frame: pd.DataFrame, table: str, path: Path) -> None:
    """A canonical frame to Parquet with the data model's types (dates as date32)."""
    from revops.warehouse.warehouse import ARROW_TYPES

    spec = schema_table(table)
    arrays = []
    for col in spec.columns:
        values = frame[col.name]
        if col.type == "date":
            arr = values.to_numpy(dtype="datetime64[s]").astype("datetime64[D]")
            arrays.append(pa.array(arr, type=pa.date32(), mask=np.isnat(arr)))
        else:
            arrays.append(pa.array(values, type=ARROW_TYPES[col.type], from_pandas=True))
    table_ = pa.Table.from_arrays(arrays, names=list(spec.column_names))
    pq.write_table(table_, path, compression="zstd")
