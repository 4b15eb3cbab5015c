"""The JSON the API answers with, as pydantic models: the analysis returns typed results,
these models say how they look on the wire (and in the OpenAPI schema).

Each model reads the fields it publishes from the analysis result's attributes
(``from_attributes``: no field is copied by hand, and a field the model does not declare is
never sent); ``of(...)`` builds the whole answer from the result
(:class:`~gisgrid.analysis.locate.Location`, :class:`~gisgrid.analysis.households.HouseholdDetail`,
…). Routes answer ``Model.of(result).model_dump()`` and stay thin.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from gisgrid.analysis.cases import Action
from gisgrid.analysis.households import HouseholdDetail, HouseholdSummary, SearchResult
from gisgrid.analysis.locate import GridPerson, Location, NearestService
from gisgrid.layers import kinds
from gisgrid.layers.case_steps import MAX_STEP_PHOTOS
from gisgrid.roles import ROLES, Role
from gisgrid.services.accounts import (
    MAX_NAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    USERNAME_PATTERN,
    TokenState,
)
from gisgrid.stores.changesets import ChangeSetStatus
from gisgrid.stores.ledger import Account, AuditRecord, TokenRecord
from gisgrid.stores.photos import SHA256_PATTERN


class FromResult(BaseModel):
    """A model filled from an analysis result's attributes."""

    model_config = ConfigDict(from_attributes=True)


class LonLat(BaseModel):
    lon: float
    lat: float


class LocateInput(LonLat):
    crs: str = Field(description="the CRS the point was given in")


class TownshipOut(FromResult):
    code: str
    name: str


class VillageOut(FromResult):
    code: str
    name: str
    kind: str


class GridPersonOut(FromResult):
    """A grid and its responsible person."""

    code: str
    level: int
    name: str
    responsible_name: str | None
    responsible_phone: str | None
    responsible_role: str | None

    @classmethod
    def of(cls, grid: GridPerson | None) -> GridPersonOut | None:
        return None if grid is None else cls.model_validate(grid)


class GridOut(FromResult):
    """A household's level-3 grid: its place in the tree and its responsible person."""

    code: str
    name: str
    level: int
    parent_code: str | None
    village_code: str
    responsible_name: str | None
    responsible_phone: str | None
    responsible_role: str | None

    @classmethod
    def of(cls, grid: GridPerson | None) -> GridOut | None:
        return None if grid is None else cls.model_validate(grid)


class GridsOut(BaseModel):
    level1: GridPersonOut | None
    level2: GridPersonOut | None
    level3: GridPersonOut | None


class NearestServiceOut(FromResult):
    id: str
    name: str
    watcher: str | None
    distance_m: float
    lon: float
    lat: float

    @classmethod
    def by_kind(cls, services: tuple[NearestService, ...]) -> dict[str, NearestServiceOut]:
        return {s.kind: cls.model_validate(s) for s in services}


class LocateResponse(BaseModel):
    """Where a point is: township, village, grids with responsible persons, nearest services."""

    input: LocateInput
    wgs84: LonLat
    township: TownshipOut | None
    village: VillageOut | None
    grids: GridsOut
    in_grid: bool
    nearest_service_points: dict[str, NearestServiceOut] = Field(
        description="the nearest service point of each kind, by kind"
    )

    @classmethod
    def of(cls, where: Location) -> LocateResponse:
        return cls(
            input=LocateInput(lon=where.lon, lat=where.lat, crs=where.crs),
            wgs84=LonLat(lon=where.wgs84_lon, lat=where.wgs84_lat),
            township=None if where.township is None else TownshipOut.model_validate(where.township),
            village=None if where.village is None else VillageOut.model_validate(where.village),
            grids=GridsOut(
                level1=GridPersonOut.of(where.level1),
                level2=GridPersonOut.of(where.level2),
                level3=GridPersonOut.of(where.level3),
            ),
            in_grid=where.in_grid,
            nearest_service_points=NearestServiceOut.by_kind(where.nearest_services),
        )


class HouseholdOut(FromResult):
    """What the finder shows of a household (no more: households are personal information)."""

    id: str
    head_name: str | None
    house_number: str | None
    village_code: str | None
    members: int | None
    elderly: int | None
    party_member: bool | None
    backbone: bool | None
    backbone_id: str | None
    grid_code: str | None = Field(description="the level-3 grid covering the household now")
    lon: float
    lat: float

    @classmethod
    def of(cls, household: HouseholdSummary) -> HouseholdOut:
        return cls.model_validate(household)


class SearchHitOut(HouseholdOut):
    score: int = Field(description="100 the id, 95 the whole name or number, … 40 fuzzy")


class SearchResponse(BaseModel):
    query: str
    results: list[SearchHitOut]

    @classmethod
    def of(cls, result: SearchResult) -> SearchResponse:
        return cls(
            query=result.query,
            results=[
                SearchHitOut(**HouseholdOut.of(hit.household).model_dump(), score=hit.score)
                for hit in result.hits
            ],
        )


class HouseholdResponse(BaseModel):
    """One household, its grid and responsible person, its backbone link, nearest services."""

    household: HouseholdOut
    grid: GridOut | None
    backbone: HouseholdOut | None
    linked_households: list[HouseholdOut]
    nearest_service_points: dict[str, NearestServiceOut]

    @classmethod
    def of(cls, detail: HouseholdDetail) -> HouseholdResponse:
        return cls(
            household=HouseholdOut.of(detail.household),
            grid=GridOut.of(detail.grid),
            backbone=None if detail.backbone is None else HouseholdOut.of(detail.backbone),
            linked_households=[HouseholdOut.of(h) for h in detail.linked_households],
            nearest_service_points=NearestServiceOut.by_kind(detail.nearest_services),
        )


# --- accounts, API tokens and the audit log (never a password hash, a token hash or value
# --- except the one answer that creates it) -----------------------------------------------

#: an area code as accounts take it (empty: a grid worker linked to grids by phone)
AREA_PATTERN = r"^(\d{6}|\d{9}|\d{12}|\d{15}|\d{18})?$"


class AccountOut(FromResult):
    """An account as the admin sees it (its password hash is never sent)."""

    username: str
    display_name: str
    role: Role
    area: str = Field(description="county, township, village or grid code ('': by phone)")
    phone: str | None = Field(description="a grid worker's phone linking them to their grids")
    disabled: bool
    created_at: dt.datetime
    password_changed_at: dt.datetime

    @computed_field(description="the role in Chinese")  # type: ignore[prop-decorator]
    @property
    def role_zh(self) -> str:
        return ROLES[self.role].label_zh

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls.model_validate(account)


class NewAccountIn(BaseModel):
    """An account to add. Without ``password`` one is generated and answered once."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=f"^{USERNAME_PATTERN}$")
    display_name: str = Field("", max_length=MAX_NAME_LENGTH, description="default: the username")
    role: Role
    area: str = Field("", pattern=AREA_PATTERN)
    phone: str | None = Field(None, max_length=30)
    password: str | None = Field(None, max_length=MAX_PASSWORD_LENGTH)


class AccountChangeIn(BaseModel):
    """What to change of an account: role and area (its sessions end), phone, disabled.

    ``role`` or ``area`` alone keeps the other; ``phone`` ``""`` removes a grid worker's
    phone link, absent keeps it.
    """

    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    area: str | None = Field(None, pattern=AREA_PATTERN)
    phone: str | None = Field(None, max_length=30)
    disabled: bool | None = None


class PasswordResetIn(BaseModel):
    """A new password; without one a password is generated and answered once."""

    model_config = ConfigDict(extra="forbid")
    password: str | None = Field(None, max_length=MAX_PASSWORD_LENGTH)


class AccountPasswordOut(BaseModel):
    """An account just added or given a new password, with the password when it was
    generated (shown this once: it is stored only hashed)."""

    account: AccountOut
    password: str | None = Field(description="the generated password, only in this answer")


class TokenOut(FromResult):
    """An API token's record: never its value (only its first characters) nor its hash."""

    id: int
    username: str = Field(description="the account the token acts as")
    name: str
    prefix: str = Field(description="the first characters of the value, to tell tokens apart")
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    state: TokenState

    @classmethod
    def of(cls, token: TokenRecord, *, username: str, state: TokenState) -> TokenOut:
        return cls(
            id=token.id,
            username=username,
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
            state=state,
        )


class NewTokenIn(BaseModel):
    """A token to create for oneself."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, description="what it is for")
    days: int | None = Field(
        None, ge=0, le=3650, description="days it lasts, 0 for no end (default: the setting)"
    )


class TokenCreatedOut(BaseModel):
    """A new token: its record and its value, in this answer only."""

    token: TokenOut
    value: str = Field(description="the token (Authorization: Bearer …): shown only this once")


class AuditOut(BaseModel):
    """One line of the audit log."""

    id: int
    at: dt.datetime
    action: str
    outcome: Literal["ok", "denied", "failed"]
    actor: str | None
    role: str | None
    address: str | None
    target: str | None
    reason: str | None
    detail: dict[str, object]

    @classmethod
    def of(cls, record: AuditRecord) -> AuditOut:
        e = record.entry
        return cls(
            id=record.id,
            at=e.at,
            action=e.action,
            outcome=e.outcome,
            actor=e.actor,
            role=e.role,
            address=e.address,
            target=e.target,
            reason=e.reason,
            detail=dict(e.detail),
        )


class AuditPageOut(BaseModel):
    """A page of the audit log, newest first."""

    entries: list[AuditOut]
    older: int | None = Field(
        description="ask again with before_id set to this for the older entries (none: the end)"
    )


# --- change sets ------------------------------------------------------------------------------

#: a grid code of a village's grids (levels 1-3)
GRID_CODE = r"^\d{12}(\d{3}){0,2}$"


class NewChangeSetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    village_code: str = Field(pattern=r"^\d{12}$", description="the village (level-1 grid)")
    title: str = Field(min_length=1, max_length=200)
    note: str = Field("", max_length=4000)


class ChangeSetOut(FromResult):
    """A change set as stored (see :class:`gisgrid.stores.changesets.ChangeSet`)."""

    id: int
    village_code: str
    title: str
    note: str
    author: str
    status: ChangeSetStatus
    base: str
    edits: int
    created_at: dt.datetime
    updated_at: dt.datetime
    reviewer: str | None
    comment: str | None
    published_on: dt.date | None


class ChangeSetListOut(BaseModel):
    change_sets: list[ChangeSetOut]


class EditOut(FromResult):
    """One edit as made (``params`` as asked); ``result`` is left out (see ``features``)."""

    change_set: int
    seq: int
    op: str
    params: dict[str, object]
    actor: str
    at: dt.datetime


class EventOut(FromResult):
    change_set: int
    at: dt.datetime
    actor: str
    action: str
    comment: str | None


class EditIn(BaseModel):
    """One edit: ``op`` and its parameters (GeoJSON geometries in lon/lat).

    ``split``: code, line · ``merge``: codes · ``reshape``: code, geometry, snap_m ·
    ``add``: parent_code, geometry, name, snap_m · ``attributes``: code and any of name,
    responsible_name, responsible_phone, responsible_role (empty text clears) · ``undo``.
    """

    model_config = ConfigDict(extra="forbid")
    after: int = Field(ge=0, description="the number of the change set's last edit")
    op: Literal["split", "merge", "reshape", "add", "attributes", "undo"]
    code: str | None = Field(None, pattern=GRID_CODE)
    codes: list[str] | None = Field(None, min_length=2, max_length=50)
    parent_code: str | None = Field(None, pattern=GRID_CODE)
    line: dict[str, object] | None = Field(None, description="GeoJSON LineString")
    geometry: dict[str, object] | None = Field(None, description="GeoJSON Polygon")
    snap_m: float | None = Field(None, ge=0, le=50, description="snapping distance (m), default 3")
    name: str | None = Field(None, max_length=200)
    responsible_name: str | None = Field(None, max_length=64)
    responsible_phone: str | None = Field(None, max_length=20)
    responsible_role: str | None = Field(None, max_length=64)

    def params(self) -> dict[str, object]:
        """The parameters as stored with the edit (what was asked, nothing more)."""
        return self.model_dump(exclude={"after", "op"}, exclude_none=True)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(None, max_length=4000)


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(min_length=1, max_length=4000)


class CaseStepRequest(BaseModel):
    """The next step of a case (:mod:`gisgrid.analysis.cases` says which are possible)."""

    model_config = ConfigDict(extra="forbid")
    action: Action
    note: str = Field("", max_length=2000, description="what was done or why")
    assignee: str | None = Field(
        None, max_length=64, description="dispatch, redispatch: the account it goes to"
    )
    after: int | None = Field(
        None, ge=0, description="the number of steps seen: a step taken meanwhile is a 409"
    )
    photos: list[Annotated[str, Field(pattern=rf"^{SHA256_PATTERN}$")]] = Field(
        default_factory=list,
        max_length=MAX_STEP_PHOTOS,
        description=(
            "the SHA-256 of photos uploaded for this incident before "
            "(POST /api/incidents/{incident_id}/photos)"
        ),
    )


class PhotoOut(BaseModel):
    """A photo stored with a case."""

    sha256: str
    media_type: str
    size: int = Field(description="bytes")
    url: str = Field(description="where it is read (household records needed)")


class CaseStepPhoto(BaseModel):
    sha256: str
    url: str


class CaseStep(BaseModel):
    action: str
    actor: str
    #: how the actor is shown when it is no account (``public``: 群众上报)
    actor_zh: str | None = None
    at: str
    note: str | None
    assignee: str | None
    photos: list[CaseStepPhoto] = Field(
        description="photos taken with the step (empty for roles without household records)"
    )


class PublicReportOut(BaseModel):
    """What a resident's report (群众上报) adds to its case: the phone they left (masked for
    roles without household records)."""

    contact_phone: str | None


class Assignee(BaseModel):
    """An account a case may be dispatched to."""

    username: str
    display_name: str
    role: str
    role_zh: str
    area: str
    area_name: str | None
    level: str = Field(description="grid, village or township: how near the case")


class AssigneesResponse(BaseModel):
    """Who a case may be dispatched to, nearest level first."""

    incident_id: str
    assignees: list[Assignee]


class CaseAction(BaseModel):
    action: str
    label_zh: str


class CaseResponse(BaseModel):
    """An incident's case as the caller sees it."""

    incident: dict[str, Any]
    stage: str
    stage_zh: str
    assignee: str | None
    steps: list[CaseStep]
    allowed: list[CaseAction]
    due: str | None = Field(description="when the stage's time limit runs out, local time")
    overdue: bool
    escalated_to: str = Field(description="grid, village, township or county")
    public_report: PublicReportOut | None = Field(
        None, description="set when a resident reported the case (群众上报)"
    )


class VisitRequest(BaseModel):
    """A visit to a household, as the visitor records it."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(json_schema_extra={"enum": list(kinds.VISIT_KINDS)})
    note: str = Field("", max_length=2000, description="what was found or done")
    at: dt.datetime | None = Field(None, description="local time; default: now")
    lon: float | None = Field(None, description="where it was recorded (WGS84), optional")
    lat: float | None = Field(None, description="where it was recorded (WGS84), optional")
    request: str | None = Field(
        None,
        max_length=2000,
        description="what the household asked for: opens a service request (帮代办) case",
    )
