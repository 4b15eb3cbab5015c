"""Who sees what: one caller's area and personal-data rights, applied to every layer read.

The one place where access follows the net. A :class:`Scope` is made from an account
(:func:`scope_of`): its area codes (a grid worker's also from the grids whose responsible
person has the account's phone, so reassigning a grid moves the access) and whether it sees
residents' and staff's personal fields (:attr:`gisgrid.layers.schema.Field.personal`).
:class:`ScopedReader` puts it in front of a store: every page, map, export and API answer
reads through it, so no route filters by hand.

A feature lies in an area by its code, the same rule for every layer:

- boundaries (townships, villages, grids) by their own code, and their ancestors too, as
  the outline around one's area;
- points (households, incidents, service points) by the level-3 grid covering them now
  (:func:`gisgrid.analysis.assign.current_grid_codes`); a point in no grid by its village;
- other records by their village or township code; the links of county leaders to their
  townships (联乡, :data:`ANCESTOR_LAYERS`) also where the township contains the area, and a
  county leader where one of their townships does (:data:`LINKED_LAYERS`): the leader of
  one's township is known to its villages; records with no code at all only by those whose
  area is the whole store (:attr:`Scope.whole_county`);
- service points are public facilities, shown wherever they are (:data:`PUBLIC_LAYERS`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gisgrid import codes
from gisgrid.analysis.assign import GridIndex, current_grid_codes
from gisgrid.errors import ForbiddenError
from gisgrid.layers import ASSIGNED_LAYERS, get_layer
from gisgrid.layers.schema import Field, Layer
from gisgrid.roles import Role, RoleInfo
from gisgrid.stores.base import BBox, Reader, Where, Window, asked_columns
from gisgrid.stores.ledger import Account

#: boundary layers: a feature is shown where its code is in the area or contains it
BOUNDARY_LAYERS = ("townships", "villages", "grids", "grid_versions")
#: public facilities, shown wherever they are: the nearest clinic of a household at the
#: edge of one's area may lie in the next village (their staff contacts are still masked)
PUBLIC_LAYERS = ("service_points",)
#: layers whose rows are records about a row of another layer: the column naming it and that
#: layer; a record lies in the area where what it is about lies
RECORD_LAYERS: dict[str, tuple[str, str]] = {
    "case_steps": ("incident_id", "incidents"),
    "public_reports": ("incident_id", "incidents"),
    "visits": ("household_id", "households"),
    "volunteer_hours": ("activity_id", "volunteer_activities"),
}
#: layers whose rows also lie in the area when the area code they name contains it
ANCESTOR_LAYERS = ("leader_townships",)
#: layers without an area code whose rows lie where a row of another layer naming them lies:
#: their key column, that layer and its column naming them
LINKED_LAYERS: dict[str, tuple[str, str, str]] = {
    "county_leaders": ("id", "leader_townships", "leader_id"),
}
#: a masked value of a hidden field
HIDDEN = None


def phone_digits(phone: object) -> str:
    """A phone number's digits only (``0730-1234567`` → ``07301234567``); ``""`` for none."""
    if phone is None or phone is pd.NA or (isinstance(phone, float) and phone != phone):
        return ""
    return re.sub(r"\D", "", str(phone))


def mask_name(name: str) -> str:
    """张三丰 → 张**: the family name stays, so a leader can still tell people apart."""
    return name[:1] + "*" * max(len(name) - 1, 1) if name else name


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678."""
    digits = phone_digits(phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def masked_value(field: Field, value: object) -> object:
    """``value`` of ``field`` as a caller who may not see it is shown it."""
    if value is None or value is pd.NA or field.masked_as == "hidden":
        return None
    if field.masked_as == "name":
        return mask_name(str(value))
    return mask_phone(str(value))


@dataclass(frozen=True)
class Scope:
    """One caller's view of the net.

    Attributes
    ----------
    role
        The caller's role.
    areas
        Area codes (prefecture, county, township, village or grid); every feature shown
        lies in one of them (:func:`gisgrid.codes.lies_in`: a prefecture's by its four
        digits). Empty: nothing (a grid worker whose grids were all reassigned).
    residents
        Residents' personal fields are shown (else masked).
    staff
        Staff contacts (responsible persons) are shown (else masked).
    counties
        The counties the store holds (empty: not known, taken as one): a county area is
        the whole store only when it is the store's one county.
    """

    role: RoleInfo
    areas: tuple[str, ...]
    residents: bool
    staff: bool
    counties: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[object, ...]:
        """What makes two scopes see the same: for caches of what was built for one."""
        return (self.areas, self.residents, self.staff)

    @property
    def whole_county(self) -> bool:
        """Whether the area is everything of its store: a county of a one-county store, or
        a prefecture (or county) every county of the store lies in."""
        return any(
            len(a) == codes.COUNTY_DIGITS
            and all(codes.lies_in(c, a) for c in self.counties)  # all of none: true
            for a in self.areas
        )

    @property
    def prefixes(self) -> tuple[str, ...]:
        """What the codes inside the area start with (:func:`gisgrid.codes.area_prefix`)."""
        return tuple(codes.area_prefix(a) for a in self.areas)

    @property
    def home(self) -> str | None:
        """The area to show first: the single area code, or ``None`` for a county or for
        several areas (a grid worker of several grids)."""
        if self.whole_county or len(self.areas) != 1:
            return None
        return self.areas[0]

    def covers(self, code: str) -> bool:
        """Whether ``code`` (a township, village or grid) lies within the area."""
        return any(codes.lies_in(code, area) for area in self.areas)

    def require(self, code: str) -> None:
        """Refuse an area outside this scope.

        Raises
        ------
        ForbiddenError
            ``code`` is not within the caller's area.
        """
        if not self.covers(code):
            raise ForbiddenError(f"{code} 不在本账号的管辖范围内 (outside this account's area)")

    def narrowed(self, area: str) -> Scope:
        """This scope cut to ``area`` (an export or page of one township, village, …): the
        part of the caller's area inside it, with the same rights to personal fields.

        A caller whose area holds ``area`` gets ``area``; one whose areas lie inside it (a
        grid worker asking for their village) keeps those of them.

        Raises
        ------
        ForbiddenError
            No part of ``area`` is within the caller's area.
        """
        if self.covers(area):
            areas: tuple[str, ...] = (area,)
        else:
            areas = tuple(a for a in self.areas if codes.lies_in(a, area))
        if not areas:
            raise ForbiddenError(f"{area} 不在本账号的管辖范围内 (outside this account's area)")
        return dataclasses.replace(self, areas=areas)

    def codes_in(self, values: Iterable[object], *, ancestors: bool = False) -> np.ndarray:
        """Which codes lie in the area (or, with ``ancestors``, also contain part of it)."""
        # a column as one array (a missing value as pd.NA or None), not element by element
        whole = values if isinstance(values, pd.Series | pd.Index) else list(values)
        given = np.asarray(whole, dtype=object)
        is_text = np.fromiter((isinstance(v, str) for v in given), dtype=bool, count=len(given))
        text = np.where(is_text, given, "").astype(str)
        inside = np.zeros(len(given), dtype=bool)
        for prefix in self.prefixes:
            inside |= np.strings.startswith(text, prefix)
        inside &= is_text
        if ancestors:
            above = [
                isinstance(v, str) and any(a.startswith(v) for a in self.prefixes) for v in given
            ]
            inside |= np.array(above, dtype=bool)
        return inside

    def rows_in(self, layer: str, frame: pd.DataFrame) -> np.ndarray:
        """Which rows of ``frame`` (a read of ``layer``) lie in the area.

        Points must carry their current ``grid_code`` (:class:`ScopedReader` sets it).
        """
        if layer in PUBLIC_LAYERS or self.whole_county:  # (everything of the store)
            return np.ones(len(frame), dtype=bool)
        if not self.areas:
            return np.zeros(len(frame), dtype=bool)
        if layer in BOUNDARY_LAYERS:
            return self.codes_in(frame["code"], ancestors=True)
        if "grid_code" in frame.columns:
            by_grid = self.codes_in(frame["grid_code"])
            loose = frame["grid_code"].isna().to_numpy(dtype=bool)
            if "village_code" in frame.columns:
                by_grid |= loose & self.codes_in(frame["village_code"])
                loose = loose & frame["village_code"].isna().to_numpy(dtype=bool)
            # in no grid and no village: no code at all, seen by the whole store's callers
            # (the whole-county path of read_page counts them too)
            return by_grid | (loose & self.whole_county)
        for column in ("village_code", "township_code"):
            if column in frame.columns:
                return self.codes_in(frame[column], ancestors=layer in ANCESTOR_LAYERS)
        return np.full(len(frame), self.whole_county, dtype=bool)

    def masks(self, field: Field) -> bool:
        """Whether ``field`` is masked for this caller."""
        if field.personal == "resident":
            return not self.residents
        if field.personal == "staff":
            return not self.staff
        return False

    def mask_record(self, layer: str, record: Mapping[str, object]) -> dict[str, object]:
        """One record (e.g. a grid in an API answer) with what this caller may not see masked."""
        out = dict(record)
        for f in get_layer(layer).fields:
            if f.name in out and self.masks(f):
                out[f.name] = masked_value(f, out[f.name])
        return out

    def mask(self, layer: Layer, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with the personal fields this caller may not see masked."""
        masked = [f for f in layer.fields if f.name in frame.columns and self.masks(f)]
        if not masked:
            return frame
        frame = frame.copy()
        for f in masked:
            values = frame[f.name]
            if f.masked_as == "hidden":
                frame[f.name] = pd.Series(pd.NA, index=frame.index, dtype=values.dtype)
            else:
                shown = values.map(lambda v, f=f: masked_value(f, v), na_action="ignore")
                frame[f.name] = shown.astype(values.dtype)
        return frame

    def restrict(self, layer: str, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``frame`` in the area, personal fields masked as the role needs."""
        keep = self.rows_in(layer, frame)
        out = frame if keep.all() else frame[keep]
        return self.mask(get_layer(layer), out)


def grids_by_phone(grids: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """The codes of ``grids`` by their responsible person's phone (its digits): built once
    per net, so that a request of a grid worker linked by phone looks theirs up."""
    found: dict[str, list[str]] = {}
    for code, phone in zip(grids["code"], grids["responsible_phone"], strict=True):
        digits = phone_digits(phone)
        if digits:
            found.setdefault(digits, []).append(str(code))
    return {digits: tuple(codes_) for digits, codes_ in found.items()}


def scope_of(
    account: Account,
    role: RoleInfo,
    *,
    by_phone: Mapping[str, Sequence[str]],
    reason: str | None = None,
    counties: Sequence[str] = (),
) -> Scope:
    """The scope of ``account``.

    Parameters
    ----------
    account
        The signed-in account.
    role
        Its role (:data:`gisgrid.roles.ROLES`).
    by_phone
        The grids now by their responsible person's phone (:func:`grids_by_phone`): a grid
        worker with a phone gets the grids whose responsible person has it.
    reason
        The reason given for reading household records (roles that read them on request).
    counties
        The counties of the store (:attr:`GridNet.counties`); a county area of a store of
        several counties sees its county only.
    """
    areas = [account.area] if account.area else []
    phone = phone_digits(account.phone)
    if phone and role.role is Role.GRID:
        areas += by_phone.get(phone, ())
    # the widest first, and nothing inside another area twice
    unique: list[str] = []
    for code in sorted(set(areas), key=len):
        if not any(codes.lies_in(code, kept) for kept in unique):
            unique.append(code)
    residents = role.records == "full" or (role.records == "on_request" and bool(reason))
    return Scope(
        role=role,
        areas=tuple(unique),
        residents=residents,
        staff=role.staff_contacts,
        counties=tuple(counties),
    )


#: called with the layer and the ids of resident records a scoped read let through
RecordsRead = Callable[[str, list[str]], None]


class ScopedReader:
    """A store's reading side seen through a :class:`Scope` (a :class:`Reader` itself).

    Every read keeps the rows in the area and masks what the caller may not see; a read that
    lets residents' personal fields through calls ``on_records_read`` with the ids (the
    audit log records them).

    Parameters
    ----------
    store
        The store read.
    scope
        The caller's scope.
    index
        The level-3 grids now, to place points (their current grid decides their area).
    on_records_read
        Called after each read that shows residents' personal fields.
    """

    def __init__(
        self,
        store: Reader,
        scope: Scope,
        *,
        index: GridIndex,
        on_records_read: RecordsRead | None = None,
    ) -> None:
        self.store = store
        self.scope = scope
        self.url = store.url
        self.index = index
        self._on_records_read = on_records_read

    def noting(self, on_records_read: RecordsRead) -> ScopedReader:
        """The same view, telling ``on_records_read`` instead (a page that is kept and
        served again records its reads at every serving)."""
        return ScopedReader(
            self.store, self.scope, index=self.index, on_records_read=on_records_read
        )

    def layer_names(self) -> list[str]:
        return self.store.layer_names()

    def get_meta(self, key: str) -> Any:
        return self.store.get_meta(key)

    def read(
        self,
        layer: str,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        columns: Sequence[str] | None = None,
        window: Window | None = None,
    ) -> pd.DataFrame:
        decl = get_layer(layer)
        wanted = columns
        if columns is not None:  # the columns the area rule needs are read too
            linked = [LINKED_LAYERS[layer][0]] if layer in LINKED_LAYERS else []
            wanted = list(dict.fromkeys([*columns, *_area_columns(decl), *linked]))
        if window is not None and not self.scope.whole_county:
            return self.read_page(layer, bbox=bbox, where=where, window=window)[0]
        frame = self.store.read(layer, bbox=bbox, where=where, columns=wanted, window=window)
        if layer in ASSIGNED_LAYERS and decl.spatial:
            frame = frame.copy()
            frame["grid_code"] = current_grid_codes(frame.geometry, self.index)
        if layer in RECORD_LAYERS:
            frame = self.scope.mask(decl, self._records_in_area(layer, frame))
        elif layer in LINKED_LAYERS and not self.scope.whole_county:
            key, link, naming = LINKED_LAYERS[layer]
            named = set(self.read(link, columns=[naming])[naming].astype(str))
            frame = self.scope.mask(decl, frame[frame[key].astype(str).isin(named)])
        else:
            frame = self.scope.restrict(layer, frame)
        frame = asked_columns(frame, columns)
        if (
            self._on_records_read is not None
            and len(frame)
            and self._shows_residents(decl, frame.columns)
        ):
            self._on_records_read(layer, [str(v) for v in frame[decl.key[0]]])
        return frame

    def records_read(self, layer: str) -> bool:
        """Whether a read of all of ``layer``'s columns shows residents' personal fields,
        so that it is recorded (a ``304`` to such a read still reads, to record it)."""
        decl = get_layer(layer)
        return self._shows_residents(decl, decl.columns)

    def _records_in_area(self, layer: str, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``frame`` (records, :data:`RECORD_LAYERS`) about a row in the area."""
        if self.scope.whole_county or not len(frame):
            return frame
        column, about = RECORD_LAYERS[layer]
        ids = sorted(set(frame[column].astype(str)))
        seen = self.store.read(
            about, where={"id": ids}, columns=["id", *_area_columns(get_layer(about))]
        )
        if about in ASSIGNED_LAYERS:  # placed as a read of that layer places them
            seen = seen.copy()
            seen["grid_code"] = current_grid_codes(seen.geometry, self.index)
        inside = set(seen.loc[self.scope.rows_in(about, seen), "id"].astype(str))
        return frame[frame[column].astype(str).isin(inside)]

    def count(self, layer: str, *, where: Where | None = None, bbox: BBox | None = None) -> int:
        decl = get_layer(layer)
        if self.scope.whole_county:
            return self.store.count(layer, where=where, bbox=bbox)
        return len(self.read(layer, bbox=bbox, where=where, columns=list(decl.key)))

    def read_page(
        self,
        layer: str,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        window: Window,
    ) -> tuple[pd.DataFrame, int]:
        """One page of :meth:`read` and the number of rows of the whole read, without
        reading the whole layer.

        A caller whose area is the whole county: the store reads the page alone and counts
        the rest (:class:`~gisgrid.stores.base.Window`). Any other: the layer's keys (and the
        columns that place a row in the area) are read to find which rows of the area make
        the page, then those rows alone. Masking and the audit are :meth:`read`'s: only the
        rows of the page are recorded as read.
        """
        decl = get_layer(layer)
        if self.scope.whole_county:
            page = self.read(layer, bbox=bbox, where=where, window=window)
            return page, self.store.count(layer, where=where, bbox=bbox)
        if len(decl.key) != 1:  # no single key to name the page's rows by: the whole read
            whole = self.read(layer, bbox=bbox, where=where)
            return whole.iloc[window.offset : window.offset + window.limit], len(whole)
        key = decl.key[0]
        keys = self.read(layer, bbox=bbox, where=where, columns=[key])[key]
        chosen = keys.iloc[window.offset : window.offset + window.limit].tolist()
        page = self.read(layer, bbox=bbox, where={**(where or {}), key: chosen})
        return page, len(keys)

    def _shows_residents(self, decl: Layer, columns: Iterable[str]) -> bool:
        present = set(columns)
        return (
            self.scope.residents
            and bool(decl.key)
            and any(f.personal == "resident" and f.name in present for f in decl.fields)
        )


def _area_columns(decl: Layer) -> list[str]:
    names = {f.name for f in decl.fields}
    area = (
        "code", "grid_code", "village_code", "township_code",
        "incident_id", "household_id", "activity_id",
    )  # fmt: skip
    return [c for c in area if c in names]
