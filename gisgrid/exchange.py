"""Import and export of exchange files (GeoJSON, GeoPackage) that planners edit in QGIS.

Property names in the files are the layer's declared column names (see
docs/exchange-format.md). An import validates the whole file first and then writes it in one
store transaction: a bad feature anywhere means nothing is written. Points must lie within
the county (the union of the townships in the store) or at most
:data:`~gisgrid.layers.schema.OUTLINE_MARGIN_M` outside it. Grids go through the boundary
checks of ``gisgrid check`` (:func:`boundary_problems`): an import that would add an overlap,
a gap, a grid outside its parent or a missing parent is refused, unless the caller allows
findings (then it is written and they are listed).
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
import shapely.geometry
from shapely.errors import ShapelyError

from gisgrid import crs as crsmod
from gisgrid.analysis.checks.added import POLYGON_LAYERS, BoundaryFinding, added_boundary_findings
from gisgrid.analysis.checks.context import LAYER_COLUMNS
from gisgrid.errors import ConfigError, InputFileError, Problem, ValidationError
from gisgrid.layers import get_layer, households
from gisgrid.layers.schema import OUTLINE_MARGIN_M, Layer
from gisgrid.settings import CheckSettings
from gisgrid.stores.base import Store, WriteMode, stored_key_clashes

#: the layers an import runs the boundary checks for (townships and villages: not yet, so
#: that they can be imported before their parents and children)
CHECKED_LAYERS = ("grids",)
#: file endings we read and write, and the OGR driver for each
DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote."""

    layer: str
    features: int
    mode: WriteMode
    source_crs: str | None
    #: what the import could not check, for the user to read (e.g. no county outline yet)
    notes: tuple[str, ...] = ()
    #: boundary findings the import added, written anyway (only with ``allow_findings``)
    findings: tuple[Problem, ...] = ()


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
) -> ImportResult:
    """Validate a file against ``layer`` and write it to ``store`` in one transaction.

    Parameters
    ----------
    store
        Destination.
    layer
        Layer name, e.g. ``grids``.
    path
        GeoJSON or GeoPackage file.
    crs
        CRS of the coordinates if the file does not say or says wrong (``EPSG:4490``,
        ``gcj02``, ``bd09``, any EPSG code).
    mode
        ``append`` adds features (keys must be new), ``replace`` replaces the whole layer.
    source_layer
        Layer inside a multi-layer GeoPackage.
    allow_findings
        Write grids even when they add boundary findings (overlaps, gaps, parts outside the
        parent, missing parents); they are listed in
        :attr:`ImportResult.findings`. Default: refuse them.
    check_settings
        Thresholds of the boundary checks; default from the environment (``GISGRID_CHECK_*``).

    Raises
    ------
    InputFileError, ValidationError
        Before anything is written (a :class:`ValidationError` too for boundary findings the
        import would add, unless ``allow_findings``).
    """
    decl = get_layer(layer)
    if crs is not None:
        crsmod.normalize_crs(crs)  # a bad --crs is a bad option (exit 2), not a bad file
    raw = read_exchange_file(path, layer=layer, source_layer=source_layer)
    if len(raw) == 0:
        raise InputFileError(f"{path}: the file holds no features")
    source_crs = crs or (str(raw.crs) if isinstance(raw, gpd.GeoDataFrame) and raw.crs else None)
    frame = decl.validate(raw, crs=crs)
    # checked now to report every problem early, and again under the store's writer lock
    # (the authoritative answer: another writer may change the store in between)
    problems, notes = store_problems(store, decl, frame, mode=mode)
    if problems:
        raise ValidationError(layer, problems)

    allowed: list[Problem] = []

    def still_holds(current: Store) -> None:
        again, _ = store_problems(current, decl, frame, mode=mode)
        if again:
            raise ValidationError(layer, again)
        # judged on the store as it is under the writer lock: what it holds now decides
        found = boundary_problems(current, decl, frame, mode=mode, settings=check_settings)
        if found and not allow_findings:
            raise ValidationError(layer, found)
        allowed[:] = found

    store.write({layer: frame}, mode=mode, check=still_holds)
    return ImportResult(
        layer=layer,
        features=len(frame),
        mode=mode,
        source_crs=source_crs,
        notes=notes,
        findings=tuple(allowed),
    )


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


def case_history_problems(
    store: Store, decl: Layer, frame: pd.DataFrame, *, mode: WriteMode
) -> list[Problem]:
    """Case steps must belong to a stored incident, and an incident with steps must stay.

    PostGIS refuses both by a foreign key; checked here so that a GeoPackage refuses them
    too, with the same answer, before anything is written.
    """
    if decl.name == "case_steps":
        incidents = set(store.read("incidents", columns=["id"])["id"].astype(str))
        return [
            Problem(i, f"{frame['incident_id'].iat[i]}/{frame['seq'].iat[i]}", "incident_id",
                    "no incident with this id in the store")
            for i in np.flatnonzero(~frame["incident_id"].astype(str).isin(incidents)).tolist()
        ]  # fmt: skip
    if decl.name == "incidents" and mode == "replace":
        with_steps = set(store.read("case_steps", columns=["incident_id"])["incident_id"])
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


def export_layer(store: Store, layer: str, path: str | Path) -> int:
    """Write a layer from ``store`` to a GeoJSON or GeoPackage file; returns the feature count.

    GeoJSON is written in EPSG:4326 (RFC 7946); a GeoPackage keeps the storage CRS.
    """
    path = Path(path)
    decl = get_layer(layer)
    if path.suffix.lower() not in DRIVERS:  # an output the user asked for: a bad option
        endings = ", ".join(DRIVERS)
        raise ConfigError(f"{path}: unknown file type to export to; use one of {endings}")
    driver = _driver_for(path)
    frame = store.read(layer)
    out = frame.copy()
    for f in decl.fields:
        if f.type == "date":
            # ISO dates, not midnight timestamps, in files people open
            out[f.name] = out[f.name].dt.strftime("%Y-%m-%d").astype("object")
            out[f.name] = out[f.name].where(frame[f.name].notna(), None)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    # name the layer (a GeoJSON's "name" member too), not after the temporary file
    kwargs: dict[str, object] = {"driver": driver, "layer": layer}
    if decl.spatial:
        kwargs["geometry_type"] = decl.geometry_type
    try:
        pyogrio.write_dataframe(out, tmp, **kwargs)
        tmp.replace(path)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise InputFileError(f"{path}: cannot write ({exc})") from exc
    return len(frame)
