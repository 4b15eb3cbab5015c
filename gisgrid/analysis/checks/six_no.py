"""Check 11, six-no (六无) villages: no incident of the six kinds in the year before ``as_of``.

The six-no kinds are :data:`gisgrid.layers.incidents.SIX_NO_KINDS` (abnormal petitions,
criminal cases, safety and environmental accidents, lawsuits, illegal construction, overdue
loans). An incident counts for the village it stands in (assigned like households), not
for any village named in its text, whatever its case-flow status: a closed case still
happened. The window runs from the same date ``six_no_months`` months before ``as_of``
(00:00 local time, included) to the end of the ``as_of`` day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from gisgrid.analysis.checks.context import CheckContext, texts
from gisgrid.layers.incidents import SIX_NO_KINDS
from gisgrid.layers.schema import LOCAL_TZ


def window(as_of: dt.date, months: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end)`` of the six-no window in local time (naive timestamps)."""
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    start = pd.Timestamp(as_of) - pd.DateOffset(months=months)
    return pd.Timestamp(start), end


def _local_times(values: pd.Series) -> pd.Series:
    times = pd.to_datetime(values, errors="coerce")
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
    return times


def six_no(ctx: CheckContext) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Villages with six-no incidents in the window (items) and those without.

    Returns
    -------
    items : list of dict
        One per village that is not six-no: ``village_code``, ``name``, ``incidents``
        (total) and ``by_kind`` (kind → number, only kinds that occurred).
    extra : dict
        ``window`` (from, to), ``six_no_villages`` (codes), ``villages``,
        ``unplaced_incidents`` (six-no incidents in the window standing in no village).
    """
    start, end = window(ctx.as_of, ctx.settings.six_no_months)
    inc = ctx.frames["incidents"]
    times = _local_times(inc["reported_at"])
    kinds = texts(inc["kind"])
    chosen = (
        np.isin(kinds.astype(str), SIX_NO_KINDS)
        & (times >= start).fillna(False).to_numpy(dtype=bool)
        & (times < end).fillna(False).to_numpy(dtype=bool)
    )
    where = ctx.assign(inc.geometry[chosen], ctx.villages)
    table = pd.DataFrame({"village": where, "kind": kinds[chosen]}).dropna()
    per = table.groupby(["village", "kind"]).size()
    names = dict(zip(ctx.villages.codes, texts(ctx.frames["villages"]["name"]), strict=True))
    rank = {k: i for i, k in enumerate(SIX_NO_KINDS)}
    items: list[dict[str, Any]] = []
    for code in sorted(set(table["village"])):
        counts = per.loc[code]
        by_kind = {str(k): int(counts[k]) for k in sorted(counts.index, key=rank.__getitem__)}
        items.append(
            {
                "village_code": code,
                "name": names.get(code),
                "incidents": int(sum(by_kind.values())),
                "by_kind": by_kind,
            }
        )
    troubled = set(table["village"])
    clean = sorted(c for c in names if c is not None and c not in troubled)
    last = (end - pd.Timedelta(days=1)).date()
    extra = {
        "window": {"from": start.date().isoformat(), "to": last.isoformat()},
        "villages": len(names),
        "six_no_villages": clean,
        "unplaced_incidents": int(chosen.sum() - len(table)),
    }
    return items, extra
