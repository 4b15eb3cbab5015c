"""What the web app keeps in memory between requests, built in the lifespan from the store."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gisgrid.analysis.assign import with_current_grid_codes
from gisgrid.analysis.locate import Locator
from gisgrid.analysis.scope import Scope
from gisgrid.analysis.search import HouseholdSearch
from gisgrid.errors import StoreError
from gisgrid.settings import AuthSettings
from gisgrid.stores.base import Store

#: what the dashboard and the check report read
REPORT_LAYERS = ("townships", "villages", "grids", "households", "service_points", "incidents")


@dataclass(frozen=True)
class CachedPage:
    """A rendered page and the residents' records it shows (layer, ids), kept together: a
    page served again from the cache records those reads again."""

    html: str
    reads: tuple[tuple[str, list[str]], ...]


@dataclass
class AppState:
    """The store, the locator (grids in memory) and the household search index.

    FastAPI runs plain ``def`` endpoints in a thread pool: the locator guards its GEOS
    geometries with its own lock, and ``write_lock`` serialises writes to the store.
    """

    store: Store
    locator: Locator
    auth: AuthSettings = field(default_factory=AuthSettings)
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    _search: HouseholdSearch | None = None
    _frames: dict[str, Any] | None = None
    _report: dict[str, Any] | None = None
    _pages: dict[tuple[Any, ...], CachedPage] = field(default_factory=dict)
    _in_scope: dict[tuple[object, ...], np.ndarray] = field(default_factory=dict)
    warmed: threading.Event = field(default_factory=threading.Event)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, store: Store, *, auth: AuthSettings | None = None) -> AppState:
        return cls(store=store, locator=Locator.from_store(store), auth=auth or AuthSettings())

    def frames(self) -> dict[str, Any]:
        """The layers the dashboard and report need, read once and kept until a write.

        ``grid_code`` of households, incidents and service points is the level-3 grid that
        covers each point now (:func:`gisgrid.analysis.assign.with_current_grid_codes`).
        """
        with self._cache_lock:
            if self._frames is None:
                frames = {name: self.store.read(name) for name in REPORT_LAYERS}
                # every point's grid is the one covering it now (the rule of every reader),
                # from the locator's index of the same grids
                self._frames = with_current_grid_codes(frames, index=self.locator.grid_index)
            return self._frames

    def report(self) -> dict[str, Any]:
        """The check report of the whole county (computed on first use, kept until a write)."""
        frames = self.frames()
        with self._cache_lock:
            if self._report is None:
                from gisgrid.analysis.checks import run_checks

                as_of = None
                manifest = self.store.get_meta("sample_manifest")
                if isinstance(manifest, dict) and manifest.get("as_of"):
                    as_of = dt.date.fromisoformat(manifest["as_of"])
                self._report = run_checks(frames, as_of=as_of).to_dict()
            return self._report

    def page(self, key: tuple[Any, ...], build: Callable[[], CachedPage]) -> CachedPage:
        """A rendered page from the cache, built on first use."""
        with self._cache_lock:
            cached = self._pages.get(key)
        if cached is None:
            cached = build()
            with self._cache_lock:
                self._pages[key] = cached
        return cached

    def warm(self) -> None:
        """Fill the caches (layers, report, search index); errors surface on first use."""
        try:
            self.report()
            _ = self.search
        except Exception:  # a request will raise it again, with its own status
            pass
        finally:
            self.warmed.set()

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
        """Forget what was computed from the store: call after every write."""
        with self._cache_lock:
            self._frames = None
            self._report = None
            self._pages.clear()
            self._in_scope.clear()

    def households_in(self, scope: Scope) -> np.ndarray:
        """Which households of :attr:`search` lie in ``scope`` (kept per scope until a write)."""
        key = scope.key
        with self._cache_lock:
            found = self._in_scope.get(key)
        if found is None:
            found = scope.rows_in("households", self.frames()["households"])
            with self._cache_lock:
                if len(self._in_scope) > 256:  # many distinct scopes: start again
                    self._in_scope.clear()
                self._in_scope[key] = found
        return found

    @property
    def search(self) -> HouseholdSearch:
        """Built on first use from the households :meth:`frames` already read (the web app
        writes no households, so it outlives :meth:`changed`); 150,000 take about a second."""
        if self._search is None:
            self._search = HouseholdSearch(self.frames()["households"])
        return self._search
