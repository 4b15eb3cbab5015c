"""gisgrid: a grid-governance GIS for Chinese counties (网格化基层治理).

Data flows one way: store → layers → analysis → maps / API.
"""

from __future__ import annotations

__version__ = "0.1.0"
