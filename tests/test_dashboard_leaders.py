"""Leaders rank and compare: the area tables sort in Chromium, townships name their county
leaders (联乡), villages their pairing units (结对) and first secretaries (第一书记), with
names only for roles that see staff contacts.

The sample county (30,000 households): the names expected are read from the store's layers
one row at a time; the sorted orders are made here from the rows the server sent.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from accounts import make_account, session_cookies
from browser import chromium, new_page, wait_until
from fastapi.testclient import TestClient
from servers import gisgrid_server

from gisgrid import codes
from gisgrid.analysis import organisation
from gisgrid.analysis.assign import GridIndex
from gisgrid.analysis.scope import Scope, ScopedReader, mask_name
from gisgrid.api import create_app
from gisgrid.layers import kinds
from gisgrid.roles import ROLES, Role
from gisgrid.stores import open_store

pytestmark = pytest.mark.slow

CSP_WATCH = (
    "document.addEventListener('securitypolicyviolation', (e) => "
    "(window.cspViolations = window.cspViolations || [])"
    ".push(e.violatedDirective + ' ' + e.blockedURI));"
)


@pytest.fixture(scope="module")
def store_path(sample_gpkg_copy: str) -> str:
    return sample_gpkg_copy


@pytest.fixture(scope="module")
def layers(store_path: str) -> dict[str, pd.DataFrame]:
    store = open_store(store_path)
    try:
        names = ("county_leaders", "leader_townships", "pairings", "first_secretaries")
        out = {name: store.read(name) for name in names}
        out["villages"] = store.read("villages")
        out["townships"] = store.read("townships")
    finally:
        store.close()
    return out


@pytest.fixture(scope="module")
def client(store_path: str) -> Iterator[TestClient]:
    with TestClient(create_app(store=store_path)) as c:
        yield c


def leaders_of(layers: dict[str, pd.DataFrame], township: str) -> list[tuple[str, str]]:
    """(name, post) of the county leaders linked to ``township``, by leader id."""
    people = {str(r["id"]): r for r in layers["county_leaders"].to_dict("records")}
    out = []
    for link in layers["leader_townships"].sort_values("leader_id").to_dict("records"):
        if link["township_code"] == township:
            person = people[str(link["leader_id"])]
            out.append((str(person["name"]), str(person["post"])))
    return out


def a_village_with_both(layers: dict[str, pd.DataFrame]) -> str:
    """A village with a pairing unit and a first secretary."""
    both = set(layers["pairings"]["village_code"]) & set(
        layers["first_secretaries"]["village_code"]
    )
    assert both, "the sample pairs some villages that also have a first secretary"
    return sorted(both)[0]


def org_block(page: str) -> dict[str, str]:
    found = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", page)
    return {html.unescape(k): html.unescape(v) for k, v in found}


def test_townships_name_their_county_leaders(
    client: TestClient, store_path: str, layers: dict[str, pd.DataFrame]
) -> None:
    admin = make_account(store_path, Role.ADMIN)
    page = client.get("/", headers=admin.headers).text
    # the county page: one column of each township's leaders
    assert "联乡县级领导" in page
    linked = 0
    for township in layers["townships"]["code"]:
        want = leaders_of(layers, township)
        linked += bool(want)
        text = "、".join(f"{n}（{p}）" for n, p in want) or "（无）"
        row = re.search(rf"<tr><td[^>]*><a href=\"/\?township={township}\">.*?</tr>", page)
        assert row and html.escape(text, quote=False) in row.group(0), township
    assert linked == len(layers["townships"])  # every township has its leader in the sample
    # a township's page and its villages' pages name them too
    township = str(sorted(layers["townships"]["code"])[0])
    want = "；".join(f"{n}（{p}）" for n, p in leaders_of(layers, township))
    assert org_block(client.get(f"/?township={township}", headers=admin.headers).text) == {
        "联乡县级领导": want
    }
    village = next(v for v in sorted(layers["villages"]["code"]) if v.startswith(township))
    assert (
        org_block(client.get(f"/?village={village}", headers=admin.headers).text)["联乡县级领导"]
        == want
    )


def _village_org(layers: dict[str, pd.DataFrame], village: str, *, masked: bool) -> dict[str, str]:
    pairs = layers["pairings"][layers["pairings"]["village_code"] == village].sort_values(
        "unit_name"
    )
    pairings = [
        f"{r['unit_name']}（{kinds.UNIT_KINDS[r['unit_kind']].zh}，{kinds.PAIRING_KINDS[r['kind']].zh}）"
        for r in pairs.to_dict("records")
    ]
    fs = layers["first_secretaries"]
    mine = fs[fs["village_code"] == village].to_dict("records")
    mine.sort(key=lambda r: (pd.isna(r["start_on"]), str(r["start_on"]), r["name"]))
    secretaries = []
    for r in mine:
        name = mask_name(r["name"]) if masked else r["name"]
        since = "" if pd.isna(r["start_on"]) else f"，{pd.Timestamp(r['start_on']).date()} 起"
        secretaries.append(f"{name}（{r['unit']}{since}）")
    township = codes.township_of(village)
    leaders = [(mask_name(n) if masked else n, p) for n, p in leaders_of(layers, township)]
    return {
        "联乡县级领导": "；".join(f"{n}（{p}）" for n, p in leaders) or "（无）",
        "结对单位": "；".join(pairings) or "（无）",
        "驻村第一书记": "；".join(secretaries) or "（无）",
    }


@pytest.mark.parametrize(
    ("role", "area_of", "masked"),
    [
        (Role.LEADER, "county", False),
        (Role.VILLAGE, "village", False),  # the village's own secretary sees them in full
        (Role.VIEWER, "county", True),  # no staff contacts: names masked
        (Role.VIEWER, "village", True),
    ],
)
def test_a_village_page_names_its_pairings_and_first_secretaries(
    client: TestClient,
    store_path: str,
    layers: dict[str, pd.DataFrame],
    role: Role,
    area_of: str,
    masked: bool,
) -> None:
    village = a_village_with_both(layers)
    caller = make_account(store_path, role, "430623" if area_of == "county" else village)
    response = client.get(f"/?village={village}", headers=caller.headers)
    assert response.status_code == 200
    want = _village_org(layers, village, masked=masked)
    assert org_block(response.text) == want
    full = set(layers["first_secretaries"]["name"]) | set(layers["county_leaders"]["name"])
    shown = [n for n in full if n in response.text]
    assert (shown == []) if masked else shown, shown


def test_a_village_caller_sees_its_townships_leaders_and_no_others(
    store_path: str, layers: dict[str, pd.DataFrame]
) -> None:
    village = a_village_with_both(layers)
    store = open_store(store_path)
    try:
        scope = Scope(role=ROLES[Role.VILLAGE], areas=(village,), residents=True, staff=True)
        index = GridIndex.from_grids(store.read("grids", where={"level": 3}))
        found = organisation.township_leaders(
            ScopedReader(store, scope, index=index), list(layers["townships"]["code"])
        )
    finally:
        store.close()
    township = codes.township_of(village)
    assert [(x.name, x.post) for x in found[township]] == leaders_of(layers, township)
    for other, people in found.items():
        if other != township:
            assert people == [], other


# --- sorting in Chromium --------------------------------------------------------------------


ROWS = (
    "() => Array.from(document.querySelectorAll('#areas tbody tr'))"
    ".map(r => r.cells[0].textContent.trim())"
)
NAMES = (
    "(c) => Array.from(document.querySelectorAll('#areas tbody tr'))"
    ".map(r => r.cells[c].textContent.trim())"
)
COLLATED = "(xs) => xs.slice().sort(new Intl.Collator('zh-CN').compare)"
HEADERS = "() => Array.from(document.querySelectorAll('#areas thead th')).map(h => h.textContent)"


def _column_keys(page: Any, column: int) -> list[str]:
    return page.evaluate(
        """(c) => Array.from(document.querySelectorAll('#areas tbody tr')).map(
             r => r.cells[c].getAttribute('data-sort'))""",
        column,
    )


def test_the_area_table_sorts_by_a_click_on_a_header(store_path: str) -> None:
    with gisgrid_server(store_path) as base, chromium() as browser:
        admin = make_account(store_path, Role.ADMIN)
        cookies = session_cookies(store_path, admin, base)
        for url in ("/", "/?township=430623119"):
            page, log = new_page(browser, cookies=cookies, viewport={"width": 1440, "height": 900})
            page.add_init_script(CSP_WATCH)
            page.goto(base + url)
            wait_until(page, "() => window.gisgrid && window.gisgrid.dashboard.ready")
            server_order = page.evaluate(ROWS)
            assert server_order == sorted(server_order)  # by code
            headers = page.evaluate(HEADERS)
            for label in ("户数", "超出服务半径户数", "联户覆盖率", "近12个月趋势"):
                column = next(i for i, h in enumerate(headers) if h.startswith(label))
                keys = dict(zip(server_order, _column_keys(page, column), strict=True))

                def value(code: str, keys: dict[str, str] = keys) -> float:
                    return float(keys[code])

                button = page.locator("#areas thead th").nth(column).locator("button")
                button.click()
                down = page.evaluate(ROWS)
                assert [value(c) for c in down] == sorted(
                    (value(c) for c in server_order), reverse=True
                ), label
                assert (
                    page.locator("#areas thead th").nth(column).get_attribute("aria-sort")
                    == "descending"
                )
                button.click()
                up = page.evaluate(ROWS)
                assert [value(c) for c in up] == sorted(value(c) for c in server_order), label
                # equal keys keep the server's order
                assert up == sorted(server_order, key=value), label
                button.click()
                assert page.evaluate(ROWS) == server_order, label
            # names sort as Chinese is ordered (the browser's zh-CN collation)
            column = headers.index("名称")
            page.locator("#areas thead th").nth(column).locator("button").click()
            page.locator("#areas thead th").nth(column).locator("button").click()
            names = page.evaluate(NAMES, column)
            assert names == page.evaluate(COLLATED, names) and len(set(names)) > 1
            # the header's own text is intact: the script wrote text only
            assert (
                page.locator("#areas thead th")
                .nth(0)
                .locator("button")
                .inner_text()
                .startswith("代码")
            )
            assert page.evaluate("() => window.cspViolations || []") == []
            assert log.blocked == [] and log.errors == [], (log.blocked, log.errors)
            page.context.close()
