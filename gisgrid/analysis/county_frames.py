"""One county's layers out of a store of several (a prefecture's): what the web app keeps per
county instead of the whole store.

A point counts in a county by the one rule of every reader: the county of the level-3 grid
covering it now (:func:`gisgrid.analysis.assign.with_current_grid_codes`), or, for a point in
no level-3 grid, the county whose outline (the union of its townships) covers it, the
smallest code where two do (a point on their common border). A point no county covers counts
in none. The townships, villages and grids are the county's by their code, taken from the
locator, which holds the whole net already: only the households and incidents are read, by
the county's bounding box, then kept by the rule, and the visits to those households (the
columns the checks and maps read: :data:`VISIT_COLUMNS`). The
service points are every county's (the locator's, a few thousand in a prefecture): a
household's nearest one may stand across the county's border, and the distance checks and
figures measure to it as they do on the whole store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid import codes as gridcodes
from gisgrid.analysis.assign import covering_codes, with_current_grid_codes
from gisgrid.analysis.indicators import FIGURE_LAYERS
from gisgrid.analysis.locate import Locator
from gisgrid.stores.base import Reader, Window

#: the point layers read by the county's box and kept by the rule
POINT_LAYERS = ("households", "incidents")
#: visits are read this many rows at a time, each slice cut to the county's households
VISIT_SLICE = 250_000
#: the columns of the visits kept: what the checks and the maps read of them
#: (:data:`gisgrid.analysis.checks.context.LAYER_COLUMNS`,
#: :func:`gisgrid.cartography.data.load_area`)
VISIT_COLUMNS = ["household_id", "at"]
#: degrees added around the county's box (about 200 m): a point on its edge is read too
PAD = 0.002


def county_outlines(townships: gpd.GeoDataFrame) -> dict[str, shapely.Geometry]:
    """Each county's outline: the union of its townships, by county code."""
    county = gridcodes.counties_of(townships["code"])
    return {
        str(c): shapely.union_all(townships.geometry.values[county == c])
        for c in sorted({str(x) for x in county if x is not None})
    }


def counties_of_points(
    points: gpd.GeoDataFrame, outlines: Mapping[str, shapely.Geometry]
) -> np.ndarray:
    """The county each point counts in (``None``: none), by the rule of this module.

    ``points`` carry their current ``grid_code``.
    """
    out = gridcodes.counties_of(points["grid_code"].to_numpy(dtype=object))
    loose = np.flatnonzero(pd.isna(out))
    if len(loose) and outlines:
        out[loose] = covering_codes(
            np.asarray(points.geometry.values, dtype=object)[loose],
            np.asarray(list(outlines.values()), dtype=object),
            np.asarray(list(outlines), dtype=object),
        )
    return out


def _mine(frame: pd.DataFrame, county: str) -> pd.DataFrame:
    inside = gridcodes.counties_of(frame["code"]) == county
    return frame[inside].reset_index(drop=True)


def county_frames(
    store: Reader,
    locator: Locator,
    county: str,
    *,
    outlines: Mapping[str, shapely.Geometry],
) -> dict[str, Any]:
    """The :data:`~gisgrid.analysis.indicators.FIGURE_LAYERS` of ``county`` alone.

    Parameters
    ----------
    store
        The store (its data version is the locator's).
    locator
        The state's locator: the townships, villages and grids in force today are taken
        from it, and the points' grids are looked up in its index.
    county
        The county's code.
    outlines
        Every county's outline (:func:`county_outlines`): a point in no grid counts in the
        county covering it.

    Returns
    -------
    dict
        Layer name → frame, as :meth:`gisgrid.api.state.AppState.frames` holds them: the
        point layers with their current ``grid_code``, the grids in force today.
    """
    townships = _mine(locator.townships, county)
    out: dict[str, Any] = {
        "townships": townships,
        "villages": _mine(locator.villages, county),
        "grids": _mine(locator.grids, county),
    }
    services = {"service_points": locator.service_points}
    out |= with_current_grid_codes(services, index=locator.grid_index)
    if townships.empty:
        empty = {name: store.read(name, where={"id": []}) for name in POINT_LAYERS}
        out |= with_current_grid_codes(empty, index=locator.grid_index)
        out["visits"] = store.read("visits", where={"id": []}, columns=VISIT_COLUMNS)
        return out
    x0, y0, x1, y1 = (float(v) for v in townships.total_bounds)
    box = (x0 - PAD, y0 - PAD, x1 + PAD, y1 + PAD)
    points = {name: store.read(name, bbox=box) for name in POINT_LAYERS}
    points = with_current_grid_codes(points, index=locator.grid_index)
    for name, frame in points.items():
        keep = counties_of_points(frame, outlines) == county
        out[name] = frame[keep].reset_index(drop=True)
    out["visits"] = _visits_of(store, set(out["households"]["id"].astype(str)))
    assert set(out) == set(FIGURE_LAYERS)
    return out


def _visits_of(store: Reader, households: set[str]) -> pd.DataFrame:
    """The visits to ``households`` (:data:`VISIT_COLUMNS`), read a slice at a time (never
    the whole layer at once)."""
    parts = []
    offset = 0
    while True:
        part = store.read(
            "visits", columns=VISIT_COLUMNS, window=Window(offset=offset, limit=VISIT_SLICE)
        )
        parts.append(part[part["household_id"].astype(str).isin(households).to_numpy()])
        if len(part) < VISIT_SLICE:
            break
        offset += VISIT_SLICE
    return (
        pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    )


__all__ = ["POINT_LAYERS", "counties_of_points", "county_frames", "county_outlines"]
