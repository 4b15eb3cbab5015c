"""The pieces of a map's JSON payload: the document gisgrid's page script draws.

Coordinates as delta strings (:mod:`gisgrid.cartography.encode`), attributes as columns,
labels placed inside their areas, indicator classes, service points, check findings. Names
go in as plain text: the page script shows them with ``textContent``, never as HTML.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.ops import polylabel

from gisgrid.analysis.checks.report import LEVEL_LABELS
from gisgrid.cartography import i18n
from gisgrid.cartography.assets import icon_svg
from gisgrid.cartography.data import AreaData
from gisgrid.cartography.encode import Grid, encode_coords, encode_polygon, simplify_coverage
from gisgrid.cartography.styles import (
    INDICATOR_STYLE,
    INDICATORS,
    MAX_ZOOM,
    Detail,
    Tiles,
    breaks,
)
from gisgrid.errors import MapOptionError
from gisgrid.layers import kinds
from gisgrid.layers.service_points import SERVICE_KINDS
from gisgrid.settings import VISIT_CATEGORIES, CheckSettings


def nullable(values: Any) -> list[Any]:
    """Plain Python values for JSON: missing values (NaN, NA, NaT) as ``None``."""
    out: list[Any] = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
            out.append(None)
        elif isinstance(v, np.integer):
            out.append(int(v))
        elif isinstance(v, np.floating):
            out.append(float(v))
        elif isinstance(v, np.bool_):
            out.append(bool(v))
        else:
            out.append(v)
    return out


def rounded(values: Any, digits: int) -> list[float | None]:
    """Numbers rounded to ``digits``; non-finite ones as ``None``."""
    return [None if v is None or not np.isfinite(v) else round(float(v), digits) for v in values]


def polygons(geoms: Any, detail: Detail, grid: Grid, *, simplify: bool = True) -> list[Any]:
    """Polygons as delta strings on ``grid``, simplified as a coverage unless told not to.

    Kept by their content (:data:`_ENCODED`): the grids of a county, simplified and encoded
    once (seconds), are taken again by every page drawing the very same polygons on the same
    grid; other polygons (a write changed them) are another key, never an old answer.
    """
    arr = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    tolerance = detail.tolerance_m if simplify else 0.0
    digest = hashlib.blake2b(digest_size=20)
    for wkb in shapely.to_wkb(arr):
        digest.update(len(wkb).to_bytes(4, "little"))
        digest.update(wkb)
    key = (digest.digest(), tolerance, grid)
    with _ENCODED_LOCK:
        found = _ENCODED.get(key)
    if found is not None:
        return list(found)
    if simplify:
        arr = simplify_coverage(arr, detail.tolerance_m)
    encoded = [encode_polygon(g, grid) for g in arr]
    with _ENCODED_LOCK:
        if len(_ENCODED) >= _ENCODED_KEPT:
            _ENCODED.pop(next(iter(_ENCODED)))  # the oldest first
        _ENCODED[key] = encoded
    return list(encoded)


#: polygons encoded (:func:`polygons`) by (digest of their WKB, tolerance, grid): keyed by
#: the content itself, so an entry can only ever be given for the very same polygons
_ENCODED: dict[tuple[bytes, float, Grid], list[Any]] = {}
_ENCODED_KEPT = 32
_ENCODED_LOCK = threading.Lock()


_M_PER_DEG = 111_320.0


def labels(geoms: Any, names: Sequence[str], font_px: float) -> list[list[Any]]:
    """``[lat, lng, min zoom, text]``: placed inside each area, shown once the name fits."""
    out: list[list[Any]] = []
    for geom, name in zip(getattr(geoms, "values", geoms), names, strict=True):
        parts = list(shapely.get_parts(geom))
        part = max(parts, key=lambda p: p.area)
        lat0 = part.centroid.y
        try:
            at = polylabel(part, tolerance=0.0005)
        except Exception:  # polylabel can fail on degenerate shapes
            at = part.point_on_surface()
        # typical width of the area in metres, and the label's width in pixels
        w = math.sqrt(part.area) * _M_PER_DEG * math.sqrt(math.cos(math.radians(lat0)))
        label_px = len(name) * font_px + 10
        metres_per_px_z0 = 156_543.03 * math.cos(math.radians(lat0))
        zoom = math.ceil(math.log2(max(label_px * metres_per_px_z0 / max(w, 1.0), 1.0)))
        out.append([round(at.y, 5), round(at.x, 5), int(min(max(zoom, 8), MAX_ZOOM)), name])
    return out


def indicators(frame: pd.DataFrame, lang: i18n.Lang) -> list[dict[str, Any]]:
    """Each indicator's label, payload column, number format, class breaks and colours."""
    out = []
    for key in INDICATORS:
        column, kind, palette, fixed = INDICATOR_STYLE[key]
        source = {
            "hh": "households",
            "link": "linkage",
            "dist": "distance",
            "inc": "incidents",
            "late": "overdue_cases",
        }
        cuts = breaks(frame[source[column]].to_numpy(dtype=float), fixed, kind)
        colours = list(palette[len(palette) - len(cuts) - 1 :])
        out.append(
            {
                "key": key,
                "label": i18n.text(f"ind_{key}", lang),
                "column": column,
                "format": kind,
                "breaks": cuts,
                "colors": colours,
            }
        )
    return out


def service_points(data: AreaData, grid: Grid) -> dict[str, Any]:
    """The area's service points: ids, kinds, names, watchers, villages, positions."""
    sp = data.service_points
    kinds = list(SERVICE_KINDS)
    vnames = dict(zip(data.villages["code"], data.villages["name"], strict=True))
    xy = shapely.get_coordinates(sp.geometry.values)
    return {
        "id": list(sp["id"]),
        "kind": [kinds.index(k) if k in kinds else kinds.index("other") for k in sp["kind"]],
        "name": list(sp["name"]),
        "watcher": nullable(sp["watcher"]),
        "village": [vnames.get(v) if isinstance(v, str) else None for v in sp["village_code"]],
        "xy": encode_coords(xy, grid),
    }


def visits_due(data: AreaData, grid: Grid, lang: i18n.Lang, *, detail: bool) -> dict[str, Any]:
    """The area's households not visited within their interval (check 12's rule): where; with
    ``detail`` (the finder), for the popups, which kind (``cat``: 0 elderly only, 1 with
    elderly members), days since the last visit (``-1``: never), ids, heads of household (as
    the caller may see them) and last visits."""
    due = data.visits_due
    days = CheckSettings().visit_days
    cats = [c for c in VISIT_CATEGORIES if c in days]
    out: dict[str, Any] = {
        "cats": [i18n.text(f"cat_{c}", lang) for c in cats],
        "interval": [int(days[c]) for c in cats],
        "xy": encode_coords(shapely.get_coordinates(due.geometry.values), grid) if len(due) else "",
    }
    if detail:  # a county map draws dots only: no more than their places
        out["cat"] = [cats.index(str(c)) for c in due.get("category", [])]
        out["days"] = [-1 if d is None else int(d) for d in due.get("days_since", [])]
        out["id"] = [str(i) for i in due.get("id", [])]
        out["name"] = nullable(due.get("head_name", []))
        out["last"] = [
            None if pd.isna(t) else pd.Timestamp(t).strftime("%Y-%m-%d")
            for t in due.get("last_visit", [])
        ]
    return out


def watched_due(data: AreaData, grid: Grid, *, detail: bool) -> dict[str, Any]:
    """The area's elders in a 岁月港湾 watcher's care not visited this week (check 13's rule):
    where, and with ``detail`` their ids, heads of household (as the caller may see them),
    elder-care points and last visits."""
    due = data.watched_due
    out: dict[str, Any] = {
        "xy": encode_coords(shapely.get_coordinates(due.geometry.values), grid) if len(due) else "",
    }
    if detail:
        out["id"] = [str(i) for i in due.get("id", [])]
        out["name"] = nullable(due.get("head_name", []))
        out["point"] = [str(p) for p in due.get("care_point", [])]
        out["last"] = [
            None if pd.isna(t) else pd.Timestamp(t).strftime("%Y-%m-%d")
            for t in due.get("last_visit", [])
        ]
    return out


def service_kinds(lang: i18n.Lang, data: AreaData | None = None) -> list[dict[str, Any]]:
    """Each kind of service point: label, colour, icon, and the zoom it shows from."""
    counts = data.service_points["kind"].value_counts() if data is not None else {}
    return [
        {
            "key": k,
            "label": i18n.service_label(k, lang),
            "color": kinds.SERVICE_POINT_KINDS[k].colour,
            "icon": icon_svg(kinds.SERVICE_POINT_KINDS[k].icon or "location-dot"),
            # a kind with a point in every village would bury a county map: zoom in first
            "min_zoom": 13 if int(counts.get(k, 0)) > 60 else 0,
        }
        for k in SERVICE_KINDS
    ]


def icons() -> dict[str, dict[str, str]]:
    """The icons the page script draws with (warning, search, locate)."""
    return {
        "warning": icon_svg("triangle-exclamation"),
        "search": icon_svg("magnifying-glass"),
        "locate": icon_svg("crosshairs"),
    }


def common(
    data: AreaData, kind: str, title: str, tiles: Tiles, lang: i18n.Lang, grid: Grid
) -> dict[str, Any]:
    """What every map's payload holds: kind, language, title, strings, grid, bounds, tiles."""
    w, s, e, n = data.bounds
    return {
        "kind": kind,
        "lang": lang,
        "title": title,
        "t": i18n.strings(lang),
        "grid": grid.to_json(),
        "bounds": [round(w, 5), round(s, 5), round(e, 5), round(n, 5)],
        "tiles": tiles.layers,
        "icons": icons(),
    }


def area_name(data: AreaData, lang: i18n.Lang) -> str:
    """The area's name: the county, a township, a village, or a grid."""
    if data.scope == "township" and len(data.townships):
        return str(data.townships["name"].iloc[0])
    if data.scope == "village" and len(data.villages):
        return str(data.villages["name"].iloc[0])
    if data.scope == "grid":
        g = data.grids[data.grids["code"] == data.scope_code]
        if len(g):
            return str(g["name"].iloc[0])
    return "全县" if lang == "zh" else "the county"


def map_title(kind: str, data: AreaData, lang: i18n.Lang, county: str | None) -> str:
    """The map's title: its kind and the area (the county's name on a county map)."""
    where = area_name(data, lang)
    if data.scope == "county" and county:
        where = county
    return f"{i18n.text('title_' + kind, lang)} · {where}"


#: finding fields a popup shows, in this order: field → (label in :mod:`i18n`, value shown as)
FINDING_FIELDS: dict[str, tuple[str, str]] = {
    "level": ("level", "level"),
    "code": ("grid_code", "code"),
    "grid_code": ("grid_code", "code"),
    "parent_level": ("parent_level", "level"),
    "parent_code": ("parent_code", "code"),
    "parent_missing": ("parent_missing", "yes_no"),
    "codes": ("grid_codes", "codes"),
    "adjacent_codes": ("adjacent_codes", "codes"),
    "into_codes": ("into_code", "codes"),
    "area_m2": ("area", "m2"),
    "outside_area_m2": ("outside_area", "m2"),
    "id": ("household_id", "text"),
    "village_code": ("registered_village", "code"),
    "nearest_grid_code": ("nearest_grid", "code"),
    "distance_m": ("distance_to_grid", "m"),
}


def finding_rows(props: dict[str, Any], lang: i18n.Lang, names: dict[str, str]) -> list[list[str]]:
    """A finding's popup rows ``[label, value]`` in ``lang``: words, not field names or booleans.

    Codes are followed by their names where ``names`` knows them; fields not in
    :data:`FINDING_FIELDS` are left out.
    """
    words = i18n.strings(lang)
    comma = "、" if lang == "zh" else ", "

    def code(value: Any) -> str:
        name = names.get(str(value))
        if not name:
            return str(value)
        return f"{value}（{name}）" if lang == "zh" else f"{value} ({name})"

    def shown(value: Any, how: str) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        if how == "level":
            return (
                LEVEL_LABELS[value][0 if lang == "zh" else 1]
                if value in LEVEL_LABELS
                else str(value)
            )
        if how == "yes_no":
            return words["yes"] if value else words["no"]
        if how == "codes":
            return comma.join(code(v) for v in value) if value else "—"
        if how == "code":
            return code(value)
        if how == "m2":
            return f"{value:,.0f} {words['square_metres']}"
        if how == "m":
            return f"{value:,.0f} {words['metres']}"
        return str(value)

    return [
        [words[label], shown(props[field], how)]
        for field, (label, how) in FINDING_FIELDS.items()
        if field in props
    ]


def findings(data: AreaData, lang: i18n.Lang) -> list[dict[str, Any]]:
    """The check findings to draw: check, where, popup rows, and the shape if an area."""
    # findings are small (a gap may be a few metres wide): drawn at a 0.1 m quantum
    fine = Grid.around(data.bounds, 1e-6)
    names = dict(zip(data.grids["code"], data.grids["name"], strict=True))
    names |= dict(zip(data.villages["code"], data.villages["name"], strict=True))
    out = []
    for f in data.findings:
        at = f.geometry.representative_point()
        p = f.props
        item: dict[str, Any] = {
            "check": f.check,
            "at": [round(at.y, 6), round(at.x, 6)],
            "rows": finding_rows(p, lang, names),
            "code": str(p.get("code") or p.get("id") or p.get("parent_code") or ""),
        }
        if f.geometry.geom_type in ("Polygon", "MultiPolygon"):
            item["geom"] = encode_polygon(f.geometry, fine)
            item["grid"] = fine.to_json()
        out.append(item)
    return out


def language(lang: str) -> i18n.Lang:
    """``lang`` checked (``zh`` or ``en``), as a map option error if it is neither."""
    try:
        return i18n.check_lang(lang)
    except ValueError as exc:
        raise MapOptionError(str(exc)) from None


__all__ = [
    "FINDING_FIELDS",
    "area_name",
    "common",
    "finding_rows",
    "findings",
    "icons",
    "indicators",
    "labels",
    "language",
    "map_title",
    "nullable",
    "polygons",
    "rounded",
    "service_kinds",
    "service_points",
    "visits_due",
    "watched_due",
]
