"""Reading exchange files into the store, all or nothing.

The formats (Excel and CSV registers, zipped Shapefiles, KML/KMZ, GeoJSON, GeoPackage) are
read by :func:`.sources.read_source`; headers are the layer's column names or their Chinese
labels (see docs/exchange-format.md). Point coordinates are judged by
:func:`.coordinates.detect_coordinates` (GCJ-02/BD-09 taken for WGS84, swapped, metres as
degrees). Every problem is reported by row (or feature) and column as the file has them
(:class:`~gisgrid.errors.ImportRefusedError`, :mod:`.report`). An import validates the whole
file first and then writes it in one store transaction: a bad feature anywhere means nothing
is written. Points must lie within the county (the union of the townships in the store) or at
most
:data:`~gisgrid.layers.schema.OUTLINE_MARGIN_M` outside it. Grids go through the boundary
checks of ``gisgrid check`` (:func:`boundary_problems`): an import that would add an overlap,
a gap, a grid outside its parent or a missing parent is refused, unless the caller allows
findings (then it is written and they are listed).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
import shapely.geometry
from shapely.errors import ShapelyError

from gisgrid import crs as crsmod
from gisgrid.analysis.assign.current import current_grid_codes, grid_index, today
from gisgrid.analysis.checks.added import POLYGON_LAYERS, BoundaryFinding, added_boundary_findings
from gisgrid.analysis.checks.context import LAYER_COLUMNS
from gisgrid.errors import (
    ConflictError,
    ImportRefusedError,
    InputFileError,
    Problem,
    ValidationError,
)
from gisgrid.exchange.coordinates import (
    CoordinateVerdict,
    detect_coordinates,
    key_strings,
    reference_from_store,
)
from gisgrid.exchange.report import report_line
from gisgrid.layers import ASSIGNED_LAYERS, get_layer, households
from gisgrid.layers.schema import LOCAL_TZ, OUTLINE_MARGIN_M, Layer
from gisgrid.settings import CheckSettings
from gisgrid.stores.base import APPEND_ONLY_LAYERS, Store, WriteMode, stored_key_clashes

if TYPE_CHECKING:
    from gisgrid.exchange.sources import Source

#: the layers an import runs the boundary checks for (townships and villages: not yet, so
#: that they can be imported before their parents and children)
CHECKED_LAYERS = ("grids",)
#: file endings we read and write, and the OGR driver for each
DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}


@dataclass(frozen=True)
class LayerChange:
    """What an import does (or, in a dry run, would do) to one layer: rows added, rows
    replaced (same key, new content), rows removed (``replace`` mode: stored, not in the file).
    """

    layer: str
    added: int
    replaced: int = 0
    removed: int = 0


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote (or, with ``dry_run``, would write)."""

    layer: str
    features: int
    mode: WriteMode
    source_crs: str | None
    #: what the import could not check, for the user to read (e.g. no county outline yet)
    notes: tuple[str, ...] = ()
    #: boundary findings the import added, written anyway (only with ``allow_findings``)
    findings: tuple[Problem, ...] = ()
    #: nothing was written: the result says what would have been
    dry_run: bool = False
    #: per layer, what was (would be) added, replaced, removed
    changes: tuple[LayerChange, ...] = ()
    #: what the coordinate check found (``None``: no points from coordinates)
    verdict: CoordinateVerdict | None = None
    #: the file's format (Excel, CSV, Shapefile (zip), KML, KMZ, GeoJSON, GeoPackage)
    format: str = ""


def _driver_for(path: Path) -> str:
    try:
        return DRIVERS[path.suffix.lower()]
    except KeyError:
        endings = ", ".join(DRIVERS)
        raise InputFileError(f"{path}: unknown file type; use one of {endings}") from None


def read_exchange_file(
    path: str | Path, *, layer: str, source_layer: str | None = None
) -> pd.DataFrame:
    """Read a GeoJSON or GeoPackage file for ``layer`` without checking its content.

    Parameters
    ----------
    path
        The file.
    layer
        The gisgrid layer it is meant for (decides whether geometry is read).
    source_layer
        Layer inside a GeoPackage; default: the one named like ``layer``, or the only one.
    """
    path = Path(path)
    decl = get_layer(layer)
    _driver_for(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        names = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:
        raise InputFileError(f"{path}: not a readable GeoJSON or GeoPackage file ({exc})") from exc
    if source_layer is None:
        if layer in names:
            source_layer = layer
        elif len(names) == 1:
            source_layer = names[0]
        else:
            raise InputFileError(
                f"{path} holds several layers ({', '.join(names)}); name one with --source-layer"
            )
    elif source_layer not in names:
        raise InputFileError(f"{path} has no layer '{source_layer}' (it has: {', '.join(names)})")
    try:
        # times as text: GDAL would take local times as UTC when others in the column carry
        # an offset; validation reads them (local unless an offset is given)
        with warnings.catch_warnings():
            # objects in a text column: the file's own values are read below and refused
            warnings.filterwarnings("ignore", "Could not parse column", UserWarning)
            frame = pyogrio.read_dataframe(
                path, layer=source_layer, read_geometry=decl.spatial, datetime_as_string=True
            )
    except Exception as exc:
        raise InputFileError(f"{path}: cannot read layer '{source_layer}' ({exc})") from exc
    if DRIVERS[path.suffix.lower()] == "GeoJSON":
        frame = _as_written(path, frame, columns=decl.columns)
    return frame


def _as_written(path: Path, frame: pd.DataFrame, *, columns: list[str]) -> pd.DataFrame:
    """``frame`` with every property value as the GeoJSON file wrote it, for validation to judge.

    GDAL reads ``true`` in a column of numbers as 1, an object as text, cuts text at a NUL
    character, and reads a point of NaN coordinates as an empty point. The file's own values
    (and the geometries with NaN or infinite coordinates) replace what GDAL made of them. A
    file GDAL reads but :mod:`json` does not (a GeoJSON sequence, say) keeps GDAL's values.
    """
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, RecursionError):
        return frame
    features = doc.get("features") if isinstance(doc, dict) else None
    if (
        not isinstance(features, list)
        or len(features) != len(frame)
        or not all(isinstance(f, dict) for f in features)
    ):
        return frame
    props = [f.get("properties") if isinstance(f.get("properties"), dict) else {} for f in features]
    out = frame.copy()
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    for column in columns:  # the declared ones: validation drops the others
        if column in frame.columns and column != geometry and any(column in p for p in props):
            values = [p.get(column) for p in props]
            out[column] = pd.Series(values, index=frame.index, dtype="object")
    if geometry is not None:
        geoms = np.asarray(frame.geometry.values, dtype=object).copy()
        coords, index = shapely.get_coordinates(geoms, return_index=True)
        suspects = set(index[~np.isfinite(coords).all(axis=1)].tolist())
        suspects |= set(np.flatnonzero(shapely.is_empty(geoms)).tolist())  # GDAL's NaN point
        for i in sorted(suspects):
            raw = features[i].get("geometry")
            if isinstance(raw, dict) and not _all_finite(raw.get("coordinates")):
                # not a geometry shapely can build: GDAL's reading stands
                with contextlib.suppress(ValueError, TypeError, AttributeError, ShapelyError):
                    geoms[i] = shapely.geometry.shape(raw)
        out[geometry] = gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs)
    return out


def _all_finite(coordinates: object) -> bool:
    """Whether nested GeoJSON coordinates hold only finite numbers (or no numbers)."""
    if isinstance(coordinates, list):
        return all(_all_finite(c) for c in coordinates)
    if isinstance(coordinates, float):
        return math.isfinite(coordinates)
    return True


def import_file(
    store: Store,
    layer: str,
    path: str | Path,
    *,
    crs: str | None = None,
    mode: WriteMode = "append",
    source_layer: str | None = None,
    allow_findings: bool = False,
    check_settings: CheckSettings | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Validate a file against ``layer`` and write it to ``store`` in one transaction.

    Parameters
    ----------
    store
        Destination.
    layer
        Layer name, e.g. ``grids``.
    path
        An Excel or CSV register, a zipped Shapefile, KML/KMZ, GeoJSON or GeoPackage
        (:data:`gisgrid.exchange.sources.FORMATS`).
    crs
        CRS of the coordinates if the file does not say or says wrong (``wgs84``,
        ``cgcs2000``, ``gcj02``, ``bd09``, any EPSG code). Stating it also accepts points
        the coordinate check finds offset (reported in the notes instead).
    mode
        ``append`` adds features (keys must be new), ``replace`` replaces the whole layer.
    source_layer
        Layer inside a multi-layer GeoPackage, worksheet of a workbook, Shapefile in a zip
        holding several, folder of a KML.
    allow_findings
        Write grids even when they add boundary findings (overlaps, gaps, parts outside the
        parent, missing parents); they are listed in
        :attr:`ImportResult.findings`. Default: refuse them.
    check_settings
        Thresholds of the boundary checks; default from the environment (``GISGRID_CHECK_*``).
    dry_run
        Read and check everything, write nothing: the result says what would change.

    Raises
    ------
    InputFileError
        The file cannot be read at all.
    ImportRefusedError
        Before anything is written: every problem of the file, by row and column (a
        :class:`ValidationError`; boundary findings the import would add too, unless
        ``allow_findings``).
    """
    from gisgrid.exchange.sources import read_source

    decl = get_layer(layer)
    if crs is not None:
        crsmod.normalize_crs(crs)  # a bad --crs is a bad option (exit 2), not a bad file
    source = read_source(path, layer=layer, store=store, crs=crs, source_layer=source_layer)
    raw = source.frame
    if len(raw) == 0:
        raise InputFileError(f"{path}: 文件中没有数据 (the file holds no features)")
    problems: list[Problem] = list(source.problems)
    notes: tuple[str, ...] = source.notes
    verdict = _check_coordinates(store, decl, source)
    if verdict is not None:
        if verdict.refuses:
            problems.append(Problem(None, None, "geometry", _both(verdict)))
        elif verdict.kind not in ("ok", "unchecked"):
            notes = (*notes, f"坐标检查 coordinate check: {_both(verdict)}")
    frame: pd.DataFrame | None = None
    try:
        frame = decl.validate(raw, crs=source.crs)
    except ValidationError as exc:
        problems += _not_said_already(exc.problems, source.problems)
        if mode == "append":  # the keys already stored, said with the rest
            problems += _stored_keys(store, decl, raw)
    if frame is not None:
        frame = with_grid_codes(store, decl, frame)
        # checked now to report every problem early, and again under the store's writer lock
        # (the authoritative answer: another writer may change the store in between)
        more, store_notes = store_problems(store, decl, frame, mode=mode)
        problems += more
        notes = (*notes, *store_notes)
    found: list[Problem] = []
    if frame is not None and not problems and dry_run:
        found = boundary_problems(store, decl, frame, mode=mode, settings=check_settings)
        if not allow_findings:
            problems += found
    if problems:
        _refuse(layer, problems, source=source, dry_run=dry_run)
    assert frame is not None
    source_crs = crs or (str(raw.crs) if isinstance(raw, gpd.GeoDataFrame) and raw.crs else None)
    frames: dict[str, pd.DataFrame] = {layer: frame}
    read_digest: str | None = None
    if layer == "grids" and mode == "replace":  # history is kept, never overwritten
        stored = store.read("grids")
        read_digest = _grids_digest(stored)
        versioning = version_grids(
            stored,
            store.read("grid_versions", columns=["code", "version"]),
            frame,
            on=today(),
            at=dt.datetime.now(ZoneInfo(LOCAL_TZ)).replace(tzinfo=None, microsecond=0),
        )
        frame = frames[layer] = versioning.grids
        if len(versioning.archive):
            frames["grid_versions"] = versioning.archive
        notes = (*notes, *_versioning_notes(versioning))
    changes = planned_changes(store, frames, mode=mode)
    result = ImportResult(
        layer=layer,
        features=len(frame),
        mode=mode,
        source_crs=source_crs,
        notes=notes,
        findings=tuple(found),
        dry_run=dry_run,
        changes=changes,
        verdict=verdict,
        format=source.format,
    )
    if dry_run:
        return result

    allowed: list[Problem] = []

    def still_holds(current: Store) -> None:
        again, _ = store_problems(current, decl, frame, mode=mode)
        if again:
            _refuse(layer, again, source=source, dry_run=False)
        # judged on the store as it is under the writer lock: what it holds now decides
        found = boundary_problems(current, decl, frame, mode=mode, settings=check_settings)
        if found and not allow_findings:
            _refuse(layer, found, source=source, dry_run=False)
        if read_digest is not None and _grids_digest(current.read("grids")) != read_digest:
            # the versions were numbered and archived on the grids read before
            raise ConflictError(
                "the grids changed while the file was being imported (another writer): "
                "nothing was written; import it again"
            )
        allowed[:] = found

    store.write(frames, mode=mode, check=still_holds)
    return replace(result, findings=tuple(allowed))


def _both(verdict: CoordinateVerdict) -> str:
    """A verdict's message, Chinese and English."""
    return f"{verdict.message_zh} ({verdict.message})"


def _check_coordinates(store: Store, decl: Layer, source: Source) -> CoordinateVerdict | None:
    """The coordinate check of a file's points (``None``: no points from coordinates)."""
    if source.raw_xy is None:
        return None
    at = sorted(source.geometry_rows)
    frame = source.frame
    codes = frame["village_code"].to_numpy(dtype=object)[at] if "village_code" in frame else None
    keys = None
    if decl.key and all(k in frame.columns for k in decl.key):
        keys = np.asarray(key_strings(frame, decl.key), dtype=object)[at]
    reference = reference_from_store(store, decl)
    return detect_coordinates(
        *source.raw_xy,
        declared=source.declared,
        stated=source.crs_stated,
        reference=reference,
        village_codes=None if codes is None else list(codes),
        keys=None if keys is None else list(keys),
    )


def _stored_keys(store: Store, decl: Layer, raw: pd.DataFrame) -> list[Problem]:
    """Rows of a file that failed validation whose key is stored already (an append)."""
    if not decl.key or not all(k in raw.columns for k in decl.key):
        return []
    keys = pd.DataFrame({k: raw[k].astype(str).str.strip() for k in decl.key})
    existing = store.read(decl.name, columns=list(decl.key)).astype(str)
    clashes = np.flatnonzero(stored_key_clashes(decl, keys, existing)).tolist()
    return [
        Problem(i, "/".join(keys.iloc[i]), ",".join(decl.key), "already in the store")
        for i in clashes
    ]


def _not_said_already(found: list[Problem], said: tuple[Problem, ...]) -> list[Problem]:
    """Validation's problems, less a missing value where the reader said why it is missing
    (a coordinate that is not a number, an address that matches no household)."""
    rows = {p.index for p in said if p.index is not None}
    return [
        p
        for p in found
        if not (
            p.index in rows
            and p.message in ("geometry is missing", "required value is missing")
            and p.field in ("geometry", "household_id")
        )
    ]


def _refuse(layer: str, problems: list[Problem], *, source: Source, dry_run: bool) -> NoReturn:
    """Raise the report of every problem, whole-file ones first, then by row."""
    ordered = sorted(problems, key=lambda p: -1 if p.index is None else p.index)
    lines = [
        report_line(p, rows=source.rows, tabular=source.tabular, header_of=source.header_of)
        for p in ordered
    ]
    raise ImportRefusedError(layer, ordered, lines=lines, dry_run=dry_run, notes=source.notes)


def planned_changes(
    store: Store, frames: dict[str, pd.DataFrame], *, mode: WriteMode
) -> tuple[LayerChange, ...]:
    """Per layer, the rows a write of ``frames`` adds, replaces (same key) and removes."""
    out = []
    for name, frame in frames.items():
        decl = get_layer(name)
        if not decl.key or mode == "append":
            out.append(LayerChange(name, added=len(frame)))
            continue
        stored = store.read(name, columns=list(decl.key))
        clash = stored_key_clashes(decl, frame, stored)
        added = int((~clash).sum())
        if name in APPEND_ONLY_LAYERS:  # history: a stored row stands, only new keys are added
            out.append(LayerChange(name, added=added))
            continue
        replaced = int(clash.sum())
        out.append(
            LayerChange(name, added=added, replaced=replaced, removed=len(stored) - replaced)
        )
    return tuple(out)


#: the grids columns that say which version a row is, not what the grid is
_VERSION_COLUMNS = ("version", "derived_from", "change_set")


@dataclass(frozen=True)
class GridVersioning:
    """What an import of the grids in ``replace`` mode keeps of the grids it replaces.

    Attributes
    ----------
    grids
        The file's grids, each changed one numbered as the next version of its code (and,
        when the file does not say a later day, taking effect on the import day).
    archive
        The stored rows the import changes or removes, as they were, ending the day their
        successor begins (removed ones: the import day): rows of ``grid_versions``.
    changed, removed
        The codes whose stored version the import changes, and those it removes.
    starts
        The day the changed grids take effect, when the import set it (``None``: none did).
    """

    grids: pd.DataFrame
    archive: pd.DataFrame
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    starts: dt.date | None


def version_grids(
    stored: pd.DataFrame,
    archived: pd.DataFrame,
    incoming: pd.DataFrame,
    *,
    on: dt.date,
    at: dt.datetime,
) -> GridVersioning:
    """Number the grids of a ``replace`` import as new versions of the stored ones, and
    archive what they supersede: an import never overwrites history.

    A stored grid the file holds unchanged (every column but the version columns, its
    outline within about a millimetre, a ``valid_from`` not later than the stored one)
    keeps its version and its start. A changed one: the stored row
    goes to ``grid_versions`` as it was, ending (``valid_to``) the day the new version
    begins; the new version is numbered after every version of the code. The day it begins
    is the file's ``valid_from`` when that is later than the stored one's; otherwise the
    import day (or the stored ``valid_from``, for a grid not yet in force), unless the file
    ends the grid before that day (a retired grid corrected: the new version stands for the
    old one's whole time, which is archived as in force on no day). A stored grid the file
    leaves out is archived too, ending on the import day.

    Parameters
    ----------
    stored
        The grids as stored (canonical).
    archived
        The key columns of ``grid_versions`` as stored.
    incoming
        The file's grids (canonical).
    on
        The import day (the county's date).
    at
        The import time (local, without zone): ``superseded_at``.
    """
    grids_decl, versions_decl = get_layer("grids"), get_layer("grid_versions")
    content = [c for c in grids_decl.columns if c not in (*_VERSION_COLUMNS, "valid_from")]
    old_by_code = {str(c): i for i, c in enumerate(stored["code"])}
    top: dict[str, int] = {}
    for code, number in zip(archived["code"], archived["version"], strict=True):
        top[str(code)] = max(top.get(str(code), 0), int(number))
    out = incoming.copy()
    rows: list[pd.Series] = []
    changed: list[str] = []
    starts: set[dt.date] = set()
    day = pd.Timestamp(on)
    for i, code in enumerate(out["code"].astype(str)):
        j = old_by_code.get(code)
        if j is None:
            continue
        old = stored.iloc[j]
        stored_version = 1 if _missing(old["version"]) else int(old["version"])
        if _same_grid(old, out.iloc[i], content):
            for column in _VERSION_COLUMNS:  # the file may not carry them: the store's stand
                if _missing(out.at[i, column]):
                    out.at[i, column] = old[column]
            out.at[i, "valid_from"] = old["valid_from"]
            continue
        archived_version = max(stored_version, top.get(code, 0) + 1)
        start = _start(old["valid_from"], out.at[i, "valid_from"], out.at[i, "valid_to"], day)
        if start is not None and start != out.at[i, "valid_from"]:
            out.at[i, "valid_from"] = start
            starts.add(start.date())
        rows.append(_superseded(old, archived_version, start, at))
        out.at[i, "version"] = archived_version + 1
        out.at[i, "change_set"] = pd.NA
        changed.append(code)
    gone = sorted(set(old_by_code) - set(out["code"].astype(str)))
    for code in gone:
        old = stored.iloc[old_by_code[code]]
        stored_version = 1 if _missing(old["version"]) else int(old["version"])
        number = max(stored_version, top.get(code, 0) + 1)
        rows.append(_superseded(old, number, max(day, _day(old["valid_from"]) or day), at))
    archive = (
        versions_decl.conform(gpd.GeoDataFrame(rows, geometry="geometry", crs=crsmod.STORAGE_CRS))
        if rows
        else versions_decl.empty()
    )
    return GridVersioning(
        grids=grids_decl.conform(out),
        archive=archive,
        changed=tuple(changed),
        removed=tuple(gone),
        starts=min(starts) if starts else None,
    )


def _versioning_notes(versioning: GridVersioning) -> tuple[str, ...]:
    """What an import did with the versions of the grids, for the user to read."""
    if not len(versioning.archive):
        return ()
    notes = [
        f"{len(versioning.changed)} grid(s) changed and {len(versioning.removed)} removed: "
        f"their stored versions are kept in grid_versions"
    ]
    if versioning.starts is not None:
        notes.append(
            f"the new versions take effect on {versioning.starts.isoformat()} (the file's "
            f"valid_from was not later than the stored one's)"
        )
    return tuple(notes)


def _missing(value: Any) -> bool:
    """Whether one value of a frame is missing (``None``, NaN, ``NA``, ``NaT``)."""
    return bool(pd.isna(value))


def _day(value: Any) -> pd.Timestamp | None:
    """A date column's value as a midnight timestamp, ``None`` when missing."""
    return None if _missing(value) else pd.Timestamp(value).normalize()


def _start(
    old_from: object, new_from: object, new_to: object, day: pd.Timestamp
) -> pd.Timestamp | None:
    """The day a changed grid's new version begins (see :func:`version_grids`)."""
    old_start, start, end = _day(old_from), _day(new_from), _day(new_to)
    if start is not None and (old_start is None or start > old_start):
        return start  # the file says when
    candidate = day if old_start is None else max(day, old_start)
    if end is not None and end <= candidate:
        return start  # a retired grid corrected: the new version stands for the old one
    return candidate


def _superseded(
    old: pd.Series, number: int, start: pd.Timestamp | None, at: dt.datetime
) -> pd.Series:
    """A stored grid row as archived: numbered, ending when its successor begins."""
    row = old.copy()
    old_start, old_end = _day(old["valid_from"]), _day(old["valid_to"])
    if start is None:  # replaced for its whole time: in force on no day
        end = old_start if old_start is not None else (old_end or pd.Timestamp(at.date()))
        row["valid_from"] = end if old_start is None else old_start
    else:
        end = start if old_end is None else min(old_end, start)
        if old_start is not None and end < old_start:
            end = old_start
    row["valid_to"] = end
    row["version"] = number
    row["superseded_at"] = pd.Timestamp(at)
    row["superseded_by"] = pd.NA
    return row


def _same_grid(old: pd.Series, new: pd.Series, columns: list[str]) -> bool:
    """Whether a file's row of the grids is the stored grid (the version columns aside):
    equal values, outlines equal within about a millimetre whatever their vertex order, and
    a ``valid_from`` not later than the stored one (an import moves the start of a changed
    grid to the import day: the same file again must find it unchanged)."""
    for column in columns:
        a, b = old[column], new[column]
        if _missing(a) and _missing(b):
            continue
        if _missing(a) or _missing(b) or a != b:
            return False
    start, old_start = _day(new["valid_from"]), _day(old["valid_from"])
    if start is not None and (old_start is None or start > old_start):
        return False  # a new version from a later day
    a, b = shapely.normalize(old["geometry"]), shapely.normalize(new["geometry"])
    return bool(shapely.equals_exact(a, b, tolerance=1e-8))


def _grids_digest(frame: pd.DataFrame) -> str:
    """The grids' content as one value: the store under the writer lock is the one read."""
    digest = hashlib.sha256()
    digest.update(frame.drop(columns="geometry").astype(str).to_csv(index=False).encode())
    for wkb in shapely.to_wkb(np.asarray(frame.geometry.values, dtype=object)):
        digest.update(wkb or b"")
    return digest.hexdigest()


def boundary_problems(
    store: Store,
    decl: Layer,
    frame: pd.DataFrame,
    *,
    mode: WriteMode,
    settings: CheckSettings | None = None,
) -> list[Problem]:
    """The boundary findings writing ``frame`` to ``store`` would add, as problems.

    The rules of ``gisgrid check`` (checks 1–4, :mod:`gisgrid.analysis.checks.boundaries`)
    on the stored townships, villages and grids and on the same layers as they would be
    after the write (``replace``: the frame; ``append``: stored and frame); only what is new
    or worse counts (:func:`~gisgrid.analysis.checks.added.added_boundary_findings`). Only
    the layers of :data:`CHECKED_LAYERS` are checked (others: no problems).

    Returns
    -------
    list of Problem
        One per finding; ``index`` is the feature's position in ``frame`` when the finding
        is about a feature of the file.
    """
    if decl.name not in CHECKED_LAYERS or not isinstance(frame, gpd.GeoDataFrame):
        return []
    stored = {name: store.read(name, columns=LAYER_COLUMNS[name]) for name in POLYGON_LAYERS}
    columns = [*(LAYER_COLUMNS[decl.name] or []), frame.geometry.name]
    incoming = frame[columns].to_crs(crsmod.STORAGE_CRS)
    if mode == "append" and len(stored[decl.name]):
        incoming = pd.concat([stored[decl.name], incoming], ignore_index=True)
    after = {**stored, decl.name: incoming}
    findings = added_boundary_findings(stored, after, settings=settings)
    position = {str(code): i for i, code in enumerate(frame["code"])}
    return [_as_problem(f, position) for f in findings]


def _as_problem(finding: BoundaryFinding, position: dict[str, int]) -> Problem:
    """A finding as a problem of the feature it is about (the first of its codes in the file)."""
    index = next((position[c] for c in finding.codes if c in position), None)
    feature = finding.codes[0] if finding.codes else None
    field = "parent_code" if finding.parent_missing else "geometry"
    return Problem(index, feature, field, f"{finding.check}: {finding.message}")


def store_problems(
    store: Store, decl: Layer, frame: pd.DataFrame, *, mode: WriteMode
) -> tuple[list[Problem], tuple[str, ...]]:
    """What is wrong with writing ``frame`` to ``store`` as it is now, feature by feature.

    Keys already stored (an append), backbone households referred to but in neither the
    file nor the store, points outside the county (:func:`outside_county`).

    Returns
    -------
    tuple
        The problems, in feature order, and notes on what could not be checked.
    """
    problems: list[Problem] = []
    if mode == "append" and decl.key:
        existing = store.read(decl.name, columns=list(decl.key))
        for i in np.flatnonzero(stored_key_clashes(decl, frame, existing)).tolist():
            key = "/".join(str(frame.at[i, k]) for k in decl.key)
            problems.append(Problem(i, key, ",".join(decl.key), "already in the store"))
    if decl.name == "households":
        known: set[str] = set()
        if mode == "append":
            old = store.read(decl.name, where={"backbone": True}, columns=["id"])
            known = set(old["id"])
        for i, fld, msg in households.references(frame, known):
            problems.append(Problem(i, str(frame.at[i, "id"]), fld, msg))
    problems += case_history_problems(store, decl, frame, mode=mode)
    outside, notes = outside_county(store, decl, frame)
    problems += outside
    return sorted(problems, key=lambda p: p.index or 0), notes


def with_grid_codes(store: Store, decl: Layer, frame: pd.DataFrame) -> pd.DataFrame:
    """Points the file gives no grid code get the one the assignment rule gives them now.

    So that an import of households, service points or incidents arrives assigned, in its
    own transaction (a code the file brings is kept: an export taken back). The grids are
    those stored when the file is read; should they change before the write, the next
    ``gisgrid assign`` puts it right (and no reader trusts a stored code meanwhile).
    """
    if decl.name not in ASSIGNED_LAYERS or not len(frame):
        return frame
    missing = frame["grid_code"].isna().to_numpy()
    if not missing.any():
        return frame
    grids = store.read("grids", where={"level": 3})
    if not len(grids):
        return frame
    codes = frame["grid_code"].to_numpy(dtype=object).copy()
    codes[missing] = current_grid_codes(frame.geometry[missing], grid_index(grids))
    out = frame.copy()
    out["grid_code"] = codes
    return decl.conform(out)


#: records about a row of another layer: the column naming it, and that layer
RECORDS_OF = {
    "case_steps": ("incident_id", "incidents"),
    "public_reports": ("incident_id", "incidents"),
    "visits": ("household_id", "households"),
    "volunteer_hours": ("activity_id", "volunteer_activities"),
}


def case_history_problems(
    store: Store, decl: Layer, frame: pd.DataFrame, *, mode: WriteMode
) -> list[Problem]:
    """Records (case steps, visits) must be about a stored row; an incident with steps must
    stay.

    PostGIS refuses a case step without its incident, and the removal of an incident with
    steps, by a foreign key; checked here so that a GeoPackage refuses them too, with the
    same answer, before anything is written. A visit outlives its household (it moves away):
    only a new visit must name a stored one.
    """
    if decl.name in RECORDS_OF:
        column, layer = RECORDS_OF[decl.name]
        known = set(store.read(layer, columns=["id"])["id"].astype(str))
        key = frame[list(decl.key)].astype(str).agg("/".join, axis=1)
        return [
            Problem(i, str(key.iat[i]), column, f"no {layer} row with this id in the store")
            for i in np.flatnonzero(~frame[column].astype(str).isin(known)).tolist()
        ]
    if decl.name == "incidents" and mode == "replace":
        with_steps = set(store.read("case_steps", columns=["incident_id"])["incident_id"])
        # a resident's report is part of the case's history too (PostGIS: a foreign key)
        with_steps |= set(store.read("public_reports", columns=["incident_id"])["incident_id"])
        gone = sorted(with_steps - set(frame["id"].astype(str)))
        if gone:
            shown = ", ".join(gone[:10]) + (" …" if len(gone) > 10 else "")
            return [
                Problem(None, None, "id", f"{len(gone)} incident(s) with a case history would "
                        f"be removed (their steps are kept for good): {shown}")
            ]  # fmt: skip
    return []


def outside_county(
    store: Store, decl: Layer, frame: pd.DataFrame, *, margin: float = OUTLINE_MARGIN_M
) -> tuple[list[Problem], tuple[str, ...]]:
    """Points farther than ``margin`` metres outside the county, as problems.

    The county is the union of the townships in ``store``; validation of a layer alone
    cannot know it (it checks only a box around China).

    Parameters
    ----------
    store
        The store the points go to; its townships give the county.
    decl
        The layer of ``frame``; only point layers are checked.
    frame
        Features in canonical form.
    margin
        How far outside the outline a point may lie, in metres.

    Returns
    -------
    tuple
        The problems (one per point outside) and notes on what could not be checked.
    """
    if decl.geometry_type != "Point" or len(frame) == 0:
        return [], ()
    townships = store.read("townships")
    if len(townships) == 0:
        return [], (
            "points not checked against the county outline: the store holds no townships "
            "yet (import townships first)",
        )
    to_metric = crsmod.METRIC_CRS
    outline = gpd.GeoSeries([shapely.union_all(townships.geometry.values)], crs=crsmod.STORAGE_CRS)
    county = outline.to_crs(to_metric).values[0]
    allowed = shapely.buffer(county, margin)
    points = np.asarray(gpd.GeoSeries(frame.geometry).to_crs(to_metric).values, dtype=object)
    shapely.prepare(allowed)
    outside = np.flatnonzero(~shapely.covers(allowed, points))
    problems = []
    for i in outside.tolist():
        km = shapely.distance(county, points[i]) / 1000
        key = "/".join(str(frame.at[i, k]) for k in decl.key) or None
        message = (
            f"lies {km:,.1f} km outside the county (the townships in the store); "
            f"at most {margin / 1000:g} km is allowed"
        )
        problems.append(Problem(i, key, "geometry", message))
    return problems, ()
