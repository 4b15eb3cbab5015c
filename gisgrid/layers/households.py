"""户 households: personal information. Only synthetic people ever go in test or sample data."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from gisgrid.layers.fields import grid_code_field, id_field, village_code_field
from gisgrid.layers.schema import Field, Layer

CREDIT_RATINGS = ("AAA", "AA", "A")


def _household_rules(frame: pd.DataFrame) -> Iterator[tuple[int, str | None, str]]:
    members, elderly = frame["members"], frame["elderly"]
    both = (members.notna() & elderly.notna()).to_numpy(dtype=bool)
    over = np.zeros(len(frame), dtype=bool)
    over[both] = (
        elderly.to_numpy(dtype="float64", na_value=0)[both]
        > members.to_numpy(dtype="float64", na_value=0)[both]
    )
    for i in np.flatnonzero(over):
        yield int(i), "elderly", "more elderly members than members"
    backbone = frame["backbone"].fillna(False).to_numpy(dtype=bool)
    party = frame["party_member"].fillna(False).to_numpy(dtype=bool)
    for i in np.flatnonzero(backbone & ~party):
        yield (
            int(i),
            "backbone",
            "a backbone household (党员骨干户) must be a party-member household",
        )
    linked = frame["backbone_id"].notna().to_numpy(dtype=bool)
    for i in np.flatnonzero(linked & backbone):
        yield int(i), "backbone_id", "a backbone household is not linked to another one"
    for i in np.flatnonzero(
        linked & (frame["backbone_id"] == frame["id"]).fillna(False).to_numpy()
    ):
        yield int(i), "backbone_id", "a household cannot be linked to itself"


def references(frame: pd.DataFrame, known_backbones: set[str]) -> Iterator[tuple[int, str, str]]:
    """Links whose ``backbone_id`` names no backbone household in ``frame`` or ``known_backbones``.

    Parameters
    ----------
    frame
        Households in canonical form.
    known_backbones
        Ids of backbone households already in the store (for appends).
    """
    backbones = set(frame.loc[frame["backbone"].fillna(False).astype(bool), "id"]) | known_backbones
    ref = frame["backbone_id"]
    bad = ref.notna() & ~ref.isin(backbones)
    for i in np.flatnonzero(bad.to_numpy(dtype=bool)).tolist():
        yield int(i), "backbone_id", f"'{ref.iat[i]}' is not a backbone household"


LAYER = Layer(
    name="households",
    label_zh="农户",
    description="Households with their location and party-member linkage (党员联户).",
    fields=(
        id_field("户编号", "household id: letters, digits, _ or -"),
        Field(
            "head_name",
            "str",
            required=True,
            label_zh="户主姓名",
            description="head of household",
            personal="resident",
            masked_as="name",
        ),
        Field(
            "house_number",
            "str",
            label_zh="门牌号",
            description="house number (门牌)",
            personal="resident",
        ),
        village_code_field("户籍村（社区）", "village as registered (may disagree with the map)"),
        Field(
            "members",
            "int",
            required=True,
            label_zh="家庭人口",
            minimum=1,
            maximum=50,
            description="number of members",
        ),
        Field(
            "elderly",
            "int",
            required=True,
            label_zh="60岁以上人数",
            minimum=0,
            maximum=50,
            description="members aged 60 or more",
        ),
        Field(
            "party_member",
            "bool",
            label_zh="党员户",
            default=False,
            description="a party member lives here",
            personal="resident",
        ),
        Field(
            "backbone",
            "bool",
            label_zh="党员骨干户",
            default=False,
            description="a party-member backbone household that looks after 5-10 households",
        ),
        Field(
            "backbone_id",
            "str",
            label_zh="联系骨干户",
            pattern=r"[A-Za-z0-9_-]{1,40}",
            hint="letters, digits, _ or -, at most 40",
            description="id of the backbone household it is linked to",
        ),
        Field(
            "credit_rating",
            "str",
            label_zh="信用等级",
            choices=CREDIT_RATINGS,
            description="credit household rating (信用户), empty if not rated",
            personal="resident",
        ),
        grid_code_field(),
    ),
    key=("id",),
    geometry_type="Point",
    checks=(_household_rules,),
)
