"""案件办理记录 case steps: the history of each incident's case flow, one row per step.

A case's stage, assignee and lateness are derived from these rows
(:mod:`gisgrid.analysis.cases`), never stored beside them: the incident's own ``status`` is
the stage it was imported in, before its first step here. Rows are appended, never changed
(:data:`gisgrid.stores.base.APPEND_ONLY_LAYERS`); the key ``incident_id`` + ``seq`` makes two
people taking a step on the same case at once a conflict, not a lost step.

A step's ``photos`` name the photos taken with it by their SHA-256; the bytes are kept by
the store beside the layers (:attr:`gisgrid.stores.base.Store.case_photos`), never in a
layer, and are not part of the exchange format.
"""

from __future__ import annotations

from gisgrid.layers import kinds
from gisgrid.layers.fields import id_field
from gisgrid.layers.schema import Field, Layer

#: the most photos one step names
MAX_STEP_PHOTOS = 6
#: the field ``photos``: SHA-256 hashes (lower-case hex), space-separated
PHOTOS_PATTERN = rf"^[0-9a-f]{{64}}( [0-9a-f]{{64}}){{0,{MAX_STEP_PHOTOS - 1}}}$"

LAYER = Layer(
    name="case_steps",
    label_zh="案件办理记录",
    description="Steps of the incidents' case flow (appended, never changed); local times.",
    fields=(
        id_field("事件编号", "the incident the step belongs to", name="incident_id"),
        Field(
            "seq",
            "int",
            required=True,
            label_zh="序号",
            minimum=1,
            description="the step's number in its case: 1, 2, …",
        ),
        Field(
            "action",
            "str",
            required=True,
            label_zh="操作",
            choices=tuple(kinds.CASE_ACTIONS),
            description="what was done (report, dispatch, accept, handled, verify, …)",
        ),
        Field("actor", "str", required=True, label_zh="办理人", description="account (username)"),
        Field("at", "datetime", required=True, label_zh="时间", description="when, local time"),
        Field(
            "note",
            "str",
            label_zh="说明",
            max_length=2000,
            multiline=True,
            description="what the actor wrote",
            # about residents: who quarrelled, what was agreed
            personal="resident",
        ),
        Field(
            "assignee",
            "str",
            label_zh="承办人",
            description="dispatch and redispatch: the account the case goes to",
        ),
        Field(
            "photos",
            "str",
            label_zh="照片",
            pattern=PHOTOS_PATTERN,
            max_length=MAX_STEP_PHOTOS * 65 - 1,
            description=(
                "the step's photos: their SHA-256 (hex), space-separated, at most "
                f"{MAX_STEP_PHOTOS}; the photos themselves are kept by the store, not exported"
            ),
            # pictures of residents and their homes
            personal="resident",
        ),
    ),
    key=("incident_id", "seq"),
)
