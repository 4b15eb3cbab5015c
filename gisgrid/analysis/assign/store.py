"""Assignment of whole layers of a store: every point's ``grid_code`` by the rule."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gisgrid.analysis.assign.index import GridIndex
from gisgrid.analysis.assign.rule import ASSIGNED_LAYERS
from gisgrid.errors import AssignmentInputError, NotFoundError
from gisgrid.layers import get_layer


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
        given the smallest code; ``None`` when the store assigned inside the database.
    seconds
        Time to read and assign the layer (the write is timed for all layers together).
    """

    layer: str
    features: int
    assigned: int
    unassigned: tuple[str, ...]
    shared: int | None
    seconds: float


@dataclass(frozen=True)
class AssignmentReport:
    """The outcome of :func:`assign_store`.

    Attributes
    ----------
    store
        The store's URL.
    engine
        ``"GridIndex"`` (assigned here, written back) or ``"database"`` (the store's own
        ``assign_in_database``).
    grids
        Number of level-3 grids.
    layers
        One :class:`LayerAssignment` per layer present in the store, in the order asked.
    index_seconds, write_seconds, seconds
        Building the index, writing the layers back, and everything.
    """

    store: str
    engine: str
    grids: int
    layers: tuple[LayerAssignment, ...]
    index_seconds: float
    write_seconds: float
    seconds: float

    def layer(self, name: str) -> LayerAssignment:
        """The result for layer ``name``."""
        for item in self.layers:
            if item.layer == name:
                return item
        raise KeyError(name)


def _layer_result(
    name: str, keys: np.ndarray, codes: np.ndarray, shared: int | None, seconds: float
) -> LayerAssignment:
    missing = np.asarray([c is None or c != c for c in codes], dtype=bool)
    return LayerAssignment(
        layer=name,
        features=len(codes),
        assigned=int((~missing).sum()),
        unassigned=tuple(sorted(str(k) for k in keys[missing])),
        shared=shared,
        seconds=seconds,
    )


def _keys(frame: Any, name: str) -> np.ndarray:
    key = get_layer(name).key
    if len(key) == 1:
        return frame[key[0]].to_numpy(dtype=object)
    return frame[list(key)].astype(str).agg("+".join, axis=1).to_numpy(dtype=object)


def assign_store(store: Any, *, layers: Sequence[str] = ASSIGNED_LAYERS) -> AssignmentReport:
    """Assign every point of ``layers`` in ``store`` to its level-3 grid and save ``grid_code``.

    Reads the level-3 grids and each layer, assigns with a :class:`GridIndex`, and writes
    all the updated layers back in one store transaction (``mode="replace"``); only
    ``grid_code`` changes. A store with a method ``assign_in_database(layer)`` (PostGIS)
    assigns inside the database instead, layer by layer, and nothing is read or written
    here but the result. Layers absent from the store are skipped.

    Parameters
    ----------
    store
        A :class:`~gisgrid.stores.base.Store`.
    layers
        Layers with a ``grid_code`` column.

    Returns
    -------
    AssignmentReport
        Per layer: features, assigned, keys in no grid, shared, seconds.

    Raises
    ------
    AssignmentInputError
        A layer without a ``grid_code`` column.
    NotFoundError
        The store holds no level-3 grids.
    """
    started = time.perf_counter()
    for name in layers:
        if "grid_code" not in get_layer(name).columns:
            raise AssignmentInputError(f"{name} has no grid_code column to assign")
    present = set(store.layer_names())
    todo = [name for name in layers if name in present]
    n_grids = store.count("grids", where={"level": 3}) if "grids" in present else 0
    if n_grids == 0:
        raise NotFoundError(
            f"{store.url} holds no level-3 grids: import them first (gisgrid import grids FILE)"
        )
    results: list[LayerAssignment] = []
    in_database = getattr(store, "assign_in_database", None)
    if callable(in_database):
        for name in todo:
            t = time.perf_counter()
            in_database(name)
            key_columns = list(get_layer(name).key)
            frame = store.read(name, columns=[*key_columns, "grid_code"])
            codes = frame["grid_code"].to_numpy(dtype=object)
            seconds = time.perf_counter() - t
            results.append(_layer_result(name, _keys(frame, name), codes, None, seconds))
        total = time.perf_counter() - started
        return AssignmentReport(store.url, "database", n_grids, tuple(results), 0.0, 0.0, total)

    t = time.perf_counter()
    index = GridIndex.from_grids(store.read("grids", where={"level": 3}))
    index_seconds = time.perf_counter() - t
    frames = {}
    for name in todo:
        t = time.perf_counter()
        frame = store.read(name)
        found = index.lookup_points(frame.geometry)
        codes = index.codes_of(found.rank)
        frame["grid_code"] = codes
        frames[name] = frame
        seconds = time.perf_counter() - t
        shared = int(found.shared.sum())
        results.append(_layer_result(name, _keys(frame, name), codes, shared, seconds))
    t = time.perf_counter()
    if frames:
        store.write(frames, mode="replace")
    write_seconds = time.perf_counter() - t
    return AssignmentReport(
        store.url,
        "GridIndex",
        n_grids,
        tuple(results),
        index_seconds,
        write_seconds,
        time.perf_counter() - started,
    )
