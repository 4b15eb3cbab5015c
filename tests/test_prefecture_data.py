"""The prefecture's package data: nine real county outlines (a clean coverage) and divisions.

Made by ``data/boundaries/derive.py`` (see PROVENANCE.md there); these tests read the files
as shipped and prove what the sample prefecture relies on.
"""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import shapely
from shapely.geometry import shape

from gisgrid import crs as crsmod
from gisgrid import data

#: the nine county-level divisions of 岳阳市 (GB/T 2260), written out here on purpose
NINE = dict(
    zip(
        ["430602", "430603", "430611", "430621", "430623", "430624", "430626", "430681", "430682"],
        [
            "岳阳楼区",
            "云溪区",
            "君山区",
            "岳阳县",
            "华容县",
            "湘阴县",
            "平江县",
            "汨罗市",
            "临湘市",
        ],
        strict=True,
    )
)


def _outlines() -> dict[str, shapely.Geometry]:
    doc = json.loads(data.resource(data.PREFECTURE_OUTLINES).read_text(encoding="utf-8"))
    return {f["properties"]["code"]: shape(f["geometry"]) for f in doc["features"]}


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.resource(name).read_text(encoding="utf-8"))))


def test_nine_outlines_valid_six_decimals_and_a_clean_coverage() -> None:
    doc = json.loads(data.resource(data.PREFECTURE_OUTLINES).read_text(encoding="utf-8"))
    assert {f["properties"]["code"]: f["properties"]["name"] for f in doc["features"]} == NINE
    text = data.resource(data.PREFECTURE_OUTLINES).read_text(encoding="utf-8")
    assert not re.search(r"\d\.\d{7,}", text), "coordinates are rounded to 6 decimals"
    outlines = _outlines()
    to_metric = crsmod.transformer(crsmod.STORAGE_CRS, crsmod.METRIC_CRS)
    metric = {
        c: shapely.transform(g, lambda xy: np.column_stack(to_metric.transform(*xy.T)))
        for c, g in outlines.items()
    }
    assert all(shapely.is_valid(g) and g.geom_type == "MultiPolygon" for g in metric.values())
    codes = sorted(metric)
    neighbours = 0
    for i, a in enumerate(codes):
        for b in codes[i + 1 :]:
            if metric[a].intersects(metric[b]):
                neighbours += 1
                assert metric[a].intersection(metric[b]).area == 0.0, (a, b)
    assert neighbours == 12
    union = shapely.union_all(list(metric.values()))
    holes = [r for p in shapely.get_parts(union) for r in p.interiors]
    assert holes == [], "no gap between neighbours"
    assert abs(union.area - sum(g.area for g in metric.values())) < 1.0


def test_huarong_in_the_prefecture_is_the_county_file() -> None:
    county = json.loads(data.resource(data.OUTLINE).read_text(encoding="utf-8"))
    assert shape(county["features"][0]["geometry"]).equals_exact(_outlines()["430623"], 0.0)
    huarong = [r for r in _rows(data.PREFECTURE_DIVISIONS) if r["code"].startswith("430623")]
    assert [r for r in huarong if r["level"] != "county"] == _rows(data.DIVISIONS)


def test_divisions_nest_by_code() -> None:
    rows = _rows(data.PREFECTURE_DIVISIONS)
    counties = {r["code"]: r for r in rows if r["level"] == "county"}
    assert {c: r["name"] for c, r in counties.items()} == NINE
    assert {r["parent_code"] for r in counties.values()} == {"430600"}
    townships = {r["code"]: r for r in rows if r["level"] == "township"}
    villages = [r for r in rows if r["level"] == "village"]
    assert all(
        r["parent_code"] in counties and r["code"][:6] == r["parent_code"]
        for r in townships.values()
    )
    assert all(
        r["parent_code"] in townships and r["code"][:9] == r["parent_code"] for r in villages
    )
    assert (len(townships), len(villages)) == (134, 1867)
    assert {r["level"] for r in rows} == {"county", "township", "village"}
