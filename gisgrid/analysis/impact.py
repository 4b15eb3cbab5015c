"""What a change of grids would do, before it is published: the diff a reviewer reads.

Pure: it works on frames (the grids as stored, a change as :mod:`gisgrid.analysis.edits`
returns it, the point layers) and stores nothing.

* **Grids**: each grid the change adds, retires, reshapes or edits, with its area before and
  after (m², measured in :data:`gisgrid.crs.METRIC_CRS`).
* **Moves**: every household, service point and incident whose level-3 grid differs after
  the change, by the one assignment rule (:func:`gisgrid.analysis.assign.grid_index`: covered
  by, smallest code wins) on the grids in force before and after.
* **Persons**: the responsible persons whose households change in number (their grids'
  households summed, before and after; a person is a name and phone).
* **Workload**: the households of every level-3 grid of the villages the change touches
  after it, against the band of the workload check (:class:`~gisgrid.settings.CheckSettings`
  ``min_households`` … ``max_households``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from gisgrid import codes as gridcodes
from gisgrid.analysis.assign.current import current_grid_codes, grid_index, in_force
from gisgrid.analysis.checks.context import metric_area, texts
from gisgrid.analysis.edits import CHANGE, DERIVED_FROM, apply_change
from gisgrid.analysis.scope import phone_digits
from gisgrid.layers import ASSIGNED_LAYERS, get_layer
from gisgrid.settings import CheckSettings

#: where a grid's household count stands against the workload band
Band = Literal["too_few", "ok", "too_many"]


@dataclass(frozen=True)
class GridImpact:
    """One grid the change touches.

    Attributes
    ----------
    code, level, name
        The grid (its name after the change; before, for a retired grid).
    change
        ``added``, ``retired``, ``reshaped`` or ``edited``.
    area_before_m2, area_after_m2
        Its area before and after (``None``: it was not there, or is not any more).
    derived_from
        The codes a new grid came from.
    """

    code: str
    level: int
    name: str | None
    change: str
    area_before_m2: float | None
    area_after_m2: float | None
    derived_from: tuple[str, ...]


@dataclass(frozen=True)
class PointMove:
    """One point whose level-3 grid the change moves (``None``: in no grid)."""

    layer: str
    id: str
    from_grid: str | None
    to_grid: str | None


@dataclass(frozen=True)
class PersonLoad:
    """A responsible person whose households change in number.

    Attributes
    ----------
    name, phone
        The person (as the grids hold them).
    grids_before, grids_after
        Their level-3 grids before and after.
    before, after
        Households in those grids before and after.
    """

    name: str
    phone: str | None
    grids_before: tuple[str, ...]
    grids_after: tuple[str, ...]
    before: int
    after: int


@dataclass(frozen=True)
class GridLoad:
    """A level-3 grid's households after the change, against the workload band."""

    code: str
    households_before: int
    households: int
    band: Band


@dataclass(frozen=True)
class ChangeImpact:
    """What a change would do (see the module's description)."""

    grids: tuple[GridImpact, ...]
    moves: Mapping[str, tuple[PointMove, ...]]
    persons: tuple[PersonLoad, ...]
    workload: tuple[GridLoad, ...]
    #: the workload band, (min_households, max_households)
    band: tuple[int, int]

    def codes(self, change: str) -> list[str]:
        """The codes of the grids with this change."""
        return [g.code for g in self.grids if g.change == change]


def _areas(frame: pd.DataFrame) -> dict[str, float]:
    values = metric_area(np.asarray(frame.geometry.values, dtype=object))
    return {str(c): round(float(a), 1) for c, a in zip(frame["code"], values, strict=True)}


def _lineage(value: object) -> tuple[str, ...]:
    if not isinstance(value, str):
        return ()
    return tuple(c.strip() for c in value.split(",") if c.strip())


def _band(count: int, settings: CheckSettings) -> Band:
    if count < settings.min_households:
        return "too_few"
    if count > settings.max_households:
        return "too_many"
    return "ok"


def _counts(grid_codes: np.ndarray) -> dict[str, int]:
    """Points per grid code (points in no grid left out)."""
    found: dict[str, int] = {}
    for code in grid_codes:
        if code is not None:
            found[str(code)] = found.get(str(code), 0) + 1
    return found


def _persons(
    level3: pd.DataFrame, per_grid: Mapping[str, int]
) -> dict[tuple[str, str], tuple[str, str | None, list[str], int]]:
    """Responsible person (name, phone digits) → (name, phone, grids, households)."""
    out: dict[tuple[str, str], tuple[str, str | None, list[str], int]] = {}
    names = texts(level3["responsible_name"])
    phones = texts(level3["responsible_phone"])
    for code, name, phone in zip(level3["code"].astype(str), names, phones, strict=True):
        if name is None:
            continue  # an unstaffed grid: nobody gains or loses
        key = (name, phone_digits(phone))
        _, _, grids, count = out.get(key, (name, phone, [], 0))
        out[key] = (name, phone, [*grids, code], count + per_grid.get(code, 0))
    return out


def change_impact(
    grids_before: pd.DataFrame,
    changed: pd.DataFrame,
    points: Mapping[str, pd.DataFrame],
    *,
    settings: CheckSettings | None = None,
    as_of: dt.date | None = None,
) -> ChangeImpact:
    """What ``changed`` would do to the grids and the points in them.

    Parameters
    ----------
    grids_before
        The grids as stored (every version may be there: the rows in force on ``as_of`` are
        the net before).
    changed
        A change (:mod:`gisgrid.analysis.edits`: rows with :data:`~.edits.CHANGE`).
    points
        Layer name (households, service points, incidents) → its points near the change
        (canonical frames; their key names them).
    settings
        The workload band (:class:`~gisgrid.settings.CheckSettings`).
    as_of
        The day of the net before (default today); the change's grids count from it.

    Returns
    -------
    ChangeImpact
    """
    settings = settings or CheckSettings()
    before = in_force(grids_before, as_of=as_of)
    after = apply_change(before, changed)
    area_before, area_after = _areas(before), _areas(after)

    grids: list[GridImpact] = []
    for _, row in changed.iterrows():
        code, change = str(row["code"]), str(row[CHANGE])
        grids.append(
            GridImpact(
                code=code,
                level=int(row["level"]),
                name=None if pd.isna(row["name"]) else str(row["name"]),
                change=change,
                area_before_m2=area_before.get(code),
                area_after_m2=None if change == "retired" else area_after.get(code),
                derived_from=_lineage(row[DERIVED_FROM]) if change == "added" else (),
            )
        )

    index_before = grid_index(before, as_of=as_of)
    index_after = grid_index(after, as_of=as_of)
    moves: dict[str, tuple[PointMove, ...]] = {}
    households: tuple[np.ndarray, np.ndarray] = (np.empty(0, object), np.empty(0, object))
    for layer in ASSIGNED_LAYERS:
        frame = points.get(layer)
        if frame is None:
            continue
        key = get_layer(layer).key[0]
        was = current_grid_codes(frame.geometry, index_before)
        now = current_grid_codes(frame.geometry, index_after)
        differs = np.asarray([a != b for a, b in zip(was, now, strict=True)], dtype=bool)
        ids = frame[key].astype(str).to_numpy()
        moves[layer] = tuple(
            PointMove(layer, str(ids[i]), was[i], now[i]) for i in np.flatnonzero(differs)
        )
        if layer == "households":
            households = (was, now)

    per_before = _counts(households[0])
    per_after = _counts(households[1])
    villages = {gridcodes.village_of(str(c)) for c in changed["code"] if len(str(c)) >= 12}

    def level3(frame: pd.DataFrame) -> pd.DataFrame:
        codes = frame["code"].astype(str)
        mine = np.asarray(
            [len(c) >= 12 and gridcodes.village_of(c) in villages for c in codes], dtype=bool
        )
        level = pd.to_numeric(frame["level"], errors="coerce").to_numpy()
        return frame[mine & (level == 3)]

    l3_before, l3_after = level3(before), level3(after)
    persons_before = _persons(l3_before, per_before)
    persons_after = _persons(l3_after, per_after)
    persons = []
    for person in sorted(set(persons_before) | set(persons_after)):
        _, phone, grids_was, was_count = persons_before.get(person, (person[0], None, [], 0))
        _, phone_now, grids_now, now_count = persons_after.get(person, (person[0], None, [], 0))
        if was_count != now_count:
            persons.append(
                PersonLoad(
                    name=person[0],
                    phone=phone_now if phone_now is not None else phone,
                    grids_before=tuple(sorted(grids_was)),
                    grids_after=tuple(sorted(grids_now)),
                    before=int(was_count),
                    after=int(now_count),
                )
            )

    workload = tuple(
        GridLoad(
            code=code,
            households_before=int(per_before.get(code, 0)),
            households=int(per_after.get(code, 0)),
            band=_band(int(per_after.get(code, 0)), settings),
        )
        for code in sorted(l3_after["code"].astype(str))
    )
    return ChangeImpact(
        grids=tuple(grids),
        moves=moves,
        persons=tuple(persons),
        workload=workload,
        band=(settings.min_households, settings.max_households),
    )


__all__ = [
    "Band",
    "ChangeImpact",
    "GridImpact",
    "GridLoad",
    "PersonLoad",
    "PointMove",
    "change_impact",
]
