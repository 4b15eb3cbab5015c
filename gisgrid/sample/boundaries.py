"""The real part of the sample county: Huarong's outline and its official division names.

Read from the package data (:mod:`gisgrid.data`, derived by the repository's
``data/boundaries/derive.py``; see PROVENANCE.md there). The division
table lists 225 villages and communities; the county's report counts 203 (villages have been
merged since the table was made), with 19 urban communities in the county seat. The sample
keeps 203 by a fixed rule, :func:`select_divisions`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path

import pandas as pd
import shapely

from gisgrid import data
from gisgrid.errors import ConfigError
from gisgrid.settings import SampleSettings

COUNTY_CODE = "430623"
COUNTY_NAME = "华容县"
#: 章华镇, the county seat, whose communities are the county's urban communities
SEAT_TOWNSHIP = "430623120"
#: near the real county seat (WGS84 lon, lat); the synthetic town grows around it
SEAT_LONLAT = (112.559, 29.528)
VILLAGES_IN_REPORT = 203
URBAN_COMMUNITIES_IN_REPORT = 19


#: the sample prefecture (Yueyang, 岳阳市): its code and name
PREFECTURE_CODE = "430600"
PREFECTURE_NAME = "岳阳市"


@dataclass(frozen=True)
class CountySize:
    """How much of each thing a sample county has, scaled from Huarong's figures.

    Huarong's (203 villages of which 155 rural) are the report's: 1,240 level-2 and 2,860
    level-3 grids, 105 credit villages, 43 weak villages, 673 volunteer teams… Another
    county gets the same per village (grids, mesh cells, market towns, teams, activities,
    hotspots, problem villages) or per rural village (credit villages), rounded; the weak
    villages are at most the rural villages that are not credit villages, the first
    secretaries at most the weak villages.
    """

    villages: int
    rural: int

    def per_village(self, huarong: int, *, least: int = 1) -> int:
        return max(least, round(huarong * self.villages / VILLAGES_IN_REPORT))

    @property
    def level2(self) -> int:
        return self.per_village(1240, least=2 * self.villages)

    @property
    def level3(self) -> int:
        return max(self.per_village(2860), self.level2)

    @property
    def cells(self) -> int:
        return self.per_village(30_000)

    @property
    def market_towns(self) -> int:
        return self.per_village(24, least=2)

    @property
    def credit_villages(self) -> int:
        return min(self.rural, round(105 * self.rural / RURAL_IN_HUARONG_SAMPLE))

    @property
    def weak_villages(self) -> int:
        return min(self.per_village(43), self.rural - self.credit_villages)

    @property
    def first_secretaries(self) -> int:
        return min(13, self.weak_villages)

    @property
    def volunteer_teams(self) -> int:
        return max(self.per_village(673), self.villages)

    @property
    def volunteer_activities(self) -> int:
        return self.per_village(824)

    @property
    def hotspots(self) -> int:
        return self.per_village(6)

    @property
    def problem_villages(self) -> int:
        return min(self.villages - self.hotspots, self.per_village(85))

    @property
    def min_households(self) -> int:
        """At least 5,000 households in Huarong, as many per village elsewhere."""
        return math.ceil(5000 * self.villages / VILLAGES_IN_REPORT)


#: the rural villages among the 203 the Huarong sample keeps (its 105 credit villages' pool)
RURAL_IN_HUARONG_SAMPLE = 155


@dataclass(frozen=True)
class CountyBoundaries:
    """The outline (EPSG:4326) and the selected townships and villages (no geometry)."""

    outline: shapely.MultiPolygon
    townships: pd.DataFrame  # code, name, kind
    villages: pd.DataFrame  # code, name, township_code, kind, urban
    code: str = COUNTY_CODE
    name: str = COUNTY_NAME
    #: the township of the county seat, whose communities are the urban communities
    seat_township: str = SEAT_TOWNSHIP
    #: where the synthetic seat town grows (WGS84 lon, lat)
    seat_lonlat: tuple[float, float] = field(default=SEAT_LONLAT)

    @property
    def size(self) -> CountySize:
        return CountySize(len(self.villages), int((self.villages["kind"] == "village").sum()))


def load_boundaries(directory: Path | None = None) -> CountyBoundaries:
    """Read the derived outline and division table and select the sample's 203 villages.

    Parameters
    ----------
    directory
        Folder with ``huarong_outline.geojson`` and ``huarong_divisions.csv``; default
        ``GISGRID_BOUNDARIES_DIR``, else the files shipped in :mod:`gisgrid.data`.
    """
    outline_file = boundary_file(data.OUTLINE, directory=directory)
    doc = json.loads(outline_file.read_text(encoding="utf-8"))
    geom = shapely.geometry.shape(doc["features"][0]["geometry"])
    outline = geom if isinstance(geom, shapely.MultiPolygon) else shapely.MultiPolygon([geom])
    table = read_divisions(directory=directory)
    townships = table[table["level"] == "township"][["code", "name", "kind"]]
    villages = select_divisions(table[table["level"] == "village"])
    return CountyBoundaries(outline, townships.reset_index(drop=True), villages)


def prefecture_counties(*, directory: Path | None = None) -> pd.DataFrame:
    """The sample prefecture's counties: ``code, name, kind`` in code order."""
    table = read_divisions(directory=directory, name=data.PREFECTURE_DIVISIONS)
    counties = table[table["level"] == "county"][["code", "name", "kind"]]
    return counties.sort_values("code").reset_index(drop=True)


def load_county_boundaries(code: str, *, directory: Path | None = None) -> CountyBoundaries:
    """One county of the sample prefecture: its real outline and divisions.

    Huarong (430623) is read exactly as :func:`load_boundaries` reads it (the same 203
    villages). Any other county keeps every village and community of the table; its seat
    township is the one with the most communities (the lowest code on a tie), whose
    communities are its urban communities, and its synthetic seat town grows around a point
    inside the outline (``shapely.point_on_surface``): real county seats are not in the data.

    Raises
    ------
    ConfigError
        ``code`` is not one of the prefecture's counties.
    """
    if code == COUNTY_CODE:
        return load_boundaries(directory)
    outline_file = boundary_file(data.PREFECTURE_OUTLINES, directory=directory)
    doc = json.loads(outline_file.read_text(encoding="utf-8"))
    found = [f for f in doc["features"] if f["properties"]["code"] == code]
    if len(found) != 1:
        known = ", ".join(sorted(f["properties"]["code"] for f in doc["features"]))
        raise ConfigError(f"no county {code} in the sample prefecture (counties: {known})")
    geom = shapely.geometry.shape(found[0]["geometry"])
    outline = geom if isinstance(geom, shapely.MultiPolygon) else shapely.MultiPolygon([geom])
    table = read_divisions(directory=directory, name=data.PREFECTURE_DIVISIONS)
    townships = table[(table["level"] == "township") & (table["parent_code"] == code)]
    villages = table[
        (table["level"] == "village") & table["parent_code"].isin(set(townships["code"]))
    ]
    villages = villages.rename(columns={"parent_code": "township_code"})[
        ["code", "name", "township_code", "kind"]
    ].sort_values("code")
    communities = villages[villages["kind"] == "community"]["township_code"].value_counts()
    counts = communities.reindex(sorted(townships["code"]), fill_value=0)
    seat = str(counts.idxmax())  # the first of the largest, in code order
    villages = villages.reset_index(drop=True)
    villages["urban"] = (villages["township_code"] == seat) & (villages["kind"] == "community")
    inner = shapely.point_on_surface(outline)
    return CountyBoundaries(
        outline,
        townships[["code", "name", "kind"]].reset_index(drop=True),
        villages,
        code=code,
        name=str(found[0]["properties"]["name"]),
        seat_township=seat,
        seat_lonlat=(round(inner.x, 6), round(inner.y, 6)),
    )


def boundary_file(name: str, *, directory: Path | None = None) -> Traversable:
    """One of the real boundary files, from ``directory``, the setting or the package data.

    Raises
    ------
    ConfigError
        The file is not there.
    """
    folder = directory or SampleSettings().boundaries_dir
    found: Traversable = folder / name if folder is not None else data.resource(name)
    if not found.is_file():
        raise ConfigError(f"sample boundary file missing: {found} (see data/boundaries/)")
    return found


def read_divisions(*, directory: Path | None = None, name: str = data.DIVISIONS) -> pd.DataFrame:
    """The official division table: ``level, code, name, parent_code, kind`` (all text)."""
    with boundary_file(name, directory=directory).open("rb") as handle:
        return pd.read_csv(handle, dtype=str, encoding="utf-8")


def select_divisions(villages: pd.DataFrame) -> pd.DataFrame:
    """Keep 203 of the table's villages and communities, by a fixed documented rule.

    In the county seat keep its first 19 communities by code (the urban communities) and
    all its villages. Elsewhere drop, one at a time, the highest-coded village (never a
    community) of the township that then has the most, until 203 remain.
    """
    v = villages.rename(columns={"parent_code": "township_code"})[
        ["code", "name", "township_code", "kind"]
    ].sort_values("code")
    seat = v["township_code"] == SEAT_TOWNSHIP
    seat_communities = v[seat & (v["kind"] == "community")].head(URBAN_COMMUNITIES_IN_REPORT)
    kept = pd.concat([v[~seat], v[seat & (v["kind"] != "community")], seat_communities])
    kept = kept.sort_values("code").reset_index(drop=True)
    while len(kept) > VILLAGES_IN_REPORT:
        rural = kept[(kept["township_code"] != SEAT_TOWNSHIP) & (kept["kind"] == "village")]
        biggest = rural["township_code"].value_counts().sort_index().idxmax()
        drop = rural[rural["township_code"] == biggest].index.max()
        kept = kept.drop(index=drop)
    kept = kept.reset_index(drop=True)
    kept["urban"] = kept["code"].isin(seat_communities["code"])
    return kept
