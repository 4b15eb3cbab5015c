"""The sample county's year of cases and visits: every history is a legal path of the flow,
ends in the incident's stage, and lies before the sample's date; some cases are late."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from gisgrid.analysis.cases import Actor, Step, check_step, stage_of
from gisgrid.roles import Role
from gisgrid.sample.build import SAMPLE_AS_OF
from gisgrid.services.cases import case_statistics, case_summaries

ROLE_OF = {"gw": Role.GRID, "vs": Role.VILLAGE, "tw": Role.TOWNSHIP}


def test_every_sample_case_history_is_a_legal_path_to_its_stage(sample_county: Any) -> None:
    frames = sample_county.frames
    steps = frames["case_steps"].sort_values(["incident_id", "seq"])
    status = frames["incidents"].set_index("id")["status"]
    end = pd.Timestamp(SAMPLE_AS_OF) + pd.Timedelta(days=1)
    assert set(steps["incident_id"]) == set(status.index)
    assert (steps["at"] < end).all()
    for incident_id, rows in steps.groupby("incident_id"):
        history: list[Step] = []
        for rec in rows.to_dict("records"):
            step = Step(
                rec["action"],
                rec["actor"],
                pd.Timestamp(rec["at"]).to_pydatetime(),
                note=rec["note"] if isinstance(rec["note"], str) else "",
                assignee=rec["assignee"] if isinstance(rec["assignee"], str) else None,
            )
            actor = Actor(rec["actor"], ROLE_OF[rec["actor"][:2]], in_area=True)
            check_step(history, step, actor)  # raises on an illegal step
            history.append(step)
        assert stage_of(history) == status[incident_id], incident_id


def test_the_sample_has_late_and_on_time_cases_and_visits(sample_county: Any, sample_gpkg: Any):
    noon = dt.datetime.combine(SAMPLE_AS_OF, dt.time(12, 0))
    found = case_statistics(case_summaries(sample_gpkg, now=noon))
    assert found.cases == len(sample_county.frames["incidents"])
    assert found.overdue > 0 and found.closed > found.open
    assert found.on_time_rate is not None and 0.5 < found.on_time_rate < 1.0
    visits = sample_county.frames["visits"]
    households = set(sample_county.frames["households"]["id"])
    assert len(visits) > 0 and set(visits["household_id"]) <= households
