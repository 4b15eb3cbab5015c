"""Tests of gisgrid.crs: GCJ-02 / BD-09 conversions, CRS names, metric projection."""

from __future__ import annotations

import threading
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import Point, Polygon

from gisgrid import crs

# Huarong County seat, roughly (WGS84).
HUARONG = (112.56, 29.53)

# Published reference values of the widely used open-source GCJ-02 / BD-09 implementations
# (the same numbers appear in several independent projects' tests and READMEs).
BEIJING = (116.404, 39.915)
BEIJING_WGS_TO_GCJ = (116.41024449916938, 39.91640428150164)
BEIJING_GCJ_TO_BD = (116.41036949371029, 39.92133699351021)
# Their one-step (approximate) inverses, which ours must improve on.
BEIJING_GCJ_TO_WGS_ONE_STEP = (116.39775550083061, 39.91359571849836)
BEIJING_BD_TO_GCJ_ONE_STEP = (116.39762729119315, 39.90865673957631)
KOREA = (128.543, 37.065)  # inside the (rectangular) China box
KOREA_WGS_TO_GCJ = (128.54820547949757, 37.065651049489816)
KOREA_GCJ_TO_BD = (128.54944656269413, 37.07113427883019)
KOREA_WGS_TO_BD = (128.55468192918485, 37.07168344938498)


def china_grid() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(73.5, 135.0, 60), np.linspace(18.0, 53.5, 50))
    return lon.ravel(), lat.ravel()


def metres_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    to_utm = pyproj.Transformer.from_crs(crs.STORAGE_CRS, crs.METRIC_CRS, always_xy=True)
    ax, ay = to_utm.transform(*a)
    bx, by = to_utm.transform(*b)
    return float(np.hypot(ax - bx, ay - by))


# --- published values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "point", "expected"),
    [
        (crs.wgs84_to_gcj02, BEIJING, BEIJING_WGS_TO_GCJ),
        (crs.gcj02_to_bd09, BEIJING, BEIJING_GCJ_TO_BD),
        (crs.wgs84_to_gcj02, KOREA, KOREA_WGS_TO_GCJ),
        (crs.gcj02_to_bd09, KOREA, KOREA_GCJ_TO_BD),
        (crs.wgs84_to_bd09, KOREA, KOREA_WGS_TO_BD),
    ],
)
def test_forward_matches_published_values(func, point, expected):
    lon, lat = func(*point)
    assert lon == pytest.approx(expected[0], abs=1e-9)
    assert lat == pytest.approx(expected[1], abs=1e-9)


@pytest.mark.parametrize(
    ("inverse", "forward", "one_step"),
    [
        (crs.gcj02_to_wgs84, crs.wgs84_to_gcj02, BEIJING_GCJ_TO_WGS_ONE_STEP),
        (crs.bd09_to_gcj02, crs.gcj02_to_bd09, BEIJING_BD_TO_GCJ_ONE_STEP),
    ],
)
def test_inverse_is_close_to_and_better_than_published_one_step(inverse, forward, one_step):
    ours = inverse(*BEIJING)
    # Within ~1 m of the published approximation ...
    assert ours[0] == pytest.approx(one_step[0], abs=1e-5)
    assert ours[1] == pytest.approx(one_step[1], abs=1e-5)
    # ... but ours maps back exactly, the one-step value does not.
    back = forward(*ours)
    assert max(abs(back[0] - BEIJING[0]), abs(back[1] - BEIJING[1])) < 1e-10
    back_one_step = forward(*one_step)
    assert max(abs(back_one_step[0] - BEIJING[0]), abs(back_one_step[1] - BEIJING[1])) > 1e-7


# --- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("there", "back"),
    [
        (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84),
        (crs.gcj02_to_wgs84, crs.wgs84_to_gcj02),
        (crs.gcj02_to_bd09, crs.bd09_to_gcj02),
        (crs.bd09_to_gcj02, crs.gcj02_to_bd09),
        (crs.wgs84_to_bd09, crs.bd09_to_wgs84),
        (crs.bd09_to_wgs84, crs.wgs84_to_bd09),
    ],
)
def test_round_trip_across_china_below_a_centimetre(there, back):
    lon, lat = china_grid()
    moved = there(lon, lat)
    # The conversion really moves points (by tens to hundreds of metres)...
    assert np.min(np.hypot(moved[0] - lon, moved[1] - lat)) > 1e-4
    # ...and the round trip comes back within 1e-7 degrees (about 1 cm).
    lon2, lat2 = back(*moved)
    assert np.max(np.abs(lon2 - lon)) < 1e-7
    assert np.max(np.abs(lat2 - lat)) < 1e-7


def test_gcj02_offset_around_huarong_is_a_few_hundred_metres():
    gcj = crs.wgs84_to_gcj02(*HUARONG)
    shift = metres_between(HUARONG, gcj)
    assert 400.0 < shift < 800.0
    # GCJ-02 is east and south of WGS84 here.
    assert gcj[0] > HUARONG[0]
    assert gcj[1] < HUARONG[1]
    # Baidu adds roughly another 0.5-1 km on top.
    bd = crs.wgs84_to_bd09(*HUARONG)
    assert 300.0 < metres_between(gcj, bd) < 1500.0


# --- China box, argument order, shapes ---------------------------------------------------


@pytest.mark.parametrize(
    "point",
    [(2.3522, 48.8566), (-74.006, 40.7128), (151.2093, -33.8688), (37.6173, 55.7558)],
)
@pytest.mark.parametrize(
    "func",
    [crs.wgs84_to_gcj02, crs.gcj02_to_wgs84],
)
def test_points_outside_china_are_unchanged(func, point):
    assert func(*point) == point


def test_swapped_arguments_fall_outside_china_and_are_unchanged():
    lat, lon = HUARONG[1], HUARONG[0]
    assert crs.wgs84_to_gcj02(lat, lon) == (lat, lon)
    assert crs.gcj02_to_wgs84(lat, lon) == (lat, lon)
    # while the right order moves the point
    assert crs.wgs84_to_gcj02(lon, lat) != (lon, lat)


def test_in_china_bbox():
    assert crs.in_china_bbox(*HUARONG) is True
    assert crs.in_china_bbox(HUARONG[1], HUARONG[0]) is False
    inside = crs.in_china_bbox(np.array([112.0, 10.0, 140.0, np.nan]), 30.0)
    assert inside.tolist() == [True, False, False, False]


def test_mixed_inside_and_outside_array():
    lon = np.array([112.56, 2.35, 116.404])
    lat = np.array([29.53, 48.86, 39.915])
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    assert (glon[1], glat[1]) == (2.35, 48.86)
    assert glon[0] != lon[0]
    assert glon[2] == pytest.approx(BEIJING_WGS_TO_GCJ[0], abs=1e-9)
    wlon, wlat = crs.gcj02_to_wgs84(glon, glat)
    np.testing.assert_allclose(wlon, lon, rtol=0, atol=1e-9)
    np.testing.assert_allclose(wlat, lat, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "func",
    [
        crs.wgs84_to_gcj02,
        crs.gcj02_to_wgs84,
        crs.gcj02_to_bd09,
        crs.bd09_to_gcj02,
        crs.wgs84_to_bd09,
        crs.bd09_to_wgs84,
    ],
)
def test_scalars_and_arrays_agree(func):
    lon, lat = func(*HUARONG)
    assert type(lon) is float and type(lat) is float
    grid_lon = np.full((2, 3), HUARONG[0])
    alon, alat = func(grid_lon, HUARONG[1])  # broadcast a scalar latitude
    assert isinstance(alon, np.ndarray) and alon.shape == (2, 3) and alat.shape == (2, 3)
    assert np.all(alon == lon) and np.all(alat == lat)
    llon, llat = func([HUARONG[0]], [HUARONG[1]])  # lists work too
    assert llon.shape == (1,) and llon[0] == lon and llat[0] == lat


def test_nan_passes_through():
    lon, lat = crs.gcj02_to_wgs84(np.array([np.nan, 112.56]), np.array([29.53, 29.53]))
    assert np.isnan(lon[0]) and lat[0] == 29.53
    assert np.isfinite(lon[1])


# --- CRS names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "EPSG:4326"),
        ("EPSG:4326", "EPSG:4326"),
        ("epsg:4326", "EPSG:4326"),
        ("4326", "EPSG:4326"),
        (4326, "EPSG:4326"),
        ("wgs84", "EPSG:4326"),
        (" WGS 84 ", "EPSG:4326"),
        ("OGC:CRS84", "EPSG:4326"),
        (pyproj.CRS.from_epsg(4326), "EPSG:4326"),
        ("cgcs2000", "EPSG:4490"),
        ("CGCS2000", "EPSG:4490"),
        ("EPSG:4490", "EPSG:4490"),
        (pyproj.CRS.from_epsg(4490), "EPSG:4490"),
        ("gcj02", "gcj02"),
        ("GCJ-02", "gcj02"),
        ("amap", "gcj02"),
        ("bd09", "bd09"),
        ("BD-09", "bd09"),
        ("baidu", "bd09"),
        ("EPSG:4547", "EPSG:4547"),
        ("4547", "EPSG:4547"),
        (pyproj.CRS.from_epsg(32649), "EPSG:32649"),
        ("+proj=utm +zone=49 +datum=WGS84 +units=m +no_defs", "EPSG:32649"),
    ],
)
def test_normalize_crs(given, expected):
    assert crs.normalize_crs(given) == expected


@pytest.mark.parametrize(
    "bad",
    ["mars2000", "huarong", "", "EPSG:999999", "ESRI:104905", "bd09mc", True, 3.5],
)
def test_normalize_crs_rejects_unknown(bad):
    with pytest.raises(ValueError, match="CRS"):
        crs.normalize_crs(bad)


# --- points and geometries -------------------------------------------------------------


def test_convert_points():
    gcj = crs.convert_points(*HUARONG, source="wgs84", target="gcj02")
    assert gcj == crs.wgs84_to_gcj02(*HUARONG)
    # CGCS2000 is taken as WGS84 exactly.
    assert crs.convert_points(*HUARONG, source="cgcs2000") == HUARONG
    # GCJ-02 to UTM goes through WGS84.
    x, y = crs.convert_points(*gcj, source="gcj02", target=crs.METRIC_CRS)
    assert 600_000 < x < 800_000 and 3_200_000 < y < 3_400_000
    back = crs.convert_points(x, y, source=crs.METRIC_CRS, target="gcj02")
    assert back[0] == pytest.approx(gcj[0], abs=1e-9)
    assert back[1] == pytest.approx(gcj[1], abs=1e-9)
    bd = crs.convert_points(*gcj, source="gcj02", target="bd09")
    assert bd == crs.gcj02_to_bd09(*gcj)


def test_transform_geometry_array_moves_every_vertex():
    lon0, lat0 = HUARONG
    square = Polygon(
        [(lon0, lat0), (lon0 + 0.1, lat0), (lon0 + 0.1, lat0 + 0.1), (lon0, lat0 + 0.1)],
        holes=[
            [(lon0 + 0.02, lat0 + 0.02), (lon0 + 0.05, lat0 + 0.02), (lon0 + 0.02, lat0 + 0.05)]
        ],
    )
    geoms = np.array([square, Point(lon0, lat0), None], dtype=object)
    out = crs.transform_geometry_array(geoms, crs.gcj02_to_wgs84)
    assert out.shape == (3,) and out[2] is None
    coords = shapely.get_coordinates(geoms[:2])
    expected = np.column_stack(crs.gcj02_to_wgs84(coords[:, 0], coords[:, 1]))
    np.testing.assert_allclose(shapely.get_coordinates(out[:2]), expected, rtol=0, atol=1e-12)
    assert shapely.get_num_interior_rings(out[0]) == 1
    # the same by CRS names, and back again
    by_name = crs.transform_geometry_array(geoms, source="gcj02", target="EPSG:4326")
    assert shapely.equals_exact(by_name[:2], out[:2], tolerance=1e-12).all()
    back = crs.transform_geometry_array(out, source="wgs84", target="gcj02")
    assert shapely.equals_exact(back[:2], geoms[:2], tolerance=1e-9).all()
    # a single geometry gives a single geometry; a GeoSeries gives an array
    single = crs.transform_geometry_array(Point(lon0, lat0), crs.wgs84_to_gcj02)
    assert isinstance(single, Point)
    assert (single.x, single.y) == crs.wgs84_to_gcj02(lon0, lat0)
    series = gpd.GeoSeries([Point(lon0, lat0)], crs=4326)
    assert crs.transform_geometry_array(series, source="gcj02")[0].x != lon0


def test_transform_geometry_array_needs_func_or_source():
    with pytest.raises(ValueError):
        crs.transform_geometry_array(Point(1, 2))
    with pytest.raises(ValueError):
        crs.transform_geometry_array(Point(1, 2), crs.gcj02_to_wgs84, source="gcj02")


def test_to_metric():
    lon0, lat0 = HUARONG
    gdf = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[Point(lon0, lat0), Point(lon0, lat0 + 0.01)],
        crs="EPSG:4326",
    )
    metric = crs.to_metric(gdf)
    assert metric.crs == pyproj.CRS(crs.METRIC_CRS)
    # 0.01 degree of latitude at 29.5 N is about 1,108 m
    assert metric.geometry.iloc[0].distance(metric.geometry.iloc[1]) == pytest.approx(1108, abs=3)
    assert gdf.crs == pyproj.CRS("EPSG:4326")  # the input is left alone


def test_to_metric_without_crs_raises():
    gdf = gpd.GeoDataFrame(geometry=[Point(*HUARONG)])
    with pytest.raises(ValueError, match="no CRS"):
        crs.to_metric(gdf)


def test_the_transformer_is_built_once_and_serves_every_thread() -> None:
    first = crs.transformer("EPSG:4326", "EPSG:32649")
    assert crs.transformer("epsg:4326", crs.METRIC_CRS) is first
    lon = np.linspace(112.3, 112.9, 2000)
    lat = np.linspace(29.2, 29.7, 2000)
    want = first.transform(lon, lat)
    got: list[Any] = [None] * 4

    def work(k: int) -> None:
        got[k] = crs.transformer(crs.STORAGE_CRS, crs.METRIC_CRS).transform(lon, lat)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for x, y in got:
        assert np.array_equal(x, want[0]) and np.array_equal(y, want[1])
