"""The Store interface: what every store (GeoPackage, PostGIS) offers, and nothing more.

A store only loads and saves. Spatial rules (assignment, checks) live once in the analysis
modules and work on the frames a store returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import pandas as pd

from gisgrid.errors import StoreError
from gisgrid.layers import get_layer
from gisgrid.layers.schema import Layer

WriteMode = Literal["replace", "append"]
#: attribute filters: column → value, or column → list of values (any of them)
Where = Mapping[str, object]
BBox = tuple[float, float, float, float]


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


@runtime_checkable
class Store(Protocol):
    """A place that holds the layers of one county.

    Every frame passed to :meth:`write` must be in canonical form (see
    :meth:`gisgrid.layers.schema.Layer.validate`); every frame :meth:`read` returns is.
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
    ) -> pd.DataFrame:
        """Read a layer, optionally only features in a bounding box (lon/lat) or matching ``where``.

        A layer absent from the store reads as an empty frame.
        """
        ...

    def count(self, layer: str, *, where: Where | None = None) -> int:
        """Number of features in a layer (matching ``where``)."""
        ...

    def write(
        self,
        frames: Mapping[str, pd.DataFrame],
        *,
        mode: WriteMode = "replace",
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        """Write several layers and metadata as one transaction: all of it, or nothing.

        ``replace`` swaps each given layer's content for the frame; ``append`` adds the rows.
        """
        ...

    def get_meta(self, key: str) -> Any:
        """A JSON value stored under ``key`` (``None`` when absent)."""
        ...

    def close(self) -> None:
        """Release connections and locks."""
        ...
