"""Loading and assigning 1,000,000 households in PostGIS, against the naive UPDATE.

Measured in one run, on one database:

* the full sample county (150,000 households by default) written to an empty PostGIS store;
* 1,000,000 households (random points in the county, stored village by village as a
  register would be): COPY into a bare table of the same columns and a GiST index built on
  it, then ``store.write`` (binary COPY with the store's indexes, checks and references) and
  its GiST index built anew (``REINDEX``);
* assignment to the 2,860 level-3 grids: the naive ``UPDATE households h SET grid_code =
  g.code FROM grids g WHERE ST_Covers(g.geom, h.geom)`` (restricted to level 3, else it
  would hand out level-1 and level-2 codes too) on a copy of the households in a table that
  has the ``grid_code`` column (the same rows and fids, a GiST index on the points, as the
  issue measured it; with PostgreSQL's default fill, and with half of each page free so
  that the update happens in place, its fastest case), against ours,
  :func:`gisgrid.analysis.assign.assign_store` (one store transaction:
  :meth:`PostGISStore.assign_grid_codes` with the GridIndex decision, the report included),
  best of ``--repeat`` runs each and their ratio (goal: at least 3x), twice: the first
  assignment (no codes yet) and the assignment after ``--imported`` more households were
  imported;
* the answers compared: ours equals :func:`gisgrid.analysis.assign.assign_points_exact` household by
  household; the naive UPDATE equals it except where several grids cover a point (it then
  keeps any one of them, not the smallest code);
* PostGIS' ``ST_Covers`` on points lying on grid edges, against GEOS: why the assignment is
  decided by GEOS (:class:`~gisgrid.analysis.assign.GridIndex`), not by PostGIS.

The server: ``GISGRID_TEST_DATABASE_URL`` or a throwaway cluster (tests/postgis_server.py).

    .venv/bin/python bench/postgis_assign.py [--households N] [--county-households N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _yardstick import yardstick_seconds
from postgis_server import PostGISServer

from gisgrid.analysis.assign import assign_points_exact, assign_store
from gisgrid.layers import LAYERS
from gisgrid.sample import build_sample_county, write_sample_county
from gisgrid.stores.postgis import PostGISStore, codecs, queries

#: the naive statement, on a copy of the households in a table with a grid_code column
NAIVE = (
    "UPDATE {table} h SET grid_code = g.code FROM gisgrid.grids g "
    "WHERE g.level = 3 AND ST_Covers(g.geom, h.geom)"
)
#: the two tables the naive statement runs on: half of each page free, and the default fill
NAIVE_TABLES = {"bench_naive_roomy": 50, "bench_naive": 100}


def timed(action: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def random_households(
    county: Any, n: int, rng: np.random.Generator, prefix: str = "B"
) -> pd.DataFrame:
    """``n`` canonical households at random points of the county, village by village."""
    villages = county.frames["villages"]
    outline = shapely.union_all(county.frames["townships"].geometry.values)
    shapely.prepare(outline)
    x0, y0, x1, y1 = outline.bounds
    found: list[np.ndarray] = []
    total = 0
    while total < n:
        xy = rng.uniform([x0, y0], [x1, y1], size=(n, 2))
        xy = xy[shapely.contains_xy(outline, xy[:, 0], xy[:, 1])]
        found.append(xy)
        total += len(xy)
    xy = np.vstack(found)[:n]
    points = shapely.points(xy)
    pt, vi = shapely.STRtree(villages.geometry.values).query(points, predicate="intersects")
    village_idx = np.zeros(n, dtype=np.int64)
    village_idx[pt[::-1]] = vi[::-1]  # any covering village (the first one)
    order = np.lexsort((rng.random(n), village_idx))  # a register: village by village
    xy, village_idx = xy[order], village_idx[order]
    members = rng.integers(1, 7, n)
    frame = gpd.GeoDataFrame(
        {
            "id": [f"{prefix}{i + 1:07d}" for i in range(n)],
            "head_name": "测试户主",
            "house_number": None,
            "village_code": villages["code"].to_numpy()[village_idx],
            "members": members,
            "elderly": rng.integers(0, members + 1),
            "party_member": False,
            "backbone": False,
        },
        geometry=shapely.points(xy),
        crs="EPSG:4326",
    )
    return LAYERS["households"].conform(frame)


def grid_codes(url: str, relation: str = "gisgrid.households_with_grid") -> np.ndarray:
    """The grid codes of the households in fid order."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"SELECT grid_code FROM {relation} ORDER BY fid").fetchall()
    return np.asarray([r[0] for r in rows], dtype=object)


def naive_tables(url: str) -> None:
    """Copies of the households with a grid_code column: the same rows and fids, a GiST index
    on the points (as the issue measured the naive UPDATE: a table loaded by COPY, then its
    GiST index)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for name, fill in NAIVE_TABLES.items():
            conn.execute(f"DROP TABLE IF EXISTS {name}")
            conn.execute(
                f"CREATE TABLE {name} (LIKE gisgrid.households INCLUDING DEFAULTS "
                f"INCLUDING IDENTITY) WITH (fillfactor = {fill})"
            )
            conn.execute(f"ALTER TABLE {name} ADD COLUMN grid_code text")
            conn.execute(
                f"INSERT INTO {name} OVERRIDING SYSTEM VALUE "
                f"SELECT h.*, NULL FROM gisgrid.households h ORDER BY fid"
            )
            conn.execute(f"CREATE INDEX ON {name} USING gist (geom)")
            conn.execute(f"VACUUM ANALYZE {name}")


def reset(url: str, *, only_new: bool = False) -> None:
    """No grid codes (or none for the households imported last) anywhere, then VACUUM."""
    with psycopg.connect(url, autocommit=True) as conn:
        new = " AND id LIKE 'N%'" if only_new else ""
        for name in NAIVE_TABLES:
            conn.execute(f"UPDATE {name} SET grid_code = NULL WHERE grid_code IS NOT NULL{new}")
            conn.execute(f"VACUUM ANALYZE {name}")
        if only_new:
            conn.execute(
                "DELETE FROM gisgrid.households_grid WHERE fid IN "
                "(SELECT fid FROM gisgrid.households WHERE id LIKE 'N%')"
            )
        else:
            conn.execute("TRUNCATE gisgrid.households_grid")
        conn.execute("VACUUM ANALYZE gisgrid.households_grid")


def bare_copy(url: str, households: pd.DataFrame) -> tuple[float, float]:
    """COPY into a table of the same columns with no index or constraint; then its GiST."""
    decl = LAYERS["households"]
    columns, types, rows = codecs.copy_rows(decl, households, omit=("grid_code",))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE bench_bare "
            "(LIKE gisgrid.households INCLUDING DEFAULTS INCLUDING IDENTITY)"
        )
        statement = queries.query(
            "copy_layer",
            table=queries.ident("bench_bare"),
            columns=psycopg.sql.SQL(", ").join(queries.ident(c) for c in columns),
        )

        def copy() -> None:
            with conn.cursor() as cur, cur.copy(statement) as out:
                out.set_types(types)
                for row in rows:
                    out.write_row(row)

        copy_s, _ = timed(copy)
        index_s, _ = timed(lambda: conn.execute("CREATE INDEX ON bench_bare USING gist (geom)"))
        conn.execute("DROP TABLE bench_bare")
    return copy_s, index_s


def naive(url: str, name: str) -> float:
    with psycopg.connect(url) as conn:
        conn.execute("SET jit = off")
        seconds, _ = timed(lambda: (conn.execute(NAIVE.format(table=name)), conn.commit()))
    return seconds


def edge_points(grids: gpd.GeoDataFrame, rng: np.random.Generator, per_part: int) -> np.ndarray:
    rings = shapely.get_exterior_ring(shapely.get_parts(grids.geometry.values))
    out = []
    for ring in rings:
        coords = shapely.get_coordinates(ring)
        k = rng.integers(0, len(coords) - 1, per_part)
        t = rng.random(per_part)[:, None]
        out.append(coords[k] + t * (coords[k + 1] - coords[k]))
    return np.vstack(out)


def postgis_covers_on_edges(url: str, grids: gpd.GeoDataFrame, rng: np.random.Generator) -> str:
    """How many points on grid edges PostGIS' ST_Covers decides unlike GEOS."""
    parts = shapely.get_parts(grids.geometry.values, return_index=True)
    owner = np.repeat(grids["code"].to_numpy()[parts[1]], 20)
    xy = edge_points(gpd.GeoDataFrame(geometry=parts[0]), rng, 20)
    geos = shapely.covers(
        grids.set_index("code").geometry.loc[owner].to_numpy(), shapely.points(xy)
    )
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326)) "
            "FROM unnest(%s::float8[], %s::float8[], %s::text[]) WITH ORDINALITY AS p(x, y, c, n) "
            "JOIN gisgrid.grids g ON g.code = p.c ORDER BY p.n",
            (xy[:, 0].tolist(), xy[:, 1].tolist(), owner.tolist()),
        ).fetchall()
    postgis = np.asarray([r[0] for r in rows], dtype=bool)
    return f"{int((postgis != geos).sum())} of {len(xy):,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--county-households", type=int, default=150_000)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each assignment")
    parser.add_argument("--imported", type=int, default=1_000, help="households imported later")
    parser.add_argument("--seed", type=int, default=2023)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    yard_before = yardstick_seconds()

    print(f"building the sample county ({args.county_households:,} households) …", flush=True)
    county = build_sample_county(seed=args.seed, households=args.county_households)
    server = PostGISServer.from_environment()
    try:
        url = server.fresh_database()
        store = PostGISStore(url)
        store.init()
        county_load, _ = timed(lambda: write_sample_county(store, county))
        print(f"sample county written (all layers, one transaction): {county_load:.1f} s")

        households = random_households(county, args.households, rng)
        bare_s, bare_index_s = bare_copy(url, households)
        load, _ = timed(lambda: store.write({"households": households}, mode="replace"))
        with psycopg.connect(url, autocommit=True) as conn:
            index, _ = timed(lambda: conn.execute("REINDEX INDEX gisgrid.households_geom_idx"))
            conn.execute("VACUUM ANALYZE gisgrid.households")
            conn.execute("ANALYZE gisgrid.grids")
        n = args.households
        print(f"{n:,} households:")
        print(
            f"  COPY into a bare table of the same columns (no index or constraint): {bare_s:.1f} s"
        )
        print(f"  GiST index on that table's points: {bare_index_s:.1f} s")
        print(f"  store.write (binary COPY with the indexes, checks and references): {load:.1f} s")
        print(f"  REINDEX of the store's GiST index on them: {index:.1f} s", flush=True)

        def ours() -> float:
            seconds, _ = timed(lambda: assign_store(store, layers=("households",)))
            return seconds

        naive_tables(url)
        roomy, plain = NAIVE_TABLES
        # A: the first assignment: no household has a code yet
        first: dict[str, list[float]] = {roomy: [], plain: [], "ours": []}
        for _ in range(args.repeat):
            reset(url)
            for name in NAIVE_TABLES:
                first[name].append(naive(url, name))
            first["ours"].append(ours())
        first_codes = grid_codes(url)
        naive_codes = {name: grid_codes(url, name) for name in NAIVE_TABLES}
        # B: after an import of new households: only they need a grid
        new = random_households(county, args.imported, rng, prefix="N")
        store.write({"households": new}, mode="append")
        with psycopg.connect(url, autocommit=True) as conn:
            for name in NAIVE_TABLES:
                conn.execute(
                    f"INSERT INTO {name} OVERRIDING SYSTEM VALUE SELECT h.*, NULL "
                    f"FROM gisgrid.households h WHERE id LIKE 'N%' ORDER BY fid"
                )
        again: dict[str, list[float]] = {roomy: [], plain: [], "ours": []}
        for _ in range(args.repeat):
            assign_store(store, layers=("households",))
            for name in NAIVE_TABLES:
                naive(url, name)
            reset(url, only_new=True)
            for name in NAIVE_TABLES:
                again[name].append(naive(url, name))
            again["ours"].append(ours())
        all_codes = grid_codes(url)
        yard = min(yard_before, yardstick_seconds())

        grids = county.frames["grids"]
        level3 = grids[grids["level"] == 3].reset_index(drop=True)
        everyone = pd.concat([households.geometry, new.geometry], ignore_index=True)
        reference = assign_points_exact(gpd.GeoSeries(everyone, crs="EPSG:4326"), level3)
        ours_equal = bool(np.array_equal(first_codes, reference[:n]))
        ours_equal &= bool(np.array_equal(all_codes, reference))
        pairs = shapely.STRtree(level3.geometry.values).query(
            households.geometry.values, predicate="covered_by"
        )[0]
        multi = np.bincount(pairs, minlength=n) > 1
        naive_diff = {name: first_codes != codes for name, codes in naive_codes.items()}
        edges = postgis_covers_on_edges(url, level3, rng)
        store.close()
    finally:
        server.close()

    print()
    print(f"assigning to {len(level3):,} level-3 grids, best of {args.repeat}:")
    for title, times in (
        (f"first assignment of {n:,} households (no codes yet)", first),
        (f"after importing {args.imported:,} more (only they change)", again),
    ):
        ours_s = min(times["ours"])
        print(f"  {title}:")
        print(
            f"    naive UPDATE, default fill (as the issue measured it): "
            f"{min(times[plain]):5.1f} s  {_runs(times[plain])}"
        )
        print(
            f"    naive UPDATE, half of each page free (its fastest):    "
            f"{min(times[roomy]):5.1f} s  {_runs(times[roomy])}"
        )
        print(
            f"    assign_store (PostGISStore.assign_grid_codes):         "
            f"{ours_s:5.1f} s  {_runs(times['ours'])}"
        )
        for against, name in (("default fill", plain), ("its fastest case", roomy)):
            ratio = min(times[name]) / ours_s
            goal = "met" if ratio >= 3 else "NOT met"
            print(f"    ratio naive / ours, {against}: {ratio:.1f}x (goal at least 3x: {goal})")
    print(f"  ours equals assign_points_exact household by household: {ours_equal}")
    print(
        f"  in no grid {int(sum(c is None for c in reference)):,}; "
        f"covered by two or more grids {int(multi.sum()):,}"
    )
    for name, diff in naive_diff.items():
        print(
            f"  the naive UPDATE ({name}) differs from ours on {int(diff.sum()):,} households, "
            f"all covered by two or more grids: {bool(np.all(multi[diff]))}"
        )
    print(f"PostGIS ST_Covers unlike GEOS on points along grid edges: {edges}")
    print(
        f"yardstick (same run): {yard:.3f} s; first assignment / yardstick: "
        f"{min(first['ours']) / yard:.1f}x"
    )
    if not ours_equal:
        raise SystemExit("assign_store differs from the reference")


def _runs(values: list[float]) -> str:
    return "runs " + ", ".join(f"{v:.1f}" for v in values)


if __name__ == "__main__":
    main()
