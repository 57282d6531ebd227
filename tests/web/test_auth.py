"""Sign-in for people: argon2 passwords, server-side sessions behind a random HttpOnly cookie,
CSRF tokens on every form, sign-out, and failed sign-ins limited per login and address."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_fixture import ADMIN, PASSWORD
from web_support import company, csrf_of, sign_in

from revops.access import Principal
from revops.access.passwords import check_password, role_of, set_password
from revops.access.sessions import (
    end_session,
    find_session,
    open_session,
    record_failure,
    retry_after,
)
from revops.api import create_app
from revops.audit import entries
from revops.cli import app
from revops.context import RevOps
from revops.errors import RevOpsError
from revops.warehouse import Warehouse
from revops.warehouse.clock import utc_now

PAGES = [
    "/",
    "/council?month=2026-10",
    "/view/pipeline",
    "/metric/bookings",
    "/metric/bookings/records",
    "/records/opportunities/O1",
    "/comp",
    "/comp/U1?month=2026-10",
    "/metric/bookings?csv=breakdown",
]


def test_every_page_and_export_needs_a_session(client: TestClient) -> None:
    for page in PAGES:
        r = client.get(page, follow_redirects=False)
        assert r.status_code == 303, page
        assert r.headers["location"].startswith("/signin?next=/"), page
    r = client.post("/council/notes", data={"month": "2026-10", "body": "x"})
    assert r.status_code == 401


def test_a_session_is_a_random_httponly_cookie_stored_only_as_a_hash(
    client: TestClient, ro: RevOps
) -> None:
    assert sign_in(client, "Ada@X.com ") == 303  # the email, any case
    cookie = client.cookies["revops_session"]
    assert len(cookie) >= 43  # 256 random bits
    [(stored, login)] = ro.warehouse.sql('SELECT session_hash, login FROM "web_sessions"')
    assert stored == hashlib.sha256(cookie.encode()).hexdigest()
    assert login == "ada@x.com"
    assert cookie not in str(ro.warehouse.sql('SELECT * FROM "web_sessions"'))
    [(hashed,)] = ro.warehouse.sql(
        "SELECT password_hash FROM \"user_passwords\" WHERE login = 'ada@x.com'"
    )
    assert hashed.startswith("$argon2id$")
    assert PASSWORD not in str(ro.warehouse.sql('SELECT * FROM "audit_log"'))
    assert ("access.signed_in", "ada@x.com") in [(e.action, e.actor) for e in entries(ro.warehouse)]
    home = client.get("/")
    assert home.status_code == 200
    assert '<span class="name" title="ada@x.com">ada@x.com</span>' in home.text
    assert ">viewer (no grant)</span>" in home.text
    assert "script-src 'none'" in home.headers["content-security-policy"]


def test_the_cookie_flags(ro: RevOps, tmp_path: Path) -> None:
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        app_ = create_app(ro, journal=tmp_path / f"journal-{secure}")
        with TestClient(app_, base_url=base) as c:
            page = c.get("/signin")
            token = re.search(r'name="token" value="([^"]+)"', page.text)
            assert token is not None
            r = c.post(
                "/signin",
                data={"email": "ada@x.com", "password": PASSWORD, "token": token.group(1)},
                follow_redirects=False,
            )
            flags = r.headers["set-cookie"].split(", revops_signin")[0].lower()
            assert flags.startswith("revops_session=")
            assert "httponly" in flags
            assert "samesite=lax" in flags
            assert ("secure" in flags) is secure


def test_wrong_passwords_are_limited_per_login_and_address(client: TestClient) -> None:
    for _ in range(5):
        assert sign_in(client, "bo@x.com", "not the password") == 303
        assert client.cookies.get("revops_session") is None
    r = client.get("/signin?error=wrong%20email%20or%20password")
    assert "wrong email or password" in r.text
    assert sign_in(client, "bo@x.com", "not the password") == 429
    assert sign_in(client, "bo@x.com") == 429  # the right one waits too, without argon2
    assert sign_in(client, "nobody@x.com", "whatever") == 303  # an unknown login: same answer
    assert sign_in(client, "ada@x.com") == 303  # another login is not held up
    assert client.cookies.get("revops_session")


def test_the_sign_in_form_needs_its_token_and_returns_only_to_this_site(
    client: TestClient,
) -> None:
    r = client.post("/signin", data={"email": "ada@x.com", "password": PASSWORD})
    assert r.status_code == 403
    page = client.get("/signin?next=//evil.example/x")
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token is not None
    r = client.post(
        "/signin",
        data={
            "email": "ada@x.com",
            "password": PASSWORD,
            "token": token.group(1),
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


def test_forms_need_the_sessions_csrf_token(client: TestClient, ro: RevOps) -> None:
    sign_in(client, "admin@x.com")
    page = client.get("/council?month=2026-10")
    token = csrf_of(page.text)
    note = {"month": "2026-10", "body": "EMEA MQL→SQL fell: check routing"}
    assert client.post("/council/notes", data=note).status_code == 403
    assert client.post("/council/notes", data={**note, "csrf_token": "x" * 43}).status_code == 403
    r = client.post("/council/notes", data={**note, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert ro.warehouse.sql('SELECT body, author FROM "council_notes"') == [
        ("EMEA MQL→SQL fell: check routing", "admin@x.com")
    ]


def test_a_viewer_cannot_write_the_councils_notes(client: TestClient, ro: RevOps) -> None:
    sign_in(client, "viewer@x.com")
    token = csrf_of(client.get("/council?month=2026-10").text)
    r = client.post("/council/notes", data={"month": "2026-10", "body": "x", "csrf_token": token})
    assert r.status_code == 403
    assert "may not council.write" in r.text
    assert ro.warehouse.count("council_notes") == 0


def test_signing_out_ends_the_session_on_the_server(client: TestClient) -> None:
    sign_in(client, "mia@x.com")
    cookie = client.cookies["revops_session"]
    token = csrf_of(client.get("/").text)
    assert client.post("/signout", data={}).status_code == 403  # no token: still signed in
    assert client.get("/", follow_redirects=False).status_code == 200
    r = client.post("/signout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.set("revops_session", cookie)  # a copy of the cookie no longer works
    assert client.get("/", follow_redirects=False).status_code == 303


def test_passwords_are_set_by_an_admin(tmp_path: Path) -> None:
    ro = company(tmp_path)
    wh = ro.warehouse
    with pytest.raises(RevOpsError, match="too short"):
        set_password(wh, ADMIN, "ada@x.com", "short")
    with pytest.raises(RevOpsError, match=r"may not access\.manage"):
        set_password(wh, Principal("ada@x.com", "viewer"), "ada@x.com", "a long enough one")
    assert check_password(wh, "ada@x.com", PASSWORD) is not None
    assert check_password(wh, "ada@x.com", PASSWORD + "x") is None
    assert check_password(wh, "stranger@x.com", PASSWORD) is None
    admin = check_password(wh, "ADMIN@x.com", PASSWORD)
    assert admin is not None
    assert admin.role == "revops_admin"
    ro.close()


def test_the_cli_sets_a_password_from_standard_input(tmp_path: Path) -> None:
    path = str(tmp_path / "cli.duckdb")
    Warehouse.connect(path).close()
    runner = CliRunner()
    env = {"REVOPS_USER": "root", "REVOPS_API_KEY": "", "COLUMNS": "200"}
    # the first user of an empty warehouse becomes its revops_admin (access.grants)
    r = runner.invoke(
        app, ["users", "passwd", "Lee@X.com", "-w", path], input="a long new password\n", env=env
    )
    assert r.exit_code == 0, r.output
    assert "password set for lee@x.com" in r.output
    assert "a long new password" not in r.output
    with Warehouse.connect(path) as wh:
        assert check_password(wh, "lee@x.com", "a long new password") is not None
    r = runner.invoke(
        app,
        ["users", "passwd", "lee@x.com", "-w", path],
        input="another long one!\n",
        env={**env, "REVOPS_USER": "someone"},
    )
    assert r.exit_code == 1
    assert "may not access.manage" in r.output
    assert "Traceback" not in r.output


def test_an_admin_without_a_grant_under_their_email_is_told_and_can_be_given_one(
    tmp_path: Path,
) -> None:
    """The first writer's grant is under their OS user ("root"), not an email: the person who
    signs in as root@x.com is a viewer until a grant names the email, and the page says why;
    `users passwd EMAIL --role ROLE` sets the password and the grant at once."""
    path = str(tmp_path / "cli.duckdb")
    Warehouse.connect(path).close()
    env = {"REVOPS_USER": "root", "REVOPS_API_KEY": "", "COLUMNS": "200"}
    runner = CliRunner()
    r = runner.invoke(app, ["users", "passwd", "root@x.com", "-w", path], input=PASSWORD, env=env)
    assert r.exit_code == 0, r.output
    assert "no grant under this email, so they sign in as a viewer" in r.output
    with Warehouse.connect(path) as wh:
        assert role_of(wh, "root@x.com") == "viewer"
    r = runner.invoke(
        app,
        ["users", "passwd", "root@x.com", "--role", "revops_admin", "-w", path],
        input=PASSWORD,
        env=env,
    )
    assert r.exit_code == 0, r.output
    assert "password set for root@x.com (role revops_admin)" in r.output
    with Warehouse.connect(path) as wh:
        principal = check_password(wh, "root@x.com", PASSWORD)
        assert principal is not None
        assert principal.role == "revops_admin"
        assert "access.granted" in {row[0] for row in wh.sql('SELECT action FROM "audit_log"')}


def test_the_page_says_a_viewer_has_no_grant(client: TestClient) -> None:
    assert sign_in(client, "viewer@x.com") == 303
    assert "viewer (no grant)" in client.get("/").text
    assert sign_in(client, "admin@x.com") == 303
    page = client.get("/").text
    assert "revops_admin" in page
    assert "(no grant)" not in page


def test_failed_sign_ins_are_counted_in_the_warehouse_for_every_process(
    ro: RevOps, tmp_path: Path
) -> None:
    """Two server processes on one warehouse (two apps here) share the count: four failures
    through one and one through the other hold the pair back in both; a minute later it may
    try again, and the failures that left the window are deleted."""
    with (
        TestClient(create_app(ro, journal=tmp_path / "j1")) as one,
        TestClient(create_app(ro, journal=tmp_path / "j2")) as two,
    ):
        for _ in range(4):
            assert sign_in(one, "bo@x.com", "not the password") == 303
        assert sign_in(two, "bo@x.com", "not the password") == 303
        assert sign_in(one, "bo@x.com") == 429
        assert sign_in(two, "bo@x.com") == 429
    wh = ro.warehouse
    later = utc_now() + timedelta(seconds=61)
    assert retry_after(wh, "bo@x.com", "testclient", later) is None
    record_failure(wh, "bo@x.com", "testclient", later)
    assert wh.sql('SELECT count(*) FROM "signin_failures"') == [(1,)]


def test_signing_in_deletes_expired_and_ended_sessions(ro: RevOps) -> None:
    wh = ro.warehouse
    ada = Principal("ada@x.com", "viewer")
    old, _ = open_session(wh, ada)
    ended, _ = open_session(wh, ada)
    end_session(wh, ended)
    with wh.transaction() as run:  # `old` expired an hour ago
        run(
            "UPDATE \"web_sessions\" SET expires_at = expires_at - INTERVAL '13 hours' "
            f"WHERE session_hash = '{hashlib.sha256(old.encode()).hexdigest()}'"
        )
    assert wh.sql('SELECT count(*) FROM "web_sessions"') == [(2,)]
    live, _ = open_session(wh, ada)
    rows = wh.sql('SELECT session_hash FROM "web_sessions"')
    assert rows == [(hashlib.sha256(live.encode()).hexdigest(),)]
    assert find_session(wh, live) is not None
    actions = [e.action for e in entries(wh)]
    assert actions.count("access.signed_in") >= 3  # the purged sessions stay in the audit log
