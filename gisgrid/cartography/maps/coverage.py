"""The coverage map, for leaders: levels as layers, level-3 grids coloured by an indicator,
service points, households as dots once zoomed in, and the check findings."""

from __future__ import annotations

from typing import Any

import folium
import numpy as np
import shapely

from gisgrid.analysis.indicators import (
    CASE_COLUMNS,
    case_figures,
    county_case_figures,
    grid_indicators,
    township_indicators,
    village_indicators,
)
from gisgrid.cartography import i18n, payload
from gisgrid.cartography.data import AreaData
from gisgrid.cartography.encode import Grid, encode_coords
from gisgrid.cartography.page import GisgridLayers, new_map
from gisgrid.cartography.styles import INDICATORS, Detail, tiles_for
from gisgrid.errors import MapOptionError


def coverage_map(
    data: AreaData,
    *,
    indicator: str = "households",
    tiles: str | None = None,
    lang: str = "zh",
    county_name: str | None = None,
) -> folium.Map:
    """The coverage map: levels as layers, level-3 grids coloured by ``indicator``.

    Parameters
    ----------
    data
        The area (see :func:`~gisgrid.cartography.data.load_area`).
    indicator
        One of :data:`INDICATORS`, or ``"none"``: the colouring shown first (the others are
        one click away in the layer panel).
    tiles
        Basemap: one of :data:`TILES` (default from ``GISGRID_TILES``: none).
    lang
        ``zh`` or ``en``.
    county_name
        Shown in the title of a county-wide map.
    """
    language = payload.language(lang)
    if indicator not in (*INDICATORS, "none"):
        raise MapOptionError(f"--indicator must be one of {', '.join(INDICATORS)} or none")
    basemap = tiles_for(tiles, language)
    detail = Detail.for_scope(data.scope, len(data.households))
    grid = Grid.around(data.bounds, detail.quantum)
    title = payload.map_title("coverage", data, language, county_name)
    ind = grid_indicators(data)
    vind = village_indicators(data)
    # the cases of each area on the clock the area was read with (escalated: to its level)
    cases = case_figures(data.incidents, data.villages)

    def case_table(codes: Any) -> dict[str, list[int]]:
        found = cases.reindex(list(codes)).fillna(0).astype(int)
        return {
            "open": [int(x) for x in found["open_cases"]],
            "late": [int(x) for x in found["overdue_cases"]],
            "esc": [int(x) for x in found["escalated_cases"]],
        }

    ind["overdue_cases"] = cases["overdue_cases"].reindex(ind.index).fillna(0).to_numpy()

    def grid_table(level: int) -> dict[str, Any]:
        g = data.level(level)
        stats = ind.loc[g["code"]]
        out: dict[str, Any] = {
            "code": list(g["code"]),
            "name": list(g["name"]),
            "resp": payload.nullable(g["responsible_name"]),
            "phone": payload.nullable(g["responsible_phone"]),
            "role": payload.nullable(g["responsible_role"]),
            "hh": [int(v) for v in stats["households"]],
            "link": payload.rounded(stats["linkage"], 4),
            "geom": payload.polygons(g.geometry, detail, grid),
        }
        if level == 3:
            out["dist"] = payload.rounded(stats["distance"], 0)
            out["inc"] = [int(v) for v in stats["incidents"]]
        out |= case_table(g["code"])
        return out

    v = data.villages
    g1 = data.level(1).set_index("code")
    vstats = vind.loc[v["code"]]
    villages = {
        "code": list(v["code"]),
        "name": list(v["name"]),
        "township": list(v["township_code"]),
        "kind": list(v["kind"]),
        "credit": [bool(x) for x in v["credit_village"].fillna(False)],
        "resp": payload.nullable(g1["responsible_name"].reindex(v["code"])),
        "phone": payload.nullable(g1["responsible_phone"].reindex(v["code"])),
        "role": payload.nullable(g1["responsible_role"].reindex(v["code"])),
        "hh": [int(x) for x in vstats["households"]],
        "link": payload.rounded(vstats["linkage"], 4),
        "geom": payload.polygons(v.geometry, detail, grid),
        "label": payload.labels(v.geometry, list(v["name"]), 12),
        **case_table(v["code"]),
    }
    t = data.townships
    tstats = township_indicators(data)
    townships = {
        "code": list(t["code"]),
        "name": list(t["name"]),
        "hh": [int(x) for x in tstats["households"]],
        "link": payload.rounded(tstats["linkage"], 4),
        "geom": payload.polygons(t.geometry, detail, grid),
        "label": payload.labels(t.geometry, list(t["name"]), 16),
        **case_table(t["code"]),
    }
    # the area's own figures, for the legend: escalated to the area's level (the county's
    # for a county map)
    if data.scope == "county":
        own = county_case_figures(data.incidents)
    else:
        row = cases.reindex([str(data.scope_code)]).fillna(0)
        own = {c: int(row[c].iloc[0]) for c in CASE_COLUMNS}
    esc_label = "escalated_county" if data.scope == "county" else "escalated_cases"
    area_cases = {
        "open": own["open_cases"],
        "late": own["overdue_cases"],
        "esc": own["escalated_cases"],
        "esc_label": i18n.text(esc_label, language),
    }
    hh_xy = shapely.get_coordinates(data.households.geometry.values)
    order = np.lexsort((hh_xy[:, 0], np.round(hh_xy[:, 1], 2)))  # short steps between neighbours
    doc = payload.common(data, "coverage", title, basemap, language, grid)
    doc.update(
        {
            "townships": townships,
            "villages": villages,
            "grids2": grid_table(2),
            "grids3": grid_table(3),
            "indicators": payload.indicators(
                ind[data.grids.set_index("code")["level"] == 3], language
            ),
            "indicator": None if indicator == "none" else indicator,
            "service_kinds": payload.service_kinds(language, data),
            "service": payload.service_points(data, grid),
            "households": {
                "xy": encode_coords(hh_xy[order], grid),
                "min_zoom": detail.households_min_zoom,
            },
            "findings": payload.findings(data, language),
            "visits_due": payload.visits_due(data, grid, language, detail=False),
            "watched_due": payload.watched_due(data, grid, detail=False),
            "cases": area_cases,
        }
    )
    m = new_map(data, title, basemap)
    m.add_child(GisgridLayers(doc, [], []))
    return m


__all__ = ["coverage_map"]
