"""The JSON the API answers with, as pydantic models: the analysis returns typed results,
these models say how they look on the wire (and in the OpenAPI schema).

Each model has ``of(...)``, which takes the analysis result (:class:`~gisgrid.analysis.locate.
Location`, :class:`~gisgrid.analysis.households.HouseholdDetail`, …); routes answer
``Model.of(result).model_dump()`` and stay thin.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from gisgrid.analysis.households import HouseholdDetail, HouseholdSummary, SearchResult
from gisgrid.analysis.locate import GridPerson, Location, NearestService


class LonLat(BaseModel):
    lon: float
    lat: float


class LocateInput(LonLat):
    crs: str = Field(description="the CRS the point was given in")


class TownshipOut(BaseModel):
    code: str
    name: str


class VillageOut(BaseModel):
    code: str
    name: str
    kind: str


class GridPersonOut(BaseModel):
    """A grid and its responsible person."""

    code: str
    level: int
    name: str
    responsible_name: str | None
    responsible_phone: str | None
    responsible_role: str | None

    @classmethod
    def of(cls, grid: GridPerson | None) -> GridPersonOut | None:
        if grid is None:
            return None
        return cls(
            code=grid.code,
            level=grid.level,
            name=grid.name,
            responsible_name=grid.responsible_name,
            responsible_phone=grid.responsible_phone,
            responsible_role=grid.responsible_role,
        )


class GridOut(BaseModel):
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
        if grid is None:
            return None
        return cls(
            code=grid.code,
            name=grid.name,
            level=grid.level,
            parent_code=grid.parent_code,
            village_code=grid.village_code,
            responsible_name=grid.responsible_name,
            responsible_phone=grid.responsible_phone,
            responsible_role=grid.responsible_role,
        )


class GridsOut(BaseModel):
    level1: GridPersonOut | None
    level2: GridPersonOut | None
    level3: GridPersonOut | None


class NearestServiceOut(BaseModel):
    id: str
    name: str
    watcher: str | None
    distance_m: float
    lon: float
    lat: float

    @classmethod
    def by_kind(cls, services: tuple[NearestService, ...]) -> dict[str, NearestServiceOut]:
        return {
            s.kind: cls(
                id=s.id,
                name=s.name,
                watcher=s.watcher,
                distance_m=s.distance_m,
                lon=s.lon,
                lat=s.lat,
            )
            for s in services
        }


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
            township=None
            if where.township is None
            else TownshipOut(code=where.township.code, name=where.township.name),
            village=None
            if where.village is None
            else VillageOut(
                code=where.village.code, name=where.village.name, kind=where.village.kind
            ),
            grids=GridsOut(
                level1=GridPersonOut.of(where.level1),
                level2=GridPersonOut.of(where.level2),
                level3=GridPersonOut.of(where.level3),
            ),
            in_grid=where.in_grid,
            nearest_service_points=NearestServiceOut.by_kind(where.nearest_services),
        )


class HouseholdOut(BaseModel):
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
        return cls(
            id=household.id,
            head_name=household.head_name,
            house_number=household.house_number,
            village_code=household.village_code,
            members=household.members,
            elderly=household.elderly,
            party_member=household.party_member,
            backbone=household.backbone,
            backbone_id=household.backbone_id,
            grid_code=household.grid_code,
            lon=household.lon,
            lat=household.lat,
        )


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
