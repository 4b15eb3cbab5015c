"""Check 9, service coverage: households too far from the nearest service point of each kind.

For every kind in ``service_rules`` the distance from each household to the nearest point of
that kind (anywhere in the county) is measured in the metric CRS with a KD-tree
(:class:`scipy.spatial.cKDTree`, exact Euclidean nearest neighbour). Households farther than
the kind's ``max_m`` are reported, grouped by the village they stand in, with the households
that have elderly members (60 or more) counted and listed separately. A rule with
``elderly_only`` looks at households with elderly members only; one with
``only_villages_with_points`` only at households standing in villages that have a point of
that kind (a point serves the village in its ``village_code``, or the village it stands in).

Villages without a village centre (一门式 service station, ``village_centre``) are reported
too, whatever the rules say.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gisgrid.analysis.checks.context import CheckContext, lonlat_to_xy, metres, points_lonlat, texts
from gisgrid.errors import ConfigError
from gisgrid.layers.service_points import SERVICE_KINDS


def nearest_distances(households_xy: np.ndarray, points_xy: np.ndarray) -> np.ndarray:
    """Distance in metres from each household to the nearest point (metric coordinates).

    Rows with NaN coordinates get NaN; with no points at all every distance is ``inf``.
    """
    out = np.full(len(households_xy), np.nan)
    ok = np.isfinite(households_xy).all(axis=1)
    pts = points_xy[np.isfinite(points_xy).all(axis=1)]
    if not len(pts):
        out[ok] = np.inf
        return out
    if ok.any():
        from scipy.spatial import cKDTree  # half a second to import: on first use

        dist, _ = cKDTree(pts).query(households_xy[ok], k=1)
        out[ok] = dist
    return out


def service_coverage(ctx: CheckContext) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Households beyond each kind's distance, by village; villages with no village centre.

    Returns
    -------
    items : list of dict
        ``problem`` ``too_far`` (``kind``, ``village_code``, ``max_m``, ``households``,
        ``elderly_households``, ``max_distance_m``, ``household_ids``,
        ``elderly_household_ids``) or ``no_village_centre`` (``village_code``, ``name``).
    extra : dict
        ``by_kind``: per checked kind its rule, number of points, households checked,
        households and elderly households beyond, and the largest distance.
    """
    rules = ctx.settings.service_rules
    unknown = sorted(set(rules) - set(SERVICE_KINDS))
    if unknown:
        raise ConfigError(
            f"unknown service kind(s) in the check settings: {', '.join(unknown)}; "
            f"the kinds are {', '.join(SERVICE_KINDS)}"
        )
    sp = ctx.frames["service_points"]
    sp_kind = texts(sp["kind"])
    sp_xy = lonlat_to_xy(points_lonlat(sp.geometry.values))
    serves = texts(sp["village_code"])
    if any(v is None for v in serves):
        standing = ctx.assign(sp.geometry, ctx.villages)
        serves = np.asarray(
            [v if v is not None else s for v, s in zip(serves, standing, strict=True)],
            dtype=object,
        )
    hh = ctx.households
    xy = ctx.household_xy
    elderly = pd.to_numeric(hh["elderly"], errors="coerce").fillna(0).to_numpy() > 0
    village = ctx.household_village
    ids = ctx.household_ids
    items: list[dict[str, Any]] = []
    by_kind: dict[str, Any] = {}
    for kind in SERVICE_KINDS:
        if kind not in rules:
            continue
        rule = rules[kind]
        mine = sp_kind == kind
        checked = np.isfinite(xy).all(axis=1)
        if rule.elderly_only:
            checked &= elderly
        if rule.only_villages_with_points:
            served = {v for v in serves[mine] if v is not None}
            checked &= pd.Series(village, dtype=object).isin(served).to_numpy(dtype=bool)
        dist = np.full(len(xy), np.nan)
        dist[checked] = nearest_distances(xy[checked], sp_xy[mine])
        beyond = checked & (np.nan_to_num(dist, nan=0.0) > rule.max_m)
        finite = dist[checked & np.isfinite(dist)]
        by_kind[kind] = {
            **rule.model_dump(),
            "points": int(mine.sum()),
            "households_checked": int(checked.sum()),
            "households_beyond": int(beyond.sum()),
            "elderly_households_beyond": int((beyond & elderly).sum()),
            "max_distance_m": metres(finite.max()) if len(finite) else None,
        }
        if not beyond.any():
            continue
        frame = pd.DataFrame(
            {
                "village": pd.Series(village[beyond], dtype=object).fillna(""),
                "id": ids[beyond],
                "elderly": elderly[beyond],
                "dist": dist[beyond],
            }
        ).sort_values(["village", "id"], kind="stable")
        for v, group in frame.groupby("village", sort=True):
            far = group["dist"].to_numpy()
            items.append(
                {
                    "problem": "too_far",
                    "kind": kind,
                    "village_code": str(v) or None,
                    "max_m": rule.max_m,
                    "households": len(group),
                    "elderly_households": int(group["elderly"].sum()),
                    "max_distance_m": metres(far.max()) if np.isfinite(far).all() else None,
                    "household_ids": group["id"].tolist(),
                    "elderly_household_ids": group.loc[group["elderly"], "id"].tolist(),
                }
            )
    with_centre = {v for v in serves[sp_kind == "village_centre"] if v is not None}
    vnames = texts(ctx.frames["villages"]["name"])
    for code, name in sorted(zip(ctx.villages.codes, vnames, strict=True), key=lambda t: t[0]):
        if code is not None and code not in with_centre:
            items.append({"problem": "no_village_centre", "village_code": code, "name": name})
    return items, {"by_kind": by_kind}
