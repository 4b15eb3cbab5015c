"""Who may call what, and what they see: every route × every role (and anonymous), and
attempts to read across grids by id, search, bbox, layer paging, map page and check report.

The expected answers are written out by hand in :data:`MATRIX` (not derived from the
policy they test). What a role sees is checked against the truth computed here
independently: each household's grid found by a plain geopandas spatial join (covered_by),
not by gisgrid's own index.
"""

from __future__ import annotations

import math
import re
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import pandas as pd
import pytest
from accounts import TestAccount, make_account
from fastapi.testclient import TestClient
from servers import gisgrid_server

from gisgrid import codes
from gisgrid.api import create_app, policy
from gisgrid.cartography import asset_files
from gisgrid.services.incidents import NewIncident, report_incident
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.ledger import AuditQuery

pytestmark = pytest.mark.slow

ROLES = ("anonymous", "admin", "leader", "township", "village", "grid", "planner", "viewer")
COUNTY = "430623"


@dataclass(frozen=True)
class Net:
    """The places of the sample county the matrix uses, and the truth about households."""

    township: str
    village: str
    grid: str  # a level-3 grid of the village, with households
    other_grid: str  # another level-3 grid of the same village, with households
    other_township_village: str
    household: str  # in grid
    household_name: str
    other_household: str  # in other_grid
    other_household_name: str
    far_household: str  # in another township
    point: tuple[float, float]  # inside grid
    incident: str  # an incident reported inside grid (a case everyone of the area may open)
    other_point: tuple[float, float]  # inside other_grid
    #: household id → the level-3 grid covering it (None: in no grid), and its village
    truth: pd.DataFrame


@pytest.fixture(scope="module")
def store_path(sample_gpkg: GeoPackageStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sample county of this module's own (accounts and incidents are added)."""
    path = tmp_path_factory.mktemp("access") / "county.gpkg"
    shutil.copy(sample_gpkg.path, path)
    return path


@pytest.fixture(scope="module")
def net(store_path: Path) -> Net:
    store = GeoPackageStore(store_path)
    households = store.read("households")
    grids = store.read("grids", where={"level": 3})
    joined = gpd.sjoin(
        households[["id", "village_code", "head_name", "geometry"]],
        grids[["code", "geometry"]],
        how="left",
        predicate="covered_by",
    )
    # a point on a shared edge is covered by both grids: either answer is one grid's
    truth = joined.drop_duplicates("id").set_index("id")[["code", "village_code", "head_name"]]
    truth = truth.rename(columns={"code": "grid"})
    counts = truth.groupby("grid").size()
    by_village: dict[str, list[str]] = {}
    for grid_code in counts[counts >= 3].index:
        by_village.setdefault(codes.village_of(str(grid_code)), []).append(str(grid_code))
    village = next(v for v, gs in sorted(by_village.items()) if len(gs) >= 2)
    grid, other_grid = sorted(by_village[village])[:2]
    township = codes.township_of(village)
    far = truth[~truth["village_code"].str.startswith(township) & truth["grid"].notna()]
    # a name that no household of the grid shares, so that searching for it cannot find one
    mine = set(truth.loc[truth["grid"] == grid, "head_name"])
    others = truth[(truth["grid"] == other_grid) & ~truth["head_name"].isin(mine)]
    here = truth[truth["grid"] == grid]
    shape = grids.set_index("code").geometry
    p = shape[grid].representative_point()
    q = shape[other_grid].representative_point()
    other_village = next(
        str(v) for v in sorted(store.read("villages")["code"]) if not v.startswith(township)
    )
    reported = report_incident(
        store,
        NewIncident(lon=p.x, lat=p.y, kind="dispute", description="矩阵测试案件"),
        reporter="matrix",
    )
    return Net(
        township=township,
        village=village,
        grid=grid,
        other_grid=other_grid,
        other_township_village=other_village,
        household=str(here.index[0]),
        household_name=str(here["head_name"].iloc[0]),
        other_household=str(others.index[0]),
        other_household_name=str(others["head_name"].iloc[0]),
        far_household=str(far.index[0]),
        point=(p.x, p.y),
        incident=str(reported["id"].iat[0]),
        other_point=(q.x, q.y),
        truth=truth,
    )


@pytest.fixture(scope="module")
def accounts(store_path: Path, net: Net) -> dict[str, TestAccount]:
    store = str(store_path)
    areas = {
        "admin": COUNTY,
        "leader": COUNTY,
        "township": net.township,
        "village": net.village,
        "grid": net.grid,
        "planner": net.township,
        "viewer": net.township,
    }
    return {role: make_account(store, role, area) for role, area in areas.items()}


@pytest.fixture(scope="module")
def client(store_path: Path, accounts: dict[str, TestAccount]) -> Iterator[TestClient]:
    with TestClient(create_app(store=str(store_path)), base_url="https://testserver") as c:
        # ready (/api/health 200) once the caches are warm, as a load balancer would wait
        assert c.app.state.gisgrid.warmed.wait(timeout=300)
        yield c


def area_of(role: str, net: Net) -> tuple[str, ...]:
    return {
        "admin": (COUNTY,),
        "leader": (COUNTY,),
        "township": (net.township,),
        "village": (net.village,),
        "grid": (net.grid,),
        "planner": (net.township,),
        "viewer": (net.township,),
    }[role]


def household_in(net: Net, household_id: str, areas: tuple[str, ...]) -> bool:
    """The truth: a household lies in an area by its grid now, or by its village if in none."""
    row = net.truth.loc[household_id]
    place = row["grid"] if isinstance(row["grid"], str) else row["village_code"]
    return any(str(place).startswith(a) for a in areas)


# --- the matrix -------------------------------------------------------------------------------

#: what a role gets: a status, "ok" (any 2xx), "login" (303 to the sign-in page),
#: "in" (2xx, and every household in the answer lies in the caller's area)
Expect = int | str


@dataclass(frozen=True)
class Call:
    method: str
    #: formatted with the fields of :class:`Net` and ``asset``
    url: str
    json: dict[str, Any] | None = None
    #: the fields of an HTML form post
    form: dict[str, str] | None = None


def _everyone(expect: Expect) -> dict[str, Expect]:
    return dict.fromkeys(ROLES, expect)


def _all_signed_in(expect: Expect) -> dict[str, Expect]:
    return dict.fromkeys(ROLES[1:], expect)


def _signed_in(anonymous: Expect, **roles: Expect) -> dict[str, Expect]:
    return {"anonymous": anonymous} | roles


_RECORDS = {
    "admin": "in",
    "leader": 403,  # household records only with a reason (tested below)
    "township": "in",
    "village": "in",
    "grid": "in",
    "planner": 403,
    "viewer": 403,
}
_VILLAGE_FIGURES = {
    "admin": "ok",
    "leader": "ok",
    "township": "ok",
    "village": "ok",
    "grid": 403,  # the village is more than the grid worker's grid
    "planner": "ok",
    "viewer": "ok",
}
_INCIDENT = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": ["{point[0]}", "{point[1]}"]},
    "properties": {"kind": "dispute", "description": "邻里纠纷（测试）"},
}


def _admin(admin: Expect, anonymous: Expect = 401) -> dict[str, Expect]:
    """Accounts, everyone's tokens, the audit log: the admin only."""
    return {"anonymous": anonymous} | dict.fromkeys(ROLES[1:], 403) | {"admin": admin}


#: an account and a token that do not exist: the admin passes the policy and is told 404
_NOBODY = "/api/accounts/nobody-here"
_NO_TOKEN = "999999999"

#: a change set that does not exist: a caller the policy lets through is told 404
_NO_CS = "/api/changesets/999999"
#: drawing grids: the planner and the admin
_PLANNERS = _signed_in(401, **(dict.fromkeys(ROLES[1:], 403) | {"admin": 404, "planner": 404}))
#: reviewing change sets: the township officer and the admin
_REVIEWERS = _signed_in(401, **(dict.fromkeys(ROLES[1:], 403) | {"admin": 404, "township": 404}))

#: (method, route path) → the call made, and what each role gets
MATRIX: dict[tuple[str, str], tuple[Call, dict[str, Expect]]] = {
    ("GET", "/api/health"): (Call("GET", "/api/health"), _everyone(200)),
    ("GET", "/api/health/live"): (Call("GET", "/api/health/live"), _everyone(200)),
    ("GET", "/assets/{path:path}"): (Call("GET", "/assets/{asset}"), _everyone(200)),
    ("GET", "/favicon.ico"): (Call("GET", "/favicon.ico"), _everyone(204)),
    # signing in: the page for all (a token is no session); a form without the token of its
    # cookie is refused on the page; signing out needs a caller (a token's: nothing to end)
    ("GET", "/login"): (Call("GET", "/login"), _everyone(200)),
    ("POST", "/login"): (
        Call("POST", "/login", form={"username": "nobody-here", "password": "x" * 12}),
        _everyone(403),
    ),
    ("POST", "/logout"): (Call("POST", "/logout"), _signed_in(401, **_all_signed_in(303))),
    # residents' reports (群众上报): open to all, signed in or not (a session changes nothing);
    # a point outside the county is refused, a code that is no report's is not found
    ("GET", "/report"): (Call("GET", "/report"), _everyone(200)),
    ("GET", "/report/{code}"): (Call("GET", "/report/W1-abcdefghjkmnpq"), _everyone(404)),
    ("POST", "/api/public/reports"): (
        Call(
            "POST",
            "/api/public/reports",
            json={"kind": "dispute", "description": "矩阵测试", "lon": 113.9, "lat": 29.5},
        ),
        _everyone(422),
    ),
    ("GET", "/api/public/reports/{code}"): (
        Call("GET", "/api/public/reports/W1-abcdefghjkmnpq"),
        _everyone(404),
    ),
    ("GET", "/openapi.json"): (Call("GET", "/openapi.json"), _everyone(200)),
    ("GET", "/"): (Call("GET", "/?village={village}"), _signed_in("login", **_VILLAGE_FIGURES)),
    ("GET", "/maps/{kind}"): (
        Call("GET", "/maps/coverage?village={village}"),
        _signed_in("login", **_VILLAGE_FIGURES),
    ),
    ("GET", "/editor"): (
        Call("GET", "/editor?village={village}"),
        _signed_in("login", **_VILLAGE_FIGURES),
    ),
    ("GET", "/api/check"): (
        Call("GET", "/api/check?village={village}"),
        _signed_in(401, **_VILLAGE_FIGURES),
    ),
    # the figures in Excel and the wall map in PDF: of one's area (the village is more than
    # the grid worker's grid)
    ("GET", "/api/report.xlsx"): (
        Call("GET", "/api/report.xlsx?village={village}"),
        _signed_in(401, **_VILLAGE_FIGURES),
    ),
    ("GET", "/api/wallmap.pdf"): (
        Call("GET", "/api/wallmap.pdf?village={village}&paper=A4"),
        _signed_in(401, **_VILLAGE_FIGURES),
    ),
    ("GET", "/api/layers"): (
        Call("GET", "/api/layers"),
        _signed_in(401, **dict.fromkeys(ROLES[1:], "ok")),
    ),
    ("GET", "/api/layers/{layer}"): (
        Call("GET", "/api/layers/households?limit=1000"),
        _signed_in(401, **_RECORDS),
    ),
    # a layer as a file: the households of one's area, as the GeoJSON export holds them
    ("GET", "/api/export/{layer}"): (
        Call("GET", "/api/export/households?format=geojson"),
        _signed_in(401, **_RECORDS),
    ),
    # OGC API – Features: the service for every signed-in role; the households collection,
    # its schema and its features as household records (a leader: with a reason)
    ("GET", "/ogc"): (Call("GET", "/ogc"), _signed_in(401, **_all_signed_in("ok"))),
    ("GET", "/ogc/conformance"): (
        Call("GET", "/ogc/conformance"),
        _signed_in(401, **_all_signed_in("ok")),
    ),
    ("GET", "/ogc/collections"): (
        Call("GET", "/ogc/collections"),
        _signed_in(401, **_all_signed_in("ok")),
    ),
    ("GET", "/ogc/collections/{layer}"): (
        Call("GET", "/ogc/collections/households"),
        _signed_in(
            401, **(_RECORDS | {"admin": 200, "township": 200, "village": 200, "grid": 200})
        ),
    ),
    ("GET", "/ogc/collections/{layer}/queryables"): (
        Call("GET", "/ogc/collections/households/queryables"),
        _signed_in(
            401, **(_RECORDS | {"admin": 200, "township": 200, "village": 200, "grid": 200})
        ),
    ),
    ("GET", "/ogc/collections/{layer}/items"): (
        Call("GET", "/ogc/collections/households/items?limit=1000"),
        _signed_in(401, **_RECORDS),
    ),
    ("GET", "/ogc/collections/{layer}/items/{feature_id}"): (
        Call("GET", "/ogc/collections/households/items/{household}"),
        _signed_in(
            401, **(_RECORDS | {"admin": 200, "township": 200, "village": 200, "grid": 200})
        ),
    ),
    # vector tiles: the households' tile at the grid's point (z14), as the households layer;
    # the grids' TileJSON and the map drawn from tiles: figures
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.mvt"): (
        Call("GET", "/tiles/households/{tile}.mvt"),
        _signed_in(401, **_RECORDS),
    ),
    ("GET", "/tiles/{layer}.json"): (
        Call("GET", "/tiles/grids.json"),
        _signed_in(401, **dict.fromkeys(ROLES[1:], 200)),
    ),
    ("GET", "/tiles"): (
        Call("GET", "/tiles"),
        _signed_in("login", **dict.fromkeys(ROLES[1:], 200)),
    ),
    ("GET", "/api/locate"): (
        Call("GET", "/api/locate?lon={point[0]}&lat={point[1]}"),
        _signed_in(401, **dict.fromkeys(ROLES[1:], 200)),
    ),
    ("GET", "/api/incidents"): (
        Call("GET", "/api/incidents?limit=5000"),
        _signed_in(401, **dict.fromkeys(ROLES[1:], "in")),
    ),
    ("GET", "/finder"): (
        Call("GET", "/finder"),
        _signed_in(
            "login", **(_RECORDS | {"admin": 200, "township": 200, "village": 200, "grid": 200})
        ),
    ),
    ("GET", "/api/households/search"): (
        Call("GET", "/api/households/search?q={household_name}"),
        _signed_in(401, **_RECORDS),
    ),
    ("GET", "/api/households/{household_id}"): (
        Call("GET", "/api/households/{household}"),
        _signed_in(
            401, **(_RECORDS | {"admin": 200, "township": 200, "village": 200, "grid": 200})
        ),
    ),
    ("POST", "/api/incidents"): (
        Call("POST", "/api/incidents", json=_INCIDENT),
        _signed_in(
            401,
            admin=201,
            leader=403,
            township=201,
            village=201,
            grid=201,
            planner=403,
            viewer=403,
        ),
    ),
    # a grid's history: every signed-in account whose area holds the grid
    ("GET", "/api/grids/{code}/history"): (
        Call("GET", "/api/grids/{grid}/history"),
        _signed_in(401, **dict.fromkeys(ROLES[1:], 200)),
    ),
    # change sets: read in one's area, drawn by planners, reviewed by township officers
    ("GET", "/api/changesets"): (
        Call("GET", "/api/changesets?village={village}"),
        _signed_in(401, **_VILLAGE_FIGURES),
    ),
    ("GET", "/api/changesets/{change_set_id}"): (
        Call("GET", _NO_CS),
        _signed_in(401, **dict.fromkeys(ROLES[1:], 404)),
    ),
    ("GET", "/api/changesets/{change_set_id}/diff"): (
        Call("GET", f"{_NO_CS}/diff"),
        _signed_in(401, **dict.fromkeys(ROLES[1:], 404)),
    ),
    ("POST", "/api/changesets"): (
        Call("POST", "/api/changesets", json={"village_code": "{village}", "title": "matrix"}),
        _signed_in(
            401,
            **(dict.fromkeys(ROLES[1:], 403) | {"admin": 201, "planner": 201}),
        ),
    ),
    ("POST", "/api/changesets/{change_set_id}/edits"): (
        Call("POST", f"{_NO_CS}/edits", json={"after": 0, "op": "undo"}),
        _PLANNERS,
    ),
    ("POST", "/api/changesets/{change_set_id}/submit"): (
        Call("POST", f"{_NO_CS}/submit"),
        _PLANNERS,
    ),
    ("POST", "/api/changesets/{change_set_id}/withdraw"): (
        Call("POST", f"{_NO_CS}/withdraw"),
        _PLANNERS,
    ),
    ("POST", "/api/changesets/{change_set_id}/approve"): (
        Call("POST", f"{_NO_CS}/approve"),
        _REVIEWERS,
    ),
    ("POST", "/api/changesets/{change_set_id}/return"): (
        Call("POST", f"{_NO_CS}/return", json={"comment": "matrix"}),
        _REVIEWERS,
    ),
    # cases: read where one sees figures, steps by the roles that report (the flow decides
    # the rest); an incident that is nowhere answers 404 to whoever may ask
    ("GET", "/api/incidents/{incident_id}/case"): (
        Call("GET", "/api/incidents/NO-SUCH-INCIDENT/case"),
        _signed_in(401, **_all_signed_in(404)),
    ),
    ("GET", "/api/households/{household_id}/visits"): (
        Call("GET", "/api/households/{household}/visits"),
        _signed_in(
            401, **(_RECORDS | {"admin": 200, "township": 200, "village": 200, "grid": 200})
        ),
    ),
    ("POST", "/api/households/{household_id}/visits"): (
        Call("POST", "/api/households/NO-SUCH-HOUSEHOLD/visits", json={"kind": "look_in"}),
        _signed_in(
            401,
            admin=404,
            leader=403,
            township=404,
            village=404,
            grid=404,
            planner=403,
            viewer=403,
        ),
    ),
    ("GET", "/api/volunteers/hours"): (
        Call("GET", "/api/volunteers/hours"),
        _signed_in(401, **_all_signed_in(200)),
    ),
    ("GET", "/api/notifications"): (
        Call("GET", "/api/notifications"),
        _signed_in(401, **_all_signed_in(200)),
    ),
    ("GET", "/api/cases/stats"): (
        Call("GET", "/api/cases/stats"),
        _signed_in(401, **_all_signed_in(200)),
    ),
    # the phone pages of cases: the work list for all; a case of one's area (one outside it
    # answers 404, as the API does: tested below)
    ("GET", "/cases"): (
        Call("GET", "/cases?view=area"),
        _signed_in("login", **_all_signed_in(200)),
    ),
    ("GET", "/cases/{incident_id}"): (
        Call("GET", "/cases/{incident}"),
        _signed_in("login", **_all_signed_in(200)),
    ),
    ("GET", "/api/cases"): (
        Call("GET", "/api/cases?open=false&limit=5000"),
        _signed_in(401, **dict.fromkeys(ROLES[1:], "in")),
    ),
    # who a case may go to: the roles that dispatch (a grid worker does not), in their area
    ("GET", "/api/incidents/{incident_id}/assignees"): (
        Call("GET", "/api/incidents/NO-SUCH-INCIDENT/assignees"),
        _signed_in(
            401,
            admin=404,
            leader=403,
            township=404,
            village=404,
            grid=403,
            planner=403,
            viewer=403,
        ),
    ),
    ("POST", "/api/incidents/{incident_id}/steps"): (
        Call("POST", "/api/incidents/NO-SUCH-INCIDENT/steps", json={"action": "accept"}),
        _signed_in(
            401,
            admin=404,
            leader=403,
            township=404,
            village=404,
            grid=404,
            planner=403,
            viewer=403,
        ),
    ),
    # a step's photos: uploaded by those who take steps (an incident that is nowhere: 404);
    # read with household records only (the leader gives no reason here), the case's incident
    # in one's area but no such photo of it: 404
    ("POST", "/api/incidents/{incident_id}/photos"): (
        Call("POST", "/api/incidents/NO-SUCH-INCIDENT/photos"),
        _signed_in(
            401,
            admin=404,
            leader=403,
            township=404,
            village=404,
            grid=404,
            planner=403,
            viewer=403,
        ),
    ),
    ("GET", "/api/incidents/{incident_id}/photos/{sha256}"): (
        Call("GET", "/api/incidents/{incident}/photos/" + "0" * 64),
        _signed_in(
            401,
            admin=404,
            leader=403,
            township=404,
            village=404,
            grid=404,
            planner=403,
            viewer=403,
        ),
    ),
    # one's own API tokens: every signed-in account
    ("GET", "/api/tokens"): (Call("GET", "/api/tokens"), _signed_in(401, **_all_signed_in(200))),
    ("POST", "/api/tokens"): (
        Call("POST", "/api/tokens", json={"name": "matrix"}),
        _signed_in(401, **_all_signed_in(201)),
    ),
    ("DELETE", "/api/tokens/{token_id}"): (
        Call("DELETE", f"/api/tokens/{_NO_TOKEN}"),
        _signed_in(401, **_all_signed_in(404)),
    ),
    ("GET", "/account/tokens"): (
        Call("GET", "/account/tokens"),
        _signed_in("login", **_all_signed_in(200)),
    ),
    ("POST", "/account/tokens"): (
        Call("POST", "/account/tokens", form={"name": "matrix"}),
        _signed_in(401, **_all_signed_in(200)),
    ),
    ("POST", "/account/tokens/{token_id}/revoke"): (
        Call("POST", f"/account/tokens/{_NO_TOKEN}/revoke"),
        _signed_in(401, **_all_signed_in(404)),
    ),
    # accounts, everyone's tokens and the audit log: the admin
    ("GET", "/api/accounts"): (Call("GET", "/api/accounts"), _admin(200)),
    ("POST", "/api/accounts"): (
        Call(
            "POST",
            "/api/accounts",
            json={"username": "matrix-api", "role": "viewer", "area": COUNTY},
        ),
        _admin(201),
    ),
    ("GET", "/api/accounts/{username}"): (Call("GET", _NOBODY), _admin(404)),
    ("PATCH", "/api/accounts/{username}"): (Call("PATCH", _NOBODY, json={}), _admin(404)),
    ("POST", "/api/accounts/{username}/password"): (
        Call("POST", f"{_NOBODY}/password"),
        _admin(404),
    ),
    ("GET", "/api/accounts/{username}/tokens"): (Call("GET", f"{_NOBODY}/tokens"), _admin(404)),
    ("DELETE", "/api/accounts/{username}/tokens/{token_id}"): (
        Call("DELETE", f"{_NOBODY}/tokens/{_NO_TOKEN}"),
        _admin(404),
    ),
    ("GET", "/api/audit"): (Call("GET", "/api/audit?limit=5"), _admin(200)),
    ("GET", "/admin/accounts"): (Call("GET", "/admin/accounts"), _admin(200, "login")),
    ("POST", "/admin/accounts"): (
        Call(
            "POST",
            "/admin/accounts",
            form={"username": "matrix-form", "role": "viewer", "area": COUNTY},
        ),
        _admin(200),  # the page showing the generated password once
    ),
    ("POST", "/admin/accounts/{username}/role"): (
        Call("POST", "/admin/accounts/nobody-here/role", form={"role": "viewer", "area": COUNTY}),
        _admin(404),
    ),
    ("POST", "/admin/accounts/{username}/disabled"): (
        Call("POST", "/admin/accounts/nobody-here/disabled", form={"disabled": "1"}),
        _admin(404),
    ),
    ("POST", "/admin/accounts/{username}/password"): (
        Call("POST", "/admin/accounts/nobody-here/password"),
        _admin(404),
    ),
    ("POST", "/admin/tokens/{token_id}/revoke"): (
        Call("POST", f"/admin/tokens/{_NO_TOKEN}/revoke"),
        _admin(404),
    ),
    ("GET", "/admin/audit"): (Call("GET", "/admin/audit"), _admin(200, "login")),
}


def test_every_route_has_a_row_in_the_matrix_and_the_policy() -> None:
    app = create_app(store="unused.gpkg")
    routes = set(policy.route_keys(app))
    assert routes == set(MATRIX), "a route without a row in MATRIX, or a row without a route"
    assert routes == set(policy.ROUTES), "policy.ROUTES and the app's routes differ"


def test_an_app_with_a_route_missing_from_the_policy_refuses_to_start() -> None:
    app = create_app(store="unused.gpkg")

    @app.get("/api/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="/api/forgotten"):
        policy.check_routes(app)


def _format(value: Any, net: Net) -> Any:
    fields = {k: v for k, v in vars(net).items() if k != "truth"}
    fields["asset"] = sorted(asset_files())[0]
    fields["tile"] = _tile_of(net.point, zoom=14)
    if isinstance(value, str):
        return value.format(**fields)
    if isinstance(value, dict):
        return {k: _format(v, net) for k, v in value.items()}
    if isinstance(value, list):
        return [_float_or(_format(v, net)) for v in value]
    return value


def _tile_of(point: tuple[float, float], *, zoom: int) -> str:
    """``z/x/y`` of the Web Mercator tile holding ``point`` (lon, lat)."""
    n = 2**zoom
    lat = math.radians(point[1])
    x = int((point[0] + 180) / 360 * n)
    y = int((1 - math.log(math.tan(lat) + 1 / math.cos(lat)) / math.pi) / 2 * n)
    return f"{zoom}/{x}/{y}"


def _float_or(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _households_of(body: Any) -> list[str]:
    """The household ids in an answer: GeoJSON features or search results."""
    if isinstance(body, dict) and body.get("type") == "FeatureCollection":
        return [str(f["id"]) for f in body["features"]]
    if isinstance(body, dict) and isinstance(body.get("households"), dict):  # a decoded tile
        return [str(f["properties"]["id"]) for f in body["households"]["features"]]
    if isinstance(body, dict) and "results" in body:
        return [str(r["id"]) for r in body["results"]]
    return []


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_by_role(
    route: tuple[str, str],
    role: str,
    client: TestClient,
    accounts: dict[str, TestAccount],
    net: Net,
    store_path: Path,
) -> None:
    call, expected = MATRIX[route]
    expect = expected[role]
    headers = accounts[role].headers if role != "anonymous" else {}
    url = _format(call.url, net)
    r = client.request(
        call.method,
        url,
        json=_format(call.json, net) if call.json is not None else None,
        data=call.form,
        headers=headers,
        follow_redirects=False,
    )
    if expect == "login":
        assert r.status_code == 303, r.text[:300]
        assert r.headers["location"].startswith("/login?next=")
    elif expect == "ok":
        assert 200 <= r.status_code < 300, r.text[:300]
    elif expect == "in":
        assert r.status_code == 200, r.text[:300]
        tile = r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        body = mapbox_vector_tile.decode(r.content) if tile else r.json()
        _assert_in_area(route, body, role, net, store_path)
    else:
        assert r.status_code == expect, r.text[:300]
    if r.status_code >= 400 and r.headers["content-type"].startswith("text/html"):
        assert 'class="error"' in r.text  # a form's page says why, on the page
    elif r.status_code >= 400:
        assert r.json()["error"]["message"]  # every refusal says why, as JSON


def _assert_in_area(
    route: tuple[str, str], body: Any, role: str, net: Net, store_path: Path
) -> None:
    areas = area_of(role, net)
    if route in (("GET", "/api/incidents"), ("GET", "/api/cases")):
        store = GeoPackageStore(store_path)
        grids = store.read("grids", where={"level": 3})
        if route == ("GET", "/api/cases"):
            ids = [c["id"] for c in body["cases"]]
            everything = store.read("incidents")
            found = everything[everything["id"].isin(ids)][["id", "geometry"]]
            assert len(found) == len(ids) == body["matched"]
        else:
            found = gpd.GeoDataFrame.from_features(body["features"], crs=4326)
        if len(found):
            placed = gpd.sjoin(found, grids[["code", "geometry"]], how="left", predicate="within")
            assert all(
                isinstance(c, str) and any(c.startswith(a) for a in areas) for c in placed["code"]
            ), f"{role} sees incidents outside {areas}"
        return
    ids = _households_of(body)
    assert ids, f"{role} got no households at all: the test proves nothing"
    outside = [i for i in ids if not household_in(net, i, areas)]
    assert outside == [], f"{role} ({areas}) sees households outside their area: {outside[:5]}"


def test_matrix_size() -> None:
    """The number of route × role cases the matrix drives (reported in the closing note)."""
    assert len(MATRIX) * len(ROLES) >= 15 * 8


# --- reading across grids -----------------------------------------------------------------


def test_grid_worker_cannot_read_another_grids_household_by_id(
    client: TestClient, accounts: dict[str, TestAccount], net: Net
) -> None:
    h = accounts["grid"].headers
    assert client.get(f"/api/households/{net.household}", headers=h).status_code == 200
    for other in (net.other_household, net.far_household):
        r = client.get(f"/api/households/{other}", headers=h)
        assert r.status_code == 404  # not found: nothing tells whether it exists
    # the township officer sees the neighbouring grid's household, not another township's
    t = accounts["township"].headers
    assert client.get(f"/api/households/{net.other_household}", headers=t).status_code == 200
    assert client.get(f"/api/households/{net.far_household}", headers=t).status_code == 404


def test_grid_worker_cannot_find_another_grids_household_by_search(
    client: TestClient, accounts: dict[str, TestAccount], net: Net
) -> None:
    h = accounts["grid"].headers
    for q in (net.other_household, net.other_household_name, net.far_household):
        r = client.get("/api/households/search", params={"q": q}, headers=h)
        assert r.status_code == 200
        ids = _households_of(r.json())
        assert all(household_in(net, i, (net.grid,)) for i in ids), (q, ids)
        assert net.other_household not in ids and net.far_household not in ids
    # the village secretary finds it
    v = accounts["village"].headers
    r = client.get("/api/households/search", params={"q": net.other_household}, headers=v)
    assert net.other_household in _households_of(r.json())


def test_grid_worker_cannot_read_another_grid_by_bbox(
    client: TestClient, accounts: dict[str, TestAccount], net: Net, store_path: Path
) -> None:
    grids = GeoPackageStore(store_path).read("grids", where={"level": 3}).set_index("code")
    x0, y0, x1, y1 = grids.geometry[net.other_grid].bounds
    bbox = f"{x0},{y0},{x1},{y1}"
    h = accounts["grid"].headers
    r = client.get("/api/layers/households", params={"bbox": bbox, "limit": 1000}, headers=h)
    ids = _households_of(r.json())
    assert all(household_in(net, i, (net.grid,)) for i in ids)
    v = accounts["village"].headers
    r = client.get("/api/layers/households", params={"bbox": bbox, "limit": 1000}, headers=v)
    assert net.other_household in _households_of(r.json())  # the bbox holds it


def test_paging_through_the_households_layer_gives_exactly_ones_area(
    client: TestClient, accounts: dict[str, TestAccount], net: Net
) -> None:
    for role in ("grid", "village"):
        areas = area_of(role, net)
        seen: list[str] = []
        offset = 0
        while True:
            r = client.get(
                "/api/layers/households",
                params={"limit": 100, "offset": offset},
                headers=accounts[role].headers,
            )
            page = _households_of(r.json())
            seen += page
            if len(page) < 100:
                break
            offset += 100
        expected = sorted(i for i in net.truth.index if household_in(net, i, areas))
        assert sorted(seen) == expected, role


def test_map_pages_outside_ones_area_are_refused_and_ones_own_hold_only_ones_households(
    client: TestClient, accounts: dict[str, TestAccount], net: Net
) -> None:
    h = accounts["grid"].headers
    for url in (
        f"/maps/finder?grid={net.other_grid}",
        f"/maps/finder?village={net.village}",
        f"/maps/coverage?village={net.other_township_village}",
        "/maps/incidents?township=" + net.township,
    ):
        assert client.get(url, headers=h).status_code == 403, url
    r = client.get(f"/maps/finder?grid={net.grid}", headers=h)
    assert r.status_code == 200
    shown = set(re.findall(r'"(H\d{7})"', r.text))
    assert net.household in shown
    outside = {i for i in shown if i in net.truth.index and not household_in(net, i, (net.grid,))}
    # backbone households a household of the grid is linked to may lie outside it: the map
    # shows them as the links' ends only if they are in the area, so none is outside
    assert outside == set()
    t = accounts["township"].headers
    r = client.get(f"/maps/coverage?village={net.other_township_village}", headers=t)
    assert r.status_code == 403


def test_check_report_outside_ones_area_is_refused_and_ones_own_is_cut_to_it(
    client: TestClient, accounts: dict[str, TestAccount], net: Net
) -> None:
    t = accounts["township"].headers
    assert (
        client.get(f"/api/check?village={net.other_township_village}", headers=t).status_code == 403
    )
    assert client.get(f"/api/check?township={net.township}", headers=t).status_code == 200
    whole = client.get("/api/check", headers=accounts["admin"].headers).json()
    mine = client.get("/api/check", headers=t).json()
    codes_in = set(re.findall(r"\b430623\d{6,12}\b", str(mine)))
    assert all(c.startswith(net.township) or net.township.startswith(c) for c in codes_in)
    assert set(re.findall(r"\b430623\d{6,12}\b", str(whole))) - codes_in  # others were cut
    g = accounts["grid"].headers
    grid_report = client.get("/api/check", headers=g).json()
    codes_in = set(re.findall(r"\b430623\d{6,12}\b", str(grid_report)))
    assert all(c.startswith(net.grid) or net.grid.startswith(c) for c in codes_in)


def test_township_officer_cannot_open_another_townships_dashboard(
    client: TestClient, accounts: dict[str, TestAccount], net: Net
) -> None:
    t = accounts["township"].headers
    other_township = codes.township_of(net.other_township_village)
    r = client.get(f"/?township={other_township}", headers=t, follow_redirects=False)
    assert r.status_code == 403
    r = client.get("/", headers=t, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/?township={net.township}"


def test_a_case_page_outside_ones_area_answers_404_like_the_api(
    client: TestClient, accounts: dict[str, TestAccount], net: Net, store_path: Path
) -> None:
    other = report_incident(
        GeoPackageStore(store_path),
        NewIncident(lon=net.other_point[0], lat=net.other_point[1], kind="dispute"),
        reporter="matrix",
    )
    incident = str(other["id"].iat[0])
    g = accounts["grid"].headers
    assert client.get(f"/cases/{incident}", headers=g).status_code == 404
    assert client.get(f"/api/incidents/{incident}/case", headers=g).status_code == 404
    assert client.get(f"/cases/{net.incident}", headers=g).status_code == 200
    v = accounts["village"].headers
    assert client.get(f"/cases/{incident}", headers=v).status_code == 200
    # nothing tells an incident outside the area from one that does not exist
    assert client.get("/cases/NO-SUCH-INCIDENT", headers=v).status_code == 404


def test_incident_outside_ones_area_is_refused_and_nothing_is_written(
    client: TestClient, accounts: dict[str, TestAccount], net: Net, store_path: Path
) -> None:
    before = GeoPackageStore(store_path).count("incidents")
    body = _format(_INCIDENT, net)
    body["geometry"]["coordinates"] = list(net.other_point)
    r = client.post("/api/incidents", json=body, headers=accounts["grid"].headers)
    assert r.status_code == 403
    assert GeoPackageStore(store_path).count("incidents") == before


def test_viewer_sees_figures_without_names_or_phones(
    client: TestClient, accounts: dict[str, TestAccount], net: Net, store_path: Path
) -> None:
    h = accounts["viewer"].headers
    grids = client.get(
        "/api/layers/grids", params={"village": net.village, "level": 3}, headers=h
    ).json()
    stored = GeoPackageStore(store_path).read("grids", where={"village_code": net.village})
    stored = stored.set_index("code")
    assert grids["features"]
    for f in grids["features"]:
        p = f["properties"]
        real_name = stored.loc[p["code"], "responsible_name"]
        if isinstance(real_name, str):
            assert p["responsible_name"] == real_name[0] + "*" * (len(real_name) - 1)
            assert p["responsible_phone"] is None or "****" in p["responsible_phone"]
            real_phone = stored.loc[p["code"], "responsible_phone"]
            if isinstance(real_phone, str):
                assert real_phone not in str(grids)
    r = client.get(
        "/api/locate", params={"lon": net.point[0], "lat": net.point[1]}, headers=h
    ).json()
    level3 = r["grids"]["level3"]
    real = stored.loc[level3["code"], "responsible_phone"]
    if isinstance(real, str):
        assert level3["responsible_phone"] != real
    # the village secretary sees the contact in full
    v = accounts["village"].headers
    r = client.get(
        "/api/locate", params={"lon": net.point[0], "lat": net.point[1]}, headers=v
    ).json()
    assert r["grids"]["level3"]["responsible_phone"] == (real if isinstance(real, str) else None)


def test_leader_reads_household_records_only_with_a_reason_which_is_recorded(
    client: TestClient, accounts: dict[str, TestAccount], net: Net, store_path: Path
) -> None:
    h = accounts["leader"].headers
    r = client.get(f"/api/households/{net.far_household}", headers=h)
    assert r.status_code == 403 and r.json()["error"]["type"] == "ReasonRequiredError"
    reason = "核查低保申请"
    r = client.get(
        f"/api/households/{net.far_household}",
        headers=h | {"X-Access-Reason": urllib.parse.quote(reason)},
    )
    assert r.status_code == 200
    log = GeoPackageStore(store_path).ledger.audit(
        AuditQuery(actor=accounts["leader"].username, action="households_read", limit=5)
    )
    assert log and log[0].entry.reason == reason
    # the household, then its backbone or linked households: one line per read
    ids = [i for e in log if e.entry.target == log[0].entry.target for i in e.entry.detail["ids"]]  # type: ignore[attr-defined]
    assert net.far_household in ids


def test_every_read_of_household_records_is_recorded_with_who_what_and_where(
    client: TestClient, accounts: dict[str, TestAccount], net: Net, store_path: Path
) -> None:
    account = accounts["village"]
    client.get(f"/maps/finder?village={net.village}", headers=account.headers)
    client.get(f"/maps/finder?village={net.village}", headers=account.headers)  # from the cache
    client.get("/api/households/search", params={"q": net.household}, headers=account.headers)
    log = GeoPackageStore(store_path).ledger.audit(
        AuditQuery(actor=account.username, action="households_read", limit=10)
    )
    targets = [e.entry.target or "" for e in log]
    assert sum("/maps/finder" in t for t in targets) >= 2  # the cached page is recorded too
    assert any("/api/households/search" in t for t in targets)
    assert all(e.entry.address for e in log)  # from where


def test_nothing_personal_in_the_server_log(
    store_path: Path, accounts: dict[str, TestAccount], net: Net
) -> None:
    """With the access log on, a household search leaves its path in the log, not the name."""
    query = urllib.parse.urlencode({"q": net.other_household_name, "reason": "走访"})
    printed: list[str] = []
    with gisgrid_server(str(store_path), options=["--access-log"], output=printed) as base:
        request = urllib.request.Request(
            f"{base}/api/households/search?{query}", headers=accounts["village"].headers
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            assert net.other_household_name in r.read().decode()
    log = printed[0]
    assert "/api/households/search" in log  # the access log is on
    assert "q=" not in log and urllib.parse.quote(net.other_household_name) not in log
    assert net.other_household_name not in log and accounts["village"].token not in log


def test_scope_and_audit_hold_on_postgis_too(pg_server: Any, sample_county: Any, net: Net) -> None:
    """The same net in PostGIS: a grid worker reads their grid's households only, the
    township officer theirs, and each read lands in PostGIS's append-only audit table."""
    import psycopg

    from gisgrid.sample import write_sample_county
    from gisgrid.stores.postgis import PostGISStore

    url = pg_server.fresh_database()
    try:
        store = PostGISStore(url)
        store.init()
        write_sample_county(store, sample_county)
        worker = make_account(store, "grid", net.grid)
        officer = make_account(store, "township", net.township)
        store.close()
        with TestClient(create_app(store=url), base_url="https://testserver") as c:
            for account, areas in ((worker, (net.grid,)), (officer, (net.township,))):
                r = c.get("/api/layers/households", params={"limit": 1000}, headers=account.headers)
                ids = _households_of(r.json())
                assert ids and all(household_in(net, i, areas) for i in ids)
            r = c.get(f"/api/households/{net.other_household}", headers=worker.headers)
            assert r.status_code == 404
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT actor, action FROM gisgrid.audit_log WHERE action = 'households_read'"
            ).fetchall()
            assert {a for a, _ in rows} == {worker.username, officer.username}
            with pytest.raises(psycopg.Error):
                conn.execute("DELETE FROM gisgrid.audit_log")
    finally:
        pg_server.drop_database(url)


def test_reassigning_a_grid_moves_the_access_of_the_worker_linked_by_phone(
    store_path: Path, net: Net, tmp_path: Path
) -> None:
    """A grid worker linked by phone sees the grids whose responsible person has that phone:
    when the grid is given to someone else, their access goes with it."""
    path = tmp_path / "county.gpkg"
    shutil.copy(store_path, path)
    store = GeoPackageStore(path)
    grids = store.read("grids")
    phone = "13912345678"
    assert not grids["responsible_phone"].eq(phone).any()
    linked = grids["code"] == net.other_grid
    grids.loc[linked, "responsible_phone"] = phone
    store.write({"grids": grids}, mode="replace")
    worker = make_account(store, "grid", net.grid, phone=phone)

    def sees_other_grid() -> bool:
        with TestClient(create_app(store=str(path)), base_url="https://testserver") as c:
            r = c.get(f"/api/households/{net.other_household}", headers=worker.headers)
            assert r.status_code in (200, 404)
            return r.status_code == 200

    assert sees_other_grid()
    grids.loc[linked, "responsible_phone"] = "13800000000"  # the grid goes to someone else
    store.write({"grids": grids}, mode="replace")
    assert not sees_other_grid()


def test_every_signed_in_page_says_who_is_signed_in_and_offers_sign_out(
    client: TestClient, accounts: dict[str, TestAccount], net: Net
) -> None:
    for role, url in (
        ("admin", "/"),
        ("village", f"/?village={net.village}"),
        ("grid", "/finder"),
        ("admin", "/admin/accounts"),
    ):
        r = client.get(url, headers=accounts[role].headers)
        assert r.status_code == 200, url
        assert accounts[role].username in r.text
        assert 'action="/logout"' in r.text
        assert ('href="/admin/accounts"' in r.text) == (role == "admin")
