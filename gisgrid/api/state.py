"""What the web app keeps in memory between requests, built in the lifespan from the store."""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import functools
import gc
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import TracebackType
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid import codes
from gisgrid.analysis.assign import with_current_grid_codes
from gisgrid.analysis.indicators import FIGURE_LAYERS
from gisgrid.analysis.locate import Locator
from gisgrid.analysis.scope import Scope
from gisgrid.analysis.search import HouseholdSearch
from gisgrid.api.http import entity_tag
from gisgrid.errors import ConfigError, LocateError, NotFoundError, StoreError
from gisgrid.settings import AuthSettings
from gisgrid.stores.base import BBox, Store, Where, Window, asked_columns

log = logging.getLogger(__name__)

_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True)
class CachedPage:
    """A rendered page and the residents' records it shows (layer, ids), kept together: a
    page served again from the cache records those reads again."""

    html: str
    reads: tuple[tuple[str, list[str]], ...]

    @cached_property
    def etag(self) -> str:
        """The page's entity tag: the digest of its HTML (computed once per page built).

        The page is what the caller's view of the store (scope, data version) and the clock
        made of it: the tag changes exactly when the page does, and two callers share it
        only for the very same page.
        """
        digest = hashlib.sha256(self.html.encode("utf-8")).hexdigest()
        return entity_tag("page", digest)


class KeptReader:
    """The store, with its layers read whole taken from the frames kept (:meth:`AppState.frames`).

    A :class:`~gisgrid.stores.base.Reader`: a read of a whole layer the state keeps (no
    ``where`` or ``window``) is a copy of the kept frame, or with a ``bbox`` of its features
    intersecting the box (found by an STR tree of the frame's geometries, built once per
    frame kept: a vector tile's read, :mod:`gisgrid.api.routes.tiles`); every other read
    goes to the store. The frames are of the data version the state answers with and are
    forgotten at every write (:meth:`AppState.changed`, :meth:`AppState.refresh`), like
    every cache of the state; a point layer's ``grid_code`` is the grid covering each point
    now, which is what every reader puts there (:mod:`gisgrid.analysis.assign.current`).
    Seen through a :class:`~gisgrid.analysis.scope.ScopedReader` like the store itself: the
    scope, the masking and the audit of residents' records apply to it unchanged.
    """

    def __init__(
        self,
        store: Store,
        frames: dict[str, Any],
        trees: dict[str, tuple[pd.DataFrame, shapely.STRtree]] | None = None,
    ) -> None:
        self.store = store
        self.url = store.url
        self._frames = frames
        #: layer → (the frame, the STR tree of its geometries): shared by the readers of
        #: one state, a tree used only with the very frame it was built from
        self._trees = {} if trees is None else trees

    def layer_names(self) -> list[str]:
        return self.store.layer_names()

    def read(
        self,
        layer: str,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        columns: Sequence[str] | None = None,
        window: Window | None = None,
    ) -> pd.DataFrame:
        kept = self._frames.get(layer)
        if kept is None or where is not None or window is not None:
            return self.store.read(layer, bbox=bbox, where=where, columns=columns, window=window)
        if bbox is not None:
            if not isinstance(kept, gpd.GeoDataFrame):  # no geometry: the store's answer
                return self.store.read(layer, bbox=bbox, columns=columns)
            rows = np.sort(self._tree(layer, kept).query(shapely.box(*bbox), "intersects"))
            # the rows taken are a copy of their own already: no second one
            return asked_columns(kept.iloc[rows], columns)
        return asked_columns(kept, columns).copy()

    def _tree(self, layer: str, kept: gpd.GeoDataFrame) -> shapely.STRtree:
        found = self._trees.get(layer)
        if found is not None and found[0] is kept:
            return found[1]
        tree = shapely.STRtree(np.asarray(kept.geometry.array))
        self._trees[layer] = (kept, tree)  # a frame of another generation: replaced
        return tree

    def count(self, layer: str, *, where: Where | None = None, bbox: BBox | None = None) -> int:
        return self.store.count(layer, where=where, bbox=bbox)

    def get_meta(self, key: str) -> Any:
        return self.store.get_meta(key)


class WriteLock:
    """Serialises the writes of a server: of its threads, and of all the processes serving
    the store (the workers of ``gisgrid serve --workers N``, the servers of several
    machines on one database), which wait for their turn (:meth:`Store.writers_turn`)
    instead of being refused by the store's own writer lock."""

    def __init__(self, store: Store) -> None:
        self._threads = threading.Lock()
        self._store = store
        self._turn: contextlib.ExitStack | None = None

    def __enter__(self) -> WriteLock:
        self._threads.acquire()
        try:
            with contextlib.ExitStack() as turn:
                turn.enter_context(self._store.writers_turn())
                self._turn = turn.pop_all()
        except BaseException:
            self._threads.release()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        turn, self._turn = self._turn, None
        try:
            if turn is not None:
                turn.__exit__(kind, exc, tb)
        finally:
            self._threads.release()


@dataclass
class AppState:
    """The store, the locator (grids in memory) and the household search index.

    FastAPI runs plain ``def`` endpoints in a thread pool: the locator guards its GEOS
    geometries with its own lock, and ``write_lock`` serialises writes to the store (with
    those of every other process serving it: :class:`WriteLock`).

    **Fresh answers.** ``version`` is the store's data version (:meth:`Store.data_version`)
    that the locator and the caches were built from. :meth:`refresh` asks the store for it
    and, when it differs (a write by anyone: this process, the CLI, another server, QGIS),
    builds a new locator, swaps it in (one attribute assignment: a request uses the old
    grids or the new ones, never a half-built state) and forgets every cache. :meth:`watch`
    runs it in a thread of its own at once when the store announces a write
    (:meth:`Store.wait_for_change`: PostgreSQL's ``NOTIFY``) and every ``fresh_seconds``
    in any case: requests never wait for it and pay nothing for it (``/api/locate`` reads
    one attribute). Every worker process of ``gisgrid serve --workers N`` has its own.
    """

    store: Store
    locator: Locator
    auth: AuthSettings = field(default_factory=AuthSettings)
    #: the store's data version the locator and caches were built from (``None``: unknown)
    version: str | None = None
    write_lock: WriteLock = field(init=False)
    #: the most counties whose working set (layers, report, search, scope masks) is kept
    #: at once in a store of several (:class:`WorkingSet`); a one-county store keeps its one
    kept_counties: int = 2
    #: the counties' working sets, the least recently used first
    _sets: OrderedDict[str, WorkingSet] = field(default_factory=OrderedDict)
    #: the household search of the counties kept (outlives :meth:`changed`: the web app
    #: writes no households), the least recently used first
    _searches: OrderedDict[str, HouseholdSearch] = field(default_factory=OrderedDict)
    #: each county's small figures for the prefecture's level (:meth:`county_summary`)
    _summaries: dict[str, CountySummary] = field(default_factory=dict)
    _outlines: tuple[Locator, dict[str, Any]] | None = None
    _pages: dict[tuple[Any, ...], CachedPage] = field(default_factory=dict)
    #: small results kept for a while (:meth:`kept_value`)
    _values: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    #: the hot paths are ready: the grids and the locate index loaded and answered once
    #: (what readiness waits for: :meth:`warm`)
    warmed: threading.Event = field(default_factory=threading.Event)
    #: the caches are filled: the dashboard's layers, the report, the household search
    #: (computed after :attr:`warmed`, in the background: :meth:`warm`)
    filled: threading.Event = field(default_factory=threading.Event)
    #: guards the caches' attributes for a moment; nothing is read or computed under it
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)
    #: one reading of the layers, one computing of the report at a time
    _frames_lock: threading.Lock = field(default_factory=threading.Lock)
    _report_lock: threading.Lock = field(default_factory=threading.Lock)
    #: counts the times the caches were forgotten: what was built from older data is not kept
    _generation: int = 0
    _refresh_lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _watcher: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.write_lock = WriteLock(self.store)

    @classmethod
    def load(
        cls, store: Store, *, auth: AuthSettings | None = None, kept_counties: int = 2
    ) -> AppState:
        """The state of a server starting on ``store``: its grids and their data version
        (``kept_counties``: :attr:`kept_counties`)."""
        version = _data_version(store)  # before the data: a write in between shows next time
        return cls(
            store=store,
            locator=Locator.from_store(store),
            auth=auth or AuthSettings(),
            version=version,
            kept_counties=kept_counties,
        )

    # freshness ----------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Reload the grids and forget the caches when the store's data version changed.

        The new locator is built before anything is swapped: meanwhile requests go on with
        the old one. A store that cannot be asked (PostgreSQL down, a file being replaced)
        leaves everything as it is, to be asked again next time.

        Returns
        -------
        bool
            Whether it reloaded.
        """
        with self._refresh_lock:  # one reload at a time
            version = _data_version(self.store)
            if version is None or version == self.version:
                return False
            try:
                locator = Locator.from_store(self.store)
            except StoreError as exc:
                log.warning("gisgrid: could not reload the grids, retrying: %s", exc)
                return False
            # the grids first (requests use them at once), then the caches; the version
            # last: once a server says it answers with a version, everything it answers does
            self.locator = locator
            self._forget(search=True)
            gc.unfreeze()  # what was kept until now may go (its cycles too): see _keep_out_of_gc
            self.version = version
            return True

    def watch(self, *, every: float) -> None:
        """Call :meth:`refresh` in a daemon thread until :meth:`stop`: at once when the store
        announces a write (:meth:`Store.wait_for_change`), and every ``every`` seconds in any
        case (a store that announces nothing, an announcement lost while the listening
        connection was down)."""
        if self._watcher is not None:
            return

        def run() -> None:
            due = time.monotonic() + every
            while not self._stop.is_set():
                try:
                    # at most a second at a time: stop() ends the thread within a second
                    announced = self.store.wait_for_change(min(every, 1.0))
                    if self._stop.is_set():
                        return
                    if announced or time.monotonic() >= due:
                        due = time.monotonic() + every
                        self.refresh()
                except Exception:  # never let the thread die: the next round tries again
                    log.exception("gisgrid: reloading after a change of the store failed")
                    self._stop.wait(min(every, 1.0))

        self._watcher = threading.Thread(target=run, name="gisgrid-fresh", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """End the thread of :meth:`watch` (waits for a reload under way)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=60)
            self._watcher = None

    # the counties' working sets -------------------------------------------------------------
    @property
    def counties(self) -> tuple[str, ...]:
        """The counties of the store (of its grids in force today), in code order."""
        return self.locator.net().counties

    @property
    def several(self) -> bool:
        """Whether the store holds several counties (a prefecture's)."""
        return len(self.counties) > 1

    def county_for(self, area: str | None = None, *, scope: Scope | None = None) -> str:
        """The county whose working set answers for ``area`` (a county, township, village or
        grid code), else for the caller's area (``scope``: its home, or a grid worker's first
        grid); the store's one county when it has one.

        Raises
        ------
        NotFoundError
            The county named is not in the store.
        ConfigError
            In a store of several counties, when neither names a county (a prefecture's
            level is answered county by county: :meth:`county_summary`).
        """
        counties = self.counties
        if len(counties) <= 1:
            return counties[0] if counties else ""
        home = None
        if scope is not None and not scope.whole_county:
            home = scope.home or (scope.areas[0] if scope.areas else None)
        for code in (area, home):
            if code is not None and not codes.is_prefecture(code):
                county = codes.county_of(code)
                if county in counties:
                    return county
                raise NotFoundError(f"no county {county} in this store")
        raise ConfigError(
            "the store holds several counties: give a county, township or village code "
            "(全市范围请先选择县（市、区）)"
        )

    def kept(self) -> tuple[str, ...]:
        """The counties whose layers are held now, the least recently used first."""
        with self._cache_lock:
            return tuple(self._sets)

    def _key(self, county: str | None) -> str:
        if county is None:
            return self.county_for()
        return county

    def _working_set(self, county: str | None) -> WorkingSet:
        """The working set of ``county`` (``None``: the store's one county), its layers read
        on first need (:meth:`frames`)."""
        key = self._key(county)
        with self._cache_lock:
            found = self._sets.get(key)
            if found is not None:
                self._sets.move_to_end(key)
                return found
        with self._frames_lock:  # one reading of layers at a time
            with self._cache_lock:
                found = self._sets.get(key)
                if found is not None:
                    self._sets.move_to_end(key)
                    return found
                generation = self._generation
                # room first: never more than kept_counties held by the state, even while
                # the next one is read
                while len(self._sets) >= max(1, self.kept_counties):
                    self._drop(next(iter(self._sets)))
            found = WorkingSet(county=key, frames=self._read(key))
            if self.several:  # what the county dropped and the reading held: to the system
                _release_memory()
            with self._cache_lock:
                if generation == self._generation:  # not read from data forgotten meanwhile
                    while len(self._sets) >= max(1, self.kept_counties):
                        self._drop(next(iter(self._sets)))
                    self._sets[key] = found
            return found

    def _drop(self, county: str) -> None:
        """Forget a county's working set and search (under the cache lock)."""
        self._sets.pop(county, None)
        self._searches.pop(county, None)

    def _read(self, county: str) -> dict[str, Any]:
        """The layers of ``county``: the whole store's for a one-county store (as ever), else
        the county's alone (:func:`gisgrid.analysis.county_frames.county_frames`)."""
        if not self.several:
            # the figures' layers, and the cases' steps the county map reads whole on its
            # first build (80 ms from the store)
            frames = {name: self.store.read(name) for name in (*FIGURE_LAYERS, "case_steps")}
            # every point's grid is the one covering it now (the rule of every reader),
            # from the locator's index of the same grids
            return with_current_grid_codes(frames, index=self.locator.grid_index)
        from gisgrid.analysis.county_frames import county_frames

        return county_frames(self.store, self.locator, county, outlines=self._county_outlines())

    def _county_outlines(self) -> dict[str, Any]:
        """Every county's outline, computed once per locator (the grids' reload)."""
        from gisgrid.analysis.county_frames import county_outlines

        locator = self.locator
        found = self._outlines
        if found is None or found[0] is not locator:
            found = (locator, county_outlines(locator.townships))
            self._outlines = found
        return found[1]

    def frames(self, county: str | None = None) -> dict[str, Any]:
        """The layers the dashboard and report need of ``county`` (``None``: the store's one
        county), read on first need and kept until a write; at most :attr:`kept_counties`
        counties at once, the least recently used dropped (:class:`WorkingSet`).

        ``grid_code`` of households, incidents and service points is the level-3 grid that
        covers each point now (:func:`gisgrid.analysis.assign.with_current_grid_codes`).

        Read outside the cache lock (one reading at a time, under a lock of its own): the
        other caches, and the requests that need none of this, never wait for it.
        """
        return self._working_set(county).frames

    def kept_reader(self, county: str | None = None) -> KeptReader:
        """The store with its whole layers taken from :meth:`frames` of ``county`` (read them
        first when they are not kept): what a county map reads, in memory
        (:class:`KeptReader`)."""
        kept = self._working_set(county)
        return KeptReader(self.store, kept.frames, kept.trees)

    def kept_reader_now(self) -> KeptReader | None:
        """:meth:`kept_reader` of a one-county store when its layers are kept already, else
        ``None`` at once, the layers then read in a thread of their own for the requests to
        come (a vector tile never waits seconds for the whole county after a write: it reads
        the store meanwhile). Always ``None`` in a store of several counties: a tile may
        straddle two, and a county's working set holds one (the store answers its box)."""
        if self.several:
            return None
        with self._cache_lock:
            kept = next(iter(self._sets.values()), None)
        if kept is not None:
            return KeptReader(self.store, kept.frames, kept.trees)
        if not self._frames_lock.locked():  # (two threads at once: the second finds them)
            threading.Thread(target=self._fill_frames, name="gisgrid-frames", daemon=True).start()
        return None

    def _fill_frames(self) -> None:
        try:
            self.frames()
        except Exception:  # a request needing them will raise it again, with its status
            log.exception("gisgrid: reading the layers to keep failed")

    def report(self, county: str | None = None) -> dict[str, Any]:
        """The check report of ``county`` (``None``: the store's one county), computed on
        first use and kept with its working set until a write.

        Computed outside the cache lock, one at a time under a lock of its own, like
        :meth:`frames`.
        """
        found = self._working_set(county).report
        if found is not None:
            return found
        with self._report_lock:
            with self._cache_lock:
                generation = self._generation
            kept = self._working_set(county)
            if kept.report is not None:
                return kept.report
            from gisgrid.analysis.checks import run_checks

            as_of = None
            manifest = self.store.get_meta("sample_manifest")
            if isinstance(manifest, dict) and manifest.get("as_of"):
                as_of = dt.date.fromisoformat(manifest["as_of"])
            report = run_checks(kept.frames, as_of=as_of).to_dict()
            with self._cache_lock:
                if generation == self._generation:
                    kept.report = report
            return report

    def county_summary(self, county: str) -> CountySummary:
        """The small figures of ``county`` the prefecture's level shows (kept per data
        version, whatever the counties kept): its row of the dashboard, its trend, its
        totals and its check report's counts (:class:`CountySummary`)."""
        return self._kept_in(
            self._summaries,
            county,
            lambda: CountySummary.of(county, self.frames(county), self.report(county), self.store),
        )

    def page(self, key: tuple[Any, ...], build: Callable[[], CachedPage]) -> CachedPage:
        """A rendered page from the cache, built on first use."""
        # pages of past minutes (the cases' clock) are dropped all at once past 256
        return self._kept_in(self._pages, key, build, most=256)

    def kept_value(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        """A small result kept under ``key`` until a write (put the clock's minute in the
        key of what the clock changes), built on first use."""
        return self._kept_in(self._values, key, build, most=64)

    def _kept_in(
        self, kept: dict[_K, _V], key: _K, build: Callable[[], _V], *, most: int | None = None
    ) -> _V:
        """``kept[key]``, built on first use outside the cache lock and kept unless a write
        came meanwhile (the generation); past ``most`` entries the dict starts again."""
        with self._cache_lock:
            found = kept.get(key)
            generation = self._generation
        if found is None:
            found = build()
            with self._cache_lock:
                if most is not None and len(kept) > most:
                    kept.clear()
                if generation == self._generation:  # not built from data forgotten meanwhile
                    kept[key] = found
        return found

    def warm(self) -> None:
        """Make the hot paths ready (:attr:`warmed`), then fill the caches (:attr:`filled`): the
        dashboard's layers, the report, the search index and the county map's geometry.

        The grids and the locate index are loaded before (:meth:`load`): one lookup at a
        point of the county builds what a lookup builds on first use, and the server is
        ready. The layers, the report and the household search (seconds on a county) are
        computed after, in the same thread; a request needing one of them meanwhile computes
        it (or waits for the computation under way). Errors surface on first use. A server
        stopping (:meth:`stop`) ends it after the step under way.

        In a store of several counties (a prefecture's) the caches filled are the
        prefecture's level: each county's small figures (:meth:`county_summary`), computed
        county by county; no more than :attr:`kept_counties` counties' layers stay.
        """
        try:
            self.prime()
            _keep_out_of_gc()  # the grids and their index
        finally:
            self.warmed.set()
        steps: tuple[Callable[[], object], ...] = (
            self.report,
            lambda: self.search,
            self._draw_county,
        )
        if self.several:  # the prefecture's level, county by county: its small figures only
            steps = tuple(
                functools.partial(self.county_summary, county) for county in self.counties
            )
        try:
            for step in steps:
                if self._stop.is_set():  # the server is stopping: no more of it
                    return
                step()
        except Exception:  # a request will raise it again, with its own status
            pass
        finally:
            if not self.several:  # a prefecture's working sets come and go: never frozen
                _keep_out_of_gc()
            self.filled.set()

    def _draw_county(self) -> None:
        """Draw the county's coverage map once, for no one (nothing kept, nothing recorded):
        its grids, villages and townships simplified and encoded (seconds), which the first
        map page of anyone takes again (:func:`gisgrid.cartography.payload.polygons` keeps
        them by their content)."""
        from gisgrid.analysis.assign import local_now
        from gisgrid.cartography import build_map

        build_map("coverage", self.kept_reader(), report=self.report(), now=local_now())

    def prime(self) -> None:
        """One lookup at a point inside the county: what a first ``/api/locate`` would build
        (the prepared geometries of the net, the trees) is built here, and the grids by
        their responsible persons' phones, which every signed-in request's scope reads."""
        locator = self.locator
        _ = locator.net().by_phone
        if locator.county.is_empty:
            return
        at = locator.county.representative_point()
        with contextlib.suppress(LocateError):  # a point in a gap is answered too
            locator.locate(at.x, at.y)

    def store_problem(self) -> StoreError | None:
        """Why the store cannot be read right now; ``None`` when it answers.

        Asks the store each time (one small read): a PostGIS server that is down answers
        within its connect timeout, and one that is back is found at the next call.
        """
        try:
            self.store.layer_names()
        except StoreError as exc:
            return exc
        return None

    def changed(self) -> None:
        """Forget what was computed from the store: call after every write of this process
        (the grids follow at the next :meth:`refresh`, as for anyone else's write)."""
        self._forget(search=False)

    def _forget(self, *, search: bool) -> None:
        """Forget the caches (and the search indexes too, with ``search``).

        Under the cache lock, which nothing is computed under: a frame or report being
        computed meanwhile is kept only if no forgetting came between (the generation).
        """
        with self._cache_lock:
            self._generation += 1
            self._sets.clear()
            self._summaries.clear()
            self._pages.clear()
            self._values.clear()
            if search:
                self._searches.clear()

    def households_in(self, scope: Scope, county: str | None = None) -> np.ndarray:
        """Which households of :meth:`search_in` of ``county`` lie in ``scope`` (kept per
        scope with the county's working set until a write)."""
        key = scope.key
        kept = self._working_set(county)
        with self._cache_lock:
            found = kept.in_scope.get(key)
            generation = self._generation
        if found is None:
            found = scope.rows_in("households", kept.frames["households"])
            with self._cache_lock:
                if len(kept.in_scope) > 256:  # many distinct scopes: start again
                    kept.in_scope.clear()
                if generation == self._generation:
                    kept.in_scope[key] = found
        return found

    def search_in(self, county: str | None = None) -> HouseholdSearch:
        """The household search of ``county`` (``None``: the store's one county), built on
        first use from the households :meth:`frames` already read (the web app writes no
        households, so it outlives :meth:`changed`, not a :meth:`refresh`); 150,000 take
        about a second. Kept for the counties kept, like their layers."""
        key = self._key(county)
        with self._cache_lock:
            found = self._searches.get(key)
            generation = self._generation
            if found is not None:
                self._searches.move_to_end(key)
        if found is None:
            households = self.frames(key)["households"]
            found = HouseholdSearch(households)
            with self._cache_lock:
                if generation == self._generation and key in self._sets:
                    self._searches[key] = found
        return found

    @property
    def search(self) -> HouseholdSearch:
        """The household search of the store's one county (:meth:`search_in`)."""
        return self.search_in()


@dataclass
class WorkingSet:
    """What the state keeps of one county: its layers, and what is computed from them on
    first need (its check report, which households each scope sees). Forgotten whole at a
    write, or when the county is the least recently used of more than
    :attr:`AppState.kept_counties`."""

    county: str
    frames: dict[str, Any]
    report: dict[str, Any] | None = None
    in_scope: dict[tuple[object, ...], np.ndarray] = field(default_factory=dict)
    #: layer → (its frame, the STR tree of its geometries), built on first need by the
    #: :class:`KeptReader` of these frames (a vector tile's box), gone with the set
    trees: dict[str, tuple[pd.DataFrame, shapely.STRtree]] = field(default_factory=dict)


@dataclass(frozen=True)
class CountySummary:
    """A county's figures at the prefecture's level, without its layers: kept per data
    version for every county (a few kilobytes each), so that the prefecture's page never
    holds all counties at once.

    Attributes
    ----------
    row
        Its row of the prefecture's table (:func:`~gisgrid.analysis.indicators.area_table`
        at the county level, cases without the clock: see ``incidents``).
    totals
        Its :func:`~gisgrid.analysis.indicators.totals` (cases left to the clock).
    trend
        Incidents reported and cases closed per month
        (:func:`~gisgrid.analysis.indicators.monthly_trend`).
    months
        The months of the trend.
    incidents
        Its incidents' ``id`` and ``status``: the cases' figures are read on the clock of
        each request from them (:func:`~gisgrid.analysis.cases.case_columns`).
    counts
        Per check, the number of findings in the county's report.
    meta
        The county report's ``meta``.
    """

    county: str
    row: dict[str, Any]
    totals: dict[str, Any]
    trend: dict[str, list[int]]
    months: list[str]
    incidents: pd.DataFrame
    counts: dict[str, int]
    meta: dict[str, Any]

    @classmethod
    def of(
        cls,
        county: str,
        frames: dict[str, Any],
        report: dict[str, Any],
        store: Store,
    ) -> CountySummary:
        """Compute the summary from the county's layers and report."""
        from gisgrid.analysis import indicators
        from gisgrid.analysis.assign import local_now
        from gisgrid.analysis.cases import case_columns, summarise_cases
        from gisgrid.cartography import county_names

        incidents = frames["incidents"]
        ids = sorted(incidents["id"].astype(str))
        steps = store.read("case_steps", where={"incident_id": ids}) if ids else None
        cases = None
        if steps is not None:
            # the closing times (the trend) do not depend on the clock
            cases = case_columns(incidents, summarise_cases(incidents, steps, now=local_now()))
        names = county_names(store)
        table = indicators.area_table(
            frames, report, level="county", within=None, county_names=names
        )
        row: dict[str, Any] = {"code": county, "name": county}
        if len(table):
            row = {str(k): v for k, v in table.to_dict("records")[0].items()}
        trend = indicators.monthly_trend(frames, report, [county], cases=cases)[county]
        return cls(
            county=county,
            row=row,
            totals=indicators.totals(frames, report, within=None),
            trend=trend,
            months=[str(m) for m in indicators.trend_months(report)],
            incidents=incidents[["id", "status"]].reset_index(drop=True),
            counts={
                name: int(value.get("count", 0))
                for name, value in report.items()
                if isinstance(value, dict) and "count" in value
            },
            meta=dict(report.get("meta", {})),
        )


def _keep_out_of_gc() -> None:
    """Move every object alive now out of the cyclic garbage collector's reach (``gc.freeze``).

    A warm server holds about half a million objects (grids, layers, the search index); a
    full collection walks them all, 0.1 s or more during which no request is answered, and
    comes every so often however little a request allocates: the p99 of ``/api/locate``.
    Frozen objects are still freed by reference counting when dropped; a reload after a
    write (:meth:`AppState.refresh`) unfreezes them, so that cycles among the dropped ones
    are collected too.
    """
    gc.freeze()


def _release_memory() -> None:
    """Hand the memory freed by a county's working set back to the system (glibc's
    ``malloc_trim``; elsewhere nothing): without it the process keeps the pages of the
    largest counties it ever held, and its resident memory grows to theirs."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.malloc_trim(0)


def _data_version(store: Store) -> str | None:
    """The store's data version, ``None`` when it cannot be asked right now."""
    try:
        return store.data_version()
    except StoreError as exc:  # debug only: while PostgreSQL is down, this comes twice a second
        log.debug("gisgrid: cannot ask the store for its data version: %s", exc)
        return None
