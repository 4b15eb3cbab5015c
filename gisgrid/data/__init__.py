"""Package data: the real files the library reads at run time, shipped in the wheel.

``huarong_outline.geojson`` (the county outline, WGS84) and ``huarong_divisions.csv`` (the
official township and village names and codes) are written by ``data/boundaries/derive.py``
in the repository, and so are ``yueyang_outlines.geojson`` (the nine county-level outlines
of the Yueyang prefecture, 430600, a clean coverage) and ``yueyang_divisions.csv`` (their
county, township and village names and codes); ``data/boundaries/PROVENANCE.md`` says where
they come from. Read them
through :func:`resource`, never by a path relative to the source tree.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

OUTLINE = "huarong_outline.geojson"
DIVISIONS = "huarong_divisions.csv"
PREFECTURE_OUTLINES = "yueyang_outlines.geojson"
PREFECTURE_DIVISIONS = "yueyang_divisions.csv"


def resource(name: str) -> Traversable:
    """One file of the package data, wherever the package is installed (wheel, zip, tree)."""
    return files(__name__) / name


__all__ = ["DIVISIONS", "OUTLINE", "PREFECTURE_DIVISIONS", "PREFECTURE_OUTLINES", "resource"]
