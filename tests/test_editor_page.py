"""The grid editor page (``/editor``) as served: who gets which tools, its assets (all local,
all served, the drawing library from the npm package installed at set-up), no inline script,
and the clear error when the npm install is missing. The page driven in Chromium is
tests/test_editor_ui.py."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from accounts import TestAccount, make_account
from fastapi.testclient import TestClient

from gisgrid.api import create_app
from gisgrid.api.security import inline_script_hashes
from gisgrid.cartography import assets
from gisgrid.cartography.assets import Asset, NpmSource, external_urls
from gisgrid.stores.geopackage import GeoPackageStore

pytestmark = pytest.mark.slow

COUNTY = "430623"


@pytest.fixture(scope="module")
def store_path(sample_gpkg: GeoPackageStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("editor_page") / "county.gpkg"
    shutil.copy(sample_gpkg.path, path)
    return path


@pytest.fixture(scope="module")
def places(store_path: Path) -> dict[str, str]:
    villages = GeoPackageStore(store_path).read("villages").sort_values("code")
    first = str(villages["code"].iloc[0])
    township = str(villages["township_code"].iloc[0])
    other = villages[villages["township_code"] != township]
    return {"township": township, "village": first, "other_village": str(other["code"].iloc[0])}


@pytest.fixture(scope="module")
def accounts(store_path: Path, places: dict[str, str]) -> dict[str, TestAccount]:
    store = str(store_path)
    return {
        "planner": make_account(store, "planner", places["township"]),
        "township": make_account(store, "township", places["township"]),
        "admin": make_account(store, "admin", COUNTY),
        "viewer": make_account(store, "viewer", places["township"]),
    }


@pytest.fixture(scope="module")
def client(store_path: Path, accounts: dict[str, TestAccount]) -> Iterator[TestClient]:
    with TestClient(create_app(store=str(store_path)), base_url="https://testserver") as c:
        yield c


def _links(html: str) -> list[str]:
    return re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', html)


def test_the_editor_links_only_local_assets_and_the_server_serves_each(
    client: TestClient, accounts: dict[str, TestAccount], places: dict[str, str]
) -> None:
    r = client.get(f"/editor?village={places['village']}", headers=accounts["planner"].headers)
    assert r.status_code == 200, r.text[:300]
    html = r.text
    links = [u for u in _links(html) if u.startswith("/assets/")]
    names = " ".join(links)
    assert "leaflet-geoman.min.js" in names and "leaflet-geoman.css" in names
    assert "gisgrid-editor.js" in names and "xstatic-leaflet-" in names
    # Leaflet before its plugin, the plugin and the shared page helpers before the page's script
    scripts = [u for u in links if u.endswith(".js")]
    assert [s.rsplit("/", 1)[1] for s in scripts] == [
        "leaflet.js",
        "leaflet-geoman.min.js",
        "gisgrid-page.js",
        "gisgrid-editor.js",
    ]
    for url in links:
        served = client.get(url)
        assert served.status_code == 200, url
        assert served.content, url
    # nothing outside this server: no absolute or protocol-relative URL on the page
    assert external_urls(html) == []
    assert all(u.startswith("/") and not u.startswith("//") for u in _links(html))


def test_the_editor_has_no_inline_script_and_a_policy_without_unsafe_inline(
    client: TestClient, accounts: dict[str, TestAccount], places: dict[str, str]
) -> None:
    r = client.get(f"/editor?village={places['village']}", headers=accounts["planner"].headers)
    assert inline_script_hashes(r.text) == []
    assert "on" + "click=" not in r.text.replace(" ", "")  # no inline handlers either
    policy = r.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]+)", policy)
    assert script_src is not None and script_src.group(1).strip() == "'self'"


def test_planners_get_the_tools_and_reviewers_the_review_panel(
    client: TestClient, accounts: dict[str, TestAccount], places: dict[str, str]
) -> None:
    url = f"/editor?village={places['village']}"
    planner = client.get(url, headers=accounts["planner"].headers).text
    township = client.get(url, headers=accounts["township"].headers).text
    admin = client.get(url, headers=accounts["admin"].headers).text
    viewer = client.get(url, headers=accounts["viewer"].headers).text
    tools = ("修整边界", "划线分割", "合并", "新增网格", "编辑属性", "撤销", "提交审核", "撤回草稿")
    for tool in tools:
        assert tool in planner and tool in admin and tool not in township and tool not in viewer
    for review in ("批准发布", "退回"):
        assert review in township and review in admin
        assert review not in planner and review not in viewer
    assert 'data-can-edit="1"' in planner and 'data-can-edit="0"' in township
    assert f'data-village="{places["village"]}"' in planner
    assert 'data-csrf=""' in planner  # an API token needs none; a session's page carries it


def test_the_village_picker_lists_only_the_callers_villages(
    client: TestClient, accounts: dict[str, TestAccount], places: dict[str, str]
) -> None:
    html = client.get("/editor", headers=accounts["planner"].headers).text
    offered = re.findall(r'<option value="(\d{12})"', html)
    assert places["village"] in offered
    assert offered and all(v.startswith(places["township"]) for v in offered)
    assert places["other_village"] not in offered


def test_a_village_outside_ones_area_is_refused(
    client: TestClient, accounts: dict[str, TestAccount], places: dict[str, str]
) -> None:
    r = client.get(
        f"/editor?village={places['other_village']}", headers=accounts["planner"].headers
    )
    assert r.status_code == 403


def test_a_missing_npm_install_is_a_clear_error_naming_the_set_up_command(
    client: TestClient,
    accounts: dict[str, TestAccount],
    places: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    missing = NpmSource("@geoman-io/leaflet-geoman-free", "dist", root=tmp_path)
    monkeypatch.setitem(assets.ASSETS, "geoman", Asset(missing, "leaflet-geoman.min.js"))
    r = client.get(f"/editor?village={places['village']}", headers=accounts["planner"].headers)
    assert r.status_code == 500
    message = r.json()["error"]["message"]
    assert "@geoman-io/leaflet-geoman-free" in message
    assert "scripts/setup.sh" in message and "npm ci" in message
