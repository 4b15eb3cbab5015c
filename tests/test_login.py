"""Signing in and out (#12, point 1): the Chinese sign-in page and its form, the session
cookie, where the browser goes afterwards, and signing out.

Driven like a browser with TestClient over ``https://testserver`` (so Secure cookies are
sent back), and once for real: Chromium types a username and password into the page served
by ``gisgrid serve`` on loopback and lands on the dashboard.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from accounts import TestAccount, make_account
from browser import chromium, map_ready, new_page
from fastapi.testclient import TestClient
from servers import gisgrid_server

from gisgrid.api import create_app
from gisgrid.api.routes.auth import LOGIN_CSRF_COOKIE, local_target
from gisgrid.services import accounts
from gisgrid.settings import AuthSettings
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.ledger import AuditQuery

WRONG = "用户名或密码错误"


@pytest.fixture
def store_file(filled_store_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "county" / "county.gpkg"
    path.parent.mkdir()
    shutil.copyfile(filled_store_file, path)
    return path


@pytest.fixture
def person(store_file: Path) -> TestAccount:
    """A township officer of the little county's first township."""
    return make_account(str(store_file), "township", "430623901")


@pytest.fixture
def client(store_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for name in ("GISGRID_AUTH_COOKIE_SECURE", "GISGRID_AUTH_MAX_FAILURES_PER_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    with TestClient(create_app(store=str(store_file)), base_url="https://testserver") as c:
        yield c


def set_cookies(response: Any) -> dict[str, SimpleCookie]:
    """Every cookie a response sets, by name, with its attributes."""
    out: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name in jar:
            out[name] = jar
    return out


def form_field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, f"no field {name}"
    return html.unescape(found.group(1))


def open_login(client: TestClient, url: str = "/login") -> tuple[str, str]:
    """The sign-in page's form token and ``next``, after checking the page itself."""
    r = client.get(url)
    assert r.status_code == 200
    assert "<h2>登录</h2>" in r.text and 'lang="zh-CN"' in r.text
    assert "<script" not in r.text
    token = form_field(r.text, "csrf_token")
    cookie = set_cookies(r)[LOGIN_CSRF_COOKIE][LOGIN_CSRF_COOKIE]
    assert cookie.value == token
    assert cookie["httponly"] and cookie["secure"] and cookie["path"] == "/login"
    assert cookie["samesite"].lower() == "strict"
    return token, form_field(r.text, "next")


def sign_in(client: TestClient, account: TestAccount, *, url: str = "/login") -> Any:
    token, next_url = open_login(client, url)
    return client.post(
        "/login",
        data={
            "username": account.username,
            "password": account.password,
            "csrf_token": token,
            "next": next_url,
        },
        follow_redirects=False,
    )


def audit(store_file: Path, action: str) -> list[Any]:
    store = GeoPackageStore(store_file)
    try:
        return store.ledger.audit(AuditQuery(action=action))
    finally:
        store.close()


def test_a_page_asks_to_sign_in_and_comes_back_after(
    client: TestClient, person: TestAccount
) -> None:
    target = "/?township=430623901"
    r = client.get(target, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    r = sign_in(client, person, url=r.headers["location"])
    assert r.status_code == 303 and r.headers["location"] == target
    session = set_cookies(r)[accounts.SESSION_COOKIE][accounts.SESSION_COOKIE]
    assert session["httponly"] and session["secure"] and session["path"] == "/"
    assert session["samesite"].lower() == "lax"
    assert int(session["max-age"]) == int(AuthSettings().session_hours * 3600)
    assert set_cookies(r)[LOGIN_CSRF_COOKIE][LOGIN_CSRF_COOKIE]["max-age"] == "0"  # used up
    page = client.get(target)
    assert page.status_code == 200 and "驾驶舱" in page.text
    assert person.username in page.text  # the user bar: who is signed in
    # signed in, the sign-in page sends the browser on
    r = client.get("/login?next=/finder", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/finder"


def test_no_cookie_is_secure_when_the_settings_say_plain_http(
    store_file: Path, person: TestAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GISGRID_AUTH_COOKIE_SECURE", "false")
    with TestClient(create_app(store=str(store_file))) as c:
        r = c.get("/login")
        assert not set_cookies(r)[LOGIN_CSRF_COOKIE][LOGIN_CSRF_COOKIE]["secure"]
        token = form_field(r.text, "csrf_token")
        data = {"username": person.username, "password": person.password, "csrf_token": token}
        r = c.post("/login", data=data, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert not set_cookies(r)[accounts.SESSION_COOKIE][accounts.SESSION_COOKIE]["secure"]


def test_a_wrong_password_shows_the_page_again(
    client: TestClient, person: TestAccount, store_file: Path
) -> None:
    token, _ = open_login(client)
    r = client.post(
        "/login",
        data={"username": person.username, "password": "not-the-password", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 401 and WRONG in r.text
    assert form_field(r.text, "username") == person.username
    assert accounts.SESSION_COOKIE not in set_cookies(r)
    assert person.password not in r.text
    # an unknown username reads the same
    r = client.post(
        "/login",
        data={"username": "nobody-here", "password": person.password, "csrf_token": token},
    )
    assert r.status_code == 401 and WRONG in r.text
    failed = [e for e in audit(store_file, "sign_in") if e.entry.outcome == "failed"]
    assert len(failed) == 2


def test_a_typed_username_is_shown_as_text(client: TestClient) -> None:
    token, _ = open_login(client)
    typed = '"><img src=x onerror=alert(1)>'
    r = client.post("/login", data={"username": typed, "password": "x" * 12, "csrf_token": token})
    assert r.status_code == 401
    assert "<img" not in r.text and "&lt;img src=x onerror=alert(1)&gt;" in r.text


@pytest.mark.parametrize("given", ["", "not-the-cookie"])
def test_the_form_needs_the_token_of_its_cookie(
    client: TestClient, person: TestAccount, store_file: Path, given: str
) -> None:
    open_login(client)
    data = {"username": person.username, "password": person.password, "csrf_token": given}
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 403 and "过期" in r.text
    assert accounts.SESSION_COOKIE not in set_cookies(r)
    # a form posted from elsewhere, with no cookie at all
    client.cookies.clear()
    data["csrf_token"] = "a" * 43
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 403 and accounts.SESSION_COOKIE not in set_cookies(r)
    assert audit(store_file, "sign_in") == []  # the password was not even tried


def test_too_many_failures_wait(
    store_file: Path, person: TestAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GISGRID_AUTH_MAX_FAILURES_PER_ACCOUNT", "2")
    with TestClient(create_app(store=str(store_file)), base_url="https://testserver") as c:
        token, _ = open_login(c)
        wrong = {"username": person.username, "password": "wrong-wrong-1", "csrf_token": token}
        assert c.post("/login", data=wrong).status_code == 401
        assert c.post("/login", data=wrong).status_code == 401
        right = wrong | {"password": person.password}
        r = c.post("/login", data=right, follow_redirects=False)
        assert r.status_code == 429 and "登录失败次数过多" in r.text
        assert int(r.headers["retry-after"]) > 0
        assert accounts.SESSION_COOKIE not in set_cookies(r)


@pytest.mark.parametrize(
    ("given", "goes_to"),
    [
        ("/maps/finder?village=430623901001", "/maps/finder?village=430623901001"),
        ("/", "/"),
        ("", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("maps/coverage", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
    ],
)
def test_next_is_only_a_local_path(given: str, goes_to: str) -> None:
    assert local_target(given) == goes_to


def test_sign_in_never_leaves_the_server(client: TestClient, person: TestAccount) -> None:
    r = sign_in(client, person, url="/login?next=//evil.example/")
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_sign_out_needs_the_session_token_and_ends_the_session(
    client: TestClient, person: TestAccount, store_file: Path
) -> None:
    assert sign_in(client, person).status_code == 303
    page = client.get("/?township=430623901")
    csrf = form_field(page.text, "csrf_token")  # the user bar's sign-out form
    r = client.post("/logout", follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/?township=430623901", follow_redirects=False).status_code == 200
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert set_cookies(r)[accounts.SESSION_COOKIE][accounts.SESSION_COOKIE]["max-age"] == "0"
    assert client.get("/?township=430623901", follow_redirects=False).status_code == 303
    assert len(audit(store_file, "sign_out")) == 1


def test_sign_out_by_header_and_the_old_cookie_is_dead(
    client: TestClient, person: TestAccount
) -> None:
    r = sign_in(client, person)
    cookie = client.cookies.get(accounts.SESSION_COOKIE)
    assert r.status_code == 303 and cookie
    csrf = form_field(client.get("/?township=430623901").text, "csrf_token")
    r = client.post("/logout", headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    client.cookies.set(accounts.SESSION_COOKIE, cookie)  # a copy kept by someone
    assert client.get("/?township=430623901", follow_redirects=False).status_code == 303


# --- in Chromium, over real HTTP ------------------------------------------------------------


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def test_signing_in_in_chromium_lands_on_the_dashboard(
    browser: Any, store_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = make_account(str(store_file))
    # plain HTTP on loopback: Chromium keeps Secure cookies of 127.0.0.1 as well
    monkeypatch.delenv("GISGRID_AUTH_COOKIE_SECURE", raising=False)
    with gisgrid_server(str(store_file)) as base:
        page, log = new_page(browser, viewport={"width": 1280, "height": 900})
        page.goto(base + "/", wait_until="load")
        assert page.url.startswith(base + "/login?next=")
        assert page.locator("h2").inner_text() == "登录"
        page.locator("#username").fill(admin.username)
        page.locator("#password").fill("not-the-password")
        page.locator("button[type=submit]").click()
        page.wait_for_load_state("load")
        assert page.locator(".error").inner_text() == WRONG
        page.locator("#password").fill(admin.password)
        page.locator("button[type=submit]").click()
        page.wait_for_url(base + "/", wait_until="load")
        assert "驾驶舱" in page.locator("h1").inner_text()
        frame = next(f for f in page.frames if "/maps/coverage" in f.url)
        map_ready(frame)
        cookie = next(c for c in page.context.cookies() if c["name"] == accounts.SESSION_COOKIE)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        assert page.evaluate("document.cookie") == ""  # HttpOnly: no script reads it
        # signing out: back to the sign-in page, and the dashboard asks again
        page.locator("form[action='/logout'] button").click()
        page.wait_for_url(base + "/login", wait_until="load")
        page.goto(base + "/", wait_until="load")
        assert page.url.startswith(base + "/login?next=")
        # the one error: the browser's note on the 401 answer to the wrong password
        unexpected = [e for e in log.errors if "status of 401" not in e]
        assert unexpected == [] and len(log.errors) == 1 and log.blocked == []
