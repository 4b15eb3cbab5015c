"""Grid edits that keep the net's topology by construction, and the validation of a change.

The editor of the web app (and, later, change sets, review and versions) calls these; they
read a grids frame as a store returns it (``code``, ``level``, ``parent_code``,
``village_code``, ``name``, ``responsible_*``, MultiPolygon geometry in EPSG:4326) and store
nothing.

* :func:`split_grid` cuts one grid in two along a drawn line.
* :func:`merge_grids` joins two or more adjacent siblings into their union.
* :func:`reshape_grid` gives a grid a new outline; its siblings give and take the difference.
* :func:`add_grid` draws a new grid inside a parent; its siblings give up what it covers.
* :func:`edit_attributes` changes a grid's name or responsible person (not its outline).
* :func:`snap` pulls a drawn outline onto the neighbours' vertices and edges.
* :func:`validate_change` applies the boundary rules of ``gisgrid check`` to the village a
  change touches and returns only the problems the change adds.

The edits return the changed features: the grids columns plus :data:`CHANGE` (``added``,
``reshaped``, ``edited`` (attributes only) or ``retired``); a new grid's lineage, the codes
it came from, is in the grids layer's own :data:`DERIVED_FROM` (comma-separated; the other
rows keep theirs as stored). A retired row carries the geometry it had. The edits work on
the grids in force today (:func:`gisgrid.analysis.assign.in_force`, the one rule of every
reader); other rows of the frame (grids retired before, or not yet in force) take part in
nothing but the allocation of codes.

**Codes.** A split retires the original code and gives *both* pieces new codes; a merge
retires every merged code and gives the union a new one. A code then always names one
area: if a piece kept the original code, the code's history would show a grid that halved
without being split, household counts by code would jump for no visible reason, and the
lineage (point 4 of issue 13) would need a special case "continued as" besides "came
from". New codes come from :func:`allocate_codes`: the parent's code plus the next 3-digit
sequence after the highest used under that parent (:func:`gisgrid.codes.child_code`), so a
retired code is never handed out again as long as the frame holds the retired grids.

**Coordinates.** Construction runs in :data:`gisgrid.crs.METRIC_CRS` (tolerances and areas
are metres) and the results are returned in lon/lat. A vertex that existed before (an
original corner, a neighbour's vertex snapped to) comes back with its stored coordinates
exactly, not through a projection round trip, so an edge shared before stays shared; only
the vertices an edit creates (where a line crosses an edge) are projected back, and they
lie on the lon/lat edge within a millimetre — far below the checks' 1e-8 degree overlay grid.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid import codes as gridcodes
from gisgrid import crs as crsmod
from gisgrid.analysis.assign.current import in_force
from gisgrid.analysis.checks.boundaries import GRID_DEG, boundary_checks
from gisgrid.analysis.checks.context import (
    CheckContext,
    geojson,
    metric_area,
    polygon_parts,
)
from gisgrid.errors import GridEditError, NotFoundError, ValidationError
from gisgrid.layers import LAYERS
from gisgrid.settings import CheckSettings

#: column of an edit's result saying what happened to each feature
CHANGE = "change"
#: column of an edit's result: the codes a new grid came from, comma-separated — the grids
#: layer's own ``derived_from`` (lineage), set on new grids, kept as stored on the others
DERIVED_FROM = "derived_from"
ADDED = "added"
RESHAPED = "reshaped"
RETIRED = "retired"
#: attributes changed (name, responsible person), the outline kept
EDITED = "edited"
#: the attributes :func:`edit_attributes` changes
EDITABLE_ATTRIBUTES = ("name", "responsible_name", "responsible_phone", "responsible_role")

#: precision of the overlays in the metric CRS (0.1 mm): it removes the needle-thin slivers
#: where an edge straight in lon/lat and the same edge straight in metres part by nanometres
GRID_M = 1e-4
#: an area change smaller than this (m²) is such noise, not a change of a neighbour
NOISE_M2 = 0.01
#: a vertex an edit creates within this distance (degrees, some 3 m) of a stored grid's edge
#: is put onto that edge in lon/lat (see :meth:`_Projector._onto_edges`)
EDGE_DEG = 3e-5
#: spacing (m) of the points along the neighbours' edges that share out a given-up piece
SHARE_STEP_M = 2.0
#: a neighbour along this share of a given-up piece's edges with neighbours takes it whole
DOMINANT_SHARE = 0.75
#: two grids count as sharing an edge where their outlines run within this distance (m) …
TOUCH_M = 0.01
#: … for at least this length (m); touching at a corner is not sharing an edge
SHARED_EDGE_M = 1.0

_LINES = ("LineString", "MultiLineString")


# --- coordinates ----------------------------------------------------------------------------


class _Projector:
    """Geometries to the metric CRS and back; vertices seen on the way there come back exact,
    and a new vertex on a stored grid's edge comes back onto that edge as drawn in lon/lat."""

    def __init__(self) -> None:
        self._known: dict[tuple[int, int], tuple[float, float]] = {}
        self._edges: list[shapely.Geometry] = []
        self._edge_tree: shapely.STRtree | None = None

    @staticmethod
    def _key(x: float, y: float) -> tuple[int, int]:
        # on the overlays' grid: a vertex an overlay snapped to it is still found
        return round(x / GRID_M), round(y / GRID_M)

    def metric(self, geom: shapely.Geometry, *, drawn: bool = False) -> shapely.Geometry:
        """``geom`` in metres; a stored grid's (not ``drawn``) edges are kept to come back to."""
        out: shapely.Geometry = crsmod.transform_geometry_array(
            geom, source=crsmod.STORAGE_CRS, target=crsmod.METRIC_CRS
        )
        lonlat = shapely.get_coordinates(geom).tolist()
        xy = shapely.get_coordinates(out).tolist()
        for (x, y), (lon, lat) in zip(xy, lonlat, strict=True):
            self._known[self._key(x, y)] = (lon, lat)
        if not drawn and geom is not None and not shapely.is_empty(geom):
            self._edges.append(shapely.boundary(geom))
            self._edge_tree = None
        return out

    def _onto_edges(self, lon: np.ndarray, lat: np.ndarray) -> None:
        """New vertices (where a line crossed an edge) onto the stored edge they lie on.

        An edge straight in lon/lat is a little curved in metres (a 7 km edge by some 0.3 m):
        a vertex cut into it in metres comes back beside the lon/lat edge; put back onto it,
        the edge stays straight and shared with the grid across it.
        """
        if not self._edges or EDGE_DEG <= 0:
            return
        if self._edge_tree is None:
            self._edge_tree = shapely.STRtree(self._edges)
        points = shapely.points(lon, lat)
        (src, dst), _ = self._edge_tree.query_nearest(
            points, max_distance=EDGE_DEG, return_distance=True, all_matches=False
        )
        for i, j in zip(src.tolist(), dst.tolist(), strict=True):
            edge = self._edges[j]
            on = shapely.line_interpolate_point(edge, shapely.line_locate_point(edge, points[i]))
            lon[i], lat[i] = on.x, on.y

    def lonlat(self, geom: shapely.Geometry) -> shapely.Geometry:
        def back(xy: np.ndarray) -> np.ndarray:
            out = np.empty_like(xy)
            unknown: list[int] = []
            for k, (x, y) in enumerate(xy.tolist()):
                hit = self._known.get(self._key(x, y))
                if hit is None:
                    unknown.append(k)
                else:
                    out[k] = hit
            if unknown:
                lon, lat = crsmod.convert_points(
                    xy[unknown, 0],
                    xy[unknown, 1],
                    source=crsmod.METRIC_CRS,
                    target=crsmod.STORAGE_CRS,
                )
                lon, lat = np.array(lon, dtype=float), np.array(lat, dtype=float)
                self._onto_edges(lon, lat)
                out[unknown, 0] = lon
                out[unknown, 1] = lat
                # the same metric vertex always comes back the same (both grids sharing it)
                for k, a, b in zip(unknown, lon.tolist(), lat.tolist(), strict=True):
                    self._known[self._key(float(xy[k, 0]), float(xy[k, 1]))] = (a, b)
            return out

        result: shapely.Geometry = shapely.transform(geom, back)
        return result


def _multi(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal parts of ``geom`` as one MultiPolygon (the stored geometry type)."""
    parts = list(polygon_parts(geom))
    return shapely.multipolygons(parts) if parts else shapely.MultiPolygon()


def _shared_length(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """Length (m) of ``a``'s outline running along ``b`` (metric geometries)."""
    near = shapely.intersection(shapely.boundary(a), shapely.buffer(b, TOUCH_M))
    return float(shapely.length(near))


# --- the frame --------------------------------------------------------------------------------


def _codes(grids: pd.DataFrame) -> list[str]:
    return [str(c) for c in grids["code"]]


def _row(grids: pd.DataFrame, code: str) -> pd.Series:
    hit = grids.index[grids["code"].astype(str) == code]
    if not len(hit):
        raise NotFoundError(f"网格 {code} 不存在或已停用 / no grid {code} in force")
    return grids.loc[hit[0]]


def _parent(row: pd.Series) -> str:
    parent = row["parent_code"]
    if parent is None or pd.isna(parent):
        raise GridEditError(
            f"网格 {row['code']} 是一级网格（村），不能在此编辑 / "
            f"grid {row['code']} is a level-1 grid (a village): only levels 2 and 3 are edited here"
        )
    return str(parent)


def allocate_codes(grids: pd.DataFrame, parent_code: str, count: int) -> list[str]:
    """``count`` new codes under ``parent_code``, by the documented code rule.

    The next sequences after the highest used under the parent (every row of ``grids``
    counts, retired ones included), so no code is reused; only when 999 is reached are
    sequences never used below it handed out.

    Raises
    ------
    GridEditError
        When the parent has fewer than ``count`` free sequences.
    """
    width = len(parent_code) + 3
    used = {
        int(c[len(parent_code) :])
        for c in _codes(grids)
        if len(c) == width and gridcodes.lies_in(c, parent_code)
    }
    start = max(used, default=0) + 1
    seqs = list(range(start, min(start + count, 1000)))
    if len(seqs) < count:
        seqs += [s for s in range(1, start) if s not in used][: count - len(seqs)]
    if len(seqs) < count:
        raise GridEditError(
            f"上级网格 {parent_code} 下已无可用编码 / no free code left under {parent_code}"
        )
    return [gridcodes.child_code(parent_code, s) for s in seqs]


def _result(
    grids: pd.DataFrame, rows: list[tuple[pd.Series, str, tuple[str, ...]]]
) -> gpd.GeoDataFrame:
    """The changed features: grids columns + :data:`CHANGE` + :data:`DERIVED_FROM`."""
    records = []
    for row, change, derived in rows:
        rec = row.to_dict()
        rec[CHANGE] = change
        if change == ADDED:
            rec[DERIVED_FROM] = ",".join(derived) or None
        else:
            rec.setdefault(DERIVED_FROM, None)
        records.append(rec)
    columns = [*grids.columns, CHANGE]
    if DERIVED_FROM not in columns:
        columns.append(DERIVED_FROM)
    frame = pd.DataFrame.from_records(records, columns=columns)
    geometry = grids.geometry.name if isinstance(grids, gpd.GeoDataFrame) else "geometry"
    out = gpd.GeoDataFrame(frame, geometry=geometry, crs=crsmod.STORAGE_CRS)
    for col in grids.columns:
        if col != geometry:
            out[col] = out[col].astype(grids[col].dtype)
    return out


def _with(row: pd.Series, **values: Any) -> pd.Series:
    out = row.copy()
    for key, value in values.items():
        out[key] = value
    return out


# --- split ----------------------------------------------------------------------------------


def split_grid(
    grids: pd.DataFrame,
    code: str,
    line: shapely.Geometry,
    *,
    settings: CheckSettings | None = None,
) -> gpd.GeoDataFrame:
    """Cut one grid into exactly two pieces along a drawn line.

    The line may overshoot the grid; it must cross it from edge to edge once. For a grid of
    several parts, the line cuts one part in two and every part it does not touch goes with
    the piece nearest to it. The pieces tile the original (their union is the original,
    they do not overlap); both get new codes and the original is retired.

    Parameters
    ----------
    grids
        The grids frame (EPSG:4326).
    code
        The grid to split (level 2 or 3).
    line
        The cut, a lon/lat LineString.
    settings
        Thresholds: a piece smaller than ``sliver_m2`` is refused.

    Returns
    -------
    geopandas.GeoDataFrame
        The original (``retired``) and the two pieces (``added``, derived from it), each
        piece named after the original with ``-1`` / ``-2`` and keeping its responsible person.

    Raises
    ------
    GridEditError
        A line that misses the grid, ends inside it or cuts it into more than two pieces.
    """
    settings = settings or CheckSettings()
    row = _row(in_force(grids), code)
    parent = _parent(row)
    if line is None or line.geom_type not in _LINES or line.is_empty:
        raise GridEditError("分割线须为一条折线 / the cut must be a line (LineString)")
    proj = _Projector()
    shape = proj.metric(row.geometry)
    cut = proj.metric(line, drawn=True)
    if not shapely.intersects(shape, cut):
        raise GridEditError(
            f"分割线未经过网格 {code} / the line does not cross grid {code} (it lies outside)"
        )
    parts = polygon_parts(shape)
    faces = polygon_parts(
        shapely.polygonize(
            shapely.get_parts(shapely.union(shapely.boundary(shape), cut, grid_size=GRID_M))
        )
    )
    # a face of the noded outline + line belongs to the grid (not to a hole, not outside)
    faces = faces[shapely.within(shapely.point_on_surface(faces), shape)]
    owner = np.asarray(
        [int(np.argmax(shapely.area(shapely.intersection(parts, f)))) for f in faces]
    )
    per_part = np.bincount(owner, minlength=len(parts))
    cut_parts = np.flatnonzero(per_part > 1)
    if not len(cut_parts):
        raise GridEditError(
            f"分割线须从一边穿过网格 {code} 到另一边 / the line must cross grid {code} "
            "from edge to edge (it ends inside the grid or only touches it)"
        )
    pieces_count = int(per_part[cut_parts].sum())
    if pieces_count != 2:
        raise GridEditError(
            f"分割线将网格 {code} 分成 {pieces_count} 块，只能分成 2 块 / the line cuts grid "
            f"{code} into {pieces_count} pieces, not 2: draw it across the grid once"
        )
    pieces = [[p] for p in faces[np.isin(owner, cut_parts)]]
    for whole in np.flatnonzero(per_part == 1):
        loose = parts[whole]
        nearest = int(np.argmin([shapely.distance(loose, p[0]) for p in pieces]))
        pieces[nearest].append(loose)
    piece_geoms = [shapely.multipolygons(p) for p in pieces]
    small = min(float(shapely.area(p)) for p in piece_geoms)
    if small < settings.sliver_m2:
        raise GridEditError(
            f"分割后有一块仅 {small:.1f} 平方米 / one piece would be only {small:.1f} m² "
            f"(less than {settings.sliver_m2:g} m²)"
        )
    new_codes = allocate_codes(grids, parent, 2)
    rows: list[tuple[pd.Series, str, tuple[str, ...]]] = [(row, RETIRED, ())]
    for k, (new, geom) in enumerate(zip(new_codes, piece_geoms, strict=True), start=1):
        piece = _with(row, code=new, name=f"{row['name']}-{k}", geometry=proj.lonlat(geom))
        rows.append((piece, ADDED, (code,)))
    return _result(grids, rows)


# --- merge ----------------------------------------------------------------------------------


def merge_grids(
    grids: pd.DataFrame, codes: Sequence[str], *, settings: CheckSettings | None = None
) -> gpd.GeoDataFrame:
    """Join two or more adjacent siblings into one grid, their union.

    Parameters
    ----------
    grids
        The grids frame (EPSG:4326).
    codes
        The grids to merge: same level, same parent, connected by shared edges (touching at
        a corner is not enough).
    settings
        Unused for now; keyword kept alike on every edit.

    Returns
    -------
    geopandas.GeoDataFrame
        Every merged grid (``retired``) and the union (``added``, derived from all of them),
        with the name and responsible person of the largest of them and a new code.

    Raises
    ------
    GridEditError
        Fewer than two grids, grids that are not siblings or not adjacent.
    """
    wanted = list(dict.fromkeys(str(c) for c in codes))
    if len(wanted) < 2:
        raise GridEditError("合并至少需要两个网格 / a merge needs two grids or more")
    net = in_force(grids)
    rows = [_row(net, c) for c in wanted]
    parents = {_parent(r) for r in rows}
    levels = {int(r["level"]) for r in rows}
    if len(parents) > 1 or len(levels) > 1:
        raise GridEditError(
            "只能合并同一上级网格下的同级网格 / only siblings (same level, same parent) can be "
            f"merged; these lie in {', '.join(sorted(parents))}"
        )
    proj = _Projector()
    shapes = [proj.metric(r.geometry) for r in rows]
    # the grids must form one connected group by shared edges
    reached = {0}
    frontier = [0]
    while frontier:
        i = frontier.pop()
        for j in range(len(shapes)):
            if j not in reached and _shared_length(shapes[i], shapes[j]) >= SHARED_EDGE_M:
                reached.add(j)
                frontier.append(j)
    if len(reached) < len(shapes):
        apart = sorted(wanted[j] for j in range(len(shapes)) if j not in reached)
        raise GridEditError(
            f"网格 {', '.join(apart)} 与其余网格不相邻 / grid(s) {', '.join(apart)} share no "
            "edge with the others: only adjacent grids can be merged"
        )
    union = _multi(shapely.union_all(shapes, grid_size=GRID_M))
    largest = rows[int(np.argmax([shapely.area(s) for s in shapes]))]
    (new_code,) = allocate_codes(grids, parents.pop(), 1)
    merged = _with(largest, code=new_code, geometry=proj.lonlat(union))
    out: list[tuple[pd.Series, str, tuple[str, ...]]] = [(r, RETIRED, ()) for r in rows]
    out.append((merged, ADDED, tuple(sorted(wanted))))
    return _result(grids, out)


# --- reshape --------------------------------------------------------------------------------


def reshape_grid(
    grids: pd.DataFrame,
    code: str,
    new_geometry: shapely.Geometry,
    *,
    settings: CheckSettings | None = None,
) -> gpd.GeoDataFrame:
    """Give a grid a new outline; its siblings give and take the difference.

    The new outline is clipped to the parent. Every sibling loses what the new outline
    covers of it; each connected piece the grid gives up goes to the sibling it borders —
    the one along three quarters or more of its edges with siblings (the edge moved was the
    one with it) — or else is shared out by nearness (each part to the nearest sibling); a
    piece that borders no sibling (along the parent's edge) is left uncovered and
    :func:`validate_change` reports the gap.

    Parameters
    ----------
    grids
        The grids frame (EPSG:4326).
    code
        The grid to reshape (level 2 or 3).
    new_geometry
        Its new outline, lon/lat (Polygon or MultiPolygon), e.g. from :func:`snap`.
    settings
        Unused for now; keyword kept alike on every edit.

    Returns
    -------
    geopandas.GeoDataFrame
        The grid and every sibling whose outline changed, all ``reshaped``, codes unchanged.

    Raises
    ------
    GridEditError
        An outline that is not polygonal, lies outside the parent, or covers a sibling whole.
    """
    grids = in_force(grids)
    row = _row(grids, code)
    parent_code = _parent(row)
    if new_geometry is None or new_geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise GridEditError("新边界须为多边形 / the new outline must be a polygon")
    frame_codes = np.asarray(_codes(grids), dtype=object)
    if parent_code not in set(frame_codes):
        raise GridEditError(
            f"上级网格 {parent_code} 不存在，无法裁剪 / parent {parent_code} is missing: "
            "the outline cannot be clipped to it"
        )
    proj = _Projector()
    parent = proj.metric(_row(grids, parent_code).geometry)
    old = proj.metric(row.geometry)
    drawn = _multi(shapely.make_valid(proj.metric(new_geometry, drawn=True)))
    new = _multi(shapely.intersection(drawn, parent, grid_size=GRID_M))
    if new.is_empty:
        raise GridEditError(
            f"新边界在上级网格 {parent_code} 之外 / "
            f"the new outline lies outside parent {parent_code}"
        )
    sibling_mask = (grids["parent_code"].astype(object) == parent_code).to_numpy() & (
        frame_codes != code
    )
    siblings = {
        str(c): (grids.loc[i], proj.metric(grids.loc[i].geometry))
        for i, c in zip(grids.index[sibling_mask], frame_codes[sibling_mask], strict=True)
    }
    changed: dict[str, shapely.Geometry] = {}
    for c, (_, geom) in siblings.items():
        if shapely.relate_pattern(geom, new, "T********"):
            rest = shapely.difference(geom, new, grid_size=GRID_M)
            if shapely.area(geom) - shapely.area(rest) >= NOISE_M2:
                changed[c] = rest
    given = polygon_parts(shapely.difference(old, new, grid_size=GRID_M))
    given = given[shapely.area(given) >= NOISE_M2]
    for piece in given:
        current = {c: changed.get(c, geom) for c, (_, geom) in siblings.items()}
        lengths = {c: _shared_length(piece, geom) for c, geom in current.items()}
        bordering = {c: current[c] for c, n in lengths.items() if n >= SHARED_EDGE_M}
        longest = max(bordering, key=lambda c: lengths[c], default=None)
        if longest is not None and lengths[longest] >= DOMINANT_SHARE * sum(
            lengths[c] for c in bordering
        ):
            bordering = {longest: bordering[longest]}  # the edge moved was the one with it
        for c, part in _share_out(piece, bordering).items():
            changed[c] = shapely.union(current[c], part, grid_size=GRID_M)
    swallowed = sorted(c for c, g in changed.items() if not len(polygon_parts(g)))
    if swallowed:
        raise GridEditError(
            f"新边界覆盖了整个网格 {', '.join(swallowed)}，请改用合并 / the new outline covers "
            f"grid(s) {', '.join(swallowed)} whole: merge them instead"
        )
    rows: list[tuple[pd.Series, str, tuple[str, ...]]] = [
        (_with(row, geometry=proj.lonlat(new)), RESHAPED, ())
    ]
    for c in sorted(changed):
        rows.append((_with(siblings[c][0], geometry=proj.lonlat(_multi(changed[c]))), RESHAPED, ()))
    return _result(grids, rows)


def _share_out(
    piece: shapely.Geometry, neighbours: dict[str, shapely.Geometry]
) -> dict[str, shapely.Geometry]:
    """A given-up piece shared among the neighbours it borders: each part to the nearest.

    Points every :data:`SHARE_STEP_M` along each neighbour's edge with the piece seed a
    Voronoi diagram; a neighbour takes the cells of its points. With one neighbour it takes
    the piece whole; with none the piece stays uncovered.
    """
    if len(neighbours) <= 1:
        return dict.fromkeys(neighbours, piece)
    labels: list[str] = []
    seeds = []
    for c, geom in neighbours.items():
        edge = shapely.intersection(shapely.boundary(geom), shapely.buffer(piece, TOUCH_M))
        xy = shapely.get_coordinates(shapely.segmentize(edge, SHARE_STEP_M))
        seeds.append(xy)
        labels += [c] * len(xy)
    points = shapely.points(np.vstack(seeds))
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(points), extend_to=piece)
    )
    cell_index, point_index = shapely.STRtree(points).query(cells, predicate="contains")
    owner: dict[int, str] = {}
    for cell, point in zip(cell_index.tolist(), point_index.tolist(), strict=True):
        owner.setdefault(cell, labels[point])
    out: dict[str, shapely.Geometry] = {}
    for c in neighbours:
        mine = cells[[i for i, label in owner.items() if label == c]]
        if not len(mine):
            continue
        region = shapely.union_all(mine, grid_size=GRID_M)
        part = shapely.intersection(piece, region, grid_size=GRID_M)
        if shapely.area(part) >= NOISE_M2:
            out[c] = part
    return out


# --- add -----------------------------------------------------------------------------------


def add_grid(
    grids: pd.DataFrame,
    parent_code: str,
    geometry: shapely.Geometry,
    *,
    name: str,
    settings: CheckSettings | None = None,
) -> gpd.GeoDataFrame:
    """Draw a new grid inside a parent; its siblings give up what it covers.

    The drawn outline is clipped to the parent; every sibling loses the part the new grid
    covers (so nothing overlaps), and the new grid gets the next code under the parent
    (:func:`allocate_codes`). It has no responsible person yet.

    Parameters
    ----------
    grids
        The grids frame (EPSG:4326).
    parent_code
        The parent (a level-1 or level-2 grid): the new grid is one level below it.
    geometry
        The drawn outline, lon/lat (Polygon or MultiPolygon), e.g. from :func:`snap`.
    name
        The new grid's name.
    settings
        Thresholds: a new grid smaller than ``sliver_m2`` is refused.

    Returns
    -------
    geopandas.GeoDataFrame
        The new grid (``added``, no lineage) and every sibling whose outline it cut
        (``reshaped``, codes unchanged).

    Raises
    ------
    GridEditError
        An outline that is not polygonal, lies outside the parent or is a sliver; a parent
        of level 3; an outline that would leave a sibling empty (merge or reshape instead).
    NotFoundError
        No parent ``parent_code`` in force.
    """
    settings = settings or CheckSettings()
    grids = in_force(grids)
    parent_row = _row(grids, parent_code)
    level = int(parent_row["level"]) + 1
    if level > 3:
        raise GridEditError(
            f"网格 {parent_code} 是三级网格，其下不能再划网格 / grid {parent_code} is a level-3 "
            "grid: no grid can be drawn inside it"
        )
    if geometry is None or geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise GridEditError("新网格的边界须为多边形 / the new grid's outline must be a polygon")
    proj = _Projector()
    parent = proj.metric(parent_row.geometry)
    drawn = _multi(shapely.make_valid(proj.metric(geometry, drawn=True)))
    new = _multi(shapely.intersection(drawn, parent, grid_size=GRID_M))
    area = float(shapely.area(new))
    if new.is_empty or area < NOISE_M2:
        raise GridEditError(
            f"新网格在上级网格 {parent_code} 之外 / "
            f"the new grid lies outside its parent {parent_code}"
        )
    if area < settings.sliver_m2:
        raise GridEditError(
            f"新网格仅 {area:.1f} 平方米 / the new grid would be only {area:.1f} m² "
            f"(less than {settings.sliver_m2:g} m²)"
        )
    frame_codes = np.asarray(_codes(grids), dtype=object)
    sibling_mask = (grids["parent_code"].astype(object) == parent_code).to_numpy()
    cut: list[tuple[pd.Series, shapely.Geometry]] = []
    emptied: list[str] = []
    for i, c in zip(grids.index[sibling_mask], frame_codes[sibling_mask], strict=True):
        sibling = grids.loc[i]
        geom = proj.metric(sibling.geometry)
        if not shapely.relate_pattern(geom, new, "T********"):
            continue
        rest = polygon_parts(shapely.difference(geom, new, grid_size=GRID_M))
        rest = rest[shapely.area(rest) >= NOISE_M2]
        if not len(rest):
            emptied.append(str(c))
        elif shapely.area(geom) - float(shapely.area(rest).sum()) >= NOISE_M2:
            cut.append((sibling, shapely.multipolygons(list(rest))))
    if emptied:
        raise GridEditError(
            f"新网格覆盖了整个网格 {', '.join(sorted(emptied))}，请改用修整边界或合并 / the new "
            f"grid covers grid(s) {', '.join(sorted(emptied))} whole: reshape or merge instead"
        )
    (code,) = allocate_codes(grids, parent_code, 1)
    village = parent_row["village_code"] if level > 2 else parent_code
    blank = pd.Series(dict.fromkeys(grids.columns), dtype=object)
    row = _with(
        blank,
        code=code,
        level=level,
        parent_code=parent_code,
        village_code=village,
        name=name.strip(),
        geometry=proj.lonlat(new),
    )
    rows: list[tuple[pd.Series, str, tuple[str, ...]]] = [(row, ADDED, ())]
    for sibling, rest_geom in sorted(cut, key=lambda item: str(item[0]["code"])):
        rows.append((_with(sibling, geometry=proj.lonlat(rest_geom)), RESHAPED, ()))
    return _result(grids, rows)


# --- attributes -----------------------------------------------------------------------------


def edit_attributes(
    grids: pd.DataFrame,
    code: str,
    *,
    name: str | None = None,
    responsible_name: str | None = None,
    responsible_phone: str | None = None,
    responsible_role: str | None = None,
) -> gpd.GeoDataFrame:
    """Change a grid's name or responsible person; its outline stays.

    ``None`` leaves a value as it is; an empty text clears a responsible person's field
    (the name is required). The values are checked against the grids layer's declaration
    (the phone's pattern, lengths, no control characters).

    Parameters
    ----------
    grids
        The grids frame (EPSG:4326).
    code
        The grid (any level).
    name, responsible_name, responsible_phone, responsible_role
        The new values.

    Returns
    -------
    geopandas.GeoDataFrame
        The grid with its new values (``edited``).

    Raises
    ------
    GridEditError
        Nothing to change, or a value the grids layer refuses (naming the field).
    NotFoundError
        No grid ``code`` in force.
    """
    row = _row(in_force(grids), code)
    asked = {
        "name": name,
        "responsible_name": responsible_name,
        "responsible_phone": responsible_phone,
        "responsible_role": responsible_role,
    }
    values: dict[str, Any] = {}
    for field, value in asked.items():
        if value is None:
            continue
        text = value.strip()
        values[field] = text or None
    changed = {k: v for k, v in values.items() if not _same(row.get(k), v)}
    if not changed:
        raise GridEditError(
            f"网格 {code} 的属性没有变化 / nothing to change in grid {code}'s attributes"
        )
    result = _result(grids, [(_with(row, **changed), EDITED, ())])
    try:
        LAYERS["grids"].validate(result.drop(columns=[CHANGE]), crs=crsmod.STORAGE_CRS)
    except ValidationError as exc:
        shown = "; ".join(
            f"{LAYERS['grids'].field(p.field).label_zh if p.field in asked else p.field}"
            f" ({p.field}): {p.message}"
            for p in exc.problems
        )
        raise GridEditError(
            f"网格 {code} 的属性不符合规则 / grid {code}'s attributes break the rules: {shown}"
        ) from None
    return result


def _same(old: object, new: object) -> bool:
    missing_old = old is None or old is pd.NA or (isinstance(old, float) and old != old)
    if new is None:
        return missing_old
    return not missing_old and str(old) == new


# --- snap -----------------------------------------------------------------------------------


def snap(
    geometry: shapely.Geometry,
    grids: pd.DataFrame,
    tolerance_m: float,
    *,
    exclude: Iterable[str] = (),
) -> shapely.Geometry:
    """Pull a drawn outline onto the vertices and edges of the grids near it.

    Each vertex within ``tolerance_m`` of a grid's vertex moves onto that vertex; otherwise,
    within ``tolerance_m`` of a grid's edge, onto the nearest point of the edge. Then
    :func:`shapely.snap` adds the grids' vertices lying within the tolerance of the
    outline's edges, so an edge drawn along a neighbour's follows it vertex for vertex.
    The parent is a grid of the frame too, so its boundary is snapped to as well.

    Parameters
    ----------
    geometry
        The drawn outline (or line), lon/lat.
    grids
        The grids frame (EPSG:4326).
    tolerance_m
        How far a vertex may move, in metres.
    exclude
        Codes not to snap to (the grid being reshaped: its old outline).

    Returns
    -------
    shapely.Geometry
        The snapped geometry, lon/lat; a vertex snapped onto a grid's vertex has that
        vertex's stored coordinates exactly.
    """
    if tolerance_m <= 0:
        return geometry
    skip = set(exclude)
    grids = in_force(grids)
    keep = np.asarray([c not in skip for c in _codes(grids)], dtype=bool)
    stored = np.asarray(grids.geometry.values, dtype=object)[keep]
    # a bounding box a little larger than the tolerance (a degree is at least ~96 km here)
    pad = tolerance_m / 90_000.0
    near = shapely.STRtree(stored).query(shapely.buffer(shapely.envelope(geometry), pad))
    if not len(near):
        return geometry
    proj = _Projector()
    drawn = proj.metric(geometry, drawn=True)
    # the outlines as they are: noding them (a union) would move shared vertices by noise
    outlines = [shapely.boundary(proj.metric(g)) for g in stored[near]]
    edges = shapely.multilinestrings(shapely.get_parts(np.asarray(outlines, dtype=object)))
    vertices = shapely.points(np.unique(shapely.get_coordinates(edges), axis=0))
    vertex_tree = shapely.STRtree(vertices)

    def pull(xy: np.ndarray) -> np.ndarray:
        out = xy.copy()
        points = shapely.points(xy)
        (src, dst), _ = vertex_tree.query_nearest(
            points, max_distance=tolerance_m, return_distance=True, all_matches=False
        )
        onto_vertex = np.zeros(len(xy), dtype=bool)
        onto_vertex[src] = True
        out[src] = shapely.get_coordinates(vertices[dst])
        rest = np.flatnonzero(~onto_vertex)
        if len(rest):
            gap = shapely.distance(points[rest], edges)
            close = rest[gap <= tolerance_m]
            if len(close):
                lines = shapely.shortest_line(points[close], edges)
                out[close] = shapely.get_coordinates(shapely.get_point(lines, 1))
        return out

    pulled = shapely.remove_repeated_points(
        shapely.snap(shapely.transform(drawn, pull), edges, tolerance_m), tolerance=GRID_M
    )
    return proj.lonlat(pulled)


# --- validation -----------------------------------------------------------------------------


#: kinds of problem, in the order they are listed
PROBLEM_KINDS = (
    "invalid_geometry",
    "code",
    "attribute",
    "parent_missing",
    "outside_parent",
    "overlap",
    "gap",
)


@dataclass(frozen=True)
class EditProblem:
    """One problem a change would add, where it is and what it is (Chinese and English)."""

    kind: str
    codes: tuple[str, ...]
    message_zh: str
    message: str
    #: where it is: a GeoJSON geometry in EPSG:4326 (``None`` when it has no place)
    geometry: dict[str, Any] | None
    area_m2: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "codes": list(self.codes),
            "message_zh": self.message_zh,
            "message": self.message,
            "geometry": self.geometry,
            "area_m2": self.area_m2,
        }


def apply_change(grids_before: pd.DataFrame, changed: pd.DataFrame) -> gpd.GeoDataFrame:
    """The grids frame after a change: retired and reshaped rows replaced by the new ones."""
    change = changed[CHANGE].astype(str)
    gone = set(_codes(changed[change.isin([RETIRED, RESHAPED, EDITED])]))
    kept = grids_before[~grids_before["code"].astype(str).isin(gone)]
    new = changed[change.isin([ADDED, RESHAPED, EDITED])]
    out = pd.concat([kept, new[list(grids_before.columns)]], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry=grids_before.geometry.name, crs=crsmod.STORAGE_CRS)


def combine_changes(changes: Sequence[pd.DataFrame]) -> gpd.GeoDataFrame:
    """Several edits made one after the other, as one change (what a change set holds).

    Each edit must have been made on the grids as the ones before it left them
    (:func:`apply_change`). Per code the last state wins: a grid added and then reshaped is
    added with its last outline, one added and then retired never existed, one reshaped and
    then retired is retired; one reshaped and edited (in either order) is reshaped, with its
    last outline and attributes.
    """
    rows: dict[str, pd.Series] = {}
    for frame in changes:
        for _, row in frame.iterrows():
            code = str(row["code"])
            prev = rows.get(code)
            if prev is not None and prev[CHANGE] == ADDED:
                if row[CHANGE] == RETIRED:
                    del rows[code]
                    continue
                row = _with(row, **{CHANGE: ADDED, DERIVED_FROM: prev[DERIVED_FROM]})
            elif prev is not None and prev[CHANGE] == RESHAPED and row[CHANGE] == EDITED:
                row = _with(row, **{CHANGE: RESHAPED})
            rows[code] = row
    columns = list(changes[0].columns) if len(changes) else [CHANGE, DERIVED_FROM]
    frame = pd.DataFrame(list(rows.values()), columns=columns).reset_index(drop=True)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=crsmod.STORAGE_CRS)


def _in_villages(grids: pd.DataFrame, villages: set[str]) -> pd.DataFrame:
    mask = [gridcodes.village_of(c) in villages if len(c) >= 12 else False for c in _codes(grids)]
    return grids[np.asarray(mask, dtype=bool)]


@contextmanager
def _untimed(name: str) -> Iterator[None]:
    yield


def _findings(grids: pd.DataFrame, settings: CheckSettings) -> dict[str, list[dict[str, Any]]]:
    ctx = CheckContext.build({"grids": grids}, settings=settings, as_of=dt.date.today())
    return boundary_checks(ctx, _untimed)


def _shape(item: dict[str, Any]) -> shapely.Geometry | None:
    geom = item.get("geometry")
    return None if geom is None else shapely.from_geojson(json.dumps(geom))


def _added_parts(
    after: list[dict[str, Any]],
    before: list[dict[str, Any]],
    *,
    minimum_m2: float,
) -> Iterator[tuple[dict[str, Any], shapely.Geometry, float]]:
    """Each finding after the change with the part of it no finding before covered."""
    seen: dict[str, list[shapely.Geometry]] = {}
    for item in before:
        geom = _shape(item)
        if geom is not None:
            seen.setdefault(item["level"], []).append(geom)
    old = {lv: shapely.union_all(gs, grid_size=GRID_DEG) for lv, gs in seen.items()}
    for item in after:
        geom = _shape(item)
        if geom is None:
            continue
        prior = old.get(item["level"])
        new = geom if prior is None else shapely.difference(geom, prior, grid_size=GRID_DEG)
        parts = polygon_parts(new)
        if not len(parts):
            continue
        area = float(metric_area(parts).sum())
        if area > minimum_m2:
            yield item, shapely.multipolygons(list(parts)), area


def validate_change(
    grids_before: pd.DataFrame,
    changed: pd.DataFrame,
    *,
    settings: CheckSettings | None = None,
) -> list[EditProblem]:
    """The problems a change adds, by the boundary rules of ``gisgrid check``.

    The rules (:mod:`gisgrid.analysis.checks.boundaries`) run on the grids of every village
    the change touches, before and after it; a problem is reported only where the change
    adds it: the part of an overlap, gap or outside piece that no problem of its kind
    covered before (at least ``sliver_m2``, or ``nesting_tolerance_m2`` for nesting), an
    invalid geometry of a changed grid, and new codes or attributes that break the grids
    layer's declaration (the code rule: the parent's code + 3 digits, the village's code
    as prefix, no code used twice or used before).

    Parameters
    ----------
    grids_before
        The grids frame as stored (EPSG:4326).
    changed
        What an edit (or several, concatenated in order) returned: rows with
        :data:`CHANGE` and :data:`DERIVED_FROM`.
    settings
        Thresholds (:class:`~gisgrid.settings.CheckSettings`).

    Returns
    -------
    list of EditProblem
        Empty when the change adds no problem.
    """
    settings = settings or CheckSettings()
    if not len(changed):
        return []
    villages = {gridcodes.village_of(c) for c in _codes(changed) if len(c) >= 12}
    net = in_force(grids_before)
    before = _in_villages(net, villages)
    after = _in_villages(apply_change(net, changed), villages)
    found_before = _findings(before, settings)
    found_after = _findings(after, settings)
    problems: list[EditProblem] = []
    touched = set(_codes(changed[changed[CHANGE].astype(str).isin([ADDED, RESHAPED, EDITED])]))

    for item in found_after["invalid_geometries"]:
        if item["layer"] == "grids" and item["code"] in touched:
            problems.append(
                EditProblem(
                    "invalid_geometry",
                    (item["code"],),
                    f"网格 {item['code']} 的边界无效：{item['reason_zh']}",
                    f"grid {item['code']} has an invalid outline: {item['reason']}",
                    item["geometry"] or _grid_location(after, item["code"]),
                )
            )

    problems += _code_problems(grids_before, changed)

    for item, geom, area in _added_parts(
        found_after["nesting"], found_before["nesting"], minimum_m2=settings.nesting_tolerance_m2
    ):
        c, p = item["code"], item["parent_code"]
        if item["parent_missing"]:
            problems.append(
                EditProblem(
                    "parent_missing",
                    (c,),
                    f"网格 {c} 的上级网格 {p} 不存在",
                    f"the parent {p} of grid {c} does not exist",
                    geojson(geom),
                    round(area, 1),
                )
            )
        else:
            problems.append(
                EditProblem(
                    "outside_parent",
                    (c,),
                    f"网格 {c} 超出上级网格 {p} 共 {area:.0f} 平方米",
                    f"grid {c} sticks out of its parent {p} by {area:.0f} m²",
                    geojson(geom),
                    round(area, 1),
                )
            )
    for item, geom, area in _added_parts(
        found_after["overlaps"], found_before["overlaps"], minimum_m2=settings.sliver_m2
    ):
        a, b = item["codes"]
        problems.append(
            EditProblem(
                "overlap",
                (a, b),
                f"网格 {a} 与 {b} 重叠 {area:.0f} 平方米",
                f"grids {a} and {b} overlap by {area:.0f} m²",
                geojson(geom),
                round(area, 1),
            )
        )
    for item, geom, _ in _added_parts(
        found_after["gaps"], found_before["gaps"], minimum_m2=settings.sliver_m2
    ):
        for part in polygon_parts(geom):
            part_area = float(metric_area(np.asarray([part], dtype=object))[0])
            if part_area < settings.sliver_m2:
                continue
            p = item["parent_code"]
            problems.append(
                EditProblem(
                    "gap",
                    (p,),
                    f"上级网格 {p} 内有 {part_area:.0f} 平方米未被任何网格覆盖（缝隙）",
                    f"{part_area:.0f} m² of parent {p} is covered by no grid (a gap)",
                    geojson(part),
                    round(part_area, 1),
                )
            )
    rank = {k: i for i, k in enumerate(PROBLEM_KINDS)}
    problems.sort(key=lambda p: (rank[p.kind], p.codes))
    return problems


def _grid_location(grids: pd.DataFrame, code: str) -> dict[str, Any] | None:
    hit = grids[grids["code"].astype(str) == code]
    if not len(hit) or hit.geometry.iloc[0] is None:
        return None
    return geojson(shapely.point_on_surface(hit.geometry.iloc[0]))


def _code_problems(grids_before: pd.DataFrame, changed: pd.DataFrame) -> list[EditProblem]:
    """New grids whose code or attributes break the grids layer's declaration or reuse a code."""
    problems = _attribute_problems(changed)
    added = changed[changed[CHANGE].astype(str) == ADDED].drop(columns=[CHANGE])
    if not len(added):
        return problems
    known = set(_codes(grids_before))
    for _, row in added.iterrows():
        c = str(row["code"])
        if c in known:
            problems.append(
                EditProblem(
                    "code",
                    (c,),
                    f"编码 {c} 已被使用过，新网格须用新编码",
                    f"code {c} is or was in use: a new grid needs a new code",
                    _grid_location(added, c),
                )
            )
    try:
        LAYERS["grids"].validate(added.reset_index(drop=True), crs=crsmod.STORAGE_CRS)
    except ValidationError as exc:
        codes = _codes(added)
        for p in exc.problems:
            if p.field == "geometry":
                continue  # the invalid_geometry rule reports these, located
            c = codes[p.index] if p.index is not None else ""
            problems.append(
                EditProblem(
                    "code",
                    (c,) if c else (),
                    f"网格 {c} 的{p.field or '数据'}不符合规则：{p.message}",
                    f"grid {c}, {p.field or 'data'}: {p.message}",
                    _grid_location(added, c) if c else None,
                )
            )
    return problems


def _attribute_problems(changed: pd.DataFrame) -> list[EditProblem]:
    """Grids whose attributes only were edited, with values the grids layer refuses."""
    edited = changed[changed[CHANGE].astype(str) == EDITED].drop(columns=[CHANGE])
    if not len(edited):
        return []
    try:
        LAYERS["grids"].validate(edited.reset_index(drop=True), crs=crsmod.STORAGE_CRS)
    except ValidationError as exc:
        codes = _codes(edited)
        out = []
        for p in exc.problems:
            c = codes[p.index] if p.index is not None else ""
            out.append(
                EditProblem(
                    "attribute",
                    (c,) if c else (),
                    f"网格 {c} 的{p.field or '数据'}不符合规则：{p.message}",
                    f"grid {c}, {p.field or 'data'}: {p.message}",
                    _grid_location(edited, c) if c else None,
                )
            )
        return out
    return []


__all__ = [
    "ADDED",
    "CHANGE",
    "DERIVED_FROM",
    "EDITABLE_ATTRIBUTES",
    "EDITED",
    "PROBLEM_KINDS",
    "RESHAPED",
    "RETIRED",
    "EditProblem",
    "add_grid",
    "allocate_codes",
    "apply_change",
    "combine_changes",
    "edit_attributes",
    "merge_grids",
    "reshape_grid",
    "snap",
    "split_grid",
    "validate_change",
]
