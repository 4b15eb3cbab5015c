"""Households: search for field staff, and one household with its grid and backbone link.

Households are personal information: responses carry only what the finder needs, and no
endpoint returns more than one page of them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from gisgrid.analysis.households import household_detail, search_households
from gisgrid.api.deps import Scoped, State
from gisgrid.api.errors import COMMON_ERRORS
from gisgrid.api.schemas import HouseholdResponse, SearchResponse

router = APIRouter(prefix="/api/households", tags=["households 农户"], responses=COMMON_ERRORS)

ID_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"


@router.get("/search", summary="Find households by name, pinyin initials, house number or id")
def search(
    state: State,
    access: Scoped,
    q: Annotated[
        str, Query(min_length=1, max_length=40, description="张三, zs, zhangsan, 3组15号, H0000001")
    ],
    village: Annotated[
        str | None,
        Query(
            pattern=r"^\d{6}(\d{3}){0,2}$",
            description="village, township or county code (a prefecture's caller names one)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> SearchResponse:
    # the households of the county asked for (or of the caller's area): its working set
    county = state.county_for(village, scope=access.scope)
    found = search_households(
        state.search_in(county),
        access.reader,
        state.locator,
        q,
        village=village,
        limit=limit,
        allowed=state.households_in(access.scope, county),
    )
    return SearchResponse.of(found)


@router.get("/{household_id}", summary="One household: its grid, responsible person, backbone link")
def household(
    state: State, access: Scoped, household_id: Annotated[str, Path(pattern=ID_PATTERN)]
) -> HouseholdResponse:
    # outside the caller's area it is not found: no answer tells whether it exists
    return HouseholdResponse.of(household_detail(access.reader, state.locator, household_id))
