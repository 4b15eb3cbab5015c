"""A figure left behind by the split of the old map builders.

The maps now live in :mod:`gisgrid.cartography.maps`, their styles in
:mod:`~gisgrid.cartography.styles`, payloads in :mod:`~gisgrid.cartography.payload` and pages
in :mod:`~gisgrid.cartography.page`. :func:`household_net_share` is a figure: its home is
:mod:`gisgrid.analysis.indicators`, where it moves with the other per-area figures.
"""

from __future__ import annotations

import pandas as pd

from gisgrid.cartography.data import in_net


def household_net_share(households: pd.DataFrame) -> float:
    """Share of households in the party-member net (for summaries and tests)."""
    return float(in_net(households).mean()) if len(households) else float("nan")


__all__ = ["household_net_share"]
