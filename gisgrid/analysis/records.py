"""Plain Python values from one record of a layer frame, for typed results.

A canonical frame marks a missing value as ``None``, ``NaN`` or ``pd.NA`` depending on the
column's dtype; typed results want ``None``. One definition of "missing" for every reader.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def is_missing(value: Any) -> bool:
    """Whether a scalar from a frame is missing (``None``, ``NaN``, ``NaT`` or ``pd.NA``)."""
    return value is None or bool(np.ndim(value) == 0 and pd.isna(value))


def text_or_none(value: Any) -> str | None:
    """The value as text, ``None`` when missing."""
    return None if is_missing(value) else str(value)


def int_or_none(value: Any) -> int | None:
    """The value as an integer, ``None`` when missing."""
    return None if is_missing(value) else int(value)


def bool_or_none(value: Any) -> bool | None:
    """The value as a boolean, ``None`` when missing."""
    return None if is_missing(value) else bool(value)
