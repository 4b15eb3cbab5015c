"""The code hierarchy: one module answers what a code names and what it lies in."""

from __future__ import annotations

import numpy as np
import pytest

from gisgrid import codes

L3 = "430623101201003002"


def test_parts_of_a_level3_code() -> None:
    assert codes.county_of(L3) == "430623"
    assert codes.township_of(L3) == "430623101"
    assert codes.village_of(L3) == "430623101201"
    assert codes.level2_of(L3) == "430623101201003"
    assert codes.county_of(None) is None


@pytest.mark.parametrize(
    ("code", "kind", "parent"),
    [
        ("430623", "county", None),
        ("430623101", "township", "430623"),
        ("430623101201", "village", "430623101"),
        ("430623101201003", "level2", "430623101201"),
        (L3, "level3", "430623101201003"),
    ],
)
def test_kind_and_parent(code: str, kind: str, parent: str | None) -> None:
    assert codes.kind_of(code) == kind
    assert codes.parent_of(code) == parent


@pytest.mark.parametrize("bad", ["", "4306", "43062310120", "43062310120100300", "4306231o1"])
def test_malformed_codes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        codes.kind_of(bad)


def test_too_short_for_the_part_asked() -> None:
    with pytest.raises(ValueError):
        codes.village_of("430623101")


def test_grid_levels() -> None:
    assert [codes.grid_level_of(c) for c in (L3[:12], L3[:15], L3)] == [1, 2, 3]
    with pytest.raises(ValueError):
        codes.grid_level_of("430623101")


def test_array_forms_keep_missing_and_short_codes_as_none() -> None:
    got = codes.villages_of([L3, None, float("nan"), "430623101", L3[:15]])
    assert got.dtype == object
    assert list(got) == [L3[:12], None, None, None, L3[:12]]
    assert list(codes.townships_of(np.array([L3], dtype=object))) == [L3[:9]]


def test_child_codes_and_nesting() -> None:
    assert codes.child_code(L3[:15], 7) == L3[:15] + "007"
    with pytest.raises(ValueError):
        codes.child_code(L3[:15], 1000)
    assert codes.lies_in(L3, "430623101")
    assert not codes.lies_in(L3, "430623102")
