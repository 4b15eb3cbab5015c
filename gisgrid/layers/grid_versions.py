"""网格历史版本 grid versions: every version of a grid that a later one superseded.

Publishing never overwrites a grid: the stored row is copied here, as it was (with the
``valid_to`` it ended on), before the new version takes its place in ``grids``. Together
with ``grids`` it is the whole history of the net: the rows of both in force on a date
(:func:`gisgrid.analysis.assign.in_force`) are the net as it stood then. Rows are appended,
never changed.
"""

from __future__ import annotations

from dataclasses import replace

from gisgrid.layers import grids
from gisgrid.layers.schema import Field, Layer

LAYER = Layer(
    name="grid_versions",
    label_zh="网格历史版本",
    description="Superseded versions of the grids, as they were (appended, never changed).",
    fields=(
        # every row of the history is a numbered version: part of its key, never empty
        *(
            replace(f, required=True, description="version of the grid under its code")
            if f.name == "version"
            else f
            for f in grids.LAYER.fields
        ),
        Field(
            "superseded_at",
            "datetime",
            required=True,
            label_zh="被替代时间",
            description="when a later version took its place, local time",
        ),
        Field(
            "superseded_by",
            "int",
            label_zh="替代变更单",
            minimum=1,
            description="the change set that superseded it (empty: an import)",
        ),
    ),
    key=("code", "version"),
    geometry_type="MultiPolygon",
    checks=grids.LAYER.checks,
)
