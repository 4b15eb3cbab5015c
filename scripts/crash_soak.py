"""Kill gisgrid writers with ``kill -9`` at random moments, many times, on both stores.

    .venv/bin/python scripts/crash_soak.py --runs 200 [--stores geopackage,postgis] [--seed 1]

The larger run of tests/test_crash_safety.py (same machinery, tests/writer_processes.py):
each run starts ``gisgrid import households … --mode replace``, ``… --mode append`` or
``gisgrid assign`` (in turn) on a fresh copy of the little test county, kills it at a
random moment of the write, and checks the store opens, reads exactly the old or the new
content, holds no key twice, keeps no copy or journal of the killed writer once opened,
and takes the next write. Prints the runs, how many ended old and new, and the leftovers
found before the store was opened again (a GeoPackage's copies of a killed write). Any
failed check stops the run with exit 1.

The PostGIS server: ``GISGRID_TEST_DATABASE_URL`` or a throwaway cluster
(tests/postgis_server.py).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from postgis_server import PostGISServer
from writer_processes import CRASH_KINDS, CrashCase, Target, base_frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60, help="kills per store")
    parser.add_argument("--stores", default="geopackage,postgis")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    frames = base_frames()
    failed = False
    with tempfile.TemporaryDirectory(prefix="gisgrid-soak-") as tmp:
        folder = Path(tmp)
        server: PostGISServer | None = None
        for name in options.stores.split(","):
            if name == "postgis":
                server = server or PostGISServer.from_environment()
                target = Target.postgis(server, frames)
            elif name == "geopackage":
                target = Target.geopackage(folder / "geopackage", frames)
            else:
                parser.error(f"unknown store {name!r}")
            cases = [CrashCase(target, kind, folder / name / kind) for kind in CRASH_KINDS]
            for case in cases:
                case.prepare()
            ended: Counter[str] = Counter()
            found: Counter[str] = Counter()
            started = time.monotonic()
            try:
                for run in range(options.runs):
                    case = cases[run % len(cases)]
                    outcome = case.kill_once(rng.uniform(0.0, case.seconds * 1.1), run)
                    ended[f"{case.kind} {outcome.ended}"] += 1
                    for leftover in outcome.leftovers:
                        found[leftover.rsplit(".tmp.", 1)[-1]] += 1
            except AssertionError as exc:
                print(f"{name}: FAILED after {run} runs: {exc}")
                failed = True
            finally:
                target.close()
                if server is not None and target.server is not None:
                    server.drop_database(target.template)
            seconds = time.monotonic() - started
            print(f"{name}: {options.runs} runs in {seconds:.0f} s")
            for kind in CRASH_KINDS:
                old, new = ended[f"{kind} old"], ended[f"{kind} new"]
                print(f"  {kind:8} ended old {old:4}, new {new:4}")
            total = sum(found.values())
            detail = ", ".join(f"{k}: {v}" for k, v in sorted(found.items())) or "none"
            print(f"  leftovers found before reopening: {total} ({detail}); after: 0")
        if server is not None:
            server.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
