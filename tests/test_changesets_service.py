"""The change-set workflow (gisgrid.services.changesets) on the little county's GeoPackage.

Village ``V1``: level-2 grids ``001`` (west) and ``002`` (east), each cut into a north and a
south level-3 grid (see conftest). The publication itself (approve) is tested through the
web app in tests/test_changesets_api.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest
import shapely
from conftest import LEVEL2_BOXES, LEVEL3_BOXES, V1
from shapely.geometry import box, mapping

from gisgrid import codes
from gisgrid.analysis import edits
from gisgrid.analysis.scope import Scope, scope_of
from gisgrid.errors import (
    ChangeSetConflictError,
    ConfigError,
    ConflictError,
    EditRefusedError,
    ForbiddenError,
    GridEditError,
    NotFoundError,
)
from gisgrid.roles import ROLES, Role
from gisgrid.services import accounts
from gisgrid.services import changesets as cs
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.ledger import Account

NW, SW, NE, SE = LEVEL3_BOXES
W2, E2 = LEVEL2_BOXES
TOWNSHIP = codes.township_of(V1)
#: a north-south cut through the north-west grid
CUT = {"type": "LineString", "coordinates": [[112.44, 29.71], [112.44, 29.59]]}


def person(store: GeoPackageStore, role: str, area: str, name: str) -> tuple[Account, Scope]:
    account = accounts.add_account(
        store.ledger,
        username=name,
        display_name=name,
        role=Role(role),
        area=area,
        password=accounts.generate_password(),
        actor="test",
    )
    return account, scope_of(account, ROLES[account.role], by_phone={})


@pytest.fixture
def store(filled_store: GeoPackageStore) -> GeoPackageStore:
    return filled_store


@pytest.fixture
def planner(store: GeoPackageStore) -> tuple[Account, Scope]:
    return person(store, "planner", TOWNSHIP, "planner-a")


def split_nw(
    store: GeoPackageStore, who: tuple[Account, Scope], change_set: int, after: int
) -> Any:
    return cs.add_edit(
        store,
        change_set,
        account=who[0],
        scope=who[1],
        after=after,
        op="split",
        params={"code": NW, "line": CUT},
    )


def test_begin_edit_undo(store: GeoPackageStore, planner: tuple[Account, Scope]) -> None:
    account, scope = planner
    draft = cs.begin(store, account=account, scope=scope, village_code=V1, title="拆分西北组")
    assert (draft.status, draft.author, draft.edits) == ("draft", "planner-a", 0)
    assert draft.base == cs.village_fingerprint(cs.village_grids(store, V1))
    outcome = split_nw(store, planner, draft.id, 0)
    assert outcome.edit.seq == 1
    states = dict(zip(outcome.change["code"], outcome.change[edits.CHANGE], strict=True))
    assert states == {NW: "retired", V1 + "001003": "added", V1 + "001004": "added"}
    # the stored result reads back exactly (shared edges stay shared)
    opened = cs.open_draft(store, draft.id, scope=scope)
    assert len(opened.change) == 3
    for code in (V1 + "001003", V1 + "001004"):
        mine = outcome.change.set_index("code").geometry[code]
        assert opened.change.set_index("code").geometry[code].equals_exact(mine, 0)
    # a second edit on the draft's state: rename one piece
    renamed = cs.add_edit(
        store,
        draft.id,
        account=account,
        scope=scope,
        after=1,
        op="attributes",
        params={"code": V1 + "001003", "name": "西北甲"},
    )
    assert renamed.change.set_index("code").loc[V1 + "001003", "name"] == "西北甲"
    # undo pops the last edit in force, then the one before it
    cs.add_edit(store, draft.id, account=account, scope=scope, after=2, op="undo", params={})
    opened = cs.open_draft(store, draft.id, scope=scope)
    assert [e.op for e in opened.edits] == ["split", "attributes", "undo"]
    assert [e.op for e in opened.effective] == ["split"]
    assert opened.change.set_index("code").loc[V1 + "001003", "name"] != "西北甲"
    cs.add_edit(store, draft.id, account=account, scope=scope, after=3, op="undo", params={})
    assert len(cs.open_draft(store, draft.id, scope=scope).change) == 0
    with pytest.raises(GridEditError, match="undo"):
        cs.add_edit(store, draft.id, account=account, scope=scope, after=4, op="undo", params={})
    # a stale "after" (another tab added an edit meanwhile) is a conflict
    with pytest.raises(ConflictError):
        split_nw(store, planner, draft.id, 1)


def test_an_edit_adding_problems_is_refused_with_them_located(
    store: GeoPackageStore, planner: tuple[Account, Scope]
) -> None:
    account, scope = planner
    draft = cs.begin(store, account=account, scope=scope, village_code=V1, title="西片扩大")
    # the west level-2 grid takes 0.025° of the east one, its children do not follow
    grown = box(112.40, 29.50, 112.50, 29.70)
    with pytest.raises(EditRefusedError) as refused:
        cs.add_edit(
            store,
            draft.id,
            account=account,
            scope=scope,
            after=0,
            op="reshape",
            params={"code": W2, "geometry": mapping(grown), "snap_m": 0},
        )
    kinds = {(p["kind"], tuple(p["codes"])) for p in refused.value.problems}
    assert ("gap", (W2,)) in kinds
    assert ("outside_parent", (NE,)) in kinds or ("outside_parent", (SE,)) in kinds
    assert all(p["geometry"] and p["message_zh"] for p in refused.value.problems)
    assert store.change_sets.get(draft.id).edits == 0  # nothing stored
    with pytest.raises(GridEditError, match="responsible_phone"):
        cs.add_edit(
            store,
            draft.id,
            account=account,
            scope=scope,
            after=0,
            op="attributes",
            params={"code": NW, "responsible_phone": "12345"},
        )
    with pytest.raises(GridEditError, match="not in village"):
        cs.add_edit(
            store,
            draft.id,
            account=account,
            scope=scope,
            after=0,
            op="merge",
            params={"codes": [NW, "430623901002001001"]},
        )


def test_scope_author_and_reviewer_rules(
    store: GeoPackageStore, planner: tuple[Account, Scope]
) -> None:
    account, scope = planner
    elsewhere = person(store, "planner", "430623902", "planner-far")
    with pytest.raises(ForbiddenError):
        cs.begin(store, account=elsewhere[0], scope=elsewhere[1], village_code=V1, title="x")
    draft = cs.begin(store, account=account, scope=scope, village_code=V1, title="拆分")
    with pytest.raises(NotFoundError):  # outside the area: as if it did not exist
        cs.open_draft(store, draft.id, scope=elsewhere[1])
    colleague = person(store, "planner", TOWNSHIP, "planner-b")
    with pytest.raises(ForbiddenError, match="author"):  # only the author edits
        split_nw(store, colleague, draft.id, 0)
    split_nw(store, planner, draft.id, 0)
    cs.submit(store, draft.id, account=account, scope=scope)
    officer = person(store, "township", TOWNSHIP, "officer")
    other_officer = person(store, "township", "430623902", "officer-far")
    for who, error in (
        (planner, ForbiddenError),  # the author
        (colleague, ForbiddenError),  # a planner is no reviewer
        (other_officer, NotFoundError),  # another township's officer does not see it
    ):
        with pytest.raises(error):
            cs.return_to_author(store, draft.id, account=who[0], scope=who[1], comment="再看看")
    with pytest.raises(ConfigError):
        cs.return_to_author(store, draft.id, account=officer[0], scope=officer[1], comment=" ")
    back = cs.return_to_author(
        store, draft.id, account=officer[0], scope=officer[1], comment="请补充说明"
    )
    assert (back.status, back.reviewer, back.comment) == ("returned", "officer", "请补充说明")
    # an admin who authored a change set may not approve it either
    admin = person(store, "admin", "430623", "admin-x")
    own = cs.begin(store, account=admin[0], scope=admin[1], village_code=V1, title="管理员")
    with pytest.raises(ForbiddenError, match="author"):
        cs.approve(store, own.id, account=admin[0], scope=admin[1])
    gone = cs.withdraw(store, draft.id, account=account, scope=scope)
    assert gone.status == "withdrawn"
    actions = [e.action for e in store.change_sets.events(draft.id)]
    assert actions == ["created", "edited", "submitted", "returned", "withdrawn"]


def test_two_planners_on_one_village_the_second_submit_is_a_conflict(
    store: GeoPackageStore, planner: tuple[Account, Scope]
) -> None:
    other = person(store, "planner", TOWNSHIP, "planner-b")
    first = cs.begin(store, account=planner[0], scope=planner[1], village_code=V1, title="一")
    second = cs.begin(store, account=other[0], scope=other[1], village_code=V1, title="二")
    split_nw(store, planner, first.id, 0)
    cs.add_edit(
        store,
        second.id,
        account=other[0],
        scope=other[1],
        after=0,
        op="merge",
        params={"codes": [NE, SE]},
    )
    assert cs.submit(store, first.id, account=planner[0], scope=planner[1]).status == "submitted"
    with pytest.raises(ChangeSetConflictError) as conflict:
        cs.submit(store, second.id, account=other[0], scope=other[1])
    assert [p["id"] for p in conflict.value.detail["pending"]] == [first.id]
    assert store.change_sets.get(second.id).status == "draft"


def test_a_village_changed_since_the_draft_began_is_a_conflict(
    store: GeoPackageStore, planner: tuple[Account, Scope]
) -> None:
    draft = cs.begin(store, account=planner[0], scope=planner[1], village_code=V1, title="一")
    split_nw(store, planner, draft.id, 0)
    grids = store.read("grids")
    grids.loc[grids["code"] == SE, "name"] = "改过的名字"  # an import meanwhile
    store.write({"grids": grids})
    with pytest.raises(ChangeSetConflictError, match="changed since") as conflict:
        cs.submit(store, draft.id, account=planner[0], scope=planner[1])
    assert conflict.value.detail == {"changed_since": [], "pending": []}


def test_publication_follows_the_versioning_rules(
    store: GeoPackageStore, planner: tuple[Account, Scope]
) -> None:
    account, scope = planner
    draft = cs.begin(store, account=account, scope=scope, village_code=V1, title="一")
    split_nw(store, planner, draft.id, 0)
    # the south-west grid gets a new responsible person (an attribute edit: a new version)
    cs.add_edit(
        store,
        draft.id,
        account=account,
        scope=scope,
        after=1,
        op="attributes",
        params={"code": SW, "responsible_name": "吴测试", "responsible_phone": "13900000077"},
    )
    opened = cs.open_draft(store, draft.id, scope=scope)
    day, now = dt.date(2026, 12, 1), dt.datetime(2026, 11, 30, 10, 0)
    pub = cs.publication(opened, actor="officer", published_on=day, now=now)
    rows = pub.grids.set_index("code")
    stamp = pd.Timestamp(day)
    # the split grid (stored as version 2 in the fixture): its retirement is version 3,
    # in force on no day; version 2 is archived, ending on the day
    assert rows.loc[NW, ["version", "change_set"]].tolist() == [3, draft.id]
    assert rows.loc[NW, "valid_from"] == rows.loc[NW, "valid_to"] == stamp
    west, east = V1 + "001003", V1 + "001004"
    for piece in (west, east):
        assert rows.loc[piece, ["version", "derived_from", "change_set"]].tolist() == [
            1,
            NW,
            draft.id,
        ]
        assert rows.loc[piece, "valid_from"] == stamp and pd.isna(rows.loc[piece, "valid_to"])
    assert rows.loc[SW, "version"] == 2 and rows.loc[SW, "valid_from"] == stamp
    assert rows.loc[SW, "responsible_name"] == "吴测试"
    archived = pub.archive.set_index("code")
    assert sorted(archived.index) == sorted({NW, SW} | set(rows.index) - {west, east})
    assert archived.loc[NW, "version"] == 2 and archived.loc[SW, "version"] == 1
    assert (archived["valid_to"] == stamp).all()
    assert (archived["superseded_by"] == draft.id).all()
    assert (archived["superseded_at"] == pd.Timestamp(now)).all()
    # the archived rows are the stored ones otherwise
    stored = store.read("grids").set_index("code")
    assert shapely.equals(archived.geometry[SW], stored.geometry[SW])
    assert archived.loc[SW, "responsible_name"] == stored.loc[SW, "responsible_name"]
