"""The workspace in a real browser (Debian's chromium, headless, through Selenium): sign in,
open the council pack for a month, filter by region, drill down from a tile to the deals
behind it, export CSV and compare it with `revops metrics show … --format csv`, and a rep
who never sees another rep's pay. One server and one browser for the module, on the small
hand-built company."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait
from typer.testing import CliRunner
from web_browser import chromium
from web_fixture import MONTH, PASSWORD
from web_support import Served

from revops.cli import app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(b: Any, server: Served, email: str, then: str = "/") -> None:
    b.get(server.url + "/signin")
    b.delete_all_cookies()
    b.get(server.url + then)  # no session: the page sends us to sign in, and back after
    assert "/signin" in b.current_url
    b.find_element(By.ID, "email").send_keys(email)
    b.find_element(By.ID, "password").send_keys(PASSWORD)
    go(b, b.find_element(By.ID, "signin"))
    assert b.current_url == server.url + then
    assert email in b.find_element(By.CSS_SELECTOR, "form.who span").text


def go(b: Any, element: Any) -> None:
    """Click a link or button and wait for the next page (a click does not wait for it): the old
    page gone, then the new one parsed whole; the old page's going alone leaves a moment, on
    a busy machine, when the new one has not yet built the element the test looks for."""
    page = b.find_element(By.TAG_NAME, "html")
    element.click()
    wait = WebDriverWait(b, 60)
    wait.until(staleness_of(page))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def cells(b: Any, metric: str) -> list[str]:
    row = b.find_element(By.CSS_SELECTOR, f'table.pack tr[data-metric="{metric}"]')
    return [td.text for td in row.find_elements(By.TAG_NAME, "td")]


def fetch(b: Any, url: str) -> httpx2.Response:
    """GET `url` with the browser's session cookie (a download, read as the browser would)."""
    jar = {c["name"]: c["value"] for c in b.get_cookies()}
    return httpx2.get(url, cookies=jar, follow_redirects=False, timeout=60)


def test_sign_in_and_the_council_pack_carries_open_actions(browser: Any, server: Served) -> None:
    b = browser
    sign_in(b, server, "admin@x.com", f"/council?month={MONTH}")
    assert b.find_element(By.TAG_NAME, "h1").text == "Monthly funnel council, Oct 2026"
    # bookings: 90,000 in October, 15,000 in September, 12,000 in October 2025, target 100,000
    row = cells(b, "bookings")
    assert row[1] == "revops"
    assert row[2:4] == ["$90,000", "$15,000"]
    assert row[5] == "$12,000"
    assert row[7:9] == ["$100,000", "−10.0%"]
    assert cells(b, "mqls")[2:4] == ["3", "1"]
    assert cells(b, "win_rate")[2] == "75.0%"
    # an action item, opened at October's council...
    form = b.find_element(By.CSS_SELECTOR, 'form[action="/council/actions"]')
    form.find_element(By.NAME, "title").send_keys("Call every EMEA MQL within a day")
    form.find_element(By.NAME, "owner").send_keys("Bo")
    due = form.find_element(By.NAME, "due")
    b.execute_script("arguments[0].value = '2026-11-15'", due)
    go(b, form.find_element(By.CSS_SELECTOR, "button"))
    actions = b.find_element(By.ID, "actions").text
    assert "Call every EMEA MQL within a day" in actions
    assert "open" in actions
    # ...is carried to November's until a council closes it
    go(b, b.find_element(By.LINK_TEXT, "2026-11 →"))
    assert "carried over" in b.find_element(By.ID, "actions").text
    go(b, b.find_element(By.CSS_SELECTOR, '#actions form[action$="/close"] button'))
    assert "closed" in b.find_element(By.ID, "actions").text
    b.get(server.url + "/council?month=2026-12")
    assert "Call every EMEA" not in b.find_element(By.ID, "actions").text


def test_filter_by_region_drill_to_the_deals_and_export_csv(browser: Any, server: Served) -> None:
    b = browser
    sign_in(b, server, "admin@x.com", f"/view/pipeline?month={MONTH}")
    Select(b.find_element(By.NAME, "dim")).select_by_value("region")
    b.find_element(By.NAME, "value").send_keys("NA")
    go(b, b.find_element(By.CSS_SELECTOR, "form.filters button"))
    tile = b.find_element(By.CSS_SELECTOR, 'a.tile[data-metric="bookings"]')
    assert tile.find_element(By.CLASS_NAME, "value").text == "$60,000"  # Ada's O1 + O2
    go(b, tile)
    assert b.find_element(By.ID, "value").text == "$60,000"
    go(b, b.find_element(By.ID, "records-link"))
    deals = b.find_element(By.ID, "records").text
    assert "O1" in deals
    assert "O2" in deals
    assert "O3" not in deals  # Bo's, EMEA
    assert "O4" not in deals  # lost: not a booking
    go(b, b.find_element(By.LINK_TEXT, "O1"))
    assert b.find_element(By.TAG_NAME, "h1").text == "Deal Deal O1 (O1)"
    assert "Stage history" in b.page_source
    # the breakdown's CSV equals `revops metrics show … --format csv` for the same cut
    b.get(server.url + f"/metric/bookings?month={MONTH}&by=region")
    href = b.find_element(By.CSS_SELECTOR, "#breakdown a.csv").get_attribute("href")
    r = fetch(b, href)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    page = list(csv.DictReader(io.StringIO(r.text)))
    cli = cli_csv(server, "bookings", "--by", "region")
    assert [(p["region"], float(p["value"]), p["rows"]) for p in page] == [
        (c["region"], float(c["value"]), c["rows"]) for c in cli
    ]
    assert [(p["region"], float(p["value"])) for p in page] == [
        ("EMEA", 30_000.0),
        ("NA", 60_000.0),
    ]


def cli_csv(server: Served, metric: str, *args: str) -> list[dict[str, str]]:
    """`revops metrics show METRIC … --grain all` over the month, `--format csv`: its rows."""
    res = CliRunner().invoke(
        app,
        [*("metrics", "show", metric, *args, "--grain", "all", "--format", "csv"),
         *("--from", "2026-10-01", "--to", "2026-11-01", "-w", str(server.warehouse))],
        env={"REVOPS_USER": "setup"},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return list(csv.DictReader(io.StringIO(res.stdout)))


def test_a_rep_never_sees_another_reps_statement(browser: Any, server: Served) -> None:
    b = browser
    sign_in(b, server, "bo@x.com", f"/comp?month={MONTH}")
    listing = b.find_element(By.ID, "statements").text
    assert "U2" in listing
    assert "U1" not in listing
    assert fetch(b, server.url + f"/comp/U1?month={MONTH}").status_code == 403
    b.get(server.url + f"/comp/U1?month={MONTH}")
    assert "may not read U1's statement" in b.page_source
    assert fetch(b, server.url + f"/comp/U2?month={MONTH}").status_code == 200
    # the deals behind October's bookings: Bo sees his own only
    b.get(server.url + f"/metric/bookings/records?month={MONTH}")
    deals = b.find_element(By.ID, "records").text
    assert "O3" in deals
    assert "O1" not in deals
    assert "2 rows not shown" in b.page_source
    assert fetch(b, server.url + "/records/opportunities/O1").status_code == 404
    # no page links to Ada's statement
    for path in ["/", f"/council?month={MONTH}", f"/comp?month={MONTH}", "/view/forecast"]:
        b.get(server.url + path)
        assert "/comp/U1" not in b.page_source, path
