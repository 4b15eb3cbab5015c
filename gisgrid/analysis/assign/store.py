"""Assignment of whole layers of a store: every point's ``grid_code`` by the rule."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gisgrid.analysis.assign.current import in_force, today
from gisgrid.analysis.assign.index import GridIndex
from gisgrid.errors import AssignmentInputError, NotFoundError
from gisgrid.layers import ASSIGNED_LAYERS, get_layer
from gisgrid.stores.base import LayerPoints, Store


@dataclass(frozen=True)
class LayerAssignment:
    """How one layer's points were assigned.

    Attributes
    ----------
    layer
        Layer name.
    features
        Number of features in the layer.
    assigned
        Features that got a grid.
    unassigned
        Keys of the features in no grid (including any without a geometry), sorted.
    shared
        Features covered by more than one grid (a shared edge or vertex, or an overlap),
        given the smallest code.
    seconds
        Time to look the layer's points up (reading and writing are timed for all layers
        together: :attr:`AssignmentReport.read_seconds`, ``write_seconds``).
    """

    layer: str
    features: int
    assigned: int
    unassigned: tuple[str, ...]
    shared: int
    seconds: float


@dataclass(frozen=True)
class AssignmentReport:
    """The outcome of :func:`assign_store`.

    Attributes
    ----------
    store
        The store's URL.
    engine
        ``"GridIndex"``: the engine that decided (in the store's transaction).
    as_of
        The date whose grids took the points (:func:`~.current.in_force`).
    grids
        Number of level-3 grids in force on ``as_of`` (retired ones and those not yet in
        force are not counted: they took no points).
    layers
        One :class:`LayerAssignment` per layer present in the store, in the order asked.
    read_seconds, index_seconds, write_seconds, seconds
        Reading grids and points, building the index, writing the changed codes back, and
        everything.
    """

    store: str
    engine: str
    as_of: dt.date
    grids: int
    layers: tuple[LayerAssignment, ...]
    read_seconds: float
    index_seconds: float
    write_seconds: float
    seconds: float

    def layer(self, name: str) -> LayerAssignment:
        """The result for layer ``name``."""
        for item in self.layers:
            if item.layer == name:
                return item
        raise KeyError(name)


class RuleDecision:
    """The rule as a store's assignment asks for it (a :class:`~gisgrid.stores.base.GridDecision`):
    a :class:`GridIndex` of the grids the store read that are in force on ``as_of``
    (:func:`~.current.in_force`), each layer's points looked up in it. Keeps what the
    report needs besides the codes: grids in force, shared points, seconds.

    :func:`assign_store` and the publication of a change set
    (:meth:`~gisgrid.stores.base.Store.publish_grids`) pass it to the store."""

    def __init__(self, url: str, *, as_of: dt.date) -> None:
        self.url = url
        self.as_of = as_of
        self.grids = 0
        self.index_seconds = 0.0
        self.shared: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    def __call__(
        self, grids: gpd.GeoDataFrame, points: Mapping[str, LayerPoints]
    ) -> dict[str, np.ndarray]:
        if len(grids) == 0:  # the grids went between the first look and the transaction
            raise NotFoundError(f"{self.url} holds no level-3 grids")
        t = time.perf_counter()
        # positions in the grids the store read, of the versions in force on the date
        read = grids.reset_index(drop=True)
        live = in_force(read, as_of=self.as_of)
        if len(live) == 0:  # all retired, or none yet: a wrong date, not an empty net
            raise NotFoundError(
                f"{self.url} holds no level-3 grid in force on {self.as_of.isoformat()} "
                f"(valid_from on or before it, valid_to after it)"
            )
        self.grids = len(live)
        index = GridIndex.from_grids(live)
        self.index_seconds = time.perf_counter() - t
        # the index ranks grids by code; the store wants positions in the grids it read
        rank_in_live = pd.Index(live["code"]).get_indexer(index.codes)
        position_of_rank = np.r_[live.index.to_numpy()[rank_in_live], -1]
        chosen = {}
        for name, layer_points in points.items():
            t = time.perf_counter()
            found = index.lookup(layer_points.x, layer_points.y)
            chosen[name] = position_of_rank[found.rank]  # rank -1: the last entry, none
            self.shared[name] = int(found.shared.sum())
            self.seconds[name] = time.perf_counter() - t
        return chosen


def assign_store(
    store: Store,
    *,
    layers: Sequence[str] = ASSIGNED_LAYERS,
    as_of: dt.date | None = None,
) -> AssignmentReport:
    """Assign every point of ``layers`` in ``store`` to its level-3 grid and save ``grid_code``.

    One store transaction (:meth:`~gisgrid.stores.base.Store.assign_grid_codes`): the store
    reads the level-3 grids and each layer's points under its writer lock, a
    :class:`GridIndex` of the grids in force on ``as_of`` decides by the rule, and the store
    writes back only the codes that change; nothing else of the layers is written. Layers
    absent from the store are skipped. A retired grid (``valid_to`` on or before ``as_of``)
    or one not yet in force (``valid_from`` after it) takes no points: they go to the grid
    in force covering them, or to none.

    Parameters
    ----------
    store
        The store.
    layers
        Layers with a ``grid_code`` column.
    as_of
        The date whose grids take the points (default: today, county time).

    Returns
    -------
    AssignmentReport
        Per layer: features, assigned, keys in no grid, shared, seconds.

    Raises
    ------
    AssignmentInputError
        A layer without a ``grid_code`` column.
    NotFoundError
        The store holds no level-3 grids, or none in force on ``as_of``.
    """
    started = time.perf_counter()
    as_of = today() if as_of is None else as_of
    for name in layers:
        if "grid_code" not in get_layer(name).columns:
            raise AssignmentInputError(f"{name} has no grid_code column to assign")
    present = set(store.layer_names())
    if "grids" not in present or store.count("grids", where={"level": 3}) == 0:
        raise NotFoundError(
            f"{store.url} holds no level-3 grids: import them first (gisgrid import grids FILE)"
        )
    decide = RuleDecision(store.url, as_of=as_of)
    written = store.assign_grid_codes(decide, layers=[n for n in layers if n in present])
    results = tuple(
        LayerAssignment(
            layer=item.layer,
            features=item.features,
            assigned=item.assigned,
            unassigned=item.unassigned,
            shared=decide.shared[item.layer],
            seconds=decide.seconds[item.layer],
        )
        for item in written.layers
    )
    return AssignmentReport(
        store=store.url,
        engine="GridIndex",
        as_of=as_of,
        grids=decide.grids,
        layers=results,
        read_seconds=written.read_seconds,
        index_seconds=decide.index_seconds,
        write_seconds=written.write_seconds,
        seconds=time.perf_counter() - started,
    )
