"""The grid editor page (``/editor``): planners draw their villages' grids, reviewers review.

The page is HTML and the script of this package (``gisgrid-editor.js``, with the shared
helpers of ``gisgrid-page.js``); everything it does
goes through the JSON API: the village's grids from ``/api/layers/grids``, the edits, the
diff, submitting and reviewing through ``/api/changesets``, a grid's versions from
``/api/grids/{code}/history``. Those routes decide who may do what; the page only shows each
caller the tools of their role. The drawing tools are Leaflet-Geoman, installed from the npm
registry at set-up and served from ``/assets/`` like every other asset (no CDN, no inline
script: the page passes its data in ``data-`` attributes).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from gisgrid.api.deps import Scoped, State, Village
from gisgrid.api.errors import COMMON_ERRORS, HTML_PAGE
from gisgrid.api.security import ASSETS_PREFIX, html_page
from gisgrid.api.templating import render
from gisgrid.errors import NotFoundError
from gisgrid.roles import Permission

router = APIRouter(tags=["pages 页面"], responses=COMMON_ERRORS)

#: the page's scripts and style sheets, in load order (Leaflet before its plugin)
EDITOR_JS = ("leaflet", "geoman", "page_js", "editor_js")
EDITOR_CSS = ("leaflet_css", "geoman_css", "editor_css")


@router.get("/editor", responses=HTML_PAGE, summary="Grid editor 网格编辑")
def editor_page(state: State, access: Scoped, village: Village = None) -> Response:
    from gisgrid.cartography.assets import ASSETS  # (folium loads only when a page needs it)

    scope = access.scope
    villages = state.locator.villages.sort_values("code")  # every county's: the net
    names = dict(zip(villages["code"], villages["name"], strict=True))
    if village is not None:
        scope.require(village)
        if village not in names:
            raise NotFoundError(f"no village {village}")
    choices = [(code, name) for code, name in names.items() if scope.covers(code)]
    if village is None and len(choices) == 1:
        village = choices[0][0]
    info = access.caller.info
    html = render(
        "editor.html",
        access,
        title="网格编辑" + (f" · {names[village]}" if village else ""),
        village=village or "",
        village_name=names.get(village or "", ""),
        choices=choices,
        can_edit=Permission.BOUNDARIES in info.permissions,
        can_review=Permission.REVIEW_BOUNDARIES in info.permissions,
        scripts=[ASSETS_PREFIX + ASSETS[name].url for name in EDITOR_JS],
        styles=[ASSETS_PREFIX + ASSETS[name].url for name in EDITOR_CSS],
    )
    return html_page(html)
