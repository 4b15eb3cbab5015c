"""The real part of the sample county: Huarong's outline and its official division names.

Read from the package data (:mod:`gisgrid.data`, derived by the repository's
``data/boundaries/derive.py``; see PROVENANCE.md there). The division
table lists 225 villages and communities; the county's report counts 203 (villages have been
merged since the table was made), with 19 urban communities in the county seat. The sample
keeps 203 by a fixed rule, :func:`select_divisions`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


@dataclass(frozen=True)
class CountyBoundaries:
    """The outline (EPSG:4326) and the selected townships and villages (no geometry)."""

    outline: shapely.MultiPolygon
    townships: pd.DataFrame  # code, name, kind
    villages: pd.DataFrame  # code, name, township_code, kind, urban


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


def read_divisions(*, directory: Path | None = None) -> pd.DataFrame:
    """The official division table: ``level, code, name, parent_code, kind`` (all text)."""
    with boundary_file(data.DIVISIONS, directory=directory).open("rb") as handle:
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
