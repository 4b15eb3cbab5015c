"""How long approving a change set takes: publishing a split and reassigning (issue #13, point 7).

Builds the sample county into a fresh GeoPackage (or copies a given store file; or, for a
``postgresql://`` URL, works in that database, which it changes), assigns it, and in the
village whose number of level-3 grids is nearest ``--grids`` (20) has a planner split one
level-3 grid by a line through it (a change set through :mod:`gisgrid.services.changesets`),
submit it and a township officer approve it. It prints the time of the edit, the submit and
the approval, and of the approval's store transaction: reading grids and points, the
decision, writing (the grids, the archived version, the changed codes), with the ratio of the
approval to a yardstick measured in the same run.

    .venv/bin/python bench/publish.py [--households N] [--store PATH|URL] [--grids 20]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import shapely
from _yardstick import yardstick_seconds

from gisgrid import codes
from gisgrid import crs as crsmod
from gisgrid.analysis.assign import assign_store, in_force
from gisgrid.analysis.scope import Scope, scope_of
from gisgrid.errors import GridEditError
from gisgrid.roles import ROLES, Role
from gisgrid.sample import build_sample_county
from gisgrid.sample.build import write_sample_county
from gisgrid.services import accounts
from gisgrid.services import changesets as service
from gisgrid.stores import open_store
from gisgrid.stores.base import Store
from gisgrid.stores.ledger import Account
from gisgrid.stores.sqlite_changesets import changes_path

DEFAULT_HOUSEHOLDS = 150_000


def person(store: Store, role: str, area: str) -> tuple[Account, Scope]:
    account = accounts.add_account(
        store.ledger,
        username=f"bench-{role}-{secrets.token_hex(3)}",
        display_name="bench",
        role=Role(role),
        area=area,
        password=accounts.generate_password(),
        actor="bench",
    )
    return account, scope_of(account, ROLES[account.role], by_phone={})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=DEFAULT_HOUSEHOLDS)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--store", help="a county GeoPackage (copied) or a postgresql:// URL")
    parser.add_argument("--grids", type=int, default=20, help="level-3 grids in the village")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gisgrid-bench-publish-"))
    try:
        if args.store and args.store.startswith("postgresql"):
            store = open_store(args.store)
        elif args.store:
            shutil.copy(args.store, work / "county.gpkg")
            # with its change sets: their numbers are on the grids they published
            side = changes_path(Path(args.store))
            if side.exists():
                shutil.copy(side, changes_path(work / "county.gpkg"))
            store = open_store(str(work / "county.gpkg"))
        else:
            print(f"building the sample county ({args.households:,} households) …")
            store = open_store(str(work / "county.gpkg"))
            write_sample_county(
                store, build_sample_county(seed=args.seed, households=args.households)
            )
        assign_store(store)
        run(store, args.grids)
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(store: Store, wanted: int) -> None:
    level3 = in_force(store.read("grids", where={"level": 3}))
    per_village = level3.groupby(list(codes.villages_of(level3["code"]))).size()
    village = str((per_village - wanted).abs().idxmin())
    mine = level3[[codes.lies_in(c, village) for c in level3["code"]]]
    planner = person(store, "planner", codes.township_of(village))
    officer = person(store, "township", codes.township_of(village))
    points = sum(store.count(name) for name in ("households", "service_points", "incidents"))
    print(f"village {village}: {len(mine)} level-3 grids; {points:,} points in the county")

    draft = service.begin(
        store, account=planner[0], scope=planner[1], village_code=village, title="bench"
    )
    started = time.perf_counter()
    for _, row in mine.iterrows():  # the first grid a north-south line through it cuts in two
        m = crsmod.transform_geometry_array(
            row.geometry, source=crsmod.STORAGE_CRS, target=crsmod.METRIC_CRS
        )
        x = shapely.point_on_surface(m).x
        _, y0, _, y1 = shapely.bounds(m)
        cut = crsmod.transform_geometry_array(
            shapely.LineString([(x, y0 - 50), (x, y1 + 50)]),
            source=crsmod.METRIC_CRS,
            target=crsmod.STORAGE_CRS,
        )
        try:
            service.add_edit(
                store,
                draft.id,
                account=planner[0],
                scope=planner[1],
                after=0,
                op="split",
                params={"code": row["code"], "line": shapely.geometry.mapping(cut)},
            )
        except GridEditError:
            continue
        break
    else:
        raise SystemExit("no grid of the village can be cut by a north-south line")
    edit_s = time.perf_counter() - started
    started = time.perf_counter()
    service.submit(store, draft.id, account=planner[0], scope=planner[1])
    submit_s = time.perf_counter() - started

    base = yardstick_seconds()
    started = time.perf_counter()
    published = service.approve(store, draft.id, account=officer[0], scope=officer[1])
    approve_s = time.perf_counter() - started
    yard = min(base, yardstick_seconds())
    w = published.written
    moved = {item.layer: item.changed for item in w.layers}
    print(f"split {row['code']}: edit (computed, validated, stored) {edit_s * 1000:.0f} ms")
    print(f"submit (validated again, conflicts looked for): {submit_s * 1000:.0f} ms")
    print(
        f"approve (publish + reassign): {approve_s:.2f} s; in the store's transaction: "
        f"read {w.read_seconds:.2f} s, decide {w.decide_seconds:.2f} s, "
        f"write {w.write_seconds:.2f} s; points that changed grid: {moved}"
    )
    print(f"yardstick (same run): {yard:.3f} s; ratio approve/yardstick: {approve_s / yard:.1f}x")


if __name__ == "__main__":
    main()
