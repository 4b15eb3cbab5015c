"""The data layers, one module per layer; :data:`LAYERS` is the registry every part uses."""

from __future__ import annotations

from gisgrid.errors import UnknownLayerError
from gisgrid.layers import (
    case_steps,
    grid_versions,
    grids,
    households,
    incidents,
    organisation,
    public_reports,
    service_points,
    townships,
    villages,
    visits,
)
from gisgrid.layers.schema import Field, Layer

#: every layer by name, in load order (a layer only refers to layers before it)
LAYERS: dict[str, Layer] = {
    layer.name: layer
    for layer in (
        townships.LAYER,
        villages.LAYER,
        grids.LAYER,
        grid_versions.LAYER,
        households.LAYER,
        service_points.LAYER,
        incidents.LAYER,
        case_steps.LAYER,
        public_reports.LAYER,
        visits.LAYER,
        organisation.COUNTY_LEADERS,
        organisation.LEADER_TOWNSHIPS,
        organisation.PAIRINGS,
        organisation.FIRST_SECRETARIES,
        organisation.VOLUNTEER_TEAMS,
        organisation.VOLUNTEER_ACTIVITIES,
        organisation.VOLUNTEER_HOURS,
    )
}

#: the point layers whose ``grid_code`` assignment fills (the one list every reader and store uses)
ASSIGNED_LAYERS: tuple[str, ...] = tuple(
    name
    for name, decl in LAYERS.items()
    if decl.geometry_type == "Point" and "grid_code" in decl.columns
)


def get_layer(name: str) -> Layer:
    """The layer declared under ``name``.

    Raises
    ------
    UnknownLayerError
        Naming the layers there are.
    """
    try:
        return LAYERS[name]
    except KeyError:
        known = ", ".join(LAYERS)
        raise UnknownLayerError(f"unknown layer '{name}'; the layers are: {known}") from None


__all__ = ["ASSIGNED_LAYERS", "LAYERS", "Field", "Layer", "get_layer"]
