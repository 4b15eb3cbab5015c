"""The household finder of one village or grid, for field staff on a phone: search by name,
pinyin initials or full pinyin, or house number, the backbone household each one is linked
to, the nearest service points."""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd
import shapely

from gisgrid.analysis.indicators import grid_indicators
from gisgrid.analysis.search import romanise
from gisgrid.cartography import payload
from gisgrid.cartography.data import AreaData
from gisgrid.cartography.encode import Grid, encode_coords
from gisgrid.cartography.page import GisgridLayers, new_map
from gisgrid.cartography.styles import Detail, tiles_for
from gisgrid.errors import MapOptionError


def finder_map(
    data: AreaData,
    *,
    tiles: str | None = None,
    lang: str = "zh",
    all_households: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """The household finder of one village or grid, for a phone.

    Parameters
    ----------
    data
        A village or grid area.
    all_households
        Households to look linked backbone households up in when they lie outside the area
        (default: only the area's).
    """
    language = payload.language(lang)
    if data.scope not in ("village", "grid"):
        raise MapOptionError("the finder is for one village or grid: give --village or --grid")
    basemap = tiles_for(tiles, language)
    detail = Detail(1.0, 1e-5, 0)
    grid = Grid.around(data.bounds, detail.quantum)
    title = payload.map_title("finder", data, language, None)
    hh = data.households
    # backbone households the area's households link to, also when they live outside it
    missing = set(hh["backbone_id"].dropna()) - set(hh["id"])
    if missing and all_households is not None:
        extra = all_households[all_households["id"].isin(missing)]
        hh = pd.concat([hh, extra], ignore_index=True)
    hh = hh.reset_index(drop=True)
    index = {h: i for i, h in enumerate(hh["id"])}
    g3 = data.level(3)
    g3index = {c: i for i, c in enumerate(g3["code"])}
    ind = grid_indicators(data)
    initials, spelled = romanise(hh["head_name"])
    v = data.villages
    doc = payload.common(data, "finder", title, basemap, language, grid)
    doc.update(
        {
            "village": {
                "code": list(v["code"]),
                "name": list(v["name"]),
                "geom": payload.polygons(v.geometry, detail, grid, simplify=False),
            },
            "grids2": {
                "code": list(data.level(2)["code"]),
                "geom": payload.polygons(data.level(2).geometry, detail, grid, simplify=False),
            },
            "grids3": {
                "code": list(g3["code"]),
                "name": list(g3["name"]),
                "resp": payload.nullable(g3["responsible_name"]),
                "phone": payload.nullable(g3["responsible_phone"]),
                "role": payload.nullable(g3["responsible_role"]),
                "hh": [int(x) for x in ind.loc[g3["code"], "households"]],
                "geom": payload.polygons(g3.geometry, detail, grid, simplify=False),
                "label": payload.labels(g3.geometry, list(g3["name"]), 11),
            },
            "households": {
                "id": list(hh["id"]),
                "name": list(hh["head_name"]),
                # pinyin initials and full pinyin of the names: "zfw" finds 张福旺
                "ini": [str(x) for x in initials],
                "py": [str(x) for x in spelled],
                "num": payload.nullable(hh["house_number"]),
                "members": [int(x) for x in hh["members"]],
                "elderly": [int(x) for x in hh["elderly"]],
                "party": [int(bool(x)) for x in hh["party_member"].fillna(False)],
                "backbone": [int(bool(x)) for x in hh["backbone"].fillna(False)],
                "bb": [index.get(b, -1) if isinstance(b, str) else -1 for b in hh["backbone_id"]],
                "credit": payload.nullable(hh["credit_rating"]),
                "grid": [g3index.get(c, -1) if isinstance(c, str) else -1
                         for c in hh["grid_code"]],
                "xy": encode_coords(shapely.get_coordinates(hh.geometry.values), grid),
            },
            "service_kinds": payload.service_kinds(language),
            "service": payload.service_points(data, grid),
            "visits_due": payload.visits_due(data, grid, language, detail=True),
            "watched_due": payload.watched_due(data, grid, detail=True),
        }
    )  # fmt: skip
    m = new_map(data, title, basemap)
    m.add_child(GisgridLayers(doc, [], []))
    return m


__all__ = ["finder_map"]
