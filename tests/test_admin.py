"""The admin side of accounts in the web app: the accounts API and page, everyone's own API
tokens, the audit log API and page, on a real store holding the sample county.

Scripts call with an API token (``Authorization: Bearer``); the pages are driven like a
browser: a session cookie from :func:`gisgrid.services.accounts.sign_in` and its CSRF token
in the forms.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from accounts import TestAccount, make_account
from fastapi.testclient import TestClient

from gisgrid.api import create_app
from gisgrid.errors import AuthenticationError
from gisgrid.roles import Role
from gisgrid.sample import write_sample_county
from gisgrid.services import accounts
from gisgrid.stores import open_store
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.ledger import AuditQuery

pytestmark = pytest.mark.slow

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def county_file(sample_county: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample county in a GeoPackage, written once for this module (accounts are added
    with new names by each test)."""
    path = tmp_path_factory.mktemp("admin") / "county.gpkg"
    write_sample_county(GeoPackageStore(path), sample_county)
    return path


@pytest.fixture(scope="module")
def codes(sample_county: Any) -> dict[str, Any]:
    """A township, a village and a level-3 grid of the sample county, with their names."""
    frames = sample_county.frames
    village = frames["villages"].sort_values("code").iloc[0]
    grid = frames["grids"]
    grid = grid[(grid["level"] == 3) & (grid["village_code"] == village["code"])].iloc[0]
    township = frames["townships"].set_index("code").loc[village["township_code"]]
    return {
        "township": village["township_code"],
        "township_name": township["name"],
        "village": village["code"],
        "village_name": village["name"],
        "grid": grid["code"],
    }


@pytest.fixture(scope="module")
def app_client(county_file: Path) -> Iterator[TestClient]:
    with TestClient(create_app(store=str(county_file)), base_url="https://testserver") as c:
        yield c


@pytest.fixture
def client(app_client: TestClient) -> TestClient:
    """The module's client with no cookie left from another test."""
    app_client.cookies.clear()
    return app_client


@pytest.fixture(scope="module")
def admin(county_file: Path) -> TestAccount:
    return make_account(str(county_file), Role.ADMIN)


def name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def sign_in(
    county_file: Path, account: TestAccount | tuple[str, str], *, address: str = "testclient"
) -> tuple[str, str]:
    """A session of the account: the cookie value and the session's CSRF token."""
    username, password = (
        (account.username, account.password) if isinstance(account, TestAccount) else account
    )
    store = open_store(str(county_file))
    try:
        signed = accounts.sign_in(store.ledger, username, password, address=address)
    finally:
        store.close()
    assert signed.caller.session is not None
    return signed.cookie_value, signed.caller.session.csrf_token


def as_session(client: TestClient, cookie: str) -> TestClient:
    client.cookies.set(accounts.SESSION_COOKIE, cookie)
    return client


def ledger_of(county_file: Path) -> Any:
    return open_store(str(county_file)).ledger


def audit(county_file: Path, **filters: Any) -> list[Any]:
    store = open_store(str(county_file))
    try:
        return store.ledger.audit(AuditQuery(**filters))
    finally:
        store.close()


def account(county_file: Path, username: str) -> Any:
    store = open_store(str(county_file))
    try:
        return store.ledger.account(username)
    finally:
        store.close()


def can_sign_in(county_file: Path, username: str, password: str) -> bool:
    try:
        sign_in(county_file, (username, password))
    except AuthenticationError:
        return False
    return True


def no_secrets(text: str) -> None:
    """An answer never holds a password hash or a token hash."""
    assert "password_hash" not in text and "token_hash" not in text
    assert "$argon2" not in text


# --- the accounts API -----------------------------------------------------------------------


def test_admin_lists_adds_changes_disables_and_resets_by_api(client, admin, county_file, codes):
    listed = client.get("/api/accounts", headers=admin.headers)
    assert listed.status_code == 200
    no_secrets(listed.text)
    mine = next(a for a in listed.json() if a["username"] == admin.username)
    assert mine["role"] == "admin" and mine["role_zh"] == "系统管理员"
    assert mine["area"] == "430623" and mine["disabled"] is False

    user = name("wang")
    added = client.post(
        "/api/accounts",
        headers=admin.headers,
        json={"username": user, "display_name": "王芳", "role": "township",
              "area": codes["township"]},
    )  # fmt: skip
    assert added.status_code == 201, added.text
    no_secrets(added.text)
    body = added.json()
    assert body["account"]["role"] == "township" and body["account"]["display_name"] == "王芳"
    assert can_sign_in(county_file, user, body["password"])  # the generated one, shown once
    assert (
        client.get(f"/api/accounts/{user}", headers=admin.headers).json()["area"]
        == (codes["township"])
    )

    # a password the admin chose is not answered back
    chosen = client.post(
        "/api/accounts",
        headers=admin.headers,
        json={"username": name("li"), "role": "viewer", "area": "430623",
              "password": "Gr1d-pass-2026"},
    )  # fmt: skip
    assert chosen.status_code == 201 and chosen.json()["password"] is None

    changed = client.patch(
        f"/api/accounts/{user}",
        headers=admin.headers,
        json={"role": "village", "area": codes["village"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "village" and changed.json()["area"] == codes["village"]

    off = client.patch(f"/api/accounts/{user}", headers=admin.headers, json={"disabled": True})
    assert off.json()["disabled"] is True
    assert account(county_file, user).disabled

    reset = client.post(f"/api/accounts/{user}/password", headers=admin.headers)
    assert reset.status_code == 200, reset.text
    new_password = reset.json()["password"]
    assert not can_sign_in(county_file, user, body["password"])
    client.patch(f"/api/accounts/{user}", headers=admin.headers, json={"disabled": False})
    assert can_sign_in(county_file, user, new_password)

    # every change is in the audit log, with the admin as actor
    actions = [r.entry.action for r in audit(county_file, target=user, actor=admin.username)]
    assert actions.count("account_change") == 3
    assert {"account_add", "password_reset"} <= set(actions)


def test_the_accounts_api_refuses_bad_changes(client, admin, codes):
    taken = client.post(
        "/api/accounts",
        headers=admin.headers,
        json={"username": admin.username, "role": "viewer", "area": "430623"},
    )
    assert taken.status_code == 422 and "已被占用" in taken.json()["error"]["message"]
    wrong_area = client.post(
        "/api/accounts",
        headers=admin.headers,
        json={"username": name("zhao"), "role": "township", "area": codes["village"]},
    )
    assert wrong_area.status_code == 400
    weak = client.post(
        "/api/accounts",
        headers=admin.headers,
        json={"username": name("qian"), "role": "viewer", "area": "430623", "password": "123"},
    )
    assert weak.status_code == 422
    missing = client.patch("/api/accounts/nobody-here", headers=admin.headers, json={})
    assert missing.status_code == 404


def test_non_admins_are_refused_and_the_refusal_audited(client, county_file, codes):
    viewer = make_account(str(county_file), Role.VIEWER, "430623")
    grid = make_account(str(county_file), Role.GRID, codes["grid"])
    for who in (viewer, grid):
        for method, path in (
            ("GET", "/api/accounts"),
            ("POST", "/api/accounts"),
            ("GET", "/api/audit"),
            ("GET", "/admin/accounts"),
            ("GET", "/admin/audit"),
            ("GET", f"/api/accounts/{who.username}/tokens"),
        ):
            r = client.request(method, path, headers=who.headers, json={})
            assert r.status_code == 403, (who.username, method, path, r.status_code)
        denied = audit(county_file, actor=who.username, action="denied")
        assert {"GET /api/accounts", "POST /api/accounts", "GET /admin/audit"} <= {
            r.entry.target for r in denied
        }
        assert all(r.entry.outcome == "denied" for r in denied)
        # their own tokens they may see
        assert client.get("/api/tokens", headers=who.headers).status_code == 200
    # not signed in: the API answers 401, a page sends to the sign-in page
    assert client.get("/api/accounts").status_code == 401
    page = client.get("/admin/accounts", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert client.get("/account/tokens", follow_redirects=False).status_code == 303


# --- the accounts page -----------------------------------------------------------------------


def test_a_form_post_without_the_csrf_token_is_refused_and_changes_nothing(
    client, admin, county_file
):
    cookie, csrf = sign_in(county_file, admin)
    as_session(client, cookie)
    user = name("sun")
    form = {"username": user, "role": "viewer", "area": "430623", "password": "Gr1d-pass-2026"}
    for given in ({}, {"csrf_token": "not-the-token"}, {"csrf_token": ""}):
        r = client.post("/admin/accounts", data=form | given, follow_redirects=False)
        assert r.status_code == 403, r.text
        assert account(county_file, user) is None
    target = make_account(str(county_file), Role.VIEWER)
    for path, data in (
        (f"/admin/accounts/{target.username}/disabled", {"disabled": "1"}),
        (f"/admin/accounts/{target.username}/password", {}),
        (f"/admin/accounts/{target.username}/role", {"role": "admin", "area": "430623"}),
    ):
        assert client.post(path, data=data, follow_redirects=False).status_code == 403
    after = account(county_file, target.username)
    assert after.role == Role.VIEWER and not after.disabled
    assert can_sign_in(county_file, target.username, target.password)
    # the same with the token goes through (the refusal above was the missing token)
    r = client.post("/admin/accounts", data=form | {"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/accounts"
    assert account(county_file, user) is not None


def test_the_accounts_page_lists_and_its_forms_add_change_disable_reset(
    client, admin, county_file, codes
):
    cookie, csrf = sign_in(county_file, admin)
    as_session(client, cookie)
    page = client.get("/admin/accounts")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert f'name="csrf_token" value="{csrf}"' in page.text
    assert admin.username in page.text and "系统管理员" in page.text and "全县" in page.text
    assert "<script" not in page.text and "onclick" not in page.text
    no_secrets(page.text)

    # add with a chosen password: back to the list (post/redirect/get)
    user = name("zhou")
    r = client.post(
        "/admin/accounts",
        data={"csrf_token": csrf, "username": user, "display_name": "周强", "role": "township",
              "area": codes["township"], "password": "Gr1d-pass-2026"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    listed = client.get("/admin/accounts").text
    row = _row(listed, user)
    assert "乡镇干部" in row and codes["township"] in row and codes["township_name"] in row
    assert "正常" in row

    # add without one: the generated password is shown on the result page, once
    other = name("wu")
    r = client.post(
        "/admin/accounts",
        data={"csrf_token": csrf, "username": other, "role": "grid", "area": codes["grid"],
              "phone": "139 0000 1234"},
    )  # fmt: skip
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    shown = re.search(r'<code class="secret" id="secret">([^<]+)</code>', r.text)
    assert shown is not None
    assert can_sign_in(county_file, other, html.unescape(shown.group(1)))
    assert shown.group(1) not in client.get("/admin/accounts").text
    row = _row(client.get("/admin/accounts").text, other)
    assert "网格员" in row and codes["grid"] in row and "13900001234" in row

    # change role and area
    r = client.post(
        f"/admin/accounts/{user}/role",
        data={"csrf_token": csrf, "role": "village", "area": codes["village"], "phone": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303
    row = _row(client.get("/admin/accounts").text, user)
    assert "村（社区）书记" in row and codes["village_name"] in row

    # disable, enable
    r = client.post(
        f"/admin/accounts/{user}/disabled",
        data={"csrf_token": csrf, "disabled": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and account(county_file, user).disabled
    assert "已停用" in _row(client.get("/admin/accounts").text, user)
    client.post(f"/admin/accounts/{user}/disabled", data={"csrf_token": csrf, "disabled": "0"})
    assert not account(county_file, user).disabled

    # reset the password: the new one shown once, the old one no longer opens the account
    r = client.post(f"/admin/accounts/{user}/password", data={"csrf_token": csrf})
    assert r.status_code == 200 and "密码已重置" in r.text
    new = re.search(r'<code class="secret" id="secret">([^<]+)</code>', r.text)
    assert new is not None
    assert not can_sign_in(county_file, user, "Gr1d-pass-2026")
    assert can_sign_in(county_file, user, html.unescape(new.group(1)))


def _row(page: str, username: str) -> str:
    """The table row of one account on the accounts page."""
    for row in page.split("<tr")[1:]:
        if f"<td>{username}</td>" in row:
            return row
    raise AssertionError(f"no row of {username}")


def test_form_errors_are_shown_in_chinese_and_nothing_is_written(client, admin, county_file, codes):
    cookie, csrf = sign_in(county_file, admin)
    as_session(client, cookie)
    user = name("zheng")
    cases = (
        ({"username": user, "role": "township", "area": codes["village"]}, 400, "输入有误"),
        ({"username": user, "role": "viewer", "area": "430623", "password": "abc"}, 422,
         "输入不符合要求"),
        ({"username": "A B", "role": "viewer", "area": "430623"}, 400, "用户名"),
        ({"username": user, "role": "chief", "area": "430623"}, 400, "未知角色"),
        ({"username": admin.username, "role": "viewer", "area": "430623"}, 422, "已被占用"),
    )  # fmt: skip
    for data, status, words in cases:
        r = client.post("/admin/accounts", data=data | {"csrf_token": csrf})
        assert r.status_code == status, (data, r.text)
        assert 'class="error"' in r.text and words in r.text, data
        assert account(county_file, user) is None
    r = client.post(
        "/admin/accounts/nobody-here/disabled", data={"csrf_token": csrf, "disabled": "1"}
    )
    assert r.status_code == 404 and "找不到" in r.text
    # an admin cannot lock themselves out on the web, by the page or the API
    me = admin.username
    for path, data in (
        (f"/admin/accounts/{me}/disabled", {"disabled": "1"}),
        (f"/admin/accounts/{me}/role", {"role": "viewer", "area": "430623"}),
    ):
        r = client.post(path, data=data | {"csrf_token": csrf})
        assert r.status_code == 400 and "不能停用自己的账户" in r.text
    client.cookies.clear()
    for change in ({"disabled": True}, {"role": "leader"}):
        r = client.patch(f"/api/accounts/{me}", headers=admin.headers, json=change)
        assert r.status_code == 400
    mine = account(county_file, me)
    assert mine.role == Role.ADMIN and not mine.disabled


# --- disabling, tokens ----------------------------------------------------------------------


def test_a_disabled_accounts_token_and_session_stop_working_at_once(client, admin, county_file):
    user = make_account(str(county_file), Role.VIEWER)
    cookie, _csrf = sign_in(county_file, user)
    assert client.get("/api/tokens", headers=user.headers).status_code == 200
    assert as_session(client, cookie).get("/api/tokens").status_code == 200
    client.cookies.clear()
    off = client.patch(
        f"/api/accounts/{user.username}", headers=admin.headers, json={"disabled": True}
    )
    assert off.status_code == 200
    assert client.get("/api/tokens", headers=user.headers).status_code == 401
    assert as_session(client, cookie).get("/api/tokens").status_code == 401
    assert client.get("/account/tokens", follow_redirects=False).status_code == 303
    client.cookies.clear()
    # enabled again: the token works again, the session that was ended stays ended
    client.patch(f"/api/accounts/{user.username}", headers=admin.headers, json={"disabled": False})
    assert client.get("/api/tokens", headers=user.headers).status_code == 200
    assert as_session(client, cookie).get("/api/tokens").status_code == 401


def test_a_token_value_is_shown_once_then_only_its_prefix(client, county_file):
    user = make_account(str(county_file), Role.VILLAGE, "430623001001")
    created = client.post("/api/tokens", headers=user.headers, json={"name": "nightly", "days": 7})
    assert created.status_code == 201, created.text
    no_secrets(created.text)
    value = created.json()["value"]
    token = created.json()["token"]
    assert value.startswith(accounts.TOKEN_PREFIX) and value.startswith(token["prefix"])
    assert token["username"] == user.username and token["state"] == "valid"
    listed = client.get("/api/tokens", headers=user.headers)
    assert value not in listed.text
    no_secrets(listed.text)
    assert token["prefix"] in listed.text and {t["name"] for t in listed.json()} >= {"nightly"}
    # the new value works as a token of the same account
    assert client.get("/api/tokens", headers={"Authorization": f"Bearer {value}"}).json()

    # by the page: the value on the result page only
    cookie, csrf = sign_in(county_file, user)
    as_session(client, cookie)
    r = client.post("/account/tokens", data={"csrf_token": csrf, "name": "导出脚本", "days": ""})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    shown = re.search(r'<code class="secret" id="secret">(ggt_[A-Za-z0-9_-]+)</code>', r.text)
    assert shown is not None
    page = client.get("/account/tokens")
    assert page.status_code == 200 and "导出脚本" in page.text
    assert shown.group(1) not in page.text and shown.group(1)[:12] in page.text
    no_secrets(page.text)
    assert client.get("/api/tokens", headers={"Authorization": f"Bearer {shown.group(1)}"})
    bad = client.post("/account/tokens", data={"csrf_token": csrf, "name": " ", "days": "x"})
    assert bad.status_code == 400 and 'class="error"' in bad.text


def test_a_revoked_token_stops_working_and_only_its_owner_or_an_admin_revokes(
    client, admin, county_file
):
    owner = make_account(str(county_file), Role.VIEWER)
    other = make_account(str(county_file), Role.VIEWER)
    ids = {}
    values = {}
    for label in ("api", "form", "admin"):
        r = client.post("/api/tokens", headers=owner.headers, json={"name": label})
        ids[label], values[label] = r.json()["token"]["id"], r.json()["value"]

    def works(label: str) -> bool:
        bearer = {"Authorization": f"Bearer {values[label]}"}
        return client.get("/api/tokens", headers=bearer).status_code == 200

    # someone else cannot revoke it (and is not told it exists)
    assert client.delete(f"/api/tokens/{ids['api']}", headers=other.headers).status_code == 404
    assert works("api")
    # its owner, by the API
    r = client.delete(f"/api/tokens/{ids['api']}", headers=owner.headers)
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    assert not works("api") and works("form")
    # its owner, by the page
    cookie, csrf = sign_in(county_file, owner)
    as_session(client, cookie)
    r = client.post(
        f"/account/tokens/{ids['form']}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/account/tokens"
    client.cookies.clear()
    assert not works("form")
    # an admin, by the API
    listed = client.get(f"/api/accounts/{owner.username}/tokens", headers=admin.headers).json()
    assert {t["id"] for t in listed} >= set(ids.values())
    wrong = client.delete(
        f"/api/accounts/{other.username}/tokens/{ids['admin']}", headers=admin.headers
    )
    assert wrong.status_code == 404 and works("admin")
    r = client.delete(
        f"/api/accounts/{owner.username}/tokens/{ids['admin']}", headers=admin.headers
    )
    assert r.status_code == 200 and not works("admin")
    revokes = audit(county_file, action="token_revoke", target=None, limit=1000)
    assert {f"token {i}" for i in ids.values()} <= {r.entry.target for r in revokes}


def test_an_admin_revokes_any_token_on_the_accounts_page(client, admin, county_file):
    owner = make_account(str(county_file), Role.VIEWER)
    cookie, csrf = sign_in(county_file, admin)
    as_session(client, cookie)
    page = client.get("/admin/accounts").text
    token_id = next(
        t.id
        for t in ledger_of(county_file).tokens(account_id=account(county_file, owner.username).id)
    )
    assert f'action="/admin/tokens/{token_id}/revoke"' in page
    r = client.post(
        f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    client.cookies.clear()
    assert client.get("/api/tokens", headers=owner.headers).status_code == 401


# --- the audit log --------------------------------------------------------------------------


def test_the_audit_api_filters_and_pages_back(client, admin, county_file):
    ghost, address = name("ghost"), f"10.0.0.{secrets.randbelow(250) + 1}"
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            sign_in(county_file, (ghost, "wrong-password-1"), address=address)
    r = client.get(
        "/api/audit",
        headers=admin.headers,
        params={"actor": ghost, "action": "sign_in", "outcome": "failed", "limit": 2},
    )
    assert r.status_code == 200, r.text
    first = r.json()
    assert len(first["entries"]) == 2 and first["older"] == first["entries"][-1]["id"]
    seen = [e["id"] for e in first["entries"]]
    before = first["older"]
    while before is not None:
        page = client.get(
            "/api/audit",
            headers=admin.headers,
            params={"actor": ghost, "limit": 2, "before_id": before},
        ).json()
        seen += [e["id"] for e in page["entries"]]
        before = page["older"]
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)
    entry = first["entries"][0]
    assert entry["actor"] == ghost and entry["outcome"] == "failed"
    assert entry["detail"] == {"why": "unknown_user"} and entry["address"] == address
    # other filters
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert client.get(
        "/api/audit", headers=admin.headers, params={"actor": ghost, "since": future}
    ).json() == {"entries": [], "older": None}
    ok = client.get("/api/audit", headers=admin.headers, params={"actor": ghost, "outcome": "ok"})
    assert ok.json()["entries"] == []
    bad = client.get("/api/audit", headers=admin.headers, params={"outcome": "maybe"})
    assert bad.status_code == 422
    # a time with no UTC equivalent is refused, not a server fault
    for edge in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:00-05:00"):
        r = client.get("/api/audit", headers=admin.headers, params={"since": edge})
        assert r.status_code == 400 and "超出范围" in r.json()["error"]["message"]


def test_the_audit_page_filters_and_links_older_entries(client, admin, county_file):
    ghost, address = name("ghost"), f"10.0.1.{secrets.randbelow(250) + 1}"
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            sign_in(county_file, (ghost, "wrong-password-1"), address=address)
    cookie, _csrf = sign_in(county_file, admin)
    as_session(client, cookie)
    page = client.get("/admin/audit", params={"actor": ghost, "outcome": "failed"})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    body = page.text.split("<tbody>", 1)[1]
    assert body.count(f"<td>{ghost}</td>") == 3 and "失败" in body
    assert admin.username not in body.split("</tbody>")[0]
    assert 'id="older"' not in page.text  # all three on one page
    # a full page links to the older entries, with the filters kept
    first = client.get("/admin/audit", params={"actor": ghost, "limit": 2}).text
    older = re.search(r'<a id="older" href="([^"]+)"', first)
    assert older is not None
    url = html.unescape(older.group(1))
    assert f"actor={ghost}" in url and "limit=2" in url and "before_id=" in url
    second = client.get(url).text
    first_ids = [int(i) for i in re.findall(r"<tr>\s*<td>(\d+)</td>", first)]
    second_ids = [int(i) for i in re.findall(r"<tr>\s*<td>(\d+)</td>", second)]
    assert len(first_ids) == 2 and len(second_ids) == 1
    assert second_ids[0] < min(first_ids)
    assert 'id="older"' not in second  # the oldest page links no further
    assert f"<td>{address}</td>" in second
    bad = client.get("/admin/audit", params={"since": "yesterday"})
    assert bad.status_code == 400 and "起始时间" in bad.text


# --- stored XSS ------------------------------------------------------------------------------


def test_names_are_shown_escaped_on_every_admin_page(client, admin, county_file):
    user = name("xss")
    r = client.post(
        "/api/accounts",
        headers=admin.headers,
        json={"username": user, "display_name": XSS, "role": "viewer", "area": "430623"},
    )
    assert r.status_code == 201
    with pytest.raises(AuthenticationError):  # a name typed at sign-in lands in the audit log
        sign_in(county_file, (f"<script>alert('{user}')</script>", "whatever-1"))
    created = make_account(str(county_file), Role.VIEWER)
    client.post("/api/tokens", headers=created.headers, json={"name": XSS})
    cookie, _csrf = sign_in(county_file, admin)
    as_session(client, cookie)
    for path in ("/admin/accounts", "/admin/audit"):
        page = client.get(path).text
        assert XSS not in page and "<script>alert" not in page, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in page, path
    assert "&lt;script&gt;alert(" in client.get("/admin/audit").text
    # the one who owns the token sees their token's name escaped too
    owner_cookie, _ = sign_in(county_file, created)
    mine = as_session(client, owner_cookie).get("/account/tokens").text
    assert XSS not in mine and "&lt;img src=x onerror=alert(1)&gt;" in mine


def test_names_stay_text_in_chromium(admin, county_file):
    """The proof in a real browser: the served pages, a stored name built to run script, and
    no dialog, no element made of it, only its text."""
    from browser import chromium, new_page
    from servers import gisgrid_server

    user = name("xss")
    ledger = ledger_of(county_file)
    accounts.add_account(
        ledger,
        username=user,
        display_name=XSS,
        role=Role.VIEWER,
        area="430623",
        password=accounts.generate_password(),
        actor=admin.username,
    )
    made = accounts.create_token(
        ledger, ledger.account(admin.username), name=XSS, days=1, actor=admin.username
    )
    assert made[1].startswith(accounts.TOKEN_PREFIX)
    with pytest.raises(AuthenticationError):
        sign_in(county_file, (XSS, "whatever-1"), address="10.0.2.1")
    cookie, _csrf = sign_in(county_file, admin)
    with gisgrid_server(str(county_file)) as base, chromium() as browser:
        page, log = new_page(browser)
        page.context.add_cookies([{"name": accounts.SESSION_COOKIE, "value": cookie, "url": base}])
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for path, table in (
            ("/admin/accounts", "#accounts"),
            ("/admin/accounts", "#tokens"),
            ("/admin/audit", "#audit"),
            ("/account/tokens", "#tokens"),
        ):
            page.goto(base + path, wait_until="load")
            assert XSS in page.locator(table).inner_text(), (path, table)
            page.wait_for_timeout(200)  # an <img src=x> fails at once: its onerror would fire
            assert page.evaluate("document.querySelectorAll('img').length") == 0, path
        assert dialogs == [], f"a name ran as script: {dialogs}"
        assert log.blocked == [] and log.errors == [], (log.blocked, log.errors)
