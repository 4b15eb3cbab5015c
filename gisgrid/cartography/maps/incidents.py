"""The incident map: incidents clustered by kind, a heat layer, filters by month, case stage
and lateness (只看超期), overdue incidents marked, and each village's six-no status for the
incidents shown."""

from __future__ import annotations

import folium
import pandas as pd
import shapely

from gisgrid.analysis.cases import LEVELS
from gisgrid.analysis.indicators import SIX_NO_CATEGORIES
from gisgrid.cartography import i18n, payload
from gisgrid.cartography.data import AreaData
from gisgrid.cartography.encode import Grid, encode_coords
from gisgrid.cartography.page import GisgridLayers, new_map
from gisgrid.cartography.styles import Detail, tiles_for
from gisgrid.layers import kinds
from gisgrid.layers.incidents import INCIDENT_KINDS, STATUSES


def incident_map(
    data: AreaData, *, tiles: str | None = None, lang: str = "zh", county_name: str | None = None
) -> folium.Map:
    """Incidents clustered by kind, a heat layer, filters by month, stage and lateness, each
    village's six-no status.

    Each incident's stage, lateness and escalation are its case's on the clock the area was
    read with (``data.incidents``' case columns, :func:`gisgrid.analysis.cases.case_columns`);
    overdue incidents are drawn in a red frame.
    """
    language = payload.language(lang)
    basemap = tiles_for(tiles, language)
    detail = Detail.for_scope(data.scope, len(data.households))
    grid = Grid.around(data.bounds, detail.quantum)
    title = payload.map_title("incidents", data, language, county_name)
    inc = data.incidents.sort_values("reported_at").reset_index(drop=True)
    at = pd.to_datetime(inc["reported_at"])
    months_of = at.dt.strftime("%Y-%m")
    months = sorted(set(months_of))
    vcodes = list(data.villages["code"])
    vindex = {c: i for i, c in enumerate(vcodes)}
    kind_codes = list(INCIDENT_KINDS)
    cat_keys = list(SIX_NO_CATEGORIES)
    cat_of_kind = [
        next((cat_keys.index(c) for c, ks in SIX_NO_CATEGORIES.items() if k in ks), -1)
        for k in kind_codes
    ]
    v = data.villages
    doc = payload.common(data, "incidents", title, basemap, language, grid)
    doc.update(
        {
            "villages": {
                "code": vcodes,
                "name": list(v["name"]),
                "geom": payload.polygons(v.geometry, detail, grid),
                "label": payload.labels(v.geometry, list(v["name"]), 12),
            },
            "townships": {
                "code": list(data.townships["code"]),
                "name": list(data.townships["name"]),
                "geom": payload.polygons(data.townships.geometry, detail, grid),
                "label": payload.labels(data.townships.geometry, list(data.townships["name"]), 16),
            },
            "incident_kinds": [
                {
                    "key": k,
                    "label": i18n.incident_label(k, language),
                    "color": kinds.INCIDENT_KINDS[k].colour,
                }
                for k in kind_codes
            ],
            "statuses": [i18n.status_label(s, language) for s in STATUSES],
            "stage_keys": list(STATUSES),
            "levels": [i18n.text(f"level_{lv}_net", language) for lv in LEVELS],
            "months": months,
            "six_no": [
                {"key": c, "label": i18n.text(f"six_{c}", language)} for c in SIX_NO_CATEGORIES
            ],
            "six_no_of_kind": cat_of_kind,
            "incidents": {
                "id": list(inc["id"]),
                "kind": [kind_codes.index(k) for k in inc["kind"]],
                "status": [list(STATUSES).index(s) for s in inc["status"]],
                "month": [months.index(m) for m in months_of],
                "overdue": [int(bool(x)) for x in inc["overdue"]],
                "level": [LEVELS.index(lv) for lv in inc["level"]],
                "due": [None if pd.isna(d) else pd.Timestamp(d).strftime("%Y-%m-%d %H:%M")
                        for d in inc["due"]],
                "at": list(at.dt.strftime("%Y-%m-%d %H:%M")),
                "desc": payload.nullable(inc["description"]),
                "grid": payload.nullable(inc["grid_code"]),
                "village": [vindex.get(c, -1) if isinstance(c, str) else -1
                            for c in inc["village_code"]],
                "xy": encode_coords(shapely.get_coordinates(inc.geometry.values), grid),
            },
        }
    )  # fmt: skip
    m = new_map(data, title, basemap)
    m.add_child(
        GisgridLayers(
            doc,
            ["markerclusterjs", "leaflet-heat.js"],
            ["markerclustercss", "markerclusterdefaultcss"],
        )
    )
    return m


__all__ = ["incident_map"]
