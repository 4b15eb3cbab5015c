"""What a change to the net would add to checks 1–4: the findings it makes, not those it finds.

A change (an import, an edit) is judged by :func:`added_boundary_findings`: the boundary
checks of :mod:`gisgrid.analysis.checks.boundaries` run on the polygon layers as they are and
as they would be, and only what is new or worse counts. A store that already has a gap does
not block an unrelated change; a change that widens that gap does.

Findings are matched by what they are about (the codes involved):

=====================  ============================================  =========================
check                  identity                                      worse when it grows by
=====================  ============================================  =========================
invalid_geometries     layer, code, GEOS's reason                    (never: same or new)
overlaps               level, the two codes                          ``sliver_m2``
nesting                level, code, parent code, parent missing      ``nesting_tolerance_m2``
gaps                   level, parent code (all its parts together)   ``sliver_m2``
=====================  ============================================  =========================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from gisgrid.analysis.checks.boundaries import boundary_findings
from gisgrid.settings import CheckSettings

#: the polygon layers the boundary checks read
POLYGON_LAYERS = ("townships", "villages", "grids")


@dataclass(frozen=True)
class BoundaryFinding:
    """One finding a change would add.

    Attributes
    ----------
    check
        ``invalid_geometries``, ``overlaps``, ``nesting`` or ``gaps``.
    level
        ``township``, ``village``, ``level2`` or ``level3`` (for invalid geometries: the layer).
    codes
        The features it is about (the grid first; for a gap, the parent).
    area_m2
        What it measures (overlap, part outside the parent, gap), m²; ``None`` for an invalid
        geometry.
    message
        What is wrong, in plain words, naming the codes and the area.
    parent_missing
        A grid (or village) whose parent code names no parent.
    """

    check: str
    level: str
    codes: tuple[str, ...]
    area_m2: float | None
    message: str
    parent_missing: bool = False


@dataclass(frozen=True)
class _Measured:
    finding: BoundaryFinding
    identity: tuple[object, ...]
    #: how much it may grow before it counts as worse (``None``: never compared)
    allowance: float | None


def _m2(value: float) -> str:
    return f"{value:,.0f} m²"


def _measured(
    report: Mapping[str, list[dict[str, Any]]], settings: CheckSettings
) -> dict[tuple[object, ...], _Measured]:
    out: dict[tuple[object, ...], _Measured] = {}

    def add(item: _Measured) -> None:
        out[item.identity] = item

    for d in report["invalid_geometries"]:
        reason = str(d["reason"]).split("[", 1)[0].strip()
        code = str(d["code"])
        finding = BoundaryFinding(
            "invalid_geometries", d["layer"], (code,), None, f"invalid geometry: {d['reason']}"
        )
        add(_Measured(finding, ("invalid_geometries", d["layer"], code, reason), None))
    for d in report["overlaps"]:
        a, b = (str(c) for c in d["codes"])
        message = f"{a} and {b} (both in {d['parent_code']}) overlap by {_m2(d['area_m2'])}"
        finding = BoundaryFinding("overlaps", d["level"], (a, b), d["area_m2"], message)
        add(_Measured(finding, ("overlaps", d["level"], a, b), settings.sliver_m2))
    for d in report["nesting"]:
        code, parent = str(d["code"]), str(d["parent_code"])
        if d["parent_missing"]:
            message = f"{code}: its parent {parent} does not exist (missing parent)"
        else:
            message = f"{code} lies outside its parent {parent} by {_m2(d['outside_area_m2'])}" + (
                f" (into {', '.join(d['into_codes'])})" if d["into_codes"] else ""
            )
        finding = BoundaryFinding(
            "nesting", d["level"], (code, parent), d["outside_area_m2"], message,
            parent_missing=bool(d["parent_missing"]),
        )  # fmt: skip
        identity = ("nesting", d["level"], code, parent, bool(d["parent_missing"]))
        add(_Measured(finding, identity, settings.nesting_tolerance_m2))
    gaps: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for d in report["gaps"]:
        gaps.setdefault((d["level"], str(d["parent_code"])), []).append(d)
    for (level, parent), parts in gaps.items():
        total = float(sum(p["area_m2"] for p in parts))
        near = sorted({str(c) for p in parts for c in p["adjacent_codes"]})
        message = f"a gap of {_m2(total)} in {parent}, covered by none of its {level} children" + (
            f" (next to {', '.join(near)})" if near else ""
        )
        finding = BoundaryFinding("gaps", level, (parent, *near), round(total, 1), message)
        add(_Measured(finding, ("gaps", level, parent), settings.sliver_m2))
    return out


def added_boundary_findings(
    before: Mapping[str, pd.DataFrame],
    after: Mapping[str, pd.DataFrame],
    *,
    settings: CheckSettings | None = None,
) -> list[BoundaryFinding]:
    """The findings of checks 1–4 that ``after`` has and ``before`` has not (or has smaller).

    Parameters
    ----------
    before, after
        ``townships``, ``villages``, ``grids`` → frame in canonical form (EPSG:4326); a layer
        absent from ``after`` is the one of ``before``.
    settings
        Thresholds; default from the environment.

    Returns
    -------
    list of BoundaryFinding
        In the order of the check report (invalid geometries, overlaps, nesting, gaps).
    """
    settings = settings or CheckSettings()
    old = {name: before[name] for name in POLYGON_LAYERS}
    new = {name: after.get(name, before[name]) for name in POLYGON_LAYERS}
    was = _measured(boundary_findings(**old, settings=settings), settings)
    now = _measured(boundary_findings(**new, settings=settings), settings)
    added = []
    for identity, item in now.items():
        prior = was.get(identity)
        if prior is None:
            added.append(item.finding)
        elif (
            item.allowance is not None
            and item.finding.area_m2 is not None
            and prior.finding.area_m2 is not None
            and item.finding.area_m2 - prior.finding.area_m2 >= max(item.allowance, 0.1)
        ):
            grown = f"{item.finding.message} (was {_m2(prior.finding.area_m2)})"
            added.append(dataclasses.replace(item.finding, message=grown))
    return added
