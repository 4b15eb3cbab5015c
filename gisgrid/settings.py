"""Settings read from ``GISGRID_*`` environment variables (and CLI options that override them)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class StoreSettings(BaseSettings):
    """Where the data lives.

    ``GISGRID_STORE`` is a GeoPackage path (the embedded default) or a ``postgresql://`` URL.
    """

    model_config = SettingsConfigDict(env_prefix="GISGRID_", extra="ignore")

    store: str = "gisgrid.gpkg"


class PostGISSettings(BaseSettings):
    """How a PostGIS store connects, from ``GISGRID_PG_*`` environment variables.

    Short on purpose: while PostgreSQL is down, a command fails (exit 5) and a web request
    answers 503 within seconds instead of holding a thread; once the server is back, the
    next request connects again. A ``connect_timeout`` in the store URL wins.
    """

    model_config = SettingsConfigDict(env_prefix="GISGRID_PG_", extra="ignore")

    #: seconds to wait for the server to accept a connection (libpq counts at least 2)
    connect_timeout: int = Field(default=3, ge=2)
    #: seconds a request waits for a free pooled connection while all are busy
    pool_timeout: float = Field(default=10.0, gt=0)
    #: seconds sent data may stay unacknowledged before a connection counts as lost
    #: (libpq ``tcp_user_timeout``: a server gone from the network, not a slow query)
    tcp_user_timeout: float = Field(default=15.0, gt=0)
    #: a replace of at least this many rows of a layer loads in bulk: the table emptied,
    #: its keys, references and indexes built after the COPY (PostgreSQL's advice for bulk
    #: loads; readers of the layer wait until the write commits)
    bulk_rows: int = Field(default=20_000, ge=1)


class MapSettings(BaseSettings):
    """Basemap settings (CLI options override them).

    ``GISGRID_TILES``: the default basemap: ``none`` (default), ``osm``, ``tianditu`` or
    ``custom``; ``GISGRID_TIANDITU_KEY``: the Tianditu (天地图) key the ``tianditu`` basemap
    needs; ``GISGRID_TILES_URL`` and ``GISGRID_TILES_ATTRIBUTION``: the ``custom`` basemap,
    e.g. a tile server on the county intranet (``http://10.1.2.3/tiles/{z}/{x}/{y}.png``).
    """

    model_config = SettingsConfigDict(env_prefix="GISGRID_", extra="ignore")

    tiles: str = "none"
    tianditu_key: str | None = None
    tiles_url: str | None = None
    tiles_attribution: str = ""


class SampleSettings(BaseSettings):
    """Where the sample county's real boundary data is read from.

    ``GISGRID_BOUNDARIES_DIR`` names a folder holding other copies of the two files of
    :mod:`gisgrid.data`; unset, the files shipped inside the package are read.
    """

    model_config = SettingsConfigDict(env_prefix="GISGRID_", extra="ignore")

    boundaries_dir: Path | None = None


class GeometrySettings(BaseSettings):
    """Bounds on the geometry an import accepts, from ``GISGRID_GEOMETRY_*`` variables.

    A real village boundary has a few thousand vertices; a grid or boundary of more than
    ``max_vertices`` is refused at import (nothing written) rather than left to make every
    check, map and page that reads it slow (docs/county-it.md, Bounds).
    """

    model_config = SettingsConfigDict(env_prefix="GISGRID_GEOMETRY_", extra="ignore")

    #: the most vertices one feature's polygon (all its rings and parts) may have
    max_vertices: int = Field(default=100_000, ge=100)


class ServiceRule(BaseModel):
    """How far a household may live from the nearest service point of one kind.

    Parameters
    ----------
    max_m
        Distance in metres (measured in the metric CRS) beyond which a household is reported.
    elderly_only
        Check only households with members aged 60 or more (e.g. elder-care points).
    only_villages_with_points
        Check only households standing in villages that have a point of this kind (for
        pilots such as the 岁月港湾 elder-care points, which a county-wide check would report
        for nearly everyone).
    """

    max_m: float = Field(gt=0)
    elderly_only: bool = False
    only_villages_with_points: bool = False


def _default_service_rules() -> dict[str, ServiceRule]:
    return {
        "village_centre": ServiceRule(max_m=2_000),
        "township_centre": ServiceRule(max_m=8_000),
        "clinic": ServiceRule(max_m=3_000),
        "elder_care": ServiceRule(max_m=1_000, elderly_only=True, only_villages_with_points=True),
    }


#: the kinds of household the visits check knows (see ``CheckSettings.visit_days``)
VISIT_CATEGORIES = ("elderly_only", "elderly")


class CheckSettings(BaseSettings):
    """Thresholds of ``gisgrid check``, from ``GISGRID_CHECK_*`` environment variables.

    Areas are in m², distances in m, both measured in the metric CRS. The defaults suit a
    rural Hunan county; docs/planner.md (section "Checks") says why each was chosen. Dict
    fields take JSON, e.g. ``GISGRID_CHECK_SERVICE_RULES='{"clinic": {"max_m": 2500}}'``
    (which replaces the whole set of rules).
    """

    model_config = SettingsConfigDict(env_prefix="GISGRID_CHECK_", extra="ignore")

    #: gaps and overlaps smaller than this (each part) are drawing noise, not findings
    sliver_m2: float = Field(default=10.0, ge=0)
    #: a grid may stick out of its parent by this much before it is reported
    nesting_tolerance_m2: float = Field(default=10.0, ge=0)
    #: a backbone household (党员骨干户) looks after this many households at least …
    min_links: int = Field(default=5, ge=0)
    #: … and at most
    max_links: int = Field(default=10, ge=1)
    #: a link between a household and its backbone household longer than this is reported
    max_link_m: float = Field(default=1_500.0, gt=0)
    #: service kinds checked and how far is too far (see :class:`ServiceRule`)
    service_rules: dict[str, ServiceRule] = Field(default_factory=_default_service_rules)
    #: level-3 grids with fewer households than this are candidates to merge …
    min_households: int = Field(default=15, ge=0)
    #: … and with more than this, candidates to split
    max_households: int = Field(default=150, ge=1)
    #: households to be visited at least every so many days, by kind: members all aged 60+
    #: (``elderly_only``) and any member aged 60+ (``elderly``); others are not reported
    visit_days: dict[str, int] = Field(default_factory=lambda: {"elderly_only": 30, "elderly": 90})
    #: the date the six-no (六无) year ends on; empty: the sample manifest's date, else today
    as_of: dt.date | None = None
    #: length of the six-no window in months, ending on ``as_of``
    six_no_months: int = Field(default=12, ge=1)

    @model_validator(mode="after")
    def _bands_are_ordered(self) -> CheckSettings:
        if self.min_links > self.max_links:
            raise ValueError("min_links must not exceed max_links")
        if self.min_households > self.max_households:
            raise ValueError("min_households must not exceed max_households")
        if not set(self.visit_days) <= set(VISIT_CATEGORIES) or any(
            d < 1 for d in self.visit_days.values()
        ):
            raise ValueError(
                f"visit_days maps {' and '.join(VISIT_CATEGORIES)} to days (1 or more)"
            )
        return self


def _default_stage_hours() -> dict[str, float]:
    return {"registered": 24.0, "dispatched": 24.0, "handling": 72.0, "verifying": 48.0}


def _default_kind_hours() -> dict[str, dict[str, float]]:
    # a safety or environmental accident is handled within the day; a dispute or an
    # illegal building takes longer to settle than the default three days
    return {
        "safety": {"registered": 2.0, "dispatched": 2.0, "handling": 24.0},
        "environment": {"registered": 4.0, "dispatched": 4.0, "handling": 24.0},
        "dispute": {"handling": 168.0},
        "illegal_construction": {"handling": 240.0},
    }


class CaseSettings(BaseSettings):
    """Time limits of the case flow, from ``GISGRID_CASE_*`` environment variables.

    Hours allowed in each open stage (立案 registered, 派遣 dispatched, 处置 handling, 核查
    verifying), with overrides per incident kind. JSON, e.g.
    ``GISGRID_CASE_KIND_HOURS='{"dispute": {"handling": 120}}'`` (replaces the whole set).
    A case past its limit escalates one level up the net (grid → village → township →
    county) for each further limit that passes (:func:`gisgrid.analysis.cases.escalation`).
    ``GISGRID_CASE_PHOTO_MAX_BYTES``: the largest photo of a step (default 5 MiB).
    """

    model_config = SettingsConfigDict(env_prefix="GISGRID_CASE_", extra="ignore")

    stage_hours: dict[str, float] = Field(default_factory=_default_stage_hours)
    kind_hours: dict[str, dict[str, float]] = Field(default_factory=_default_kind_hours)
    #: the largest photo of a case step, in bytes (``GISGRID_CASE_PHOTO_MAX_BYTES``): the
    #: upload route's body limit; a phone's photo is 2-4 MB
    photo_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024)

    @model_validator(mode="after")
    def _hours_are_stages(self) -> CaseSettings:
        stages = set(_default_stage_hours())
        if set(self.stage_hours) != stages:
            raise ValueError(f"stage_hours needs exactly the stages {sorted(stages)}")
        for kind, hours in self.kind_hours.items():
            if not set(hours) <= stages:
                raise ValueError(f"kind_hours[{kind!r}] names stages other than {sorted(stages)}")
        for value in [
            *self.stage_hours.values(),
            *(h for hours in self.kind_hours.values() for h in hours.values()),
        ]:
            if not value > 0:
                raise ValueError("time limits are hours greater than 0")
        return self

    def limits_for(self, kind: str) -> dict[str, float]:
        """Hours allowed in each open stage for a case of ``kind``."""
        return {**self.stage_hours, **self.kind_hours.get(kind, {})}


#: the incident kinds a resident may report through the public form: what a neighbour sees
#: (a criminal case is the police's 110; petitions, lawsuits and overdue loans are not reports)
PUBLIC_KINDS: tuple[str, ...] = (
    "dispute",
    "security",
    "safety",
    "environment",
    "illegal_construction",
    "service_request",
    "other",
)


class PublicReportSettings(BaseSettings):
    """The resident-facing report form ``/report`` (群众上报), from ``GISGRID_PUBLIC_*``.

    Reports are counted from the audit log (action ``public_report``), so the limits hold
    across server processes and restarts: at most ``max_per_address`` accepted reports from
    one network address within ``window_minutes``, and ``max_per_hour`` from everyone
    together in the last hour (a flood from many addresses stops there).
    """

    model_config = SettingsConfigDict(env_prefix="GISGRID_PUBLIC_", extra="ignore")

    #: accepted reports one address may make within ``window_minutes``
    max_per_address: int = Field(default=5, ge=1)
    window_minutes: float = Field(default=60.0, gt=0)
    #: accepted reports from all addresses together within an hour
    max_per_hour: int = Field(default=200, ge=1)
    #: the kinds offered on the form (incident kinds; checked when the app starts)
    kinds: list[str] = Field(default_factory=lambda: list(PUBLIC_KINDS))


def default_store() -> str:
    """The store location from ``GISGRID_STORE`` or the documented default ``./gisgrid.gpkg``."""
    return StoreSettings().store


class AuthSettings(BaseSettings):
    """Sign-in, sessions and limits of the web app, from ``GISGRID_AUTH_*`` variables.

    The defaults suit a county office: a working day's session, signed out after an hour
    without use, five wrong passwords per account (twenty per address) in 15 minutes.
    """

    model_config = SettingsConfigDict(env_prefix="GISGRID_AUTH_", extra="ignore")

    #: hours a session lasts at most after signing in
    session_hours: float = Field(default=10.0, gt=0)
    #: minutes without a request after which a session ends
    idle_minutes: float = Field(default=60.0, gt=0)
    #: the session cookie is sent over HTTPS only (set false only for plain-HTTP testing
    #: on a machine's own loopback, where browsers treat http://localhost as secure anyway)
    cookie_secure: bool = True
    #: failed sign-ins allowed per account, and per address, within ``failure_window_minutes``
    max_failures_per_account: int = Field(default=5, ge=1)
    max_failures_per_address: int = Field(default=20, ge=1)
    failure_window_minutes: float = Field(default=15.0, gt=0)
    #: the shortest password accepted
    min_password_length: int = Field(default=10, ge=8)
    #: days an API token lasts unless created with another lifetime (0: no end)
    token_days: int = Field(default=365, ge=0)


class WebSettings(BaseSettings):
    """What the web server accepts, from ``GISGRID_WEB_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="GISGRID_WEB_", extra="ignore")

    #: origins allowed to call the API from other sites' pages (CORS); none by default
    cors_origins: list[str] = Field(default_factory=list)
    #: the largest request body accepted, in bytes (an import of a county's layers fits)
    max_body_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    #: the largest JSON body of an ordinary API request, in bytes
    max_json_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: how often a running server asks the store whether anyone changed it, in seconds
    fresh_seconds: float = Field(default=0.5, gt=0, le=60)
    #: seconds the requests under way get to finish once ``gisgrid serve`` is asked to stop
    #: (SIGTERM, Ctrl+C); new connections are refused meanwhile, and what is still running
    #: after them is cancelled
    shutdown_seconds: int = Field(default=30, ge=1, le=3600)
    #: one JSON line per request on standard output (``gisgrid serve --access-log``): time,
    #: method, route template, status, duration, bytes and the caller's role; nothing personal
    access_log: bool = False
    #: heavy requests (pages, maps, layers, household search, the check report, the
    #: workbook and the wall map) run at most this many at a time (default: one per core of
    #: the machine; more only slows the cheap ones); the cheap ones (``/api/health``,
    #: ``/api/locate``) never wait behind them
    heavy_concurrency: int = Field(
        default_factory=lambda: min(os.cpu_count() or 1, 32), ge=1, le=32
    )
    #: heavy requests that may wait for their turn; beyond them the answer is 503 with
    #: ``Retry-After`` at once, rather than a queue that grows without end
    heavy_queue: int = Field(default=16, ge=0, le=10_000)
    #: the seconds a busy answer (503) tells the client to wait (``Retry-After``)
    retry_after_seconds: int = Field(default=5, ge=1, le=3600)
    #: in a store of several counties (a prefecture's), the most counties whose layers,
    #: check report and household search a server process keeps at once (the least
    #: recently used are dropped; each county takes about 650 MiB per 150,000 households);
    #: a one-county store keeps its county whatever this says
    kept_counties: int = Field(default=2, ge=1, le=64)
