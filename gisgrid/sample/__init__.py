"""The Huarong sample county: real outline and division names, everything inside synthetic.

``build_sample_county(seed=…)`` makes the same county for the same seed: 14 townships,
203 villages and communities, 1,240 level-2 and 2,860 level-3 grids that tile exactly,
households in hamlets linked to party-member backbone households, service points, a year of
incidents, the county's organisation, and a small set of planted defects recorded in a
manifest. People are fake; see :mod:`gisgrid.sample.names`. The steps are in
:mod:`gisgrid.sample.build`.
"""

from __future__ import annotations

from gisgrid.sample.build import (
    DEFAULT_HOUSEHOLDS,
    MIN_HOUSEHOLDS,
    SAMPLE_AS_OF,
    SampleCounty,
    build_sample_county,
    write_sample_county,
)

__all__ = [
    "DEFAULT_HOUSEHOLDS",
    "MIN_HOUSEHOLDS",
    "SAMPLE_AS_OF",
    "SampleCounty",
    "build_sample_county",
    "write_sample_county",
]
