"""Writing 1,000,000 households into PostGIS (replace), against PostgreSQL's own bare load.

Measured in one run, on one database of one server:

* the yardstick: the same rows (their binary COPY data made beforehand, untimed) COPYed
  into a plain table of the same columns (no key, no constraint, no index), then
  ``CREATE INDEX … USING gist`` on its points: what PostgreSQL itself needs for the rows
  and the one index a map needs;
* ``store.write({"households": …}, mode="replace")`` over a store already holding as many
  households: one transaction, the writer's lock, every key, reference, check and index of
  the table as the migrations made them, the grid codes' table emptied, the data version
  bumped and the write announced, the table analysed; from the frame (its encoding
  included).

Each the best of ``--repeat`` runs, taken in turns so that a busy machine slows both alike;
the goal is the store's write within 2.5 times the yardstick. Then the proof that every
constraint and index is as before (the catalog's definitions, all valid) and the rows are
the frame's.

The server: ``--url`` (an empty database with PostGIS, no gisgrid schema yet), else
``GISGRID_TEST_DATABASE_URL`` or a throwaway cluster (tests/postgis_server.py).

    .venv/bin/python bench/postgis_write.py [--households N] [--repeat R] [--url URL]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from postgis_assign import random_households
from postgis_server import PostGISServer

from gisgrid.layers import LAYERS
from gisgrid.sample import MIN_HOUSEHOLDS, build_sample_county, write_sample_county
from gisgrid.stores.postgis import PostGISStore, codecs, queries

GOAL = 2.5
#: the constraints and indexes of the households' table, as the database defines them
CATALOG = """
SELECT 'constraint', conname::text, pg_get_constraintdef(oid), convalidated
FROM pg_constraint WHERE conrelid = 'gisgrid.households'::regclass
UNION ALL
SELECT 'index', c.relname::text, pg_get_indexdef(i.indexrelid), i.indisvalid AND i.indisready
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'gisgrid.households'::regclass
ORDER BY 1, 2
"""


def bare_load(url: str, payload: list[bytes], columns: list[str]) -> float:
    """Seconds to COPY the payload into a plain table and build its GiST index."""
    statement = queries.query(
        "copy_layer",
        table=queries.ident("bench_bare"),
        columns=psycopg.sql.SQL(", ").join(queries.ident(c) for c in columns),
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_bare")
        conn.execute(
            "CREATE TABLE bench_bare (LIKE gisgrid.households INCLUDING DEFAULTS "
            "INCLUDING IDENTITY)"
        )
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for chunk in payload:
                copy.write(chunk)
        conn.execute("CREATE INDEX ON bench_bare USING gist (geom)")
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_bare")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--url", help="an empty database with PostGIS to write into")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print("building the sample county's villages …", flush=True)
    county = build_sample_county(seed=args.seed, households=MIN_HOUSEHOLDS)
    households = random_households(county, args.households, rng)
    packed = codecs.copy_payload(LAYERS["households"], households, omit=("grid_code",))
    assert packed is not None
    columns, chunks = packed
    payload = list(chunks)

    server = None if args.url else PostGISServer.from_environment()
    try:
        url = args.url or server.fresh_database()  # type: ignore[union-attr]
        if args.url:
            with psycopg.connect(url) as conn:
                found = conn.execute(queries.query("schema_exists")).fetchone()
            if found and found[0]:
                raise SystemExit(f"{args.url} has a gisgrid schema: give an empty database")
        store = PostGISStore(url)
        store.init()
        write_sample_county(store, county)
        store.write({"households": households}, mode="replace")  # the store holds as many
        with psycopg.connect(url) as conn:
            before = conn.execute(CATALOG).fetchall()
        bare: list[float] = []
        ours: list[float] = []
        for _ in range(args.repeat):
            bare.append(bare_load(url, payload, columns))
            version = store.data_version()
            started = time.perf_counter()
            store.write({"households": households}, mode="replace")
            ours.append(time.perf_counter() - started)
            assert store.data_version() != version, "the write was not recorded"
        with psycopg.connect(url) as conn:
            after = conn.execute(CATALOG).fetchall()
            count = conn.execute("SELECT count(*) FROM gisgrid.households").fetchone()
            ids = conn.execute(
                "SELECT count(DISTINCT id) FROM gisgrid.households WHERE id = ANY(%s)",
                (households["id"].tolist()[:: max(1, args.households // 1000)],),
            ).fetchone()
        store.close()
    finally:
        if server is not None:
            server.close()

    n = args.households
    best_bare, best_ours = min(bare), min(ours)
    ratio = best_ours / best_bare
    print(f"{n:,} households, best of {args.repeat}:")
    print(
        f"  yardstick: bare COPY + CREATE INDEX USING gist:      {best_bare:6.2f} s  "
        f"(runs {', '.join(f'{v:.2f}' for v in bare)})"
    )
    print(
        f"  store.write(replace), every constraint and index:   {best_ours:6.2f} s  "
        f"(runs {', '.join(f'{v:.2f}' for v in ours)})"
    )
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(f"  ratio store / yardstick: {ratio:.2f} (goal at most {GOAL}: {verdict})")
    same = before == after and all(row[3] for row in after)
    print(f"  constraints and indexes as before, all valid: {same} ({len(after)} of them)")
    print(f"  rows: {count[0] if count else 0:,}; sampled ids found: {ids[0] if ids else 0:,}")
    if not same or not count or count[0] != n:
        raise SystemExit("the store's table is not what it should be")


if __name__ == "__main__":
    main()
