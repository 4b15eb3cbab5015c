"""Coordinate reference systems used in gisgrid, and the Chinese map-app offsets.

Every coordinate pair in this module is ``(lon, lat)`` — longitude first — both in the
arguments and in the results, whatever order the source app or library used.

Storage and exchange use WGS84 (:data:`STORAGE_CRS`). Areas, distances and buffers use a
projected metric CRS (:data:`METRIC_CRS`, UTM zone 49N, which covers Huarong County at
lon ~112.5, lat ~29.5). Never measure in degrees.

Phone map apps do not give WGS84:

* **GCJ-02** ("Mars coordinates", 火星坐标) is used by Amap/Gaode, Tencent and WeChat. It is
  WGS84 plus a deliberately obfuscated, position-dependent offset of a few hundred metres
  (about 600 m around Huarong).
* **BD-09** is used by Baidu: GCJ-02 with a further offset.

Neither is a CRS that PROJ knows, so they are handled here with plain functions. The forward
transforms are the published formulas; their inverses have no closed form and are computed
iteratively to better than 1e-9 degrees (0.1 mm).

The GCJ-02 offset is only applied inside a rough bounding box of China (see
:func:`in_china_bbox`); points outside it are returned unchanged, as the map apps do.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pyproj
import shapely

from gisgrid.errors import CrsError

__all__ = [
    "BD09",
    "CGCS2000",
    "CHINA_BBOX",
    "GCJ02",
    "METRIC_CRS",
    "STORAGE_CRS",
    "CrsError",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert_points",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china_bbox",
    "normalize_crs",
    "to_metric",
    "transform_geometry_array",
    "transformer",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: CRS of everything gisgrid stores and exchanges (GeoJSON, database, API): WGS84 lon/lat.
STORAGE_CRS = "EPSG:4326"

#: China Geodetic Coordinate System 2000, the official national datum.
#: CGCS2000 and WGS84 (as realised today) differ by well under a metre — less than the
#: accuracy of the boundary data and of a phone GPS fix — so gisgrid treats EPSG:4490
#: coordinates as EPSG:4326 without any shift (PROJ does the same: its 4490 -> 4326
#: transformation is a no-op "ballpark" one).
CGCS2000 = "EPSG:4490"

#: Projected metric CRS for every area, distance and buffer around Huarong
#: (UTM zone 49N, central meridian 111°E; Huarong lies at lon ~112.5, lat ~29.5).
METRIC_CRS = "EPSG:32649"

#: Canonical name of the GCJ-02 ("Mars") coordinates of Amap/Tencent/WeChat.
GCJ02 = "gcj02"

#: Canonical name of Baidu's BD-09 coordinates.
BD09 = "bd09"

#: ``(lon_min, lat_min, lon_max, lat_max)`` of the rough China box inside which the GCJ-02
#: offset applies. It is the box the published GCJ-02 implementations use: it is a
#: rectangle, so it also contains parts of neighbouring countries (Mongolia, Korea,
#: Japan, South-East Asia) and leaves out nothing of mainland China.
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)

# Krasovsky 1940 ellipsoid, on which the GCJ-02 offset is defined.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323

# BD-09 works in a scaled angle: pi * 3000 / 180.
_BD_X_PI = np.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

# Iterative inverses: stop when every point moves by less than this (degrees), or after
# this many steps. The GCJ-02 and BD-09 maps are contractions with a factor of ~1e-3, so
# three to five steps reach 1e-12 degrees.
_INVERSE_TOLERANCE = 1e-12
_INVERSE_MAX_STEPS = 30


# ---------------------------------------------------------------------------------------
# helpers for scalar-or-array arguments
# ---------------------------------------------------------------------------------------


def _as_arrays(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """Broadcast ``lon`` and ``lat`` to float arrays; report whether both were scalars."""
    lon_a = np.asarray(lon, dtype=float)
    lat_a = np.asarray(lat, dtype=float)
    scalar = lon_a.ndim == 0 and lat_a.ndim == 0
    lon_a, lat_a = np.broadcast_arrays(lon_a, lat_a)
    return lon_a, lat_a, scalar


def _result(lon: np.ndarray, lat: np.ndarray, scalar: bool) -> tuple[Any, Any]:
    """Return plain floats for scalar input, arrays otherwise."""
    if scalar:
        return float(lon), float(lat)
    return lon, lat


def in_china_bbox(lon: Any, lat: Any) -> Any:
    """Tell whether points lie in the rough China box where GCJ-02 applies.

    Parameters
    ----------
    lon, lat
        Longitude and latitude in degrees (scalars or arrays; broadcast together).

    Returns
    -------
    bool or numpy.ndarray of bool
        True inside :data:`CHINA_BBOX` (bounds included). NaN coordinates are outside.
    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    lon_min, lat_min, lon_max, lat_max = CHINA_BBOX
    inside = (lon_a >= lon_min) & (lon_a <= lon_max) & (lat_a >= lat_min) & (lat_a <= lat_max)
    return bool(inside) if scalar else inside


# ---------------------------------------------------------------------------------------
# GCJ-02
# ---------------------------------------------------------------------------------------


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset (dlon, dlat) in degrees at WGS84 position (lon, lat), no box test."""
    x = lon - 105.0
    y = lat - 35.0
    # Shared "noise" term of both components.
    noise = (20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)) * 2.0 / 3.0
    # Offsets in metre-like units on the Krasovsky ellipsoid.
    north = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + noise
        + (20.0 * np.sin(np.pi * y) + 40.0 * np.sin(np.pi * y / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(np.pi * y / 12.0) + 320.0 * np.sin(np.pi * y / 30.0)) * 2.0 / 3.0
    )
    east = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + noise
        + (20.0 * np.sin(np.pi * x) + 40.0 * np.sin(np.pi * x / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(np.pi * x / 12.0) + 300.0 * np.sin(np.pi * x / 30.0)) * 2.0 / 3.0
    )
    # Metres to degrees with the meridian and prime-vertical radii of curvature.
    phi = np.radians(lat)
    w2 = 1.0 - _KRASOVSKY_EE * np.sin(phi) ** 2
    w = np.sqrt(w2)
    meridian_radius = _KRASOVSKY_A * (1.0 - _KRASOVSKY_EE) / (w2 * w)
    normal_radius = _KRASOVSKY_A / w
    dlat = np.degrees(north / meridian_radius)
    dlon = np.degrees(east / (normal_radius * np.cos(phi)))
    return dlon, dlat


def _wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inside = in_china_bbox(lon, lat)
    dlon, dlat = _gcj_offset(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    lon: np.ndarray,
    lat: np.ndarray,
    guess_lon: np.ndarray,
    guess_lat: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x, y) == (lon, lat)`` by fixed-point iteration from a first guess.

    ``forward`` is the identity plus a small, slowly varying offset, so
    ``x <- x - (forward(x) - target)`` contracts by about 1e-3 per step.
    """
    x, y = guess_lon.copy(), guess_lat.copy()
    for _ in range(_INVERSE_MAX_STEPS):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x = x - ex
        y = y - ey
        step = np.maximum(np.abs(ex), np.abs(ey))
        if not np.any(step > _INVERSE_TOLERANCE):  # also stops when all are NaN
            break
    return x, y


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert WGS84 coordinates to GCJ-02 (Amap/Tencent/WeChat).

    Parameters
    ----------
    lon, lat
        WGS84 longitude and latitude in degrees: scalars or arrays (broadcast together).
        Longitude first.

    Returns
    -------
    tuple
        ``(lon, lat)`` in GCJ-02: floats for scalar input, arrays otherwise. Points outside
        :data:`CHINA_BBOX` are returned unchanged.
    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    return _result(*_wgs84_to_gcj02(lon_a, lat_a), scalar)


def gcj02_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert GCJ-02 coordinates (Amap/Tencent/WeChat) to WGS84.

    The inverse of :func:`wgs84_to_gcj02`, found iteratively: the result maps back to the
    input within 1e-12 degrees (the one-step inverse in common use is off by up to ~5 m).

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees: scalars or arrays. Longitude first.

    Returns
    -------
    tuple
        ``(lon, lat)`` in WGS84: floats for scalar input, arrays otherwise. Points outside
        :data:`CHINA_BBOX` are returned unchanged.
    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    inside = in_china_bbox(lon_a, lat_a)
    # First guess: subtract the offset measured at the GCJ-02 point itself.
    dlon, dlat = _gcj_offset(lon_a, lat_a)
    x, y = _invert(_wgs84_to_gcj02, lon_a, lat_a, lon_a - dlon, lat_a - dlat)
    return _result(np.where(inside, x, lon_a), np.where(inside, y, lat_a), scalar)


# ---------------------------------------------------------------------------------------
# BD-09
# ---------------------------------------------------------------------------------------


def _gcj02_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    radius = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _BD_X_PI)
    angle = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_X_PI)
    return radius * np.cos(angle) + _BD_DLON, radius * np.sin(angle) + _BD_DLAT


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert GCJ-02 coordinates to Baidu BD-09.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees: scalars or arrays. Longitude first.

    Returns
    -------
    tuple
        ``(lon, lat)`` in BD-09: floats for scalar input, arrays otherwise. The BD-09
        offset applies everywhere (Baidu has no China box).
    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    return _result(*_gcj02_to_bd09(lon_a, lat_a), scalar)


def bd09_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert Baidu BD-09 coordinates to GCJ-02.

    The inverse of :func:`gcj02_to_bd09`, found iteratively (the one-step formula in common
    use is off by up to about 20 cm).

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude in degrees: scalars or arrays. Longitude first.

    Returns
    -------
    tuple
        ``(lon, lat)`` in GCJ-02: floats for scalar input, arrays otherwise.
    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    x, y = _invert(_gcj02_to_bd09, lon_a, lat_a, lon_a - _BD_DLON, lat_a - _BD_DLAT)
    return _result(x, y, scalar)


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert WGS84 coordinates to Baidu BD-09 (through GCJ-02).

    Parameters
    ----------
    lon, lat
        WGS84 longitude and latitude in degrees: scalars or arrays. Longitude first.

    Returns
    -------
    tuple
        ``(lon, lat)`` in BD-09: floats for scalar input, arrays otherwise.
    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    return _result(*_gcj02_to_bd09(*_wgs84_to_gcj02(lon_a, lat_a)), scalar)


def bd09_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert Baidu BD-09 coordinates to WGS84 (through GCJ-02).

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude in degrees: scalars or arrays. Longitude first.

    Returns
    -------
    tuple
        ``(lon, lat)`` in WGS84: floats for scalar input, arrays otherwise.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


# ---------------------------------------------------------------------------------------
# CRS names and general conversion
# ---------------------------------------------------------------------------------------

_ALIASES: dict[str, str] = {
    # WGS84
    "wgs84": STORAGE_CRS,
    "wgs 84": STORAGE_CRS,
    "wgs-84": STORAGE_CRS,
    "wgs_84": STORAGE_CRS,
    "gps": STORAGE_CRS,
    "4326": STORAGE_CRS,
    "epsg:4326": STORAGE_CRS,
    "epsg::4326": STORAGE_CRS,
    "urn:ogc:def:crs:epsg::4326": STORAGE_CRS,
    # OGC CRS84 is WGS84 with (lon, lat) axis order: the order gisgrid always uses.
    "crs84": STORAGE_CRS,
    "ogc:crs84": STORAGE_CRS,
    "urn:ogc:def:crs:ogc:1.3:crs84": STORAGE_CRS,
    # CGCS2000
    "cgcs2000": CGCS2000,
    "cgcs 2000": CGCS2000,
    "cgcs-2000": CGCS2000,
    "cgcs_2000": CGCS2000,
    "4490": CGCS2000,
    "epsg:4490": CGCS2000,
    "epsg::4490": CGCS2000,
    "urn:ogc:def:crs:epsg::4490": CGCS2000,
    # GCJ-02
    "gcj02": GCJ02,
    "gcj-02": GCJ02,
    "gcj_02": GCJ02,
    "gcj": GCJ02,
    "mars": GCJ02,
    "amap": GCJ02,
    "gaode": GCJ02,
    "tencent": GCJ02,
    # BD-09
    "bd09": BD09,
    "bd-09": BD09,
    "bd_09": BD09,
    "bd09ll": BD09,
    "baidu": BD09,
}


def _unknown_crs_message(crs: Any) -> str:
    return (
        f"unknown CRS {crs!r}: use 'EPSG:4326' (wgs84), 'EPSG:4490' (cgcs2000), "
        "'gcj02', 'bd09' or an authority code such as 'EPSG:32649'"
    )


def _looks_like_crs_definition(key: str) -> bool:
    """Tell whether a lower-cased string is an authority code, URN, PROJ string or WKT/JSON."""
    return (
        ":" in key  # EPSG:4547, ESRI:102100, urn:ogc:def:crs:...
        or key.startswith("+")  # PROJ string
        or key.startswith("{")  # PROJJSON
        or "[" in key  # WKT
    )


def normalize_crs(crs: Any) -> str:
    """Return the canonical gisgrid name of a CRS.

    Parameters
    ----------
    crs
        ``None`` (taken as WGS84, as in GeoJSON), a :class:`pyproj.CRS`, an EPSG code as an
        integer, or a string: ``"EPSG:4326"``, ``"4326"``, ``"wgs84"``, ``"cgcs2000"``,
        ``"EPSG:4490"``, ``"gcj02"``, ``"bd09"`` (case-insensitive, with common aliases
        such as ``"amap"`` or ``"baidu"``), an authority code (``"EPSG:4547"``), a PROJ
        string, WKT or PROJJSON. Bare names other than the aliases are refused rather than
        looked up by name in the PROJ database.

    Returns
    -------
    str
        ``"EPSG:4326"``, ``"EPSG:4490"``, ``"gcj02"``, ``"bd09"``, or the authority string
        of another CRS such as ``"EPSG:4547"`` (the WKT when it has no authority code).

    Raises
    ------
    CrsError
        A :class:`ValueError` for a name that is neither an alias nor a CRS pyproj knows,
        for a CRS of another planet, and for Baidu's Mercator ``"bd09mc"``, which gisgrid
        does not convert.
    """
    if crs is None:
        return STORAGE_CRS
    if isinstance(crs, bool):
        raise CrsError(f"not a CRS: {crs!r}")
    if isinstance(crs, int):
        crs = str(crs)
    if isinstance(crs, str):
        key = " ".join(crs.strip().lower().split())
        if key in _ALIASES:
            return _ALIASES[key]
        if key in {"bd09mc", "bd09_mc", "baidu mercator"}:
            raise CrsError(
                f"unsupported CRS {crs!r}: Baidu Mercator (BD-09MC) is not converted; "
                "ask for BD-09 longitude/latitude (bd09ll)"
            )
        if key.isdigit():
            crs = f"EPSG:{key}"
        elif not _looks_like_crs_definition(key):
            # PROJ would look bare words up by name ("mars2000" is the planet Mars).
            raise CrsError(_unknown_crs_message(crs))
    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except (pyproj.exceptions.CRSError, TypeError) as exc:
        raise CrsError(_unknown_crs_message(crs)) from exc
    ellipsoid = parsed.ellipsoid
    if ellipsoid is not None and not 6.3e6 < ellipsoid.semi_major_metre < 6.4e6:
        raise CrsError(f"CRS {crs!r} is not a CRS of the Earth ({parsed.name})")
    authority = parsed.to_authority()
    if authority is None:
        return parsed.to_wkt()
    name = f"{authority[0]}:{authority[1]}".upper()
    if name == "OGC:CRS84":
        return STORAGE_CRS
    return name


PointFunc = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@functools.lru_cache(maxsize=64)
def _cached_transformer(source: str, target: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(source, target, always_xy=True)


def transformer(source: Any, target: Any) -> pyproj.Transformer:
    """The (lon, lat)-ordered transformer from ``source`` to ``target``, built once per pair.

    Building one costs about a millisecond (a PROJ database look-up), so every caller in
    gisgrid takes it from here. One transformer may serve several threads at once: since
    pyproj 3.1 (gisgrid needs 3.6) a :class:`pyproj.Transformer` keeps its PROJ object per
    thread (``threading.local``) and builds a thread's own on its first use there, because
    a PROJ object is not thread-safe.

    Parameters
    ----------
    source, target
        Any CRS :func:`normalize_crs` accepts that PROJ knows (not GCJ-02 or BD-09, which are
        offsets, see :func:`convert_points`).
    """
    return _cached_transformer(normalize_crs(source), normalize_crs(target))


def _to_wgs84_func(source: str) -> PointFunc | None:
    """Point function from a canonical CRS to WGS84 (None for no change)."""
    if source in (STORAGE_CRS, CGCS2000):
        return None
    if source == GCJ02:
        return gcj02_to_wgs84
    if source == BD09:
        return bd09_to_wgs84
    return transformer(source, STORAGE_CRS).transform


def _from_wgs84_func(target: str) -> PointFunc | None:
    """Point function from WGS84 to a canonical CRS (None for no change)."""
    if target in (STORAGE_CRS, CGCS2000):
        return None
    if target == GCJ02:
        return wgs84_to_gcj02
    if target == BD09:
        return wgs84_to_bd09
    return transformer(STORAGE_CRS, target).transform


def _point_func(source: Any, target: Any) -> PointFunc | None:
    """Compose ``source -> WGS84 -> target``; None when nothing changes."""
    src = normalize_crs(source)
    dst = normalize_crs(target)
    if src == dst:
        return None
    first = _to_wgs84_func(src)
    second = _from_wgs84_func(dst)
    if first is None:
        return second
    if second is None:
        return first

    def both(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return second(*first(lon, lat))

    return both


def convert_points(lon: Any, lat: Any, *, source: Any, target: Any = STORAGE_CRS) -> tuple:
    """Convert point coordinates between any two CRSs that :func:`normalize_crs` accepts.

    Parameters
    ----------
    lon, lat
        Coordinates in ``source`` (x, y for a projected CRS): scalars or arrays.
    source, target
        CRS names (see :func:`normalize_crs`); ``target`` defaults to WGS84. EPSG:4490 and
        EPSG:4326 are treated as the same.

    Returns
    -------
    tuple
        ``(lon, lat)`` (or ``(x, y)``) in ``target``: floats for scalar input, arrays
        otherwise.
    """
    lon_a, lat_a, scalar = _as_arrays(lon, lat)
    func = _point_func(source, target)
    if func is None:
        return _result(lon_a.copy(), lat_a.copy(), scalar)
    out_lon, out_lat = func(lon_a, lat_a)
    return _result(np.asarray(out_lon, dtype=float), np.asarray(out_lat, dtype=float), scalar)


def transform_geometry_array(
    geoms: Any,
    func: PointFunc | None = None,
    *,
    source: Any = None,
    target: Any = STORAGE_CRS,
) -> Any:
    """Apply a ``(lon, lat)`` point function to every coordinate of shapely geometries.

    Give either ``func`` or ``source`` (and optionally ``target``), e.g.
    ``transform_geometry_array(polygons, source="gcj02")`` moves Amap polygons to WGS84.

    Parameters
    ----------
    geoms
        A shapely geometry, an array-like of geometries, or a GeoSeries (its values are
        used; the result is a plain array). Missing geometries stay missing; Z values are
        dropped.
    func
        Function of ``(lon, lat)`` arrays returning ``(lon, lat)`` arrays, such as
        :func:`gcj02_to_wgs84`.
    source, target
        CRS names for :func:`normalize_crs`, used when ``func`` is not given.

    Returns
    -------
    shapely.Geometry or numpy.ndarray
        New geometries of the same shape as ``geoms``.

    Raises
    ------
    ValueError
        When both or neither of ``func`` and ``source`` are given.
    """
    if (func is None) == (source is None):
        raise ValueError("give either func or source, not both and not neither")
    if func is None:
        func = _point_func(source, target)
    values = getattr(geoms, "values", geoms)
    if func is None:
        return shapely.transform(values, lambda xy: xy)
    point_func = func

    def on_xy(xy: np.ndarray) -> np.ndarray:
        lon, lat = point_func(xy[:, 0], xy[:, 1])
        return np.column_stack([np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)])

    return shapely.transform(values, on_xy)


def to_metric(gdf: Any) -> Any:
    """Project a GeoDataFrame (or GeoSeries) to :data:`METRIC_CRS` for metric work.

    Parameters
    ----------
    gdf
        A :class:`geopandas.GeoDataFrame` or :class:`geopandas.GeoSeries` with a CRS.

    Returns
    -------
    geopandas.GeoDataFrame or geopandas.GeoSeries
        A projected copy in UTM zone 49N (metres).

    Raises
    ------
    CrsError
        A :class:`ValueError` when the frame has no CRS: gisgrid will not guess whether
        coordinates are WGS84, GCJ-02 or already metres.
    """
    if getattr(gdf, "crs", None) is None:
        raise CrsError(
            "the frame has no CRS; set one first (e.g. gdf.set_crs('EPSG:4326')), "
            "and convert GCJ-02/BD-09 coordinates with gisgrid.crs before projecting"
        )
    return gdf.to_crs(METRIC_CRS)
