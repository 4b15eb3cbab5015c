"""The cost of access enforcement and the scope filter (issue #12, point 7).

The same requests to ``/api/locate`` and ``/api/households/search`` on the same sample county,
served by real uvicorn on loopback and driven by the open-loop load generator
(bench/_loadgen.py), as

(a) a county admin, (b) a township officer, (c) a grid worker — each signed in with an API
    token on ``gisgrid serve`` itself: the token looked up, the scope built, the rows cut to
    the area, every read of household records written to the audit log;
(d) the baseline: the same app with access enforcement switched off — served by this script
    (``--serve-without-enforcement``, never an option of the app) with
    ``app.dependency_overrides[deps.enforce]`` handing every request one county-wide admin
    access built once, and no audit lines.

Both servers run side by side, warmed up, and are measured in turn (baseline first) for a
few rounds; each figure is the median of its rounds, given with its ratio to the baseline
measured in the same run. Queries are the names and house
numbers of households across the county: scoped callers get only those in their area.

    .venv/bin/python bench/scope.py [--store S.gpkg | --households 150000] [--seconds 10]
        [--rounds 3]
        [--locate-rate 200] [--search-rate 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import numpy as np
import uvicorn

from gisgrid import codes
from gisgrid.analysis.locate import Locator
from gisgrid.analysis.scope import ScopedReader, scope_of
from gisgrid.api import create_app, deps
from gisgrid.roles import ROLES, Role
from gisgrid.sample import build_sample_county, write_sample_county
from gisgrid.services.accounts import Caller
from gisgrid.stores import open_store

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from accounts import make_account  # noqa: E402  (the tests' own accounts)
from servers import app_server, gisgrid_server  # noqa: E402  (the tests' server starters)

COUNTY = "430623"
#: the name of the account the baseline app acts as (made in the benchmark's own store)
BASELINE_ADMIN = "bench-baseline-admin"


def serve_without_enforcement(store: str, port: int) -> None:
    """Serve the app on ``store`` as ``gisgrid serve`` does, every request taken as the
    county admin ``BASELINE_ADMIN`` without looking at who asks (the baseline only)."""
    app = create_app(store=store)
    built: list[deps.Access] = []

    def everyone_is_the_admin(state: deps.State) -> deps.Access:
        if not built:  # once: the baseline does no per-request work for access
            account = state.store.ledger.account(BASELINE_ADMIN)
            assert account is not None, "make the baseline admin first"
            scope = scope_of(account, ROLES[account.role], by_phone=state.locator.net().by_phone)
            reader = ScopedReader(state.store, scope, index=state.locator.grid_index)
            caller = Caller(account=account, via="token", session=None, address=None)
            built.append(
                deps.Access(caller, scope, reader, None, record_reads=lambda _l, _ids: None)
            )
        return built[0]

    app.dependency_overrides[deps.enforce] = everyone_is_the_admin
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info", access_log=False)


@dataclass(frozen=True)
class Case:
    label: str
    base_url: str
    headers: dict[str, str]


def load(case: Case, paths_file: Path, tmp: Path, *, rate: float, seconds: float) -> Any:
    """One run of the load generator against ``case``: its JSON figures."""
    headers_file = tmp / "headers.json"
    headers_file.write_text(json.dumps(case.headers))
    done = subprocess.run(
        [sys.executable, str(HERE / "_loadgen.py"), str(paths_file),
         "--port", str(urlsplit(case.base_url).port), "--rate", str(rate),
         "--seconds", str(seconds), "--headers", str(headers_file)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def summary(runs: list[Any]) -> dict[str, float]:
    """The rounds of one caller: median p50 and p99, requests and answers that were 2xx."""
    return {
        "p50_ms": float(np.median([r["p50_ms"] for r in runs])),
        "p99_ms": float(np.median([r["p99_ms"] for r in runs])),
        "ok": sum(r["ok"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "rate_achieved": float(np.median([r["rate_achieved"] for r in runs])),
    }


def line(label: str, stats: dict[str, float], base: dict[str, float]) -> str:
    """One case's figures and their ratios to the baseline's."""
    p50, p99 = stats["p50_ms"], stats["p99_ms"]
    return (
        f"  {label:<30} p50 {p50:7.2f} ms ({p50 / base['p50_ms']:4.2f}x)  "
        f"p99 {p99:7.2f} ms ({p99 / base['p99_ms']:4.2f}x)  "
        f"{stats['ok']:.0f}/{stats['requests']:.0f} ok, {stats['rate_achieved']:.0f} req/s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", help="a GeoPackage holding a county (copied; default: the sample)")
    ap.add_argument("--households", type=int, default=150_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--locate-rate", type=float, default=200.0)
    ap.add_argument("--search-rate", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--serve-without-enforcement", metavar="STORE", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve_without_enforcement:
        serve_without_enforcement(a.serve_without_enforcement, a.port)
        return

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        store_path = str(tmp / "county.gpkg")
        if a.store is None:
            print(f"building the sample county ({a.households:,} households) …", flush=True)
            county = build_sample_county(households=a.households)
            write_sample_county(open_store(store_path), county)
        else:  # its accounts go in the copy's ledger, never in the county's
            shutil.copyfile(a.store, store_path)
        store = open_store(store_path)
        hh = store.read("households", columns=["id", "head_name", "house_number"])
        sample = hh.sample(2000, random_state=0)
        x, y = sample.geometry.x.to_numpy(), sample.geometry.y.to_numpy()
        locate = [f"/api/locate?lon={x[i]:.7f}&lat={y[i]:.7f}" for i in range(len(sample))]
        words = [
            name if i % 2 else number
            for i, (name, number) in enumerate(
                zip(sample["head_name"], sample["house_number"], strict=True)
            )
        ]
        search = [f"/api/households/search?q={quote(w)}" for w in words]

        # the grid worker's grid: the level-3 grid of the first sampled household
        first = Locator.from_store(store).locate(float(x[0]), float(y[0]))
        grid = first.level3.code if first.level3 is not None else None
        assert grid is not None, "the first sampled household lies in no level-3 grid"
        accounts = {
            "(a) county admin": make_account(store, Role.ADMIN, COUNTY),
            "(b) township officer": make_account(store, Role.TOWNSHIP, codes.township_of(grid)),
            "(c) grid worker": make_account(store, Role.GRID, grid),
        }
        make_account(store, Role.ADMIN, COUNTY, username=BASELINE_ADMIN)
        store.close()

        baseline_cmd = [sys.executable, __file__, "--serve-without-enforcement", store_path]
        with (
            gisgrid_server(store_path, timeout=300, warm=True) as enforced,
            app_server(baseline_cmd, name="baseline app", timeout=300, warm=True) as open_,
        ):
            cases = [Case("(d) baseline, no enforcement", open_, {})] + [
                Case(label, enforced, account.headers) for label, account in accounts.items()
            ]
            print(
                f"the grid worker's grid {grid}, the township officer's {codes.township_of(grid)}"
            )
            for what, paths, rate in (
                ("/api/locate", locate, a.locate_rate),
                ("/api/households/search", search, a.search_rate),
            ):
                paths_file = tmp / "paths.json"
                paths_file.write_text(json.dumps(paths))
                print(
                    f"\n{what} at {rate:.0f} req/s, {a.rounds} rounds of {a.seconds:.0f} s per "
                    "caller (medians of the rounds)"
                )
                for case in cases:  # first uses build the search index and each scope's cut
                    load(case, paths_file, tmp, rate=rate, seconds=1)
                runs: dict[str, list[Any]] = {case.label: [] for case in cases}
                for _ in range(a.rounds):  # the callers in turn, so drift hits all alike
                    for case in cases:
                        stats = load(case, paths_file, tmp, rate=rate, seconds=a.seconds)
                        runs[case.label].append(stats)
                base = summary(runs[cases[0].label])
                for case in cases:
                    print(line(case.label, summary(runs[case.label]), base))


if __name__ == "__main__":
    main()
