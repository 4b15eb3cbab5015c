"""The volunteers' time bank: hours per volunteer and team, hand-summed from the fixture.

The little county: VA01 (team VT01, 2024-04-01) served by P001 2.5 h, P002 2.5 h, P003 1 h;
VA02 (VT01, 2024-06-15) by nobody on record; VA03 (VT02, 2024-09-09) by P001 4 h, P002 3.5 h.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from accounts import make_account
from conftest import raw_frame
from fastapi.testclient import TestClient

from gisgrid.analysis.volunteers import hours_by_team, hours_by_volunteer
from gisgrid.api import create_app
from gisgrid.layers import LAYERS
from gisgrid.stores.base import Store
from gisgrid.stores.ledger import AuditQuery


def _frames() -> dict[str, Any]:
    return {
        name: LAYERS[name].validate(raw_frame(name))
        for name in ("volunteer_teams", "volunteer_activities", "volunteer_hours")
    }


def test_hours_per_volunteer_and_team():
    f = _frames()
    per = hours_by_volunteer(f["volunteer_activities"], f["volunteer_hours"])
    assert per[["volunteer_id", "teams", "activities", "hours"]].values.tolist() == [
        ["P001", "VT01,VT02", 2, 6.5],
        ["P002", "VT01,VT02", 2, 6.0],
        ["P003", "VT01", 1, 1.0],
    ]
    teams = hours_by_team(f["volunteer_activities"], f["volunteer_hours"], f["volunteer_teams"])
    assert teams[["team_id", "activities", "volunteers", "hours"]].values.tolist() == [
        ["VT02", 1, 2, 7.5],
        ["VT01", 2, 3, 6.0],
    ]
    later = dt.date(2024, 6, 1)
    since = hours_by_volunteer(f["volunteer_activities"], f["volunteer_hours"], since=later)
    assert since[["volunteer_id", "hours"]].values.tolist() == [["P001", 4.0], ["P002", 3.5]]
    teams = hours_by_team(
        f["volunteer_activities"], f["volunteer_hours"], f["volunteer_teams"], since=later
    )
    assert teams[["team_id", "activities", "volunteers", "hours"]].values.tolist() == [
        ["VT02", 1, 2, 7.5],
        ["VT01", 1, 0, 0.0],
    ]


@pytest.fixture
def store(any_store: Store) -> Store:
    any_store.write({name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()})
    return any_store


def test_the_time_bank_through_the_api_and_the_command(
    store: Store, request: pytest.FixtureRequest, run_gisgrid: Any, tmp_path: Path
):
    url = str(store.path) if store.path else request.getfixturevalue("pg_url")
    admin = make_account(store, "admin", "430623")
    viewer = make_account(store, "viewer", "430623")
    with TestClient(create_app(store=url), base_url="https://testserver") as c:
        body = c.get("/api/volunteers/hours", headers=admin.headers).json()
        assert body["total_hours"] == 13.5
        assert body["rows"][0]["volunteer_name"] == "钱测试"
        teams = c.get("/api/volunteers/hours?by=team", headers=admin.headers).json()
        assert [r["team_id"] for r in teams["rows"]] == ["VT02", "VT01"]
        # a viewer sees the hours, never a volunteer's name
        masked = c.get("/api/volunteers/hours", headers=viewer.headers).json()
        assert masked["total_hours"] == 13.5
        assert [r["volunteer_name"] for r in masked["rows"]] == ["钱**", "孙**", "李**"]
    out = tmp_path / "hours.csv"
    if store.path is None:
        return  # the command on a PostGIS URL is covered by the API half above
    done = run_gisgrid("volunteers", "--by", "team", "--out", out, store=store.path)
    assert done.returncode == 0, done.stderr
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["team_id"], float(r["hours"])) for r in rows] == [("VT02", 7.5), ("VT01", 6.0)]
    audited = store.ledger.audit(AuditQuery(action="export", target="volunteer_hours"))
    assert len(audited) == 1


def test_the_command_refuses_bad_options_clearly(run_gisgrid: Any, filled_store: Any):
    bad_date = run_gisgrid("volunteers", "--since", "2026-13-01", store=filled_store.path)
    assert bad_date.returncode == 2, bad_date.stderr
    assert "ISO date" in bad_date.stderr and "Traceback" not in bad_date.stderr
    bad_by = run_gisgrid("volunteers", "--by", "village", store=filled_store.path)
    assert bad_by.returncode == 2 and "volunteer or team" in bad_by.stderr
