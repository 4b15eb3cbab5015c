"""The JSON the API answers with, as pydantic models: the analysis returns typed results,
these models say how they look on the wire (and in the OpenAPI schema).

Each model reads the fields it publishes from the analysis result's attributes
(``from_attributes``: no field is copied by hand, and a field the model does not declare is
never sent); ``of(...)`` builds the whole answer from the result
(:class:`~gisgrid.analysis.locate.Location`, :class:`~gisgrid.analysis.households.HouseholdDetail`,
…). Routes answer ``Model.of(result).model_dump()`` and stay thin.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gisgrid.analysis.households import HouseholdDetail, HouseholdSummary, SearchResult
from gisgrid.analysis.locate import GridPerson, Location, NearestService


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
