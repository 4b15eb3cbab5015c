"""The grid editor driven in Chromium with the mouse, on a real server and the real API.

A planner signs in on the sign-in page, reshapes a grid by dragging a vertex (which snaps
to the neighbour's vertex), splits a grid by drawing a line, merges two siblings, sees a
refused edit's problem drawn red on the map, and submits; the township officer signs in and
approves; the public map then shows the new net. On the GeoPackage store and on PostGIS.
Nothing waits for a time: every wait is for a state the page reports
(``tests/browser.wait_until``), and every step asserts what the store or the page then holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pytest
import shapely
from accounts import make_account, session_cookies
from browser import chromium, map_ready, new_page, wait_until
from servers import gisgrid_server
from shapely.geometry import LineString, Point, Polygon

from gisgrid import codes
from gisgrid.analysis.assign import in_force
from gisgrid.stores import open_store
from gisgrid.stores.geopackage import GeoPackageStore

pytestmark = pytest.mark.slow

#: the village edited: its level-3 grids are many, small and share edges
VILLAGE = "430623101001"
VIEWPORT = {"width": 1400, "height": 900}


# --- what to draw: chosen from the village's grids, not by hand -------------------------------


@dataclass(frozen=True)
class Plan:
    """The grids each step works on, and the points the mouse goes to (lon, lat)."""

    reshape: str  # the grid whose vertex is dragged
    vertex: tuple[float, float]  # its vertex, shared with the neighbour
    snap_to: tuple[float, float]  # the neighbour's vertex it is dropped near (and snaps to)
    split: str
    line: tuple[tuple[float, float], tuple[float, float]]
    merge: tuple[str, str]
    refused: str  # a grid whose vertex on its parent's edge is pulled inwards: a gap
    refused_vertex: tuple[float, float]
    refused_to: tuple[float, float]  # 30 m inwards, away from every other grid's edge


def _plan(grids: gpd.GeoDataFrame) -> Plan:
    net = in_force(grids)
    net = net[net["code"].str.startswith(VILLAGE)]
    level3 = net[net["level"] == 3].set_index("code")
    parents = net[net["level"] == 2].set_index("code")
    used: set[str] = set()
    reshape = _reshape_case(level3, parents)
    used |= {reshape[0], reshape[3]}
    split = _split_case(level3.drop(index=list(used)))
    used.add(split[0])
    merge = _merge_case(level3.drop(index=list(used)))
    used |= set(merge)
    refused = _gap_case(net, level3.drop(index=list(used)), parents)
    return Plan(
        reshape=reshape[0],
        vertex=reshape[1],
        snap_to=reshape[2],
        split=split[0],
        line=split[1],
        merge=merge,
        refused=refused[0],
        refused_vertex=refused[1],
        refused_to=refused[2],
    )


def _reshape_case(
    level3: gpd.GeoDataFrame, parents: gpd.GeoDataFrame
) -> tuple[str, tuple[float, float], tuple[float, float], str]:
    """A grid A, a vertex V it shares with sibling B, and a vertex W of B alone, 40–120 m
    from V, such that moving V to W keeps A valid and inside its parent."""
    for code_a, a in level3.sort_index().iterrows():
        if _single(a["geometry"]) is None:
            continue
        ring = list(_single(a["geometry"]).exterior.coords)[:-1]
        parent = parents.loc[a["parent_code"], "geometry"]
        for code_b, b in level3.iterrows():
            if code_b == code_a or b["parent_code"] != a["parent_code"]:
                continue
            if not a["geometry"].touches(b["geometry"]) or _single(b["geometry"]) is None:
                continue
            b_ring = list(_single(b["geometry"]).exterior.coords)[:-1]
            shared = [v for v in ring if v in set(b_ring)]
            own = [w for w in b_ring if w not in set(ring)]
            for v in shared:
                if parent.boundary.distance(Point(v)) < 1e-7:
                    continue  # V on the parent's boundary: moving it would leave the parent
                for w in own:
                    metres = Point(v).distance(Point(w)) * 111_000
                    if not 40 < metres < 120 or parent.boundary.distance(Point(w)) < 1e-6:
                        continue
                    moved = Polygon([w if p == v else p for p in ring])
                    if (
                        moved.is_valid
                        and parent.boundary.distance(Point(v)) > 1e-6
                        and (parent.buffer(1e-9).covers(moved))
                    ):
                        return str(code_a), v, w, str(code_b)
    raise AssertionError("no grid of the village can be reshaped by one vertex")


def _gap_case(
    net: gpd.GeoDataFrame, level3: gpd.GeoDataFrame, parents: gpd.GeoDataFrame
) -> tuple[str, tuple[float, float], tuple[float, float]]:
    """A grid, a vertex of it on its parent's edge whose neighbours on the ring are on that
    edge too and on no sibling, and a point 30 m inwards at least 15 m from every other
    grid's edge: moving the vertex there gives up a piece no sibling borders (a gap)."""
    metre = 1 / 111_000
    for code, row in level3.sort_index().iterrows():
        poly = _single(row["geometry"])
        if poly is None:
            continue
        edge = parents.loc[row["parent_code"], "geometry"].boundary
        others = net[net["code"] != code].geometry.boundary.union_all()
        siblings = level3[(level3["parent_code"] == row["parent_code"]) & (level3.index != code)]
        shared = siblings.geometry.boundary.union_all() if len(siblings) else None
        ring = list(poly.exterior.coords)[:-1]
        inner = poly.buffer(-20 * metre).representative_point()
        for i, v in enumerate(ring):
            trio = [Point(ring[i - 1]), Point(v), Point(ring[(i + 1) % len(ring)])]
            if any(edge.distance(p) > 1e-7 for p in trio):
                continue
            if shared is not None and any(shared.distance(p) < 1e-7 for p in trio):
                continue
            dx, dy = inner.x - v[0], inner.y - v[1]
            norm = (dx * dx + dy * dy) ** 0.5
            to = (v[0] + dx / norm * 30 * metre, v[1] + dy / norm * 30 * metre)
            moved = Polygon([to if j == i else p for j, p in enumerate(ring)])
            if moved.is_valid and others.distance(Point(to)) > 15 * metre:
                return str(code), v, to
    raise AssertionError("no grid of the village has a vertex to pull off its parent's edge")


def _single(geometry: Any) -> Polygon | None:
    """The polygon of a grid drawn as one part (a one-part MultiPolygon included)."""
    parts = shapely.get_parts(geometry)
    return parts[0] if len(parts) == 1 and not parts[0].interiors else None


def _outline(geometry: dict[str, Any]) -> list[tuple[float, float]]:
    """The outer ring of a GeoJSON Polygon (or one-part MultiPolygon) as sent."""
    rings = geometry["coordinates"] if geometry["type"] == "Polygon" else geometry["coordinates"][0]
    return [(float(x), float(y)) for x, y in rings[0]]


def _split_case(
    level3: gpd.GeoDataFrame,
) -> tuple[str, tuple[tuple[float, float], tuple[float, float]]]:
    """A grid and a straight line across it that cuts it in exactly two."""
    for code, row in level3.sort_index().iterrows():
        poly = row["geometry"]
        x0, y0, x1, y1 = poly.bounds
        for share in (0.5, 0.4, 0.6, 0.3, 0.7):
            y = y0 + (y1 - y0) * share
            line = LineString([(x0 - 1e-4, y), (x1 + 1e-4, y)])
            inside = poly.intersection(line)
            if inside.geom_type == "LineString" and inside.length > 0:
                (ax, ay), (bx, by) = inside.coords[0], inside.coords[-1]
                pad = 25 / 111_000  # start and end 25 m outside the grid
                start, end = (min(ax, bx) - pad, ay), (max(ax, bx) + pad, by)
                pieces = shapely.get_parts(shapely.ops.split(poly, LineString([start, end])))
                if len(pieces) == 2:
                    return str(code), (start, end)
    raise AssertionError("no grid of the village can be split by a straight line")


def _merge_case(level3: gpd.GeoDataFrame) -> tuple[str, str]:
    """Two sibling grids sharing an edge."""
    for code_a, a in level3.sort_index().iterrows():
        for code_b, b in level3.sort_index().iterrows():
            if (
                code_a < code_b
                and a["parent_code"] == b["parent_code"]
                and a["geometry"].intersection(b["geometry"]).length > 0
            ):
                return str(code_a), str(code_b)
    raise AssertionError("no two sibling grids of the village share an edge")


# --- the browser --------------------------------------------------------------------------


def _xy(page: Any, lon: float, lat: float) -> tuple[float, float]:
    """Where the map draws (lon, lat), in page pixels."""
    x, y = page.evaluate(
        """([lat, lng]) => {
            const m = window.gisgrid.map;
            const p = m.latLngToContainerPoint([lat, lng]);
            const r = m.getContainer().getBoundingClientRect();
            return [p.x + r.left, p.y + r.top];
        }""",
        [lat, lon],
    )
    return float(x), float(y)


def _idle(page: Any) -> None:
    wait_until(page, "() => window.gisgrid && window.gisgrid.ready && !window.gisgrid.editor.busy")


def _show(page: Any, *codes: str) -> None:
    """Bring these grids into view (the map, not the mouse: the view is the test's set-up)."""
    page.evaluate(
        """(codes) => {
            const e = window.gisgrid.editor;
            const b = L.geoJSON(codes.map((c) => e.view.get(c))).getBounds();
            window.gisgrid.map.fitBounds(b, {padding: [60, 60], animate: false});
        }""",
        list(codes),
    )


def _zoom_to(page: Any, lon: float, lat: float, zoom: int) -> None:
    page.evaluate(
        "([lat, lng, z]) => window.gisgrid.map.setView([lat, lng], z, {animate: false})",
        [lat, lon, zoom],
    )


def _select(page: Any, code: str) -> None:
    """Click inside the grid ``code`` and wait until it is the chosen one."""
    _show(page, code)
    page.mouse.click(*_xy(page, *_inner_point(page, code)))
    wait_until(page, "(code) => window.gisgrid.editor.selected === code", code)
    _idle(page)


def _lonlat(page: Any, x: float, y: float) -> tuple[float, float]:
    """The (lon, lat) the map shows at page pixel (x, y)."""
    lon, lat = page.evaluate(
        """([x, y]) => {
            const m = window.gisgrid.map;
            const r = m.getContainer().getBoundingClientRect();
            const ll = m.containerPointToLatLng([x - r.left, y - r.top]);
            return [ll.lng, ll.lat];
        }""",
        [x, y],
    )
    return float(lon), float(lat)


def _has_vertex(
    outline: list[tuple[float, float]], point: tuple[float, float], tolerance: float
) -> bool:
    px, py = point
    return any(abs(x - px) <= tolerance and abs(y - py) <= tolerance for x, y in outline)


def _inner_point(page: Any, code: str) -> tuple[float, float]:
    feature = page.evaluate("(code) => window.gisgrid.editor.view.get(code)", code)
    point = shapely.geometry.shape(feature["geometry"]).buffer(-1e-4).representative_point()
    return point.x, point.y


def _edits(page: Any) -> int:
    script = "() => (window.gisgrid.editor.changeSet || {edit_list: []}).edit_list.length"
    return int(page.evaluate(script))


def _last(page: Any) -> dict[str, Any]:
    """The page's last write (POST) and its answer."""
    return dict(page.evaluate("() => window.gisgrid.editor.writes.at(-1)"))


#: every Content-Security-Policy violation of a page, kept where a test can read it (an init
#: script is the browser's own: the page's policy does not apply to it)
CSP_WATCH = (
    "document.addEventListener('securitypolicyviolation', (e) => "
    "(window.cspViolations = window.cspViolations || [])"
    ".push(e.violatedDirective + ' ' + e.blockedURI));"
)


def _page(browser: Any, base: str, store: str, account: Any) -> tuple[Any, Any]:
    page, log = new_page(browser, cookies=session_cookies(store, account, base), viewport=VIEWPORT)
    page.add_init_script(CSP_WATCH)
    return page, log


def _violations(page: Any) -> list[str]:
    return list(page.evaluate("() => window.cspViolations || []"))


def _open(browser: Any, base: str, store: str, account: Any) -> tuple[Any, Any]:
    page, log = _page(browser, base, store, account)
    page.goto(f"{base}/editor?village={VILLAGE}")
    map_ready(page)
    _idle(page)
    return page, log


def _sign_in_and_open(browser: Any, base: str, account: Any) -> tuple[Any, Any]:
    """Sign in on the sign-in page as a person does (the editor sends one there first), and
    land on the editor."""
    page, log = new_page(browser, viewport=VIEWPORT)
    page.add_init_script(CSP_WATCH)
    page.goto(f"{base}/editor?village={VILLAGE}")
    assert "/login" in page.url
    page.fill("#username", account.username)
    page.fill("#password", account.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/editor?village={VILLAGE}")
    map_ready(page)
    _idle(page)
    return page, log


# --- the flow -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpkg_store(sample_gpkg_copy: str) -> str:
    return sample_gpkg_copy


@pytest.fixture
def postgis_store(sample_pg_url: str) -> str:
    return sample_pg_url


def _drive_the_editor(store: str) -> None:
    st = open_store(store)
    try:
        grids = st.read("grids")
    finally:
        st.close()
    plan = _plan(grids)
    township = codes.township_of(VILLAGE)
    planner = make_account(store, "planner", str(township))
    officer = make_account(store, "township", str(township))

    with gisgrid_server(store) as base, chromium() as browser:
        page, log = _sign_in_and_open(browser, base, planner)

        # 1. reshape: drag a shared vertex to a few pixels off the neighbour's own vertex
        _select(page, plan.reshape)
        _zoom_to(page, *plan.vertex, 18)  # about 0.6 m a pixel: the drop is metres off W
        page.click("button[data-tool=reshape]")
        vx, vy = _xy(page, *plan.vertex)
        wx, wy = _xy(page, *plan.snap_to)
        page.mouse.move(vx, vy)
        page.mouse.down()
        page.mouse.move((vx + wx) / 2, (vy + wy) / 2, steps=5)
        page.mouse.move(wx + 4, wy - 3, steps=5)
        page.mouse.up()
        page.click("#tool-finish")
        _idle(page)
        sent = _last(page)
        assert sent["status"] == 201, sent
        assert sent["body"]["op"] == "reshape"
        outline = _outline(sent["body"]["geometry"])
        # snapped: on the neighbour's vertex as served (7 decimals, ~1 cm), where the mouse let
        # go is metres away; the dragged vertex is gone
        assert _has_vertex(outline, plan.snap_to, 1.5e-7), (outline, plan.snap_to)
        assert not _has_vertex(outline, _lonlat(page, wx + 4, wy - 3), 1.5e-7)
        assert not _has_vertex(outline, plan.vertex, 1.5e-7)
        assert _edits(page) == 1

        # 2. split: a line drawn across the grid, one click per end, the last one again
        _select(page, plan.split)
        page.click("button[data-tool=split]")
        (ax, ay), (bx, by) = _xy(page, *plan.line[0]), _xy(page, *plan.line[1])
        page.mouse.click(ax, ay)
        page.mouse.click(bx, by)
        page.mouse.click(bx, by)
        _idle(page)
        assert _last(page)["status"] == 201, _last(page)
        assert _edits(page) == 2
        assert not page.evaluate("(c) => window.gisgrid.editor.view.has(c)", plan.split)

        # 3. merge two siblings: choose one, the tool, click the other, finish
        _select(page, plan.merge[0])
        _show(page, *plan.merge)
        page.click("button[data-tool=merge]")
        page.mouse.click(*_xy(page, *_inner_point(page, plan.merge[1])))
        wait_until(page, "(c) => window.gisgrid.editor.picks.includes(c)", plan.merge[1])
        page.click("#tool-finish")
        _idle(page)
        assert _last(page)["status"] == 201, _last(page)
        assert _edits(page) == 3
        for code in plan.merge:
            assert not page.evaluate("(c) => window.gisgrid.editor.view.has(c)", code)

        # 4. refused: a vertex on the parent's edge pulled inwards leaves a gap no sibling
        # takes: 422, the problem drawn red where it is, nothing stored
        _select(page, plan.refused)
        _zoom_to(page, *plan.refused_vertex, 18)
        page.click("button[data-tool=reshape]")
        page.mouse.move(*_xy(page, *plan.refused_vertex))
        page.mouse.down()
        page.mouse.move(*_xy(page, *plan.refused_to), steps=8)
        page.mouse.up()
        page.click("#tool-finish")
        _idle(page)
        refused = _last(page)
        assert refused["status"] == 422, refused
        found = refused["data"]["error"]["problems"]
        assert "gap" in [p["kind"] for p in found], refused["data"]
        problems = page.locator("#problems li").all_text_contents()
        assert any("缝隙" in t for t in problems), problems
        red = page.locator(".leaflet-problems-pane path")
        assert red.count() >= 1  # drawn on the map
        gap = next(p for p in found if p["kind"] == "gap")
        gap_shape = shapely.geometry.shape(gap["geometry"])
        assert gap_shape.distance(Point(plan.refused_vertex)) < 1e-5  # where the edit was
        assert _edits(page) == 3  # nothing stored
        page.click("#tool-cancel")

        # 5. submit, after seeing the diff
        page.click("#submit")
        _idle(page)
        wait_until(page, "() => window.gisgrid.editor.changeSet.status === 'submitted'")
        assert page.locator("#diff table").count() >= 1
        change_set = page.evaluate("() => window.gisgrid.editor.changeSet.id")
        new_codes = [
            str(f["properties"]["code"])
            for f in page.evaluate("() => window.gisgrid.editor.changeSet.features.features")
            if f["properties"].get("change") == "added"
        ]
        assert len(new_codes) == 3  # two pieces of the split, one merged grid
        # the only console error: the browser's note of the refused edit's 422
        assert all("422" in e for e in log.errors), log.errors
        assert log.blocked == [] and _violations(page) == []

        # 6. the township officer approves
        review, review_log = _sign_in_and_open(browser, base, officer)
        review.click(f"#reviews button[data-change-set='{change_set}']")
        _idle(review)
        wait_until(review, "() => !document.getElementById('review-actions').hidden")
        review.click("#approve")
        _idle(review)
        assert _last(review)["status"] == 200, _last(review)
        assert review_log.errors == [] and review_log.blocked == []
        assert _violations(review) == []
        assert page.evaluate("() => window.gisgrid.editor.changeSet.status") == "submitted"

        # 7. the public map shows the new net (the server reloaded by itself)
        viewer = make_account(store, "viewer", str(township))
        public, public_log = new_page(
            browser, cookies=session_cookies(store, viewer, base), viewport=VIEWPORT
        )
        public.goto(f"{base}/maps/coverage?village={VILLAGE}")
        map_ready(public)
        html = public.content()
        for code in new_codes:
            assert code in html
        for code in (plan.split, *plan.merge):
            assert f'"{code}"' not in html
        assert public_log.blocked == []


def test_the_editor_on_a_geopackage(gpkg_store: str) -> None:
    _drive_the_editor(gpkg_store)


def test_the_editor_on_postgis(postgis_store: str) -> None:
    _drive_the_editor(postgis_store)


def test_no_csp_violation_and_nothing_from_outside(gpkg_store: str) -> None:
    planner = make_account(gpkg_store, "planner", codes.township_of(VILLAGE))
    with gisgrid_server(gpkg_store) as base, chromium() as browser:
        page, log = new_page(
            browser, cookies=session_cookies(gpkg_store, planner, base), viewport=VIEWPORT
        )
        page.goto(f"{base}/editor?village={VILLAGE}")
        map_ready(page)
        _idle(page)
        assert page.evaluate("() => window.gisgrid.editor.base.size") > 10
        assert page.locator("path.leaflet-interactive").count() > 10
        assert page.evaluate("() => !!(window.L && L.PM)")  # the npm library ran
        assert log.errors == []  # a CSP refusal is a console error
        assert log.blocked == []
        assert _violations(page) == []
        # what it loaded: its own page, assets and API, from this server
        assert all(u.startswith(base) for u in log.requests), log.requests


def test_add_attributes_undo_history_and_return(gpkg_store: str) -> None:
    """The other tools on the same page: a new grid drawn inside its parent, a responsible
    person changed and undone, a grid's history; the reviewer sends the draft back with a
    comment, which the planner then sees with the tools open again, and withdraws."""
    st = GeoPackageStore(gpkg_store)
    grids = st.read("grids")
    net = in_force(grids)
    net = net[net["code"].str.startswith(VILLAGE)]
    level3 = net[net["level"] == 3].set_index("code").sort_index()
    inside, host = None, None
    for code, row in level3.iterrows():
        core = row["geometry"].buffer(-60 / 111_000)
        if not core.is_empty:
            inside, host = core.representative_point(), str(code)
            break
    assert inside is not None and host is not None
    parent = str(level3.loc[host, "parent_code"])
    d = 20 / 111_000
    corners = [(inside.x - d, inside.y - d), (inside.x + d, inside.y - d), (inside.x, inside.y + d)]
    township = codes.township_of(VILLAGE)
    planner = make_account(gpkg_store, "planner", township)
    officer = make_account(gpkg_store, "township", township)

    with gisgrid_server(gpkg_store) as base, chromium() as browser:
        page, log = _open(browser, base, gpkg_store, planner)
        before = set(page.evaluate("() => Array.from(window.gisgrid.editor.view.keys())"))

        # a grid's history: its versions as stored (imported: no change set)
        _select(page, host)
        wait_until(page, "() => !document.getElementById('history-panel').hidden")
        assert page.locator("#history table tr").count() >= 2  # a header and a version

        # 新增网格: parent and name, then three corners and the first again
        _zoom_to(page, inside.x, inside.y, 18)
        page.click("button[data-tool=add]")
        page.select_option("#add-parent", parent)
        page.fill("#add-name", "新建测试网格")
        points = [_xy(page, *c) for c in corners]
        for x, y in [*points, points[0]]:
            page.mouse.click(x, y)
        _idle(page)
        assert _last(page)["status"] == 201, _last(page)
        added = set(page.evaluate("() => Array.from(window.gisgrid.editor.view.keys())")) - before
        assert len(added) == 1
        new_code = added.pop()
        assert new_code.startswith(parent) and len(new_code) == 18
        feature = page.evaluate("(c) => window.gisgrid.editor.view.get(c)", new_code)
        assert feature["properties"]["name"] == "新建测试网格"

        # 编辑属性, then 撤销 takes it back
        _select(page, host)
        old_person = page.evaluate(
            "(c) => window.gisgrid.editor.view.get(c).properties.responsible_name", host
        )
        page.click("button[data-tool=attributes]")
        page.fill("#attributes-form input[name=responsible_name]", "王测试")
        page.click("#attributes-form button[type=submit]")
        _idle(page)
        assert _last(page)["status"] == 201, _last(page)
        person = "(c) => window.gisgrid.editor.view.get(c).properties.responsible_name"
        assert page.evaluate(person, host) == "王测试"
        page.click("#undo")
        _idle(page)
        assert _last(page)["body"]["op"] == "undo" and _last(page)["status"] == 201
        assert page.evaluate(person, host) == old_person
        assert page.locator("#edits li.undone").count() == 1  # the attributes edit, struck out
        assert page.evaluate("(c) => window.gisgrid.editor.view.has(c)", new_code)

        page.click("#submit")
        _idle(page)
        wait_until(page, "() => window.gisgrid.editor.changeSet.status === 'submitted'")
        change_set = page.evaluate("() => window.gisgrid.editor.changeSet.id")

        # the township officer sends it back with a comment
        review, review_log = _open(browser, base, gpkg_store, officer)
        review.click(f"#reviews button[data-change-set='{change_set}']")
        _idle(review)
        review.fill("#review-comment", "请补充新网格的负责人")
        review.click("#return")
        _idle(review)
        assert _last(review)["status"] == 200, _last(review)

        # the planner sees it returned, with the comment, and may edit again
        page.reload()
        map_ready(page)
        _idle(page)
        state = page.text_content("#draft-state") or ""
        assert "已退回" in state and "请补充新网格的负责人" in state
        assert page.is_enabled("#submit")

        # the planner gives the draft up: the net is as it was, the village free again
        page.click("#withdraw")
        _idle(page)
        assert _last(page)["status"] == 200, _last(page)
        assert page.evaluate("() => window.gisgrid.editor.changeSet") is None
        assert not page.evaluate("(c) => window.gisgrid.editor.view.has(c)", new_code)
        assert "尚无草稿" in (page.text_content("#draft-state") or "")
        assert log.errors == [] and review_log.errors == []
        assert _violations(page) == [] and _violations(review) == []
