"""A rep's tiles are their own figures, a manager's their team's, everyone else's the
company's: the record rule of `access.records` applied to every figure on the home, area and
metric pages (October 2026 bookings by hand: Ada 60,000, Bo 30,000, both 90,000)."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from web_support import sign_in


def _figures(client: TestClient, path: str) -> dict[str, str]:
    r = client.get(f"{path}{'&' if '?' in path else '?'}csv=figures")
    assert r.status_code == 200, r.text
    return {row["metric"]: row["value"] for row in csv.DictReader(io.StringIO(r.text))}


WHO = [
    ("ada@x.com", 60_000, 2),  # O1, O2
    ("bo@x.com", 30_000, 1),  # O3
    ("mia@x.com", 90_000, 3),  # her team: Ada's and Bo's
    ("admin@x.com", 90_000, 3),  # everyone's
    ("viewer@x.com", 90_000, 3),  # not a rep: the company's
]


def test_tiles_are_the_principals_own(client: TestClient) -> None:
    for who, bookings, won in WHO:  # one company, signed in as each in turn
        assert sign_in(client, who) == 303
        pipeline = _figures(client, "/view/pipeline?month=2026-10")
        if who == "mia@x.com":
            page = client.get("/view/pipeline?month=2026-10").text
            assert "Your figures: what Ada, Bo, Mia own." in page
        assert float(pipeline["bookings"]) == bookings, who
        assert float(pipeline["won_deals"]) == won, who
        page = client.get("/metric/bookings?month=2026-10&by=region&csv=breakdown")
        rows = csv.DictReader(io.StringIO(page.text))
        assert sum(float(r["value"]) for r in rows) == bookings, who
    assert sign_in(client, "ada@x.com") == 303
    home = client.get("/").text
    assert "Your figures: what Ada owns." in home
    forecast = client.get("/view/forecast?month=2026-10")
    assert "Your figures" in forecast.text
    # quota attainment: Ada's 60,000 booked of her 50,000 quota, not the company's 90 of 100
    assert _figures(client, "/view/forecast?month=2026-10")["quota_attainment"] == "1.2"
    quality = client.get("/view/quality?month=2026-10").text
    assert "company-wide: not per owner" in quality
