"""The Store interface: what every store (GeoPackage, PostGIS) offers, and nothing more.

A store only loads and saves. Spatial rules (assignment, checks) live once in the analysis
modules and work on the frames a store returns. Where a rule must see the data and write
its answer in one transaction (assignment), the store offers the transaction and the
analysis passes the decision in (:class:`GridDecision`): the store never imports analysis.

Every store implements the whole protocol; no caller asks what a store can do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import geopandas as gpd
import numpy as np
import pandas as pd

from gisgrid.errors import ConfigError, StoreConstraintError, StoreError
from gisgrid.layers import ASSIGNED_LAYERS, get_layer
from gisgrid.layers.schema import Layer
from gisgrid.stores.changesets import ChangeSets
from gisgrid.stores.ledger import Ledger
from gisgrid.stores.photos import CasePhotos

WriteMode = Literal["replace", "append"]
BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Span:
    """A ``where`` value that is a range: ``start <= value <= end``, both ends included,
    ``None`` for an open end (a date or time column, or a number). A missing value never
    lies in a span."""

    start: object = None
    end: object = None


#: attribute filters: column → value, column → list of values (any of them), or column →
#: :class:`Span` (a range)
Where = Mapping[str, object]


@dataclass(frozen=True)
class Window:
    """A page of a read: the rows from position ``offset`` (0: the first), at most ``limit``
    of them, in the store's order (the order a whole read returns them in), counted after
    the read's filters. The store reads only those rows."""

    offset: int
    limit: int


def asked_columns(frame: pd.DataFrame, columns: Sequence[str] | None) -> pd.DataFrame:
    """``frame`` with only the ``columns`` a read asked for, and its geometry (every reader
    keeps it), in the frame's order; the whole frame when ``columns`` is ``None``."""
    if columns is None:
        return frame
    wanted = set(columns)
    return frame[[c for c in frame.columns if c in wanted or c == "geometry"]]


def layers_to_write(frames: Mapping[str, pd.DataFrame], mode: str) -> dict[str, Layer]:
    """The declarations of the layers a write brings, before anything is written.

    Raises
    ------
    StoreError
        An unknown write mode.
    UnknownLayerError
        An undeclared layer (:func:`gisgrid.layers.get_layer`).
    """
    if mode not in ("replace", "append"):
        raise StoreError(f"unknown write mode {mode!r}")
    return {name: get_layer(name) for name in frames}


def stored_key_clashes(decl: Layer, frame: pd.DataFrame, stored: pd.DataFrame) -> np.ndarray:
    """Which rows of ``frame`` carry a key already in ``stored`` (the stored key columns)."""
    if not decl.key or not len(frame) or not len(stored):
        return np.zeros(len(frame), dtype=bool)
    keys = list(decl.key)
    return np.asarray(frame.set_index(keys).index.isin(stored.set_index(keys).index), dtype=bool)


#: layers that are history (:mod:`gisgrid.layers.grid_versions`,
#: :mod:`gisgrid.layers.case_steps`, :mod:`gisgrid.layers.visits`): no write removes or changes a
#: stored row. Appending works as for any layer; ``replace`` keeps every stored row and adds
#: the frame's rows whose key is not stored yet (:func:`history_to_add`), so that importing
#: an export again, or into a store that has grown more history since, loses nothing.
APPEND_ONLY_LAYERS: tuple[str, ...] = ("grid_versions", "case_steps", "visits")


def history_to_add(decl: Layer, frame: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` an append-only layer (:data:`APPEND_ONLY_LAYERS`) takes in a
    ``replace``: those whose key is not in ``stored`` (the stored key columns); a stored
    version stands as it is."""
    return frame[~stored_key_clashes(decl, frame, stored)].reset_index(drop=True)


def refuse_stored_keys(
    decl: Layer, frame: pd.DataFrame, stored: pd.DataFrame, *, store: str
) -> None:
    """Refuse an append whose keys are already stored (or repeated within the frame).

    A store without unique keys of its own (a GeoPackage) calls it under its writer lock,
    with the keys as they are stored now: the authoritative check, whatever a caller
    checked before. (PostGIS has its unique keys refuse them, the same error.)

    Parameters
    ----------
    decl
        The layer appended to.
    frame
        The rows to append (canonical form).
    stored
        The stored rows' key columns.
    store
        The store's :attr:`~Store.url`, for the message.

    Raises
    ------
    StoreConstraintError
        Naming the layer and the keys (at most ten of them).
    """
    if not decl.key or not len(frame):
        return
    keys = list(decl.key)
    clash = stored_key_clashes(decl, frame, stored)
    clash = clash | frame.set_index(keys).index.duplicated(keep="first")
    if not clash.any():
        return
    names = sorted(
        {"/".join(str(frame[k].iat[i]) for k in keys) for i in np.flatnonzero(clash).tolist()}
    )
    shown = ", ".join(names[:10]) + (f" … and {len(names) - 10} more" if len(names) > 10 else "")
    raise StoreConstraintError(
        f"the store {store} refused the data, nothing was written: {decl.name}: "
        f"{len(names)} key(s) already taken (keys are unique): {shown}"
    )


class WriteCheck(Protocol):
    """What a write must still hold when it is made: run by the store under its writer lock.

    A caller checks the store before it writes (to report early and fully); what it decided
    on may change before the writer lock is taken. The store calls the check once the lock
    is held (inside its transaction), before anything is written; the check reads the store
    as it is now and raises (a :class:`~gisgrid.errors.ValidationError`, say) to refuse.
    """

    def __call__(self, store: Store, /) -> None:
        """Raise to refuse the write; return to let it go on."""
        ...


def layers_to_assign(layers: Sequence[str]) -> tuple[str, ...]:
    """The layers an assignment asks for, checked before anything is read.

    Raises
    ------
    UnknownLayerError
        An undeclared layer.
    ConfigError
        A layer whose points carry no grid code.
    """
    for name in layers:
        get_layer(name)
        if name not in ASSIGNED_LAYERS:
            raise ConfigError(
                f"only {', '.join(ASSIGNED_LAYERS)} are assigned to grids, not {name}"
            )
    return tuple(layers)


@dataclass(frozen=True)
class InitResult:
    """What :meth:`Store.init` did.

    Attributes
    ----------
    versioned
        Whether the store keeps a numbered schema (PostGIS); a GeoPackage has none to
        migrate: its file is made on first write.
    before, after
        The schema version before and after (``0``: none; both ``0`` when not versioned).
    applied
        The migrations applied, ``NNNN_name``, in order.
    """

    versioned: bool
    before: int
    after: int
    applied: tuple[str, ...]


@dataclass(frozen=True)
class LayerPoints:
    """One layer's points as a store reads them for an assignment, inside its transaction.

    Attributes
    ----------
    fid
        The store's row ids (int64): only to name the points back to the store.
    x, y
        Longitudes and latitudes (float64, EPSG:4326); NaN for a missing or empty point.
    """

    fid: np.ndarray
    x: np.ndarray
    y: np.ndarray


#: what a store reads of the level-3 grids for :class:`GridDecision`, besides the geometry:
#: every version (the latest, in ``grids``, and the superseded, in ``grid_versions``), with its
#: dates, so that the decision keeps the grids in force on its date
GRID_DECISION_COLUMNS = ("code", "valid_from", "valid_to")


class GridDecision(Protocol):
    """Which level-3 grid each point belongs to: the rule, passed in by the analysis."""

    def __call__(
        self, grids: gpd.GeoDataFrame, points: Mapping[str, LayerPoints]
    ) -> Mapping[str, np.ndarray]:
        """Decide every point of every layer.

        Parameters
        ----------
        grids
            The level-3 grids as read in the transaction, every version
            (:data:`GRID_DECISION_COLUMNS` and geometry, EPSG:4326, dates as
            ``datetime64``); the decision chooses among those in force on its date.
        points
            Layer name → its points.

        Returns
        -------
        Mapping[str, numpy.ndarray]
            Layer name → for each point (aligned with :attr:`LayerPoints.fid`), the
            position in ``grids`` of its grid (int64), ``-1`` for none.
        """
        ...


@dataclass(frozen=True)
class LayerCodes:
    """What an assignment wrote for one layer.

    Attributes
    ----------
    layer
        Layer name.
    features
        Number of features.
    assigned
        Features that have a grid now.
    unassigned
        Keys of the features in no grid (including any without a geometry), sorted.
    changed
        Features whose grid code changed (only those were written).
    """

    layer: str
    features: int
    assigned: int
    unassigned: tuple[str, ...]
    changed: int


@dataclass(frozen=True)
class GridCodesWritten:
    """The outcome of :meth:`Store.assign_grid_codes`.

    Attributes
    ----------
    grids
        Number of level-3 grid rows the decision saw (every version, in force or not).
    layers
        One :class:`LayerCodes` per layer present in the store, in the order asked.
    read_seconds, decide_seconds, write_seconds
        Reading grids and points, the decision, writing what changed.
    """

    grids: int
    layers: tuple[LayerCodes, ...]
    read_seconds: float
    decide_seconds: float
    write_seconds: float


@dataclass(frozen=True)
class GridPublication:
    """New grid versions to publish, and the versions they supersede (see
    :meth:`Store.publish_grids`).

    Attributes
    ----------
    grids
        Rows of the grids layer (canonical form): each replaces the stored row of its code
        (a new version of it, or its retirement with ``valid_to``), or is added (a new code).
    archive
        Rows of the ``grid_versions`` layer (canonical form) to append: the stored versions
        the new rows supersede, as they were, with ``superseded_at`` and ``superseded_by``.
    change_set
        The change set published (moved from ``submitted`` to ``published`` by the same
        write), or ``None`` for a publication that comes from no change set.
    actor
        The username publishing (the reviewer who approved).
    published_on
        The date the new versions take effect (their ``valid_from``).
    """

    grids: pd.DataFrame
    archive: pd.DataFrame
    change_set: int | None
    actor: str
    published_on: dt.date


def unassigned_keys(keys: Sequence[Any] | np.ndarray) -> tuple[str, ...]:
    """Keys as the report lists them: text, sorted."""
    return tuple(sorted(str(k) for k in keys))


class Reader(Protocol):
    """The reading side of a store: what pages, maps and reports need.

    A :class:`Store` is one; so is :class:`gisgrid.analysis.scope.ScopedReader`, the store
    seen through one caller's scope.
    """

    url: str

    def layer_names(self) -> list[str]:
        """Names of the layers present in the store."""
        ...

    def read(
        self,
        layer: str,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        columns: Sequence[str] | None = None,
        window: Window | None = None,
    ) -> pd.DataFrame:
        """Read a layer, optionally only features in a bounding box (lon/lat) or matching ``where``.

        With ``window``, only that page of the rows (:class:`Window`). A layer absent from
        the store reads as an empty frame.
        """
        ...

    def count(self, layer: str, *, where: Where | None = None, bbox: BBox | None = None) -> int:
        """Number of features in a layer (matching ``where``, in ``bbox``)."""
        ...

    def get_meta(self, key: str) -> Any:
        """A JSON value stored under ``key`` (``None`` when absent)."""
        ...


@runtime_checkable
class Store(Reader, Protocol):
    """A place that holds the layers of one county.

    Every frame passed to :meth:`write` must be in canonical form (see
    :meth:`gisgrid.layers.schema.Layer.validate`); every frame :meth:`read` returns is.
    """

    @property
    def ledger(self) -> Ledger:
        """The store's accounts, sessions, API tokens and audit log."""
        ...

    @property
    def change_sets(self) -> ChangeSets:
        """The store's change sets (drafts, review, their record)."""
        ...

    @property
    def case_photos(self) -> CasePhotos:
        """The photos of the cases' steps (kept beside the layers, never in them)."""
        ...

    @property
    def path(self) -> Path | None:
        """The file the store lives in (a GeoPackage); ``None`` for a database."""
        ...

    def init(self) -> InitResult:
        """Create or upgrade what the store needs before it is written; safe to run again."""
        ...

    def data_version(self) -> str:
        """A token that changes with every committed change of the layers or metadata.

        Whoever writes: this process, another gisgrid process, QGIS or SQL. Cheap (a file's
        status, one tiny query), so a server can ask about once a second and reload what it
        keeps in memory when the token differs from the one it loaded with. Compare tokens
        for equality only; read the token *before* the data, so that a write in between makes
        the next token differ (a reload too many, never one too few). The accounts, sessions
        and audit log (:attr:`ledger`) do not count: they change with every request.

        Raises
        ------
        StoreError
            The store cannot be asked right now (treat the version as unknown).
        """
        ...

    def wait_for_change(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for a write to be announced; whether one was.

        PostGIS announces every committed write of the layers or metadata, whoever writes
        (``NOTIFY gisgrid_data`` from the triggers of migration 0013), to a connection of
        the store's own that listens. ``True`` also means "maybe": the listening connection
        was (re)opened, and writes meanwhile were not announced. A GeoPackage announces
        nothing: it waits the whole ``timeout`` and answers ``False``. Either way
        :meth:`data_version` is the truth: a caller compares it after an announcement and
        also now and then without one. Called by one thread (the web app's watcher);
        never raises (a store that cannot listen right now waits and answers ``False``).
        """
        ...

    def writers_turn(self) -> contextlib.AbstractContextManager[None]:
        """Wait, then hold, the turn to write among the processes that serve this store.

        The store refuses a second writer at once (a command is told to run again); the
        worker processes of ``gisgrid serve --workers N`` and the servers of several
        machines wait for each other instead, as the threads of one process do: a
        GeoPackage by the kernel's lock (``flock``) on ``.NAME.gpkg.serve.lock`` beside the
        file, PostGIS by an advisory lock of the database (a session's, on a pooled
        connection held meanwhile). A writer that is not a server (the command line) takes
        no turn and may still be refused while a server writes.
        """
        ...

    def write(
        self,
        frames: Mapping[str, pd.DataFrame],
        *,
        mode: WriteMode = "replace",
        meta: Mapping[str, Any] | None = None,
        check: WriteCheck | None = None,
    ) -> None:
        """Write several layers and metadata as one transaction: all of it, or nothing.

        ``replace`` swaps each given layer's content for the frame (an append-only layer,
        :data:`APPEND_ONLY_LAYERS`, keeps its stored rows: see there); ``append`` adds the rows.
        Holding the writer lock, the store first calls ``check`` (when given); an append of
        keys already stored (or twice in the frame) is refused, inside the transaction.

        Raises
        ------
        StoreConstraintError
            An append of a key already stored, naming it; nothing was written.
        StoreError
            Another writer holds the lock, or the store cannot be written.
        """
        ...

    def assign_grid_codes(
        self, decide: GridDecision, *, layers: Sequence[str] = ASSIGNED_LAYERS
    ) -> GridCodesWritten:
        """Set ``grid_code`` of every point of ``layers`` as ``decide`` says, in one transaction.

        Holding the writer lock, the store reads the level-3 grids and each layer's points,
        calls ``decide`` once, and writes back only the codes that change; nothing else of
        the layers is written. Layers absent from the store are skipped. An exception from
        ``decide`` leaves the store as it was.

        Raises
        ------
        ConfigError
            A layer whose points carry no grid code (see :func:`layers_to_assign`).
        StoreError
            Another writer holds the lock, or the store cannot be written.
        """
        ...

    def publish_grids(
        self,
        publication: GridPublication,
        decide: GridDecision,
        *,
        check: WriteCheck | None = None,
        layers: Sequence[str] = ASSIGNED_LAYERS,
    ) -> GridCodesWritten:
        """Publish new grid versions and reassign the points, all in one transaction.

        Holding the writer lock: ``check`` runs (a :class:`~gisgrid.errors.ConflictError`
        when the grids changed since the change was decided); the stored rows of the codes
        in ``publication.grids`` are replaced by them and the others added; the superseded
        versions are appended to ``grid_versions``; then, on the grids as they are now, the
        points of ``layers`` are decided by ``decide`` and their changed codes written, as
        :meth:`assign_grid_codes` does; and the change set (when given) moves from
        ``submitted`` to ``published``. All of it, or (on any error) nothing of it.

        Raises
        ------
        ConflictError
            From ``check``, or the change set is no longer ``submitted``.
        StoreError
            Another writer holds the lock, or the store cannot be written.
        """
        ...

    def close(self) -> None:
        """Release connections and locks."""
        ...
