"""What every route needs, in one table: who may call it (:class:`gisgrid.roles.Permission`).

:func:`gisgrid.api.deps.enforce` runs before every route and applies the row of the route
called; what a route then shows is cut to the caller's area by
:class:`gisgrid.analysis.scope.ScopedReader`. :func:`check_routes` refuses to build an app with
a route that has no row here, and the role × route matrix test drives every row with every
role: a new route without a row fails both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from gisgrid.roles import Permission

P = Permission


@dataclass(frozen=True)
class Rule:
    """The access rule of one route.

    Attributes
    ----------
    permission
        What the caller's role must have.
    stricter
        Path-parameter values that need another permission, e.g. the households layer of
        ``/api/layers/{layer}`` needs household records.
    page
        An HTML page: a caller who is not signed in is sent to the sign-in page instead of
        answered 401.
    """

    permission: Permission
    stricter: Mapping[str, Mapping[str, Permission]] = field(default_factory=dict)
    page: bool = False

    def permission_for(self, path_params: Mapping[str, object]) -> Permission:
        """The permission a call with these path parameters needs."""
        for name, values in self.stricter.items():
            value = path_params.get(name)
            if isinstance(value, str) and value in values:
                return values[value]
        return self.permission


#: the layers whose features are household records, by the ``{layer}`` of a route's path
_RECORD_LAYERS = {"layer": {"households": P.HOUSEHOLD_RECORDS, "visits": P.HOUSEHOLD_RECORDS}}
#: a route of one layer: figures, household records for the layers of them
_LAYER_RULE = Rule(P.FIGURES, stricter=_RECORD_LAYERS)

#: (method, path template) → rule. HEAD is answered as GET: :class:`gisgrid.api.http.HeadAsGet`
#: runs it as the GET (so its rule, scope and audit are the GET's) and drops the body.
ROUTES: dict[tuple[str, str], Rule] = {
    # open to all: signing in, the health of the server, scripts and styles, the API schema
    ("GET", "/api/health"): Rule(P.PUBLIC),
    ("GET", "/api/health/live"): Rule(P.PUBLIC),
    ("GET", "/assets/{path:path}"): Rule(P.PUBLIC),
    ("GET", "/favicon.ico"): Rule(P.PUBLIC),
    ("GET", "/openapi.json"): Rule(P.PUBLIC),
    ("GET", "/login"): Rule(P.PUBLIC, page=True),
    ("POST", "/login"): Rule(P.PUBLIC, page=True),
    ("POST", "/logout"): Rule(P.SIGNED_IN, page=True),
    # residents' reports (群众上报): the form, a report, its progress by tracking code; no
    # account, so no session and no CSRF token (the route acts for no one: routes/public.py)
    ("GET", "/report"): Rule(P.PUBLIC, page=True),
    ("GET", "/report/{code}"): Rule(P.PUBLIC, page=True),
    ("POST", "/api/public/reports"): Rule(P.PUBLIC),
    ("GET", "/api/public/reports/{code}"): Rule(P.PUBLIC),
    # figures and maps of one's area
    ("GET", "/"): Rule(P.FIGURES, page=True),
    ("GET", "/maps/{kind}"): Rule(
        P.FIGURES, stricter={"kind": {"finder": P.HOUSEHOLD_RECORDS}}, page=True
    ),
    ("GET", "/api/check"): Rule(P.FIGURES),
    # the figures as an Excel workbook and the printed wall map (公示牌) of one's area: phones
    # only for roles with staff contacts (the scope masks them), each export recorded
    ("GET", "/api/report.xlsx"): Rule(P.FIGURES),
    ("GET", "/api/wallmap.pdf"): Rule(P.FIGURES),
    ("GET", "/api/layers"): Rule(P.FIGURES),
    ("GET", "/api/layers/{layer}"): _LAYER_RULE,
    # a layer of one's area as a file (Excel, Shapefile, KML, GeoJSON, GeoPackage): as the
    # layer's GeoJSON, households and visits need household records; each export recorded
    ("GET", "/api/export/{layer}"): _LAYER_RULE,
    ("GET", "/api/locate"): Rule(P.FIGURES),
    # OGC API – Features (QGIS, GDAL): a collection per layer, households and visits as above
    ("GET", "/ogc"): Rule(P.FIGURES),
    ("GET", "/ogc/conformance"): Rule(P.FIGURES),
    ("GET", "/ogc/collections"): Rule(P.FIGURES),
    ("GET", "/ogc/collections/{layer}"): _LAYER_RULE,
    ("GET", "/ogc/collections/{layer}/queryables"): _LAYER_RULE,
    ("GET", "/ogc/collections/{layer}/items"): _LAYER_RULE,
    ("GET", "/ogc/collections/{layer}/items/{feature_id}"): _LAYER_RULE,
    # vector tiles (MVT) of the layers, as the layers: households need household records
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.mvt"): Rule(
        P.FIGURES, stricter={"layer": {"households": P.HOUSEHOLD_RECORDS}}
    ),
    ("GET", "/tiles/{layer}.json"): Rule(P.FIGURES),
    ("GET", "/tiles"): Rule(P.FIGURES, page=True),
    ("GET", "/api/incidents"): Rule(P.FIGURES),
    # the grid editor: anyone may see their area's net in it; the tools are the change-set
    # routes' (planners edit, reviewers review), each with its own row
    ("GET", "/editor"): Rule(P.FIGURES, page=True),
    # household records
    ("GET", "/finder"): Rule(P.HOUSEHOLD_RECORDS, page=True),
    ("GET", "/api/households/search"): Rule(P.HOUSEHOLD_RECORDS),
    ("GET", "/api/households/{household_id}"): Rule(P.HOUSEHOLD_RECORDS),
    # a grid's versions; change sets of one's area (drafts, diffs: the diff's household ids
    # only for roles with household records)
    ("GET", "/api/grids/{code}/history"): Rule(P.FIGURES),
    ("GET", "/api/changesets"): Rule(P.FIGURES),
    ("GET", "/api/changesets/{change_set_id}"): Rule(P.FIGURES),
    ("GET", "/api/changesets/{change_set_id}/diff"): Rule(P.FIGURES),
    # writes
    ("POST", "/api/incidents"): Rule(P.REPORT_INCIDENTS),
    ("POST", "/api/changesets"): Rule(P.BOUNDARIES),
    ("POST", "/api/changesets/{change_set_id}/edits"): Rule(P.BOUNDARIES),
    ("POST", "/api/changesets/{change_set_id}/submit"): Rule(P.BOUNDARIES),
    ("POST", "/api/changesets/{change_set_id}/withdraw"): Rule(P.BOUNDARIES),
    ("POST", "/api/changesets/{change_set_id}/approve"): Rule(P.REVIEW_BOUNDARIES),
    ("POST", "/api/changesets/{change_set_id}/return"): Rule(P.REVIEW_BOUNDARIES),
    # a case: read it where one sees figures (notes masked without records); the flow says
    # which role takes which step (analysis/cases.py)
    ("GET", "/api/incidents/{incident_id}/case"): Rule(P.FIGURES),
    ("GET", "/api/cases"): Rule(P.FIGURES),
    ("GET", "/api/cases/stats"): Rule(P.FIGURES),
    ("GET", "/api/notifications"): Rule(P.FIGURES),
    ("GET", "/api/volunteers/hours"): Rule(P.FIGURES),
    # the phone pages of cases: the work list (leaders also see its figures) and a case
    ("GET", "/cases"): Rule(P.FIGURES, page=True),
    ("GET", "/cases/{incident_id}"): Rule(P.FIGURES, page=True),
    # visits are records about households; recording one is field work, like a report
    ("GET", "/api/households/{household_id}/visits"): Rule(P.HOUSEHOLD_RECORDS),
    ("POST", "/api/households/{household_id}/visits"): Rule(P.REPORT_INCIDENTS),
    ("POST", "/api/incidents/{incident_id}/steps"): Rule(P.REPORT_INCIDENTS),
    # a step's photos: uploaded by those who take steps; they show residents and their
    # homes, so reading one needs household records (leaders: with a reason, recorded)
    ("POST", "/api/incidents/{incident_id}/photos"): Rule(P.REPORT_INCIDENTS),
    ("GET", "/api/incidents/{incident_id}/photos/{sha256}"): Rule(P.HOUSEHOLD_RECORDS),
    # who a case may be dispatched to: the roles that dispatch (analysis/cases.py decides)
    ("GET", "/api/incidents/{incident_id}/assignees"): Rule(P.REPORT_INCIDENTS),
    # one's own API tokens
    ("GET", "/api/tokens"): Rule(P.SIGNED_IN),
    ("POST", "/api/tokens"): Rule(P.SIGNED_IN),
    ("DELETE", "/api/tokens/{token_id}"): Rule(P.SIGNED_IN),
    ("GET", "/account/tokens"): Rule(P.SIGNED_IN, page=True),
    ("POST", "/account/tokens"): Rule(P.SIGNED_IN, page=True),
    ("POST", "/account/tokens/{token_id}/revoke"): Rule(P.SIGNED_IN, page=True),
    # accounts, everyone's tokens and the audit log
    ("GET", "/api/accounts"): Rule(P.ADMINISTER),
    ("POST", "/api/accounts"): Rule(P.ADMINISTER),
    ("GET", "/api/accounts/{username}"): Rule(P.ADMINISTER),
    ("PATCH", "/api/accounts/{username}"): Rule(P.ADMINISTER),
    ("POST", "/api/accounts/{username}/password"): Rule(P.ADMINISTER),
    ("GET", "/api/accounts/{username}/tokens"): Rule(P.ADMINISTER),
    ("DELETE", "/api/accounts/{username}/tokens/{token_id}"): Rule(P.ADMINISTER),
    ("GET", "/api/audit"): Rule(P.ADMINISTER),
    ("GET", "/admin/accounts"): Rule(P.ADMINISTER, page=True),
    ("POST", "/admin/accounts"): Rule(P.ADMINISTER, page=True),
    ("POST", "/admin/accounts/{username}/role"): Rule(P.ADMINISTER, page=True),
    ("POST", "/admin/accounts/{username}/disabled"): Rule(P.ADMINISTER, page=True),
    ("POST", "/admin/accounts/{username}/password"): Rule(P.ADMINISTER, page=True),
    ("POST", "/admin/tokens/{token_id}/revoke"): Rule(P.ADMINISTER, page=True),
    ("GET", "/admin/audit"): Rule(P.ADMINISTER, page=True),
}


def route_keys(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app answers (HEAD, answered as GET, left out)."""
    keys = []
    # routers are included lazily: their routes are reached through their contexts
    for route in iter_route_contexts(app.routes):
        for method in sorted(route.methods or ()):
            if method != "HEAD" and route.path is not None:
                keys.append((method, route.path))
    return keys


def rule_for(method: str, path: str) -> Rule:
    """The rule of a route.

    Raises
    ------
    KeyError
        The route has no row (:func:`check_routes` makes that impossible in a built app).
    """
    return ROUTES[("GET" if method == "HEAD" else method, path)]


def check_routes(app: FastAPI) -> None:
    """Refuse an app with a route that has no rule (a programming error: fail at start).

    Raises
    ------
    RuntimeError
        Naming every route without a row in :data:`ROUTES`.
    """
    missing = [f"{m} {p}" for m, p in route_keys(app) if (m, p) not in ROUTES]
    if missing:
        raise RuntimeError(f"routes without an access rule in gisgrid.api.policy: {missing}")
