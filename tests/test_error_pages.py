"""Errors as a browser sees them: a page request (``Accept: text/html``) gets an HTML page in
the site's style with Chinese words, the API keeps its JSON error bodies.

The real app on a copy of the sample county, callers signed in by API token (real accounts).
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from accounts import TestAccount, make_account
from fastapi.testclient import TestClient
from starlette.requests import Request

from gisgrid.api import create_app
from gisgrid.api.errors import chinese_part, wants_page
from gisgrid.stores.geopackage import GeoPackageStore

pytestmark = pytest.mark.slow

#: what a browser sends when it opens a page
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
#: Latin words allowed in a Chinese page: names of formats (导出统计表（Excel）, 公示牌（PDF）,
#: 网格边界（Shapefile）)
#: and of the programming interface, and the finder's example of pinyin initials (what
#: field staff type)
ALLOWED_LATIN = {"API", "JSON", "Excel", "PDF", "Shapefile", "zfw"}


def visible_text(html: str) -> str:
    """The text a reader sees: tags, the style sheet and comments left out."""
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<!--.*?-->", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def english_words(text: str) -> list[str]:
    """Latin words of two letters or more in ``text`` (codes and numbers are no words)."""
    return [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in ALLOWED_LATIN]


@pytest.fixture(scope="module")
def store_path(sample_gpkg: GeoPackageStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("error_pages") / "county.gpkg"
    shutil.copy(sample_gpkg.path, path)
    return path


@pytest.fixture(scope="module")
def admin(store_path: Path) -> TestAccount:
    return make_account(str(store_path))


@pytest.fixture(scope="module")
def viewer(store_path: Path) -> TestAccount:
    return make_account(str(store_path), "viewer")


@pytest.fixture(scope="module")
def leader(store_path: Path) -> TestAccount:
    return make_account(str(store_path), "leader")


@pytest.fixture(scope="module")
def client(
    store_path: Path, admin: TestAccount, viewer: TestAccount, leader: TestAccount
) -> Iterator[TestClient]:
    with TestClient(create_app(store=str(store_path)), base_url="https://testserver") as c:
        yield c


def _page(client: TestClient, path: str, account: TestAccount | None, status: int) -> str:
    headers = {"Accept": BROWSER} | (account.headers if account else {})
    r = client.get(path, headers=headers, follow_redirects=False)
    assert r.status_code == status, (path, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html"), (path, r.headers["content-type"])
    assert '<html lang="zh-CN">' in r.text and 'class="error"' in r.text
    assert "#b71c1c" in r.text  # the site's header colour: the same style as its pages
    text = visible_text(r.text)
    assert not english_words(text), (path, english_words(text), text)
    return text


@pytest.mark.parametrize(
    ("path", "status", "heading"),
    [
        ("/?village=430623999999", 404, "没有找到"),
        ("/no/such/page", 404, "没有找到"),
        ("/maps/atlas", 422, "请求参数不正确"),
        ("/?township=1", 422, "请求参数不正确"),
        ("/finder?village=4306231", 422, "请求参数不正确"),
    ],
)
def test_a_page_error_is_a_chinese_page(
    client: TestClient, admin: TestAccount, path: str, status: int, heading: str
) -> None:
    text = _page(client, path, admin, status)
    assert f"{status} {heading}" in text and "返回首页" in text


def test_a_refused_page_says_so_in_chinese(client: TestClient, viewer: TestAccount) -> None:
    # a viewer reads no household records: the finder refuses it, in the role's own words
    text = _page(client, "/finder", viewer, 403)
    assert "403 无权访问" in text and "只读查看" in text


def test_a_page_that_needs_a_reason_asks_for_it(client: TestClient, leader: TestAccount) -> None:
    # a county leader reads household records on request: the page asks for the reason
    text = _page(client, "/finder?township=430623101", leader, 403)
    assert "查阅农户信息须说明理由" in text and "继续查阅" in text
    r = client.get("/finder?township=430623101", headers={"Accept": BROWSER} | leader.headers)
    form = re.search(
        r'<form class="reason" method="get" action="/finder">(.*?)</form>', r.text, re.S
    )
    assert form, r.text
    assert '<input type="hidden" name="township" value="430623101">' in form.group(1)
    assert 'name="reason"' in form.group(1)
    # sent with a reason, the page opens
    r = client.get(
        "/finder?township=430623101&reason=核实走访",
        headers={"Accept": BROWSER} | leader.headers,
    )
    assert r.status_code == 200 and 'data-reason="核实走访"' in r.text


def test_a_bad_token_on_a_page_offers_the_sign_in_page(client: TestClient) -> None:
    bad = TestAccount("nobody", "", "not-a-token")
    text = _page(client, "/", bad, 401)
    assert "401 请先登录" in text and "登录" in text
    r = client.get("/", headers={"Accept": BROWSER} | bad.headers)
    assert 'href="/login?next=/"' in r.text


def test_a_server_fault_on_a_page_is_a_page(client: TestClient) -> None:
    # the handler Starlette calls for any exception a route lets through (a bug)
    handler = client.app.exception_handlers[Exception]  # type: ignore[attr-defined]
    for accept, kind in ((BROWSER, "text/html"), ("application/json", "application/json")):
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/",
            "query_string": b"",
            "headers": [(b"accept", accept.encode())],
        }
        r = asyncio.run(handler(Request(scope), RuntimeError("a bug")))
        assert r.status_code == 500 and r.headers["content-type"].startswith(kind)
        body = r.body.decode()
        if kind == "text/html":
            assert "服务器出错" in body and "a bug" not in body
        else:
            assert '"InternalServerError"' in body


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/layers/roads", 404),
        ("/api/households/search", 422),
        ("/api/no-such-thing", 404),
    ],
)
def test_the_api_answers_json_even_to_a_browser(
    client: TestClient, admin: TestAccount, path: str, status: int
) -> None:
    r = client.get(path, headers={"Accept": BROWSER} | admin.headers)
    assert r.status_code == status
    assert r.json()["error"]["message"]


def test_a_script_asking_a_page_gets_json(client: TestClient, admin: TestAccount) -> None:
    r = client.get("/?village=430623999999", headers={"Accept": "application/json"} | admin.headers)
    assert r.status_code == 404 and r.json()["error"]["type"] == "NotFoundError"


def test_which_requests_get_a_page() -> None:
    def request(path: str, accept: str) -> Request:
        return Request(
            {"type": "http", "method": "GET", "path": path, "query_string": b"",
             "headers": [(b"accept", accept.encode())]}
        )  # fmt: skip

    assert wants_page(request("/nowhere", BROWSER))
    assert not wants_page(request("/nowhere", "*/*"))
    assert not wants_page(request("/api/nowhere", BROWSER))
    assert not wants_page(request("/api", BROWSER))


def test_the_chinese_part_of_a_message() -> None:
    assert chinese_part("请先登录 (sign in first)") == "请先登录"
    assert chinese_part("位置无效 / invalid position: 1") == "位置无效"
    assert chinese_part("no village 430623999999") is None
