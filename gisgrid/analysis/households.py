"""Households as field staff look them up: search hits and one household with its grid,
responsible person, backbone link and nearest service points, as typed results.

A household's grid is the level-3 grid covering it now (the one rule of every reader,
:func:`gisgrid.analysis.assign.current_grid_codes`), not the stored ``grid_code``. Results
carry only what the finder shows: households are personal information.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gisgrid.analysis.locate import GridPerson, Locator, NearestService
from gisgrid.analysis.records import bool_or_none, int_or_none, text_or_none
from gisgrid.analysis.search import HouseholdSearch
from gisgrid.errors import NotFoundError
from gisgrid.stores.base import Reader


@dataclass(frozen=True)
class HouseholdSummary:
    """What the finder shows of one household; ``grid_code`` is the grid covering it now."""

    id: str
    head_name: str | None
    house_number: str | None
    village_code: str | None
    members: int | None
    elderly: int | None
    party_member: bool | None
    backbone: bool | None
    backbone_id: str | None
    grid_code: str | None
    lon: float
    lat: float

    @classmethod
    def of(cls, row: Mapping[str, Any], *, grid_code: str | None) -> HouseholdSummary:
        """From a row of the ``households`` layer and the grid covering it now."""
        point = row["geometry"]
        return cls(
            id=str(row["id"]),
            head_name=text_or_none(row["head_name"]),
            house_number=text_or_none(row["house_number"]),
            village_code=text_or_none(row["village_code"]),
            members=int_or_none(row["members"]),
            elderly=int_or_none(row["elderly"]),
            party_member=bool_or_none(row["party_member"]),
            backbone=bool_or_none(row["backbone"]),
            backbone_id=text_or_none(row["backbone_id"]),
            grid_code=grid_code,
            lon=round(float(shapely.get_x(point)), 7),
            lat=round(float(shapely.get_y(point)), 7),
        )


def summaries(households: pd.DataFrame, locator: Locator) -> list[HouseholdSummary]:
    """:class:`HouseholdSummary` of every row of ``households``, in order."""
    if len(households) == 0:
        return []
    geoms = households.geometry.values
    codes = locator.level3_codes(shapely.get_x(geoms), shapely.get_y(geoms))
    rows = [{str(k): v for k, v in row.items()} for row in households.to_dict("records")]
    return [
        HouseholdSummary.of(row, grid_code=text_or_none(code))
        for row, code in zip(rows, codes, strict=True)
    ]


@dataclass(frozen=True)
class SearchHit:
    """One household found, and how well it matched (see :mod:`gisgrid.analysis.search`)."""

    household: HouseholdSummary
    score: int


@dataclass(frozen=True)
class SearchResult:
    """The households a query found, best first."""

    query: str
    hits: tuple[SearchHit, ...]


def search_households(
    index: HouseholdSearch,
    store: Reader,
    locator: Locator,
    query: str,
    *,
    village: str | None = None,
    limit: int = 20,
    allowed: np.ndarray | None = None,
) -> SearchResult:
    """Households matching ``query`` (see :meth:`HouseholdSearch.search`; ``allowed``: the
    caller's area), read from ``store``."""
    hits = index.search(query, village=village, limit=limit, allowed=allowed)
    if not hits:
        return SearchResult(query, ())
    frame = store.read("households", where={"id": [h.id for h in hits]})
    found = {h.id: h for h in summaries(frame, locator)}
    return SearchResult(
        query, tuple(SearchHit(found[h.id], h.score) for h in hits if h.id in found)
    )


@dataclass(frozen=True)
class HouseholdDetail:
    """One household, its level-3 grid (responsible person), backbone link, nearest services.

    Attributes
    ----------
    household
        The household.
    grid
        The level-3 grid covering it now, with its responsible person (``None``: in no grid).
    backbone
        The backbone household it is linked to (``None``: none, or not in the store).
    linked_households
        The households it looks after, when it is a backbone household.
    nearest_services
        The nearest service point of each kind.
    """

    household: HouseholdSummary
    grid: GridPerson | None
    backbone: HouseholdSummary | None
    linked_households: tuple[HouseholdSummary, ...]
    nearest_services: tuple[NearestService, ...]


def household_detail(store: Reader, locator: Locator, household_id: str) -> HouseholdDetail:
    """One household with everything the finder shows of it.

    Raises
    ------
    NotFoundError
        No household ``household_id`` in the store.
    """
    frame = store.read("households", where={"id": household_id})
    if len(frame) == 0:
        raise NotFoundError(f"no household {household_id}")
    here = summaries(frame.iloc[:1], locator)[0]
    backbone = None
    if here.backbone_id is not None:
        found = summaries(store.read("households", where={"id": here.backbone_id}), locator)
        backbone = found[0] if found else None
    linked: list[HouseholdSummary] = []
    if here.backbone:
        linked = summaries(store.read("households", where={"backbone_id": household_id}), locator)
    return HouseholdDetail(
        household=here,
        grid=locator.grid(here.grid_code),
        backbone=backbone,
        linked_households=tuple(linked),
        nearest_services=locator.nearest_services(here.lon, here.lat),
    )


__all__ = [
    "HouseholdDetail",
    "HouseholdSummary",
    "SearchHit",
    "SearchResult",
    "household_detail",
    "search_households",
    "summaries",
]
