"""The three maps, one module each: coverage (leaders), incidents, household finder (field
staff). Each turns an :class:`~gisgrid.cartography.data.AreaData` into a folium map whose
layers gisgrid's page script draws from one JSON payload (:mod:`gisgrid.cartography.payload`).
"""

from __future__ import annotations

from gisgrid.cartography.maps.coverage import coverage_map
from gisgrid.cartography.maps.finder import finder_map
from gisgrid.cartography.maps.incidents import incident_map

MAP_KINDS = ("coverage", "incidents", "finder")

__all__ = ["MAP_KINDS", "coverage_map", "finder_map", "incident_map"]
