"""Point → level-3 grid assignment: who is in which grid.

* :mod:`.rule`: the rule (covers; smallest code wins; null when none) and its reference
  engine :func:`assign_points_exact`.
* :mod:`.index`: :class:`GridIndex`, the fast engine, proven equal to the reference.
* :mod:`.store`: :func:`assign_store`, whole layers of a store, and the one rule for points
  not assigned yet (:func:`grid_codes_of`).
"""

from __future__ import annotations

from gisgrid.analysis.assign.index import GridIndex, Lookup, assign_points
from gisgrid.analysis.assign.rule import (
    ASSIGNED_LAYERS,
    AssignmentInputError,
    assign_points_exact,
    check_join_inputs,
)
from gisgrid.analysis.assign.store import AssignmentReport, LayerAssignment, assign_store

__all__ = [
    "ASSIGNED_LAYERS",
    "AssignmentInputError",
    "AssignmentReport",
    "GridIndex",
    "LayerAssignment",
    "Lookup",
    "assign_points",
    "assign_points_exact",
    "assign_store",
    "check_join_inputs",
]
