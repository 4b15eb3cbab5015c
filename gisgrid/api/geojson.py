"""GeoJSON responses: FeatureCollections with paging, bbox and optional simplification."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid import crs as crsmod


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA:
        return None
    return value


def plain_record(record: Mapping[Any, Any]) -> dict[str, Any]:
    """A record's values as JSON has them: missing values ``None``, times ISO text."""
    return {str(k): _plain(v) for k, v in record.items()}


def _round7(xy: np.ndarray) -> np.ndarray:
    return np.round(xy, 7)  # about 1 cm: more digits only add bytes


def simplify(frame: gpd.GeoDataFrame, metres: float) -> gpd.GeoDataFrame:
    """Simplify polygons by ``metres`` in the metric CRS, keeping shared edges shared."""
    if metres <= 0 or len(frame) == 0:
        return frame
    types = set(shapely.get_type_id(frame.geometry.values))
    if not types <= {3, 6}:
        return frame
    metric = crsmod.to_metric(frame.geometry)
    simple = shapely.coverage_simplify(metric.values, metres)
    back = gpd.GeoSeries(simple, crs=crsmod.METRIC_CRS).to_crs(crsmod.STORAGE_CRS)
    return frame.set_geometry(back.values)


def feature_collection(
    frame: pd.DataFrame, *, matched: int, offset: int, key: tuple[str, ...]
) -> dict[str, Any]:
    """A FeatureCollection of ``frame`` (one page) with ``numberMatched``/``numberReturned``."""
    features = []
    columns = [c for c in frame.columns if c != "geometry"]
    records = frame[columns].to_dict("records")
    geoms = frame.geometry.values if isinstance(frame, gpd.GeoDataFrame) else [None] * len(frame)
    for rec, geom in zip(records, geoms, strict=True):
        props = {k: _plain(v) for k, v in rec.items()}
        features.append(
            {
                "type": "Feature",
                "id": "/".join(str(props[k]) for k in key) if key else None,
                "geometry": None
                if geom is None or shapely.is_empty(geom)
                else shapely.geometry.mapping(shapely.transform(geom, _round7)),
                "properties": props,
            }
        )
    out: dict[str, Any] = {
        "type": "FeatureCollection",
        "numberMatched": matched,
        "numberReturned": len(features),
        "offset": offset,
        "features": features,
    }
    if isinstance(frame, gpd.GeoDataFrame) and len(frame):
        out["bbox"] = [round(float(v), 7) for v in frame.total_bounds]
    return out
