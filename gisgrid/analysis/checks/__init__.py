"""The checks: where the net fails 网中定格、格上定人、人上定责 and 无缝隙对接.

:func:`check_store` reads the layers it needs from a store and runs :func:`run_checks`, which
works on frames (canonical layer frames, EPSG:4326) and returns one :class:`CheckReport`
with thirteen checks, in this order:

1. ``invalid_geometries`` – townships, villages, grids: missing, empty, wrong type, invalid.
2. ``gaps`` – parts of a parent covered by none of its children, at every level.
3. ``overlaps`` – siblings whose interiors overlap.
4. ``nesting`` – villages and grids sticking out of their parent.
5. ``households_outside`` – households in no level-3 grid, with the nearest grid.
6. ``village_mismatch`` – households registered in another village than they stand in.
7. ``linkage`` – 党员联户 links: too few, too many, none, too long, to the wrong household.
8. ``unstaffed_grids`` – grids with no responsible person.
9. ``service_coverage`` – households too far from the nearest service point of a kind.
10. ``workload`` – level-3 grids with too few or too many households.
11. ``six_no`` – villages with incidents of the six-no kinds in the last 12 months.
12. ``unvisited`` – households with members aged 60+ not visited within their interval.
13. ``watched_unvisited`` – elders in the care of a 岁月港湾 watcher (households with a member
    aged 60+ in the grid of an elder-care point) with no visit in the week of ``as_of``
    (Monday to Sunday, county local time).

Thresholds come from :class:`gisgrid.settings.CheckSettings` (``GISGRID_CHECK_*``). Areas
are m² and distances m, measured in :data:`gisgrid.crs.METRIC_CRS`; geometries in the
report are GeoJSON in EPSG:4326 (6 decimals). Findings are not errors: a report full of
them is a successful run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pandas as pd
import shapely

from gisgrid import __version__
from gisgrid import crs as crsmod
from gisgrid.analysis.checks.boundaries import LEVELS, boundary_checks
from gisgrid.analysis.checks.context import DATED_COLUMNS, LAYER_COLUMNS, CheckContext
from gisgrid.analysis.checks.people import (
    LINK_PROBLEMS,
    households_outside,
    linkage,
    unstaffed_grids,
    unvisited,
    village_mismatch,
    watched_unvisited,
    workload,
)
from gisgrid.analysis.checks.report import CHECKS, LABELS, CheckReport, CheckResult
from gisgrid.analysis.checks.services import service_coverage
from gisgrid.analysis.checks.six_no import six_no
from gisgrid.errors import NotFoundError
from gisgrid.settings import CheckSettings
from gisgrid.stores.base import Reader


def run_checks(
    frames: Mapping[str, pd.DataFrame],
    *,
    settings: CheckSettings | None = None,
    as_of: dt.date | None = None,
    outline: shapely.Geometry | None = None,
) -> CheckReport:
    """Run the thirteen checks on layer frames.

    Parameters
    ----------
    frames
        Layer name → frame in canonical form (as a store reads it): ``townships``,
        ``villages``, ``grids``, ``households``, ``service_points``, ``incidents``. A layer
        that is absent counts as empty.
    settings
        Thresholds; default :class:`~gisgrid.settings.CheckSettings` from the environment.
    as_of
        The last day of the six-no year; default ``settings.as_of``, else today.
    outline
        The county outline (EPSG:4326), when known. Without it the county is the union of
        the townships, and the county-level gaps are the holes that union encloses.

    Returns
    -------
    CheckReport
    """
    settings = settings or CheckSettings()
    as_of = as_of or settings.as_of or dt.date.today()
    started = time.perf_counter()
    seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def timer(name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0

    with timer("prepare"):
        ctx = CheckContext.build(dict(frames), settings=settings, as_of=as_of, outline=outline)
    results: dict[str, CheckResult] = {}
    for name, items in boundary_checks(ctx, timer).items():
        results[name] = CheckResult(name, items)
    results["gaps"].extra = {
        "by_level": {lv: sum(d["level"] == lv for d in results["gaps"].items) for lv in LEVELS}
    }
    for name in ("overlaps", "nesting"):
        results[name].extra = {
            "by_level": {lv: sum(d["level"] == lv for d in results[name].items) for lv in LEVELS}
        }
    with timer("households_outside"):
        results["households_outside"] = CheckResult("households_outside", households_outside(ctx))
    with timer("village_mismatch"):
        results["village_mismatch"] = CheckResult("village_mismatch", village_mismatch(ctx))
    with timer("linkage"):
        items = linkage(ctx)
        by_problem = {p: sum(d["problem"] == p for d in items) for p in LINK_PROBLEMS}
        results["linkage"] = CheckResult("linkage", items, {"by_problem": by_problem})
    with timer("unstaffed_grids"):
        results["unstaffed_grids"] = CheckResult("unstaffed_grids", unstaffed_grids(ctx))
    with timer("service_coverage"):
        items, extra = service_coverage(ctx)
        results["service_coverage"] = CheckResult("service_coverage", items, extra)
    with timer("workload"):
        items, extra = workload(ctx)
        results["workload"] = CheckResult("workload", items, extra)
    with timer("six_no"):
        items, extra = six_no(ctx)
        results["six_no"] = CheckResult("six_no", items, extra)
    with timer("unvisited"):
        items, extra = unvisited(ctx)
        results["unvisited"] = CheckResult("unvisited", items, extra)
    with timer("watched_unvisited"):
        items, extra = watched_unvisited(ctx)
        results["watched_unvisited"] = CheckResult("watched_unvisited", items, extra)
    total = time.perf_counter() - started
    for name, result in results.items():
        result.seconds = seconds.get(name, 0.0)
    grids = ctx.frames["grids"]
    levels = ctx.grid_levels
    meta: dict[str, Any] = {
        "generator": f"gisgrid {__version__}",
        "as_of": as_of.isoformat(),
        "crs": {"geometry": crsmod.STORAGE_CRS, "measured_in": crsmod.METRIC_CRS},
        "units": {"area": "m2", "distance": "m"},
        "county_outline": "given" if outline is not None else "union of townships",
        "assignment": ctx.engine[0],
        "settings": settings.model_dump(mode="json"),
        "counts": {
            "townships": len(ctx.frames["townships"]),
            "villages": len(ctx.frames["villages"]),
            "grids": len(grids),
            **{f"grids_level_{lv}": int((levels == lv).sum()) for lv in (1, 2, 3)},
            "households": len(ctx.frames["households"]),
            "service_points": len(ctx.frames["service_points"]),
            "incidents": len(ctx.frames["incidents"]),
        },
        "seconds": {name: round(seconds.get(name, 0.0), 3) for name in ("prepare", *CHECKS)}
        | {"total": round(total, 3)},
    }
    return CheckReport({name: results[name] for name in CHECKS}, meta)


def check_store(store: Reader, *, settings: CheckSettings | None = None) -> CheckReport:
    """Read the layers the checks need from ``store`` and run them.

    ``as_of`` is ``settings.as_of`` when set, else the ``as_of`` of a sample county's
    manifest held in the store, else today.

    Raises
    ------
    NotFoundError
        When the store holds no townships, villages or grids: there is nothing to check.
    """
    settings = settings or CheckSettings()
    frames = {
        name: store.read(name, columns=None if cols is None else cols + DATED_COLUMNS.get(name, []))
        for name, cols in LAYER_COLUMNS.items()
    }
    if not any(len(frames[n]) for n in ("townships", "villages", "grids")):
        raise NotFoundError(
            f"{store.url} holds no townships, villages or grids: nothing to check "
            "(import them, or build the sample county with gisgrid demo)"
        )
    as_of = settings.as_of
    if as_of is None:
        manifest = store.get_meta("sample_manifest")
        if isinstance(manifest, dict) and manifest.get("as_of"):
            as_of = dt.date.fromisoformat(str(manifest["as_of"]))
    return run_checks(frames, settings=settings, as_of=as_of)


__all__ = ["CHECKS", "LABELS", "CheckReport", "CheckResult", "check_store", "run_checks"]
