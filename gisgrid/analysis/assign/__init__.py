"""Point → level-3 grid assignment: who is in which grid.

* :mod:`.rule`: the rule (covers; smallest code wins; null when none) and its reference
  engine :func:`assign_points_exact`.
* :mod:`.index`: :class:`GridIndex`, the fast engine, proven equal to the reference.
* :mod:`.store`: :func:`assign_store`, whole layers of a store (writes ``grid_code``).
* :mod:`.current`: the one rule every reader follows: a point's grid is the level-3 grid
  covering it now (:func:`current_grid_codes`, :func:`with_current_grid_codes`), among the
  grids in force on a date (:func:`in_force`); the stored ``grid_code`` is for exchange.
"""

from __future__ import annotations

from gisgrid.analysis.assign.current import (
    current_grid_codes,
    grid_index,
    in_force,
    level3_grids,
    local_now,
    today,
    with_current_grid_codes,
)
from gisgrid.analysis.assign.index import GridIndex, Lookup, assign_points
from gisgrid.analysis.assign.rule import assign_points_exact, check_join_inputs, covering_codes
from gisgrid.analysis.assign.store import (
    AssignmentReport,
    LayerAssignment,
    RuleDecision,
    assign_store,
)

__all__ = [
    "AssignmentReport",
    "GridIndex",
    "LayerAssignment",
    "Lookup",
    "RuleDecision",
    "assign_points",
    "assign_points_exact",
    "assign_store",
    "check_join_inputs",
    "covering_codes",
    "current_grid_codes",
    "grid_index",
    "in_force",
    "level3_grids",
    "local_now",
    "today",
    "with_current_grid_codes",
]
