"""Household search: the ranked answer equals a plain per-household scorer of the rules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pypinyin import Style, pinyin

from gisgrid.analysis.search import Hit, HouseholdSearch


def _romanised(name: str) -> tuple[str, str]:
    pieces = pinyin(list(name), style=Style.NORMAL)
    syllables = [(p[0] or c).lower() for c, p in zip(name, pieces, strict=True)]
    return "".join(s[0] for s in syllables), "".join(syllables)


def reference_score(row: dict[str, str], query: str, village: str | None) -> int:
    """The score table of gisgrid.analysis.search, one household at a time, as written there."""
    q = query.strip()
    if not q or (village and not row["village_code"].startswith(village)):
        return 0
    name, number = row["head_name"], row["house_number"]
    scores = [0]
    if row["id"] == q:
        scores.append(100)
    if q in (name, number):
        scores.append(95)
    if name.startswith(q):
        scores.append(85)
    if q in number:
        scores.append(80)
    if q in name:
        scores.append(75)
    lowered = q.lower().replace(" ", "")
    if lowered.isascii() and lowered.isalpha():
        initials, full = _romanised(name)
        if initials.startswith(lowered):
            scores.append(70)
        if full.startswith(lowered):
            scores.append(65)
    elif len(q) >= 2 and not q.isascii():
        rest = iter(name)  # every character of q, in order, somewhere in the name
        if all(ch in rest for ch in q):
            scores.append(40 + int(20 * len(q) / max(len(name), len(q))))
    return max(scores)


def reference_search(rows: list[dict[str, str]], query: str, village: str | None) -> list[Hit]:
    scored = [(reference_score(r, query, village), r["id"]) for r in rows]
    return [
        Hit(i, s) for s, i in sorted((x for x in scored if x[0] > 0), key=lambda x: (-x[0], x[1]))
    ]


@pytest.fixture(scope="module")
def households(sample_county: Any) -> pd.DataFrame:
    frame = pd.DataFrame(sample_county.frames["households"].drop(columns="geometry"))
    # a few awkward rows: no house number, a one-character name, a Latin name
    frame.loc[frame.index[0], "house_number"] = None
    frame.loc[frame.index[1], "head_name"] = "李"
    frame.loc[frame.index[2], "head_name"] = "Anna"
    return frame.iloc[:6000].reset_index(drop=True)


@pytest.fixture(scope="module")
def index(households: pd.DataFrame) -> HouseholdSearch:
    return HouseholdSearch(households)


def _queries(households: pd.DataFrame) -> list[tuple[str, str | None]]:
    rng = np.random.default_rng(5)
    rows = households.sample(8, random_state=1)
    found: list[tuple[str, str | None]] = []
    for _, r in rows.iterrows():
        name = str(r["head_name"])
        initials, full = _romanised(name)
        found += [
            (str(r["id"]), None),
            (name, None),
            (name[:1], str(r["village_code"])),
            (name[1:], None),
            (f"  {name}  ", None),
            (initials, None),
            (initials[:2].upper(), str(r["village_code"])[:9]),
            (full[: 2 + int(rng.integers(0, 4))], None),
            (name[0] + name[-1], None),
        ]
        if isinstance(r["house_number"], str):
            found += [(r["house_number"], None), (r["house_number"][-3:], None)]
    return [*found, ("李", None), ("Anna", None), ("an", None), ("zzzzzz", None), ("王 明", None)]


def test_the_ranked_answer_equals_the_rules(
    households: pd.DataFrame, index: HouseholdSearch
) -> None:
    rows = households.fillna("").astype(str).to_dict("records")
    queries = _queries(households)
    assert len(queries) > 80
    for query, village in queries:
        expected = reference_search(rows, query, village)
        got = index.search(query, village=village, limit=len(rows))
        assert got == expected, (query, village, got[:3], expected[:3])
        assert index.search(query, village=village, limit=5) == expected[:5]


def test_every_kind_of_match_occurs(households: pd.DataFrame, index: HouseholdSearch) -> None:
    """The comparison above means something: each score level is reached by some query."""
    seen = {h.score for q, v in _queries(households) for h in index.search(q, village=v)}
    assert {100, 95, 85, 80, 75, 70, 65} <= seen
    assert any(40 <= s <= 60 for s in seen)


def test_an_empty_query_finds_nothing(index: HouseholdSearch) -> None:
    assert index.search("   ") == []


# --- typed results: what the finder and the API show of a household ------------------------------


def test_search_and_detail_give_typed_households_in_the_grid_covering_them_now(
    filled_store: Any,
) -> None:
    import shapely

    from gisgrid.analysis.households import (
        HouseholdDetail,
        HouseholdSummary,
        household_detail,
        search_households,
    )
    from gisgrid.analysis.locate import Locator

    # H001 stands in the north-west level-3 grid; its stored grid_code says south-east
    hh = filled_store.read("households")
    grids = filled_store.read("grids").set_index("code")
    level3 = grids[grids["level"] == 3].index.sort_values()
    here = next(c for c in level3 if grids.loc[c, "geometry"].covers(hh.geometry.iloc[0]))
    stale = str(level3[-1])
    assert stale != here
    hh.loc[0, "grid_code"] = stale
    filled_store.write({"households": hh}, mode="replace")
    locator = Locator.from_store(filled_store)

    found = search_households(HouseholdSearch(hh), filled_store, locator, "H001")
    assert found.query == "H001" and found.hits[0].score == 100
    first = found.hits[0].household
    assert isinstance(first, HouseholdSummary)
    assert (first.id, first.grid_code) == ("H001", here)
    assert (first.lon, first.lat) == (
        round(shapely.get_x(hh.geometry.iloc[0]), 7),
        round(shapely.get_y(hh.geometry.iloc[0]), 7),
    )

    detail = household_detail(filled_store, locator, "H001")
    assert isinstance(detail, HouseholdDetail)
    assert detail.grid is not None and detail.grid.code == here
    assert detail.grid.responsible_name == grids.loc[here, "responsible_name"]
    assert detail.backbone is None and first.backbone
    assert {h.id for h in detail.linked_households} == {"H002", "H003", "H004", "H005", "H006"}
    assert [s.kind for s in detail.nearest_services] == sorted(
        s.kind for s in detail.nearest_services
    )
    linked = household_detail(filled_store, locator, "H002")
    assert linked.backbone is not None and linked.backbone.id == "H001"
