"""Every version of the grids: the net as it stood on a date, and one grid's history.

The little county's first village with a history: the west-north grid ``001001`` was
reshaped 30 days ago (``END``): version 1, the west half of today's outline, was superseded
by version 2 (change set 7); the east-south grid ``002002`` was split that day into
``002009`` (the same box, for simplicity) and retired. Readers of a past date must take the
superseded version; readers of today the latest one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from conftest import LEVEL3_BOXES, V1, raw_frame
from shapely.geometry import box

from gisgrid import crs as crsmod
from gisgrid.analysis.assign import today
from gisgrid.analysis.locate import Locator
from gisgrid.analysis.versions import grid_history, net_on, net_versions
from gisgrid.errors import NotFoundError
from gisgrid.layers import LAYERS
from gisgrid.stores.base import Store
from gisgrid.stores.geopackage import GeoPackageStore

TODAY = today()
END = TODAY - dt.timedelta(days=30)
BEFORE = END - dt.timedelta(days=1)
RESHAPED = V1 + "001001"
SPLIT = V1 + "002002"
PIECE = V1 + "002009"
x0, y0, x1, y1 = LEVEL3_BOXES[RESHAPED]
MID = (x0 + x1) / 2
#: in today's outline of 001001, not in its first version
EAST_HALF = ((MID + x1) / 2, (y0 + y1) / 2)


def _history_frames() -> dict[str, pd.DataFrame]:
    frames = {
        name: decl.validate(raw_frame(name))
        for name, decl in LAYERS.items()
        if name != "grid_versions"
    }
    grids = frames["grids"].set_index("code")
    old = grids.loc[[RESHAPED]].reset_index()
    old["geometry"] = [shapely.MultiPolygon([box(x0, y0, MID, y1)])]
    old["version"] = 1
    old["valid_to"] = pd.Timestamp(END)
    old["superseded_at"] = pd.Timestamp(END)
    old["superseded_by"] = 7
    grids.loc[RESHAPED, "version"] = 2
    grids.loc[RESHAPED, "valid_from"] = pd.Timestamp(END)
    grids.loc[RESHAPED, "change_set"] = 7
    grids.loc[SPLIT, "valid_to"] = pd.Timestamp(END)
    piece = grids.loc[[SPLIT]].reset_index()
    piece["code"] = PIECE
    piece["valid_from"], piece["valid_to"] = pd.Timestamp(END), pd.NaT
    piece["derived_from"], piece["change_set"], piece["version"] = SPLIT, 7, 1
    out = gpd.GeoDataFrame(
        pd.concat([grids.reset_index(), piece], ignore_index=True),
        geometry="geometry",
        crs=crsmod.STORAGE_CRS,
    )
    frames["grids"] = LAYERS["grids"].validate(out)
    frames["grid_versions"] = LAYERS["grid_versions"].validate(old)
    return frames


@pytest.fixture(params=["geopackage", "postgis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The little county with a history, in a store of each kind."""
    frames = _history_frames()
    if request.param == "geopackage":
        gpkg = GeoPackageStore(tmp_path / "history.gpkg")
        gpkg.write(frames)
        yield gpkg
        return
    from gisgrid.stores.postgis import PostGISStore

    pg = PostGISStore(request.getfixturevalue("pg_url"))
    try:
        pg.init()
        pg.write(frames)
        yield pg
    finally:
        pg.close()


def _row(frame: pd.DataFrame, code: str) -> pd.Series:
    found = frame[frame["code"] == code]
    assert len(found) == 1, f"{code}: {len(found)} rows"
    return found.iloc[0]


def test_net_versions_holds_the_latest_and_the_superseded_rows(store: Store):
    every = net_versions(store)
    assert sorted(every.loc[every["code"] == RESHAPED, "version"].tolist()) == [1, 2]
    assert list(every.columns) == list(store.read("grids").columns)
    kept = net_versions(store, archive_columns=True)
    superseded = kept[kept["superseded_by"].notna()]
    assert superseded["code"].tolist() == [RESHAPED]


def test_the_net_of_a_past_date_takes_the_superseded_version(store: Store):
    then = net_on(store, BEFORE)
    now = net_on(store, None)
    assert _row(then, RESHAPED)["version"] == 1
    assert _row(now, RESHAPED)["version"] == 2
    half = crsmod.to_metric(gpd.GeoSeries([box(x0, y0, MID, y1)], crs=crsmod.STORAGE_CRS))
    area_then = crsmod.to_metric(then[then["code"] == RESHAPED].geometry).area.iloc[0]
    assert area_then == pytest.approx(half.area.iloc[0], rel=1e-6)
    assert SPLIT in set(then["code"]) and PIECE not in set(then["code"])
    assert PIECE in set(now["code"]) and SPLIT not in set(now["code"])
    assert not then["code"].duplicated().any() and not now["code"].duplicated().any()


def test_locate_answers_with_the_outline_of_the_date(store: Store):
    locator = Locator.from_store(store)
    lon, lat = EAST_HALF
    assert locator.locate(lon, lat).level3 is not None
    assert locator.locate(lon, lat).level3.code == RESHAPED  # type: ignore[union-attr]
    then = locator.locate(lon, lat, as_of=BEFORE).level3
    assert then is None or then.code != RESHAPED


def test_grid_history_lists_versions_and_lineage(store: Store):
    reshaped = grid_history(store, RESHAPED)
    assert reshaped.versions["version"].tolist() == [1, 2]
    assert reshaped.versions["valid_to"].iloc[0] == pd.Timestamp(END)
    assert reshaped.versions["superseded_by"].iloc[0] == 7
    assert reshaped.versions["area_m2"].iloc[0] < reshaped.versions["area_m2"].iloc[1]
    assert reshaped.status() == "in_force"
    split = grid_history(store, SPLIT)
    assert split.went_into == (PIECE,) and split.status() == "retired"
    assert split.status(BEFORE) == "in_force"
    piece = grid_history(store, PIECE)
    assert piece.came_from == (SPLIT,) and piece.status(BEFORE) == "future"


def test_grid_history_of_an_unknown_grid_is_not_found(store: Store):
    with pytest.raises(NotFoundError, match="no grid"):
        grid_history(store, V1 + "009009")
    with pytest.raises(NotFoundError):
        grid_history(store, "12345")
