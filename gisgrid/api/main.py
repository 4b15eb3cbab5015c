"""The gisgrid web app: pages for leaders and field staff, and the HTTP API.

``create_app()`` builds it; ``gisgrid serve`` runs it with uvicorn (with ``--workers N``,
N processes each build their own through :func:`app_from_settings`). The store is opened and
the grids loaded in the lifespan, and closed at shutdown, once the requests under way have
finished (``gisgrid serve`` gives them ``GISGRID_WEB_SHUTDOWN_SECONDS``). Offline: no page
loads anything from outside this server (the OpenAPI document is at ``/openapi.json``; the
CDN-based Swagger UI is switched off)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from gisgrid import __version__
from gisgrid.api import errors, policy, security
from gisgrid.api.deps import enforce
from gisgrid.api.logs import AccessLog, keep_queries_out_of_the_log
from gisgrid.api.priority import favour_the_event_loop
from gisgrid.api.routes import (
    accounts,
    admin_pages,
    audit,
    auth,
    case_pages,
    cases,
    changesets,
    editor,
    exports,
    grids,
    health,
    households,
    incidents,
    layers,
    locate,
    notifications,
    ogc,
    pages,
    photos,
    public,
    reports,
    tiles,
    tokens,
    visits,
    volunteers,
)
from gisgrid.api.state import AppState
from gisgrid.services.public_reports import public_kinds
from gisgrid.settings import AuthSettings, PublicReportSettings, WebSettings
from gisgrid.stores import open_store


def create_app(*, store: str | None = None, access_log: bool | None = None) -> FastAPI:
    """The FastAPI app on ``store`` (a GeoPackage path or postgresql:// URL; default
    ``GISGRID_STORE`` or ``./gisgrid.gpkg``).

    With ``access_log`` (default ``GISGRID_WEB_ACCESS_LOG``), one JSON line per request on
    standard output (:class:`gisgrid.api.logs.AccessLog`).
    """
    web = WebSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keep_queries_out_of_the_log()
        st = open_store(store)
        public_kinds(PublicReportSettings())  # a bad GISGRID_PUBLIC_KINDS stops the start
        state = AppState.load(st, auth=AuthSettings(), kept_counties=web.kept_counties)
        app.state.gisgrid = state
        # the hot paths warm (ready), then the layers, checks, search and county map
        warm = threading.Thread(target=state.warm, name="gisgrid-warm", daemon=True)
        warm.start()
        # see every write, by this process or any other, within about fresh_seconds
        state.watch(every=WebSettings().fresh_seconds)
        try:
            yield
        finally:
            state.stop()
            # the caches' filling stops after its step under way (a daemon thread: a step of
            # seconds does not hold the shutdown up for long)
            warm.join(timeout=5)
            st.close()

    app = FastAPI(
        title="gisgrid 网格化基层治理",
        summary="Grids, households, incidents and coverage checks of one county.",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # who may call what: every route's row of gisgrid.api.policy, before the route runs
        dependencies=[Depends(enforce)],
    )
    errors.install(app)
    security.install(app, settings=web)
    if web.access_log if access_log is None else access_log:
        app.add_middleware(AccessLog)  # outermost: every answer, HEAD as HEAD
    app.include_router(health.router)
    # the net and its records; drawing the grids; accounts
    for module in (
        layers, locate, households, visits, incidents, cases, photos, reports, exports, pages,
        grids, ogc, tiles,
    ):  # fmt: skip
        app.include_router(module.router)
    app.include_router(notifications.router)
    app.include_router(volunteers.router)
    for module in (changesets, editor, case_pages, public):
        app.include_router(module.router)
    for module in (auth, accounts, tokens, audit, admin_pages):
        app.include_router(module.router)
    policy.check_routes(app)
    return app


def app_from_settings() -> FastAPI:
    """The app of one worker process of ``gisgrid serve --workers N``: uvicorn's factory
    (``gisgrid.api.main:app_from_settings``), called in each worker.

    Everything comes from the environment, which ``gisgrid serve`` sets before it starts the
    workers: the store from ``GISGRID_STORE``, the access log from
    ``GISGRID_WEB_ACCESS_LOG``. Each worker opens the store, loads the grids and warms its
    caches on its own, and follows every write of anyone (:meth:`AppState.watch`); its
    threads give way to its event loop (:mod:`gisgrid.api.priority`).
    """
    favour_the_event_loop()
    return create_app()
