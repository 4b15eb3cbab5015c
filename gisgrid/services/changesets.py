"""The planners' change sets: draft, edit (and undo), diff, submit, review, publish.

One change set is one village (its level-1 grid) and one purpose. Its edits are kept as made
(:class:`~gisgrid.stores.changesets.ChangeSetEdit`: what was asked, and the changed grids it
gave); the change set's change is the edits in force — an undo takes back the last one still
in force — combined (:func:`gisgrid.analysis.edits.combine_changes`). Each edit is computed on
the village's grids as the edits before it leave them, and refused (nothing stored) when it
adds a problem by the rules of ``gisgrid check`` (:func:`~gisgrid.analysis.edits.validate_change`).

**No lost update.** A change set remembers the fingerprint of the village's grids it began on
(:func:`village_fingerprint`). Submitting and approving compare it with the village now: a
publication (or an import) meanwhile is a :class:`~gisgrid.errors.ChangeSetConflictError`
naming what changed, and so is another change set of the village under review. Approval
checks the fingerprint again under the store's writer lock, in the publishing transaction.

**Review.** A township officer whose township holds the village, or an admin, approves or
returns a submitted change set; never its author. Approval publishes (:func:`approve`): the
versions are built by the rules of docs/planner.md ("Versions"), and
:meth:`~gisgrid.stores.base.Store.publish_grids` writes them, archives what they supersede and
reassigns the points by the assignment rule, in one transaction.

Who may see a change set is the caller's :class:`~gisgrid.analysis.scope.Scope` (its village
within the area); the web app records each step in the audit log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from gisgrid import codes as gridcodes
from gisgrid import crs as crsmod
from gisgrid.analysis import edits
from gisgrid.analysis.assign import RuleDecision, in_force, local_now, today
from gisgrid.analysis.impact import ChangeImpact, change_impact
from gisgrid.analysis.scope import Scope
from gisgrid.errors import (
    ChangeSetConflictError,
    ConfigError,
    ConflictError,
    EditRefusedError,
    ForbiddenError,
    GridEditError,
    NotFoundError,
)
from gisgrid.layers import ASSIGNED_LAYERS, get_layer
from gisgrid.roles import Role
from gisgrid.settings import CheckSettings
from gisgrid.stores.base import GridCodesWritten, GridPublication, Reader, Store
from gisgrid.stores.changesets import (
    EDITABLE,
    ChangeSet,
    ChangeSetEdit,
    ChangeSetEvent,
    ChangeSetStatus,
    JSONValue,
)
from gisgrid.stores.ledger import Account

#: the edits a change set takes
OPS = ("split", "merge", "reshape", "add", "attributes", "undo")
#: how far (m) a drawn outline is snapped to the neighbours' vertices and edges by default
DEFAULT_SNAP_M = 3.0
#: the status of a change set being reviewed, and those its author may withdraw it from
UNDER_REVIEW: tuple[ChangeSetStatus, ...] = ("submitted",)
WITHDRAWABLE: tuple[ChangeSetStatus, ...] = ("draft", "submitted", "returned")
#: the longest title and note
MAX_TITLE, MAX_NOTE = 200, 4000
#: a retired row of a draft, kept only so that its code is not handed out again
_NEVER = pd.Timestamp("1900-01-01")


# --- the village's grids ------------------------------------------------------------------------


def village_grids(reader: Reader, village_code: str) -> gpd.GeoDataFrame:
    """Every row of the grids layer in ``village_code`` (in force, retired or future)."""
    frame = reader.read("grids", where={"village_code": village_code})
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=crsmod.STORAGE_CRS)


def _text(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    if isinstance(value, pd.Timestamp | dt.date):
        return value.isoformat()[:10]
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


#: what the fingerprint of a grid row is made of, besides its geometry
FINGERPRINT_COLUMNS = (
    "code",
    "version",
    "valid_from",
    "valid_to",
    "name",
    "responsible_name",
    "responsible_phone",
    "responsible_role",
)


def village_fingerprint(grids: pd.DataFrame) -> str:
    """A village's grids as one sha256: any change of a row (its code, version, dates, name,
    responsible person or outline) gives another.

    Parameters
    ----------
    grids
        The village's rows of the grids layer (:func:`village_grids`), in any order.
    """
    digest = hashlib.sha256()
    rows = sorted(
        zip(
            *(grids[c].map(_text) for c in FINGERPRINT_COLUMNS),
            grids.geometry.values,
            strict=True,
        ),
        key=lambda row: (row[0], row[1]),
    )
    for *values, geom in rows:
        digest.update(json.dumps(values, ensure_ascii=False).encode())
        digest.update(b"" if geom is None else shapely.to_wkb(geom, output_dimension=2))
    return digest.hexdigest()


# --- edits as stored --------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def change_text(changed: pd.DataFrame) -> str:
    """An edit's changed grids as stored: a GeoJSON FeatureCollection, coordinates exact
    (shared edges must stay shared when the change is read back)."""
    columns = [c for c in changed.columns if c != "geometry"]
    features = [
        {
            "type": "Feature",
            "geometry": None if geom is None else shapely.geometry.mapping(geom),
            "properties": {k: _plain(v) for k, v in rec.items()},
        }
        for rec, geom in zip(
            changed[columns].to_dict("records"), changed.geometry.values, strict=True
        )
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


def change_frame(text: str, template: pd.DataFrame) -> gpd.GeoDataFrame:
    """A stored edit's changed grids, with the columns and types of ``template`` (a grids
    frame) and :data:`~gisgrid.analysis.edits.CHANGE`."""
    data = json.loads(text) if text else {"features": []}
    columns = [c for c in template.columns if c != "geometry"] + [edits.CHANGE]
    records = [f["properties"] for f in data["features"]]
    geoms = [
        None if f["geometry"] is None else shapely.geometry.shape(f["geometry"])
        for f in data["features"]
    ]
    frame = pd.DataFrame.from_records(records, columns=columns)
    out = gpd.GeoDataFrame(frame, geometry=geoms, crs=crsmod.STORAGE_CRS)
    for col in template.columns:
        if col != "geometry":
            out[col] = out[col].astype(template[col].dtype)
    return out


def _empty_change(template: pd.DataFrame) -> gpd.GeoDataFrame:
    return change_frame("", template)


def effective_edits(all_edits: Sequence[ChangeSetEdit]) -> list[ChangeSetEdit]:
    """The edits in force: each undo takes back the last edit still in force."""
    stack: list[ChangeSetEdit] = []
    for item in all_edits:
        if item.op == "undo":
            if stack:
                stack.pop()
        else:
            stack.append(item)
    return stack


def combined_change(effective: Sequence[ChangeSetEdit], template: pd.DataFrame) -> gpd.GeoDataFrame:
    """The edits in force as one change (the change set's change)."""
    if not effective:
        return _empty_change(template)
    return edits.combine_changes([change_frame(e.result, template) for e in effective])


def grids_after(base: pd.DataFrame, change: pd.DataFrame) -> gpd.GeoDataFrame:
    """The village's grids as ``change`` leaves them; the grids it retires are kept (in force
    on no day) so that their codes are not handed out again."""
    if not len(change):
        return gpd.GeoDataFrame(base, geometry="geometry", crs=crsmod.STORAGE_CRS)
    after = edits.apply_change(base, change)
    retired = set(change.loc[change[edits.CHANGE] == edits.RETIRED, "code"].astype(str))
    kept = base[base["code"].astype(str).isin(retired)].copy()
    kept["valid_from"] = _NEVER
    kept["valid_to"] = _NEVER
    out = pd.concat([after, kept], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=crsmod.STORAGE_CRS)


# --- one change set, read -----------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A change set with its edits, events and change, on the village's grids now.

    Attributes
    ----------
    change_set
        As stored.
    edits, events
        Every edit (undos included) and every step, in order.
    effective
        The edits in force.
    grids
        The village's grids in the store now (every row of the grids layer).
    change
        The edits in force combined (rows with :data:`~gisgrid.analysis.edits.CHANGE`).
    """

    change_set: ChangeSet
    edits: tuple[ChangeSetEdit, ...]
    events: tuple[ChangeSetEvent, ...]
    effective: tuple[ChangeSetEdit, ...]
    grids: gpd.GeoDataFrame
    change: gpd.GeoDataFrame

    @property
    def stale(self) -> bool:
        """Whether the village's grids changed since the change set began (a published or
        withdrawn change set is never stale: it is done)."""
        if self.change_set.status in ("published", "withdrawn"):
            return False
        return village_fingerprint(self.grids) != self.change_set.base


def _get(store: Store, change_set: int, scope: Scope) -> ChangeSet:
    found = store.change_sets.get(change_set)
    if found is None or not scope.covers(found.village_code):
        # outside the area: as if it did not exist
        raise NotFoundError(f"没有变更单 {change_set} / no change set {change_set}")
    return found


def open_draft(store: Store, change_set: int, *, scope: Scope) -> Draft:
    """A change set of the caller's area with its edits and change.

    Raises
    ------
    NotFoundError
        No such change set, or not in the caller's area.
    """
    found = _get(store, change_set, scope)
    all_edits = store.change_sets.edits(found.id)
    effective = effective_edits(all_edits)
    grids = village_grids(store, found.village_code)
    return Draft(
        change_set=found,
        edits=tuple(all_edits),
        events=tuple(store.change_sets.events(found.id)),
        effective=tuple(effective),
        grids=grids,
        change=combined_change(effective, grids),
    )


def list_change_sets(
    store: Store,
    *,
    scope: Scope,
    village: str | None = None,
    status: ChangeSetStatus | None = None,
    limit: int = 200,
) -> list[ChangeSet]:
    """The change sets of the caller's area (of ``village``, in ``status``), newest first."""
    if village is not None:
        scope.require(village)
    found = store.change_sets.find(
        villages=None if village is None else [village],
        statuses=None if status is None else [status],
        limit=limit if scope.whole_county or village is not None else 5000,
    )
    return [cs for cs in found if scope.covers(cs.village_code)][:limit]


# --- beginning and editing ----------------------------------------------------------------------


def begin(
    store: Store,
    *,
    account: Account,
    scope: Scope,
    village_code: str,
    title: str,
    note: str = "",
) -> ChangeSet:
    """A new draft for ``village_code`` by ``account`` (a planner of the area, or an admin).

    Raises
    ------
    ForbiddenError
        The village is outside the caller's area.
    NotFoundError
        No village grid ``village_code`` in force.
    ConfigError
        An empty or too long title, or a too long note.
    """
    if gridcodes.kind_of(village_code) != "village":
        raise ConfigError(f"{village_code} 不是村（社区）编码 / not a village code")
    scope.require(village_code)
    title = " ".join(title.split())
    if not title or len(title) > MAX_TITLE:
        raise ConfigError(f"标题须为 1–{MAX_TITLE} 个字 / a title of 1 to {MAX_TITLE} characters")
    if len(note) > MAX_NOTE:
        raise ConfigError(f"说明最多 {MAX_NOTE} 个字 / a note of at most {MAX_NOTE} characters")
    grids = village_grids(store, village_code)
    if not (in_force(grids)["code"].astype(str) == village_code).any():
        raise NotFoundError(f"没有村级网格 {village_code} / no level-1 grid {village_code}")
    return store.change_sets.create(
        village_code=village_code,
        title=title,
        note=note,
        author=account.username,
        base=village_fingerprint(grids),
    )


def _geometry(params: Mapping[str, JSONValue], name: str) -> shapely.Geometry:
    value = params.get(name)
    if not isinstance(value, dict):
        raise GridEditError(f"缺少 {name}（GeoJSON）/ {name} (GeoJSON) is missing")
    try:
        return shapely.geometry.shape(value)
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        shapely.errors.GEOSException,
    ):
        raise GridEditError(f"{name} 不是有效的 GeoJSON / {name} is not valid GeoJSON") from None


def _code(params: Mapping[str, JSONValue], name: str, village: str) -> str:
    value = params.get(name)
    if not isinstance(value, str):
        raise GridEditError(f"缺少网格编码 {name} / the grid code {name} is missing")
    if not gridcodes.lies_in(value, village):
        raise GridEditError(
            f"网格 {value} 不在本变更单的村 {village} 内 / grid {value} is not in village {village}"
        )
    return value


def _optional_text(params: Mapping[str, JSONValue], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise GridEditError(f"{name} 须为文字 / {name} must be text")
    return value


def _snap_m(params: Mapping[str, JSONValue]) -> float:
    value = params.get("snap_m", DEFAULT_SNAP_M)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 50:
        raise GridEditError("snap_m 须为 0–50 米 / snap_m must be 0 to 50 m")
    return float(value)


def compute_edit(
    grids: pd.DataFrame,
    village: str,
    op: str,
    params: Mapping[str, JSONValue],
    *,
    settings: CheckSettings,
) -> gpd.GeoDataFrame:
    """The changed grids of one edit (not undo) on ``grids`` (the village as the draft's
    edits leave it).

    Raises
    ------
    GridEditError
        An unknown operation, parameters missing or wrong, or the edit cannot be made.
    NotFoundError
        A grid that is not in force.
    """
    if op == "split":
        line = _geometry(params, "line")
        return edits.split_grid(grids, _code(params, "code", village), line, settings=settings)
    if op == "merge":
        codes = params.get("codes")
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise GridEditError("codes 须为网格编码列表 / codes must be a list of grid codes")
        wanted = [_code({"code": c}, "code", village) for c in codes if isinstance(c, str)]
        return edits.merge_grids(grids, wanted, settings=settings)
    if op == "reshape":
        code = _code(params, "code", village)
        drawn = edits.snap(_geometry(params, "geometry"), grids, _snap_m(params), exclude=[code])
        return edits.reshape_grid(grids, code, drawn, settings=settings)
    if op == "add":
        parent = _code(params, "parent_code", village)
        name = _optional_text(params, "name")
        if not name or not name.strip():
            raise GridEditError("新网格须有名称 / the new grid needs a name")
        drawn = edits.snap(_geometry(params, "geometry"), grids, _snap_m(params))
        return edits.add_grid(grids, parent, drawn, name=name, settings=settings)
    if op == "attributes":
        return edits.edit_attributes(
            grids,
            _code(params, "code", village),
            **{a: _optional_text(params, a) for a in edits.EDITABLE_ATTRIBUTES},
        )
    raise GridEditError(f"未知的修改 {op!r} / unknown edit {op!r}: one of {', '.join(OPS)}")


def _problem_key(problem: edits.EditProblem) -> tuple[str, tuple[str, ...]]:
    return problem.kind, problem.codes


def _refused(message: str, problems: Sequence[edits.EditProblem]) -> EditRefusedError:
    return EditRefusedError(message, problems=[p.as_dict() for p in problems])


def _require_author(found: ChangeSet, account: Account) -> None:
    if found.author != account.username:
        raise ForbiddenError(
            f"只有作者 {found.author} 可以修改、提交或撤回变更单 {found.id} / only its author "
            f"{found.author} may edit, submit or withdraw change set {found.id}"
        )


@dataclass(frozen=True)
class EditOutcome:
    """An edit stored: the edit, and the change set's change after it."""

    edit: ChangeSetEdit
    change: gpd.GeoDataFrame


def add_edit(
    store: Store,
    change_set: int,
    *,
    account: Account,
    scope: Scope,
    after: int,
    op: str,
    params: Mapping[str, JSONValue],
    settings: CheckSettings | None = None,
) -> EditOutcome:
    """Make one edit (or undo) in a draft, validate the change it leaves, store it.

    Raises
    ------
    EditRefusedError
        The edit adds problems (each located); nothing was stored.
    GridEditError, NotFoundError
        The edit cannot be made (see :func:`compute_edit`).
    ConflictError
        The change set is not editable, or ``after`` is not its last edit.
    ForbiddenError
        Not its author.
    """
    settings = settings or CheckSettings()
    draft = open_draft(store, change_set, scope=scope)
    found = draft.change_set
    _require_author(found, account)
    if found.status not in EDITABLE:
        raise ChangeSetConflictError(
            f"变更单 {found.id} 状态为 {found.status}，不能修改 / change set {found.id} is "
            f"{found.status}: only a draft or a returned change set takes edits",
            detail={"status": found.status},
        )
    if op == "undo":
        if not draft.effective:
            raise GridEditError("没有可撤销的修改 / there is no edit to undo")
        change = combined_change(draft.effective[:-1], draft.grids)
        result = ""
    else:
        now_grids = grids_after(draft.grids, draft.change)
        made = compute_edit(now_grids, found.village_code, op, params, settings=settings)
        made = made[[*draft.grids.columns, edits.CHANGE]]
        change = edits.combine_changes([draft.change, made]) if len(draft.change) else made
        before = edits.validate_change(draft.grids, draft.change, settings=settings)
        known = {_problem_key(p) for p in before}
        problems = [
            p
            for p in edits.validate_change(draft.grids, change, settings=settings)
            if _problem_key(p) not in known
        ]
        if problems:
            raise _refused(
                f"此修改会带来 {len(problems)} 个问题，未被接受 / the edit would add "
                f"{len(problems)} problem(s); it was not stored",
                problems,
            )
        result = change_text(made)
    stored = store.change_sets.add_edit(
        found.id, after=after, op=op, params=params, result=result, actor=account.username
    )
    return EditOutcome(edit=stored, change=change)


# --- the diff ---------------------------------------------------------------------------------


def village_points(reader: Reader, draft: Draft) -> dict[str, pd.DataFrame]:
    """The points (households, service points, incidents) in the village's bounding box, read
    through ``reader`` (the caller's scope): their keys and places only, so that reading
    them shows no one's record; the caller records the ids it shows."""
    live = in_force(draft.grids)
    outline = live[live["code"].astype(str) == draft.change_set.village_code]
    shapes = list(outline.geometry.values) + list(draft.change.geometry.values)
    x0, y0, x1, y1 = shapely.total_bounds(np.asarray(shapes, dtype=object))
    bbox = (float(x0), float(y0), float(x1), float(y1))
    return {
        layer: reader.read(layer, bbox=bbox, columns=list(get_layer(layer).key))
        for layer in ASSIGNED_LAYERS
    }


def diff(
    draft: Draft, points: Mapping[str, pd.DataFrame], *, settings: CheckSettings | None = None
) -> ChangeImpact:
    """What the draft's change would do (:func:`gisgrid.analysis.impact.change_impact`)."""
    return change_impact(draft.grids, draft.change, points, settings=settings)


# --- moving it through review -------------------------------------------------------------------


def _published_since(store: Store, found: ChangeSet, grids: pd.DataFrame) -> list[dict[str, Any]]:
    """The change sets of the village published after ``found`` began, with their codes."""
    out: list[dict[str, Any]] = []
    for other in store.change_sets.find(villages=[found.village_code], statuses=["published"]):
        if other.id == found.id or other.updated_at < found.created_at:
            continue
        mine = grids["change_set"].astype("Int64") == other.id
        out.append(
            {
                "id": other.id,
                "title": other.title,
                "author": other.author,
                "reviewer": other.reviewer,
                "published_on": None
                if other.published_on is None
                else other.published_on.isoformat(),
                "codes": sorted(grids.loc[mine.fillna(False).to_numpy(bool), "code"].astype(str)),
            }
        )
    return out


def _pending(store: Store, found: ChangeSet) -> list[dict[str, Any]]:
    return [
        {"id": o.id, "title": o.title, "author": o.author, "since": o.updated_at.isoformat()}
        for o in store.change_sets.find(villages=[found.village_code], statuses=["submitted"])
        if o.id != found.id
    ]


def _stale_conflict(store: Store, found: ChangeSet, grids: pd.DataFrame) -> ChangeSetConflictError:
    since = _published_since(store, found, grids)
    names = "、".join(f"#{c['id']}" for c in since) or "导入或其他工具"
    return ChangeSetConflictError(
        f"村 {found.village_code} 的网格在本变更单开始后已被修改（{names}），请重新起草 / "
        f"the grids of village {found.village_code} changed since change set {found.id} "
        f"began ({', '.join(str(c['id']) for c in since) or 'an import or another tool'}): "
        "begin a new draft on the grids as they are now",
        detail={"changed_since": since, "pending": _pending(store, found)},
    )


def submit(
    store: Store,
    change_set: int,
    *,
    account: Account,
    scope: Scope,
    settings: CheckSettings | None = None,
) -> ChangeSet:
    """Send a draft (or a returned change set) to review.

    Raises
    ------
    ChangeSetConflictError
        The village changed since the draft began, or another change set of it is under
        review (the store holds that rule atomically too).
    EditRefusedError
        The change adds problems on the grids as they are now.
    GridEditError
        It holds no edit.
    ForbiddenError
        Not its author.
    """
    draft = open_draft(store, change_set, scope=scope)
    found = draft.change_set
    _require_author(found, account)
    if not len(draft.change):
        raise GridEditError(f"变更单 {found.id} 没有任何修改 / change set {found.id} holds no edit")
    if draft.stale:
        raise _stale_conflict(store, found, draft.grids)
    pending = _pending(store, found)
    if pending:
        raise ChangeSetConflictError(
            f"村 {found.village_code} 已有变更单 #{pending[0]['id']} 在审核中 / change set "
            f"{pending[0]['id']} of village {found.village_code} is under review: one at a time",
            detail={"changed_since": [], "pending": pending},
        )
    problems = edits.validate_change(draft.grids, draft.change, settings=settings)
    if problems:
        raise _refused(
            f"变更单有 {len(problems)} 个问题，不能提交 / the change set has "
            f"{len(problems)} problem(s): it cannot be submitted",
            problems,
        )
    try:
        return store.change_sets.move(
            found.id,
            from_statuses=EDITABLE,
            to="submitted",
            actor=account.username,
            action="submitted",
        )
    except ChangeSetConflictError:
        raise
    except ConflictError as exc:  # another one submitted meanwhile, or moved: the store's word
        raise ChangeSetConflictError(
            str(exc), detail={"changed_since": [], "pending": _pending(store, found)}
        ) from None


def may_review(found: ChangeSet, account: Account, scope: Scope) -> bool:
    """Whether ``account`` may approve or return ``found`` (see :func:`approve`)."""
    try:
        _require_reviewer(found, account, scope)
    except ForbiddenError:
        return False
    return True


def _require_reviewer(found: ChangeSet, account: Account, scope: Scope) -> None:
    if found.author == account.username:
        raise ForbiddenError(
            f"作者不能审核自己的变更单 {found.id} / the author may not review change set "
            f"{found.id}: another reviewer must"
        )
    role = scope.role.role
    if role is Role.ADMIN:
        return
    if role is Role.TOWNSHIP and scope.covers(found.village_code):
        return
    raise ForbiddenError(
        f"只有所在乡镇的乡镇干部或系统管理员可以审核变更单 {found.id} / only a township officer "
        f"of the village's township or an admin may review change set {found.id}"
    )


def publication(
    draft: Draft, *, actor: str, published_on: dt.date, now: dt.datetime
) -> GridPublication:
    """The new grid versions of an approved change set and the versions they supersede.

    Reshaped or edited grid (version *n*): archived with ``valid_to`` = ``published_on``; the
    new row is version *n* + 1 from ``published_on``, its lineage unchanged. Retired grid:
    archived the same way; its row in grids becomes version *n* + 1 with ``valid_from`` =
    ``valid_to`` = ``published_on`` (in force on no day: the record of its end). New grid:
    version 1 from ``published_on``, lineage from the edit. Every new row names the change set.
    """
    cs = draft.change_set
    day = pd.Timestamp(published_on)
    stored = draft.grids.set_index(draft.grids["code"].astype(str), drop=False)
    new_rows: list[pd.Series] = []
    archive: list[dict[str, Any]] = []
    for _, row in draft.change.iterrows():
        code, change = str(row["code"]), str(row[edits.CHANGE])
        if change == edits.ADDED:
            fresh = row.drop(labels=[edits.CHANGE]).copy()
            fresh["version"], fresh["valid_from"], fresh["valid_to"] = 1, day, pd.NaT
            fresh["change_set"] = cs.id
            new_rows.append(fresh)
            continue
        old = stored.loc[code]
        version = 1 if pd.isna(old["version"]) else int(old["version"])
        was = old.to_dict()
        was.update(valid_to=day, superseded_at=pd.Timestamp(now), superseded_by=cs.id)
        was["version"] = version
        archive.append(was)
        if change == edits.RETIRED:
            fresh = old.copy()
            fresh["valid_from"], fresh["valid_to"] = day, day
        else:
            fresh = row.drop(labels=[edits.CHANGE]).copy()
            fresh["valid_from"], fresh["valid_to"] = day, pd.NaT
            fresh["derived_from"] = old["derived_from"]
        fresh["version"], fresh["change_set"] = version + 1, cs.id
        new_rows.append(fresh)
    grids_decl, versions_decl = get_layer("grids"), get_layer("grid_versions")
    grids_frame = gpd.GeoDataFrame(
        pd.DataFrame(new_rows).reset_index(drop=True), geometry="geometry", crs=crsmod.STORAGE_CRS
    )
    archive_frame = gpd.GeoDataFrame(
        pd.DataFrame.from_records(archive), geometry="geometry", crs=crsmod.STORAGE_CRS
    )
    return GridPublication(
        grids=grids_decl.validate(grids_frame),
        archive=versions_decl.validate(archive_frame),
        change_set=cs.id,
        actor=actor,
        published_on=published_on,
    )


@dataclass(frozen=True)
class Published:
    """An approved change set, published: the change set and what the reassignment wrote."""

    change_set: ChangeSet
    written: GridCodesWritten
    published_on: dt.date


def approve(
    store: Store,
    change_set: int,
    *,
    account: Account,
    scope: Scope,
    settings: CheckSettings | None = None,
    published_on: dt.date | None = None,
) -> Published:
    """Approve a submitted change set: publish its grids and reassign the points, at once.

    Raises
    ------
    ForbiddenError
        The author, or not a reviewer of the village.
    ChangeSetConflictError
        The village changed since the draft began (checked again under the writer lock).
    EditRefusedError
        The change adds problems on the grids as they are now.
    ConflictError
        It is not submitted (any more).
    """
    draft = open_draft(store, change_set, scope=scope)
    found = draft.change_set
    _require_reviewer(found, account, scope)
    if found.status != "submitted":
        raise ChangeSetConflictError(
            f"变更单 {found.id} 状态为 {found.status}，不在审核中 / change set {found.id} is "
            f"{found.status}, not submitted",
            detail={"status": found.status},
        )
    if draft.stale:
        raise _stale_conflict(store, found, draft.grids)
    problems = edits.validate_change(draft.grids, draft.change, settings=settings)
    if problems:
        raise _refused(
            f"变更单有 {len(problems)} 个问题，不能发布 / the change set has {len(problems)} "
            "problem(s) on the grids as they are now: it cannot be published",
            problems,
        )
    day = published_on or today()
    pub = publication(draft, actor=account.username, published_on=day, now=local_now())

    def village_unchanged(current: Store) -> None:
        grids = village_grids(current, found.village_code)
        if village_fingerprint(grids) != found.base:
            raise _stale_conflict(current, found, grids)

    present = set(store.layer_names())
    written = store.publish_grids(
        pub,
        RuleDecision(store.url, as_of=day),
        check=village_unchanged,
        layers=[name for name in ASSIGNED_LAYERS if name in present],
    )
    after = store.change_sets.get(found.id)
    return Published(change_set=after or found, written=written, published_on=day)


def return_to_author(
    store: Store, change_set: int, *, account: Account, scope: Scope, comment: str
) -> ChangeSet:
    """Send a submitted change set back to its author with a comment (editable again).

    Raises
    ------
    ConfigError
        No comment.
    ForbiddenError
        The author, or not a reviewer of the village.
    """
    found = _get(store, change_set, scope)
    _require_reviewer(found, account, scope)
    comment = comment.strip()
    if not comment:
        raise ConfigError("退回须写明理由 / a return needs a comment")
    return store.change_sets.move(
        found.id,
        from_statuses=UNDER_REVIEW,
        to="returned",
        actor=account.username,
        action="returned",
        comment=comment[:MAX_NOTE],
    )


def withdraw(store: Store, change_set: int, *, account: Account, scope: Scope) -> ChangeSet:
    """Give a change set up (its author; not once published)."""
    found = _get(store, change_set, scope)
    _require_author(found, account)
    return store.change_sets.move(
        found.id,
        from_statuses=WITHDRAWABLE,
        to="withdrawn",
        actor=account.username,
        action="withdrawn",
    )


__all__ = [
    "DEFAULT_SNAP_M",
    "OPS",
    "Draft",
    "EditOutcome",
    "Published",
    "add_edit",
    "approve",
    "begin",
    "change_frame",
    "change_text",
    "combined_change",
    "compute_edit",
    "diff",
    "effective_edits",
    "grids_after",
    "list_change_sets",
    "open_draft",
    "publication",
    "return_to_author",
    "submit",
    "village_fingerprint",
    "village_grids",
    "village_points",
    "withdraw",
]
