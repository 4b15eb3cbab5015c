"""What the web app keeps in memory between requests, built in the lifespan from the store."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from gisgrid.locate import Locator
from gisgrid.search import HouseholdSearch
from gisgrid.stores.base import Store


@dataclass
class AppState:
    """The store, the locator (grids in memory) and the household search index.

    FastAPI runs plain ``def`` endpoints in a thread pool: the locator guards its GEOS
    geometries with its own lock, and ``write_lock`` serialises writes to the store.
    """

    store: Store
    locator: Locator
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    _search: HouseholdSearch | None = None

    @classmethod
    def load(cls, store: Store) -> AppState:
        return cls(store=store, locator=Locator.from_store(store))

    @property
    def search(self) -> HouseholdSearch:
        """Built on first use: 150,000 households take about a second."""
        if self._search is None:
            self._search = HouseholdSearch(
                self.store.read(
                    "households", columns=["id", "head_name", "house_number", "village_code"]
                )
            )
        return self._search
