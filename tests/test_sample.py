"""The sample county's invariants, each computed independently from the generated frames.

Counts per level, exact tiling and nesting, codes, the real names, and every planted defect
present exactly as the manifest says, and no other.
"""

from __future__ import annotations

import json
from collections import Counter

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from gisgrid import crs as crsmod
from gisgrid.errors import ConfigError
from gisgrid.layers import LAYERS
from gisgrid.layers.incidents import SIX_NO_KINDS
from gisgrid.sample import build_sample_county, write_sample_county
from gisgrid.sample.boundaries import (
    SEAT_TOWNSHIP,
    load_boundaries,
    read_divisions,
    select_divisions,
)
from gisgrid.sample.codes import reading_order
from gisgrid.stores.geopackage import GeoPackageStore

AREA_TOLERANCE_M2 = 1.0  # anything smaller is floating-point noise, not a gap or overlap

pytestmark = pytest.mark.slow


def metric(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    return geoms.to_crs(crsmod.METRIC_CRS)


@pytest.fixture(scope="module")
def frames(sample_county):
    return sample_county.frames


@pytest.fixture(scope="module")
def defects(sample_county):
    return sample_county.manifest["defects"]


@pytest.fixture(scope="module")
def grids_m(frames):
    g = frames["grids"]
    return g.set_geometry(metric(g.geometry))


def test_counts_match_the_county_report(frames, sample_county):
    grids = frames["grids"]
    assert len(frames["townships"]) == 14
    assert len(frames["villages"]) == 203
    assert Counter(grids["level"].tolist()) == {1: 203, 2: 1240, 3: 2860}
    villages = frames["villages"]
    seat_communities = villages[
        (villages["township_code"] == SEAT_TOWNSHIP) & (villages["kind"] == "community")
    ]
    assert len(seat_communities) == 19
    assert int(villages["credit_village"].sum()) == 105
    hh = frames["households"]
    n = sample_county.manifest["households"]
    assert len(hh) == n
    assert int(hh["credit_rating"].notna().sum()) == round(15_828 * n / 150_000)
    assert len(frames["county_leaders"]) == 31
    assert set(frames["leader_townships"]["township_code"]) == set(frames["townships"]["code"])
    assert set(frames["leader_townships"]["leader_id"]) == set(frames["county_leaders"]["id"])
    teams = frames["volunteer_teams"]
    assert len(teams) == 673
    assert int(teams["members"].sum()) > 10_000
    assert len(frames["volunteer_activities"]) > 800
    assert set(frames["volunteer_activities"]["team_id"]) <= set(teams["id"])
    assert len(frames["first_secretaries"]) == 13
    pairs = frames["pairings"]
    weak = pairs[pairs["kind"] == "weak_village"]
    urban = pairs[pairs["kind"] == "urban_community"]
    assert (weak["unit_name"].nunique(), weak["village_code"].nunique()) == (39, 43)
    assert (urban["unit_name"].nunique(), urban["village_code"].nunique()) == (38, 19)
    assert set(urban["village_code"]) == set(seat_communities["code"])
    sp = frames["service_points"]
    per_kind = sp.groupby("kind")["village_code"]
    assert sorted(per_kind.get_group("village_centre")) == sorted(villages["code"])
    assert len(per_kind.get_group("township_centre")) == 14
    elder = per_kind.get_group("elder_care")
    assert len(elder) == 4 and elder.nunique() == 1
    assert sp.loc[sp["kind"] == "elder_care", "watcher"].notna().all()


def test_every_layer_is_valid_against_its_declaration(frames):
    for name, frame in frames.items():
        again = LAYERS[name].validate(frame)
        assert len(again) == len(frame), name


def test_names_and_codes_are_the_real_ones(frames):
    table = read_divisions()
    real_townships = dict(zip(table["code"], table["name"], strict=True))
    townships = frames["townships"]
    assert len(townships) == (table["level"] == "township").sum()
    for code, name in zip(townships["code"], townships["name"], strict=True):
        assert real_townships[code] == name
    villages = frames["villages"]
    for code, name, township in zip(
        villages["code"], villages["name"], villages["township_code"], strict=True
    ):
        assert real_townships[code] == name
        assert table.loc[table["code"] == code, "parent_code"].item() == township


def test_selection_keeps_203_with_19_urban_communities():
    table = read_divisions()
    kept = select_divisions(table[table["level"] == "village"])
    assert len(kept) == 203
    assert kept["urban"].sum() == 19
    assert (kept.loc[kept["urban"], "township_code"] == SEAT_TOWNSHIP).all()
    # only rural villages are dropped, never a community outside the seat
    dropped = set(table.loc[table["level"] == "village", "code"]) - set(kept["code"])
    dropped_rows = table[table["code"].isin(dropped)]
    outside_seat = dropped_rows[dropped_rows["parent_code"] != SEAT_TOWNSHIP]
    assert (outside_seat["kind"] == "village").all()


def test_townships_tile_the_real_outline(frames):
    outline = gpd.GeoSeries([load_boundaries().outline], crs=crsmod.STORAGE_CRS)
    t = metric(frames["townships"].geometry)
    assert shapely.coverage_is_valid(t.values)
    union = shapely.coverage_union_all(t.values)
    diff = shapely.symmetric_difference(union, metric(outline).iloc[0]).area
    assert diff < AREA_TOLERANCE_M2 * 100, f"townships differ from the outline by {diff:.1f} m²"


def _assert_tiles(parents: gpd.GeoDataFrame, children: gpd.GeoDataFrame, parent_key: str) -> None:
    """Children of each parent form a valid coverage whose union is the parent."""
    assert shapely.coverage_is_valid(children.geometry.values), "shared edges differ"
    by_parent = children.groupby(parent_key).geometry.apply(
        lambda s: shapely.coverage_union_all(s.values)
    )
    assert set(by_parent.index) == set(parents["code"])
    p = parents.set_index("code").geometry.reindex(by_parent.index)
    diff = shapely.area(shapely.symmetric_difference(p.values, by_parent.values))
    worst = float(diff.max())
    assert worst < AREA_TOLERANCE_M2, f"a parent differs from its children by {worst:.3f} m²"


def test_villages_tile_townships_and_level2_tiles_villages(frames, grids_m):
    townships = frames["townships"].set_geometry(metric(frames["townships"].geometry))
    villages = frames["villages"].set_geometry(metric(frames["villages"].geometry))
    _assert_tiles(townships, villages, "township_code")
    level1 = grids_m[grids_m["level"] == 1]
    level2 = grids_m[grids_m["level"] == 2]
    _assert_tiles(level1, level2, "parent_code")
    # each level-1 grid is its village
    v = villages.set_index("code").geometry
    g1 = level1.set_index("code").geometry.reindex(v.index)
    assert float(shapely.area(shapely.symmetric_difference(v.values, g1.values)).max()) < 1e-6


def test_level3_tiles_level2_except_exactly_the_planted_defects(grids_m, defects):
    l2 = grids_m[grids_m["level"] == 2].set_index("code")
    l3 = grids_m[grids_m["level"] == 3].reset_index(drop=True)
    # gaps: parent area not covered by its children
    union = l3.groupby("parent_code").geometry.apply(lambda s: shapely.union_all(s.values))
    gap_area = shapely.area(
        shapely.difference(l2.geometry.reindex(union.index).values, union.values)
    )
    gaps = {p: a for p, a in zip(union.index, gap_area, strict=True) if a > AREA_TOLERANCE_M2}
    planted_gaps = {d["parent_code"]: d["area_m2"] for d in defects["gaps"]}
    assert set(gaps) == set(planted_gaps)
    for p, a in gaps.items():
        assert a == pytest.approx(planted_gaps[p], rel=0.01)
    # overlaps between siblings
    tree = shapely.STRtree(l3.geometry.values)
    left, right = tree.query(l3.geometry.values, predicate="intersects")
    keep = (left < right) & (
        l3["parent_code"].to_numpy()[left] == l3["parent_code"].to_numpy()[right]
    )
    left, right = left[keep], right[keep]
    areas = shapely.area(shapely.intersection(l3.geometry.values[left], l3.geometry.values[right]))
    codes = l3["code"].to_numpy()
    overlaps = {
        tuple(sorted((codes[a], codes[b]))): area
        for a, b, area in zip(left, right, areas, strict=True)
        if area > AREA_TOLERANCE_M2
    }
    planted_overlaps = {tuple(d["grid_codes"]): d["area_m2"] for d in defects["overlaps"]}
    assert set(overlaps) == set(planted_overlaps)
    for k, a in overlaps.items():
        assert a == pytest.approx(planted_overlaps[k], rel=0.01)
    # nesting: a child outside its parent
    parents = l2.geometry.reindex(l3["parent_code"]).values
    outside = shapely.area(shapely.difference(l3.geometry.values, parents))
    poking = {c: a for c, a in zip(codes, outside, strict=True) if a > AREA_TOLERANCE_M2}
    planted = {d["grid_code"]: d["outside_area_m2"] for d in defects["nesting"]}
    assert set(poking) == set(planted)
    for c, a in poking.items():
        assert a == pytest.approx(planted[c], rel=0.01)
    assert len(planted_gaps) >= 2 and len(planted_overlaps) >= 2 and len(planted) >= 1


def test_shared_edges_are_identical_except_at_planted_defects(grids_m, defects):
    l3 = grids_m[grids_m["level"] == 3].reset_index(drop=True)
    invalid = shapely.coverage_invalid_edges(l3.geometry.values)
    flagged = set(l3["code"][~shapely.is_empty(invalid) & ~shapely.is_missing(invalid)])
    planted: set[str] = set()
    for d in defects["overlaps"]:
        planted.update(d["grid_codes"])
    for d in defects["nesting"]:
        planted.update((d["grid_code"], d["into_code"]))
    for d in defects["gaps"]:
        planted.update((d["grid_code"], d["neighbour_code"]))
    assert flagged <= planted
    assert flagged, "the planted overlaps must show as invalid coverage edges"


def test_codes_are_numbered_in_reading_order(frames, defects):
    planted = {d["grid_code"] for d in defects["gaps"] + defects["nesting"]}
    planted |= {c for d in defects["overlaps"] for c in d["grid_codes"]}
    g = frames["grids"]
    pts = shapely.get_coordinates(shapely.point_on_surface(g.geometry.values))
    g = g.assign(x=pts[:, 0], y=pts[:, 1])
    for level in (2, 3):
        children = g[g["level"] == level]
        for parent, group in children.groupby("parent_code"):
            group = group.sort_values("code")
            assert group["code"].str.startswith(parent).all()
            seq = group["code"].str[len(parent) :].astype(int).tolist()
            assert seq == list(range(1, len(group) + 1))
            # planted defects moved some outlines after numbering
            if group["code"].isin(planted).any():
                continue
            order = reading_order(group["x"].to_numpy(), group["y"].to_numpy())
            assert list(group["code"].to_numpy()[order]) == list(group["code"]), parent
    assert g["code"].is_unique


def _l3_hits(frames) -> np.ndarray:
    g = frames["grids"]
    l3 = g[g["level"] == 3].reset_index(drop=True)
    hh = frames["households"]
    tree = shapely.STRtree(l3.geometry.values)
    pts, _ = tree.query(hh.geometry.values, predicate="within")
    return np.bincount(pts, minlength=len(hh))


def test_households_outside_every_grid_are_exactly_the_planted_ones(frames, defects):
    hits = _l3_hits(frames)
    hh = frames["households"]
    assert sorted(hh["id"][hits == 0]) == defects["households_outside"]
    assert (hits <= 1).all(), "no household stands in two level-3 grids"
    assert len(defects["households_outside"]) >= 3


def test_village_mismatch_is_exactly_the_planted_one(frames, defects):
    villages = frames["villages"]
    hh = frames["households"]
    pts, polys = shapely.STRtree(villages.geometry.values).query(
        hh.geometry.values, predicate="within"
    )
    located = pd.Series(villages["code"].to_numpy()[polys], index=pts)
    assert located.index.is_unique and len(located) == len(hh)
    located = located.sort_index().to_numpy()
    wrong = np.flatnonzero(located != hh["village_code"].to_numpy())
    found = sorted(
        (
            {"id": hh["id"].iat[i], "registered": hh["village_code"].iat[i], "located": located[i]}
            for i in wrong
        ),
        key=lambda m: m["id"],
    )
    assert found == defects["village_mismatch"]
    assert len(found) >= 3


def test_linkage_defects_are_exactly_the_planted_ones(frames, defects):
    hh = frames["households"]
    backbones = hh[hh["backbone"]]
    assert backbones["party_member"].all()
    counts = hh["backbone_id"].value_counts().reindex(backbones["id"], fill_value=0)
    under = [{"backbone_id": k, "linked": int(v)} for k, v in counts[counts < 5].items()]
    over = [{"backbone_id": k, "linked": int(v)} for k, v in counts[counts > 10].items()]
    assert sorted(under, key=lambda m: m["backbone_id"]) == defects["linkage_under"]
    assert sorted(over, key=lambda m: m["backbone_id"]) == defects["linkage_over"]
    unlinked = hh[~hh["backbone"] & hh["backbone_id"].isna()]["id"]
    assert sorted(unlinked) == defects["unlinked"]
    assert defects["linkage_under"] and defects["linkage_over"] and defects["unlinked"]
    # links are local: no link longer than 2 km
    linked = hh[hh["backbone_id"].notna()]
    pos = metric(hh.set_index("id").geometry)
    a = pos.reindex(linked["id"]).values
    b = pos.reindex(linked["backbone_id"]).values
    assert float(shapely.distance(a, b).max()) < 2000


def test_unstaffed_grids_are_exactly_the_planted_ones(frames, defects):
    g = frames["grids"]
    assert sorted(g.loc[g["responsible_name"].isna(), "code"]) == defects["unstaffed_grids"]
    staffed = g[g["responsible_name"].notna()]
    assert staffed["responsible_phone"].str.fullmatch(r"100\d{8}").all()


def test_points_are_inside_the_county(frames):
    county = shapely.union_all(frames["townships"].geometry.values)
    for name in ("households", "service_points", "incidents", "volunteer_teams"):
        pts = frames[name].geometry.values
        assert shapely.covers(county, pts).all(), name


def test_incidents_cover_the_year_and_spare_the_six_no_villages(frames, sample_county):
    inc = frames["incidents"]
    as_of = pd.Timestamp(sample_county.manifest["as_of"])
    assert inc["reported_at"].max() <= as_of + pd.Timedelta(days=1)
    assert inc["reported_at"].min() >= as_of - pd.Timedelta(days=366)
    villages = frames["villages"]
    pts, polys = shapely.STRtree(villages.geometry.values).query(
        inc.geometry.values, predicate="within"
    )
    six = inc["kind"].isin(SIX_NO_KINDS).to_numpy()[pts]
    with_six_no_cases = set(villages["code"].to_numpy()[polys][six])
    clean = set(sample_county.manifest["facts"]["six_no_clean_villages"])
    assert with_six_no_cases and clean
    assert with_six_no_cases.isdisjoint(clean)
    assert with_six_no_cases | clean <= set(villages["code"])


def test_store_round_trip_of_the_whole_county(tmp_path, sample_county):
    store = GeoPackageStore(tmp_path / "county.gpkg")
    manifest_path = write_sample_county(store, sample_county)
    assert manifest_path is not None
    assert json.loads(manifest_path.read_text(encoding="utf-8")) == sample_county.manifest
    assert store.get_meta("sample_manifest") == sample_county.manifest
    for name in ("grids", "households", "county_leaders"):
        back = store.read(name)
        expected = sample_county.frames[name]
        if isinstance(expected, gpd.GeoDataFrame):
            assert_geodataframe_equal(back, expected)
        else:
            pd.testing.assert_frame_equal(back, expected)


def test_too_few_households_is_refused():
    with pytest.raises(ConfigError, match="at least"):
        build_sample_county(households=100)


def test_the_same_seed_gives_the_same_county(sample_county):
    again = build_sample_county(
        seed=sample_county.manifest["seed"], households=sample_county.manifest["households"]
    )
    assert again.manifest == sample_county.manifest
    for name in ("grids", "households", "incidents"):
        assert_geodataframe_equal(again.frames[name], sample_county.frames[name])


def test_allocate_is_proportional_within_bounds_and_exact():
    from gisgrid.sample.county import allocate

    rng = np.random.default_rng(5)
    for _ in range(300):
        n = int(rng.integers(1, 60))
        w = rng.lognormal(0, 0.5, n)
        lo = rng.integers(0, 6, n)
        hi = lo + rng.integers(0, 40, n)
        total = int(rng.integers(lo.sum(), hi.sum() + 1))
        got = allocate(total, w, lo, hi)
        assert got.sum() == total
        assert (got >= lo).all() and (got <= hi).all()
    # without caps every share is within one of its ideal: no element hoards the remainder
    w = rng.lognormal(0, 0.3, 2860)
    got = allocate(30_000, w, np.full(2860, 6), np.full(2860, 30_000))
    ideal = 6 + w / w.sum() * (30_000 - 6 * 2860)
    assert np.abs(got - ideal).max() < 1
