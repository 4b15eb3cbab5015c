"""组织 the organisation around an area: the county leaders of a township (联乡), the units
paired with a village (结对) and its first secretaries (第一书记).

Read through the caller's :class:`~gisgrid.analysis.scope.ScopedReader`, so that names are
masked for roles without staff contacts (:attr:`gisgrid.roles.RoleInfo.staff_contacts`) and
only the rows of the caller's area are seen (the leader of one's township included).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from gisgrid.layers import kinds
from gisgrid.stores.base import Reader


@dataclass(frozen=True)
class Leader:
    """A county leader responsible for a township (联乡)."""

    id: str
    name: str
    post: str


@dataclass(frozen=True)
class Pairing:
    """A unit paired with a village (结对), with its kind and the pairing's, in Chinese."""

    unit_name: str
    unit_kind_zh: str
    kind_zh: str


@dataclass(frozen=True)
class FirstSecretary:
    """A first secretary sent to a village (驻村第一书记)."""

    name: str
    unit: str
    start_on: dt.date | None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def township_leaders(reader: Reader, townships: Iterable[str]) -> dict[str, list[Leader]]:
    """The county leaders responsible for each of ``townships``, by leader id.

    A township no leader is linked to (or whose links the caller may not see) has none.
    """
    wanted = list(townships)
    out: dict[str, list[Leader]] = {code: [] for code in wanted}
    layers = set(reader.layer_names())
    if not {"county_leaders", "leader_townships"} <= layers or not wanted:
        return out
    links = reader.read("leader_townships", where={"township_code": wanted})
    leaders = reader.read("county_leaders")
    by_id = {
        str(rec["id"]): Leader(str(rec["id"]), _text(rec["name"]), _text(rec["post"]))
        for rec in leaders.to_dict("records")
    }
    for rec in links.sort_values(["township_code", "leader_id"]).to_dict("records"):
        leader = by_id.get(str(rec["leader_id"]))
        if leader is not None:
            out[str(rec["township_code"])].append(leader)
    return out


def village_pairings(reader: Reader, village: str) -> list[Pairing]:
    """The units paired with ``village``, by unit name."""
    if "pairings" not in reader.layer_names():
        return []
    rows = reader.read("pairings", where={"village_code": [village]}).sort_values("unit_name")
    return [
        Pairing(
            unit_name=_text(rec["unit_name"]),
            unit_kind_zh=kinds.UNIT_KINDS[str(rec["unit_kind"])].zh,
            kind_zh=kinds.PAIRING_KINDS[str(rec["kind"])].zh,
        )
        for rec in rows.to_dict("records")
    ]


def village_secretaries(reader: Reader, village: str) -> list[FirstSecretary]:
    """The first secretaries of ``village``, the longest-serving first."""
    if "first_secretaries" not in reader.layer_names():
        return []
    rows = reader.read("first_secretaries", where={"village_code": [village]})
    out = []
    for rec in rows.to_dict("records"):
        start = rec.get("start_on")
        out.append(
            FirstSecretary(
                name=_text(rec["name"]),
                unit=_text(rec["unit"]),
                start_on=None if start is None or pd.isna(start) else pd.Timestamp(start).date(),
            )
        )
    return sorted(out, key=lambda s: (s.start_on is None, s.start_on or dt.date.min, s.name))


__all__ = [
    "FirstSecretary",
    "Leader",
    "Pairing",
    "township_leaders",
    "village_pairings",
    "village_secretaries",
]
