"""Coordinates that look wrong are caught (issue #17, point 2).

Synthetic files from the generated sample county (a few hundred of its households, seed
fixed): the same points as WGS84, as a phone app's GCJ-02 or Baidu's BD-09 (converted with
:mod:`gisgrid.crs`), swapped, as CGCS2000 Gauss-Krüger metres, and moved out of the county.
:func:`~gisgrid.exchange.coordinates.detect_coordinates` is judged on each, against the
county as stored (:func:`~gisgrid.exchange.coordinates.build_reference`): as a register of
households already stored (matched by id) and as new households (their village only, the
stored households without them). Then the real import refuses a GCJ-02 file with the
evidence and ``--crs gcj02``, and takes it with ``--crs gcj02`` (right place) or ``--crs
wgs84`` (as stated, with a note).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from conftest import raw_frame

from gisgrid import crs as crsmod
from gisgrid.errors import ImportRefusedError
from gisgrid.exchange import import_file
from gisgrid.exchange.coordinates import Reference, build_reference, detect_coordinates
from gisgrid.stores.geopackage import GeoPackageStore

SAMPLE_SIZE = 300


@pytest.fixture(scope="module")
def county(sample_county: Any) -> dict[str, Any]:
    """A sample of households (WGS84 lon/lat, ids, village codes) and two references:
    the county with them stored, and without them (they are new)."""
    frames = sample_county.frames
    households = frames["households"].reset_index(drop=True)
    rng = np.random.default_rng(17)
    picked = np.sort(rng.choice(len(households), SAMPLE_SIZE, replace=False))
    sample = households.iloc[picked].reset_index(drop=True)
    rest = households.drop(index=picked).reset_index(drop=True)
    common = {"townships": frames["townships"], "villages": frames["villages"]}
    return {
        "lon": shapely.get_x(sample.geometry.values),
        "lat": shapely.get_y(sample.geometry.values),
        "ids": sample["id"].astype(str).tolist(),
        "villages": sample["village_code"].astype(str).tolist(),
        "stored": build_reference(**common, households=households),
        "new": build_reference(**common, households=rest, key=()),
    }


def judge(county: dict[str, Any], lon: Any, lat: Any, *, as_new: bool, **kw: Any) -> Any:
    reference: Reference = county["new" if as_new else "stored"]
    return detect_coordinates(
        lon,
        lat,
        declared=kw.pop("declared", None),
        stated=kw.pop("stated", False),
        reference=reference,
        village_codes=county["villages"],
        keys=None if as_new else county["ids"],
        **kw,
    )


@pytest.mark.parametrize("as_new", [False, True], ids=["stored", "new"])
def test_wgs84_points_pass(county: dict[str, Any], as_new: bool) -> None:
    verdict = judge(county, county["lon"], county["lat"], as_new=as_new)
    assert verdict.kind == "ok", verdict.message
    assert not verdict.refuses
    assert verdict.fits[0].in_county is not None and verdict.fits[0].in_county > 0.99


@pytest.mark.parametrize("as_new", [False, True], ids=["stored", "new"])
def test_gcj02_points_are_flagged_with_the_evidence(county: dict[str, Any], as_new: bool) -> None:
    lon, lat = crsmod.wgs84_to_gcj02(county["lon"], county["lat"])
    verdict = judge(county, lon, lat, as_new=as_new)
    assert verdict.kind == "gcj02", verdict.message
    assert verdict.refuses
    assert verdict.suggestion == "gcj02"
    # the offset around Huarong: some 600 m (619 m), east-south-east of the true place
    assert verdict.shift_m is not None and 500 < verdict.shift_m < 750
    assert verdict.shift_bearing is not None and 90 < verdict.shift_bearing < 150
    given, gcj = verdict.fits[0], verdict.fits[1]
    assert gcj.crs == "gcj02"
    if as_new:
        assert given.in_village is not None and gcj.in_village is not None
        assert gcj.in_village > given.in_village
    else:
        assert given.matched_m is not None and gcj.matched_m is not None
        assert given.matched_m > 300 and gcj.matched_m < 1
    assert "--crs gcj02" in verdict.message and "--crs gcj02" in verdict.message_zh
    assert "GCJ-02" in verdict.message_zh and "县界内" in verdict.message_zh


@pytest.mark.parametrize("as_new", [False, True], ids=["stored", "new"])
def test_bd09_points_are_flagged_as_bd09(county: dict[str, Any], as_new: bool) -> None:
    lon, lat = crsmod.wgs84_to_bd09(county["lon"], county["lat"])
    verdict = judge(county, lon, lat, as_new=as_new)
    assert verdict.kind == "bd09", verdict.message
    assert "--crs bd09" in verdict.message


def test_gcj02_stated_as_wgs84_is_reported_not_refused(county: dict[str, Any]) -> None:
    lon, lat = crsmod.wgs84_to_gcj02(county["lon"], county["lat"])
    verdict = judge(county, lon, lat, as_new=False, declared="wgs84", stated=True)
    assert verdict.kind == "gcj02" and not verdict.refuses
    assert verdict.message_zh.startswith("注意")


def test_swapped_points(county: dict[str, Any]) -> None:
    verdict = judge(county, county["lat"], county["lon"], as_new=True)
    assert verdict.kind == "swapped" and verdict.refuses
    assert verdict.share == 1.0
    assert "交换" in verdict.message_zh


def test_gauss_kruger_metres_declared_as_degrees(county: dict[str, Any]) -> None:
    # CGCS2000 3-degree Gauss-Krueger, central meridian 111E, no zone number (EPSG:4546)
    to_gk = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4546", always_xy=True)
    x, y = to_gk.transform(county["lon"], county["lat"])
    verdict = judge(county, x, y, as_new=True)
    assert verdict.kind == "projected" and verdict.refuses
    assert verdict.suggestion is not None
    # the CRS suggested puts them back where they are
    back = pyproj.Transformer.from_crs(verdict.suggestion, "EPSG:4326", always_xy=True)
    lon, lat = back.transform(x, y)
    assert np.allclose(lon, county["lon"], atol=1e-6) and np.allclose(lat, county["lat"], atol=1e-6)
    assert f"--crs {verdict.suggestion}" in verdict.message


def test_points_of_another_county(county: dict[str, Any]) -> None:
    verdict = judge(county, county["lon"] + 1.5, county["lat"], as_new=True)
    assert verdict.kind == "outside"
    assert "县" in verdict.message_zh


def test_nothing_stored_is_unchecked() -> None:
    empty = build_reference(
        townships=raw_frame("townships").iloc[:0],
        villages=raw_frame("villages").iloc[:0],
        households=raw_frame("households").iloc[:0],
    )
    verdict = detect_coordinates([112.5], [29.5], declared=None, stated=False, reference=empty)
    assert verdict.kind == "unchecked" and not verdict.refuses


# --- the real import ---------------------------------------------------------------------


def _register(path: Path, lon: Any, lat: Any) -> Path:
    """The little county's households as a CSV register (UTF-8), at the given coordinates."""
    frame = raw_frame("households")
    table = pd.DataFrame(
        {
            "户编号": frame["id"],
            "户主姓名": frame["head_name"],
            "户籍村（社区）": frame["village_code"],
            "家庭人口": frame["members"],
            "60岁以上人数": frame["elderly"],
            "经度": lon,
            "纬度": lat,
        }
    )
    table.to_csv(path, index=False)
    return path


def test_import_refuses_a_gcj02_register_and_takes_it_when_stated(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    stored = filled_store.read("households")
    lon, lat = shapely.get_x(stored.geometry.values), shapely.get_y(stored.geometry.values)
    glon, glat = crsmod.wgs84_to_gcj02(lon, lat)
    path = _register(tmp_path / "amap.csv", glon, glat)
    with pytest.raises(ImportRefusedError) as refused:
        import_file(filled_store, "households", path, mode="replace")
    said = str(refused.value)
    assert "GCJ-02" in said and "--crs gcj02" in said and "「经度/纬度」列" in said
    assert "距库中同编号要素中位" in said
    assert len(filled_store.read("households")) == len(stored)  # nothing written

    result = import_file(filled_store, "households", path, mode="replace", crs="gcj02")
    assert result.verdict is not None and result.verdict.kind == "ok"
    got = filled_store.read("households").set_index("id").loc[stored["id"]]
    moved = shapely.distance(np.asarray(got.geometry.values), np.asarray(stored.geometry.values))
    assert float(np.max(moved)) < 1e-7  # degrees: about a centimetre

    as_stated = import_file(filled_store, "households", path, mode="replace", crs="wgs84")
    assert as_stated.verdict is not None and as_stated.verdict.kind == "gcj02"
    assert any("注意" in n and "GCJ-02" in n for n in as_stated.notes)
