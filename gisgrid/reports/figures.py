"""What the reports need from a store, gathered as the web app gathers it for the dashboard.

The web app keeps these in its state (:meth:`gisgrid.api.state.AppState.frames`, ``report``);
the command line reads them here, the same way: the layers with every point's grid now, the
check report of the county, and the cases with their stage and lateness on the clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd

from gisgrid.analysis.assign import local_now, with_current_grid_codes
from gisgrid.analysis.cases import case_columns
from gisgrid.analysis.checks import run_checks
from gisgrid.analysis.indicators import FIGURE_LAYERS
from gisgrid.services.cases import case_summaries
from gisgrid.stores.base import Reader


@dataclass(frozen=True)
class Inputs:
    """The inputs of :func:`gisgrid.analysis.indicators.area_table`, and the date they hold.

    Attributes
    ----------
    frames
        Layer name → frame, point layers with their current ``grid_code``, grids in force.
    report
        The check report of the county (:meth:`gisgrid.analysis.checks.CheckReport.to_dict`).
    cases
        The incidents with their case columns (:func:`gisgrid.analysis.cases.case_columns`).
    as_of
        The day the figures describe (the report's ``as_of``).
    """

    frames: dict[str, pd.DataFrame]
    report: dict[str, Any]
    cases: gpd.GeoDataFrame
    as_of: dt.date


def report_date(report: dict[str, Any]) -> dt.date:
    """The day a check report describes (its ``meta.as_of``; today without one)."""
    text = report.get("meta", {}).get("as_of")
    return dt.date.fromisoformat(str(text)[:10]) if text else dt.date.today()


def gather(store: Reader, *, now: dt.datetime | None = None) -> Inputs:
    """Read ``store`` as the dashboard does: layers, check report and cases.

    Parameters
    ----------
    store
        The store (the whole county: the command line is its owner).
    now
        The clock the cases are read on (county local time; default: now).
    """
    frames = with_current_grid_codes({name: store.read(name) for name in FIGURE_LAYERS})
    as_of = None
    manifest = store.get_meta("sample_manifest")
    if isinstance(manifest, dict) and manifest.get("as_of"):
        as_of = dt.date.fromisoformat(str(manifest["as_of"]))
    report = run_checks(frames, as_of=as_of).to_dict()
    summaries = case_summaries(store, now=now or local_now())
    incidents = frames["incidents"]
    cases = case_columns(incidents[incidents["id"].isin({c.id for c in summaries})], summaries)
    return Inputs(frames=frames, report=report, cases=cases, as_of=report_date(report))
