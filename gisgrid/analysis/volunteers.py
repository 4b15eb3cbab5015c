"""The volunteers' time bank (志愿服务时间银行): hours summed per volunteer and per team.

The one place the sums are made: from the activities (which team held each, and when) and
who took part for how long (:data:`gisgrid.layers.organisation.VOLUNTEER_HOURS`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd


def _joined(
    activities: pd.DataFrame, hours: pd.DataFrame, *, since: dt.date | None
) -> pd.DataFrame:
    held = activities[["id", "team_id", "held_on"]].rename(columns={"id": "activity_id"})
    out = hours.merge(held, on="activity_id", how="inner", validate="many_to_one")
    if since is not None:
        out = out[pd.to_datetime(out["held_on"]) >= pd.Timestamp(since)]
    return out


def hours_by_volunteer(
    activities: pd.DataFrame, hours: pd.DataFrame, *, since: dt.date | None = None
) -> pd.DataFrame:
    """Per volunteer: name, teams served with, activities, hours; most hours first.

    Parameters
    ----------
    activities
        Rows of ``volunteer_activities`` (``id``, ``team_id``, ``held_on``).
    hours
        Rows of ``volunteer_hours``.
    since
        Count only activities held on or after this date.
    """
    rows = _joined(activities, hours, since=since)
    columns = ["volunteer_id", "volunteer_name", "teams", "activities", "hours"]
    if not len(rows):
        return pd.DataFrame(columns=columns)
    out = rows.groupby("volunteer_id", sort=True).agg(
        volunteer_name=("volunteer_name", "last"),
        teams=("team_id", lambda s: ",".join(sorted(set(map(str, s))))),
        activities=("activity_id", "nunique"),
        hours=("hours", "sum"),
    )
    out = out.reset_index()[columns]
    return out.sort_values(["hours", "volunteer_id"], ascending=[False, True], kind="stable")


def hours_by_team(
    activities: pd.DataFrame,
    hours: pd.DataFrame,
    teams: pd.DataFrame,
    *,
    since: dt.date | None = None,
) -> pd.DataFrame:
    """Per team: name, activities held, volunteers who served, hours; teams without hours too."""
    rows = _joined(activities, hours, since=since)
    held = (
        activities
        if since is None
        else activities[pd.to_datetime(activities["held_on"]) >= pd.Timestamp(since)]
    )
    per_team = pd.DataFrame({"team_id": teams["id"].astype(str), "team_name": teams["name"]})
    counted = rows.groupby("team_id").agg(
        volunteers=("volunteer_id", "nunique"), hours=("hours", "sum")
    )
    activity_count = held.groupby("team_id")["id"].nunique().rename("activities")
    out = per_team.merge(activity_count, left_on="team_id", right_index=True, how="left")
    out = out.merge(counted, left_on="team_id", right_index=True, how="left")
    out[["activities", "volunteers"]] = out[["activities", "volunteers"]].fillna(0).astype(int)
    out["hours"] = out["hours"].fillna(0.0).astype(float)
    return out.sort_values(["hours", "team_id"], ascending=[False, True], kind="stable")
