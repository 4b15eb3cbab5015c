"""村组门牌: a register's village/group/house-number address matched to a stored household.

Registers without coordinates name each household by its address, ``测试一村3组12号``. The
households in the store carry the same in ``house_number`` (the sample county's are exactly
this), sometimes without the village's name. An address matches the stored household whose
house number is the same after :func:`normalize_address`, either as written or with the
village's name before it; when the row gives a village code, only that village's households
count. An address that matches no household, or several, is unmatched (reported by row).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip()


def normalize_address(text: object) -> str:
    """An address as compared: NFKC, no spaces, ``第3组``/``3村民小组`` as ``3组``."""
    s = unicodedata.normalize("NFKC", str(text)).strip()
    s = re.sub(r"\s+", "", s)
    s = s.replace("村民小组", "组")
    return re.sub(r"第(\d+)组", r"\1组", s)


@dataclass(frozen=True)
class AddressMatch:
    """Which stored household each address names.

    Attributes
    ----------
    positions
        For each address, the position of its household in the households given, or -1.
    reasons
        For each unmatched address (by its position among the addresses), why.
    """

    positions: np.ndarray
    reasons: dict[int, str]

    @property
    def matched(self) -> int:
        return int((self.positions >= 0).sum())


def match_addresses(
    addresses: Sequence[object],
    households: pd.DataFrame,
    *,
    village_names: dict[str, str],
    village_codes: Sequence[object] | None = None,
) -> AddressMatch:
    """Match addresses to stored households.

    Parameters
    ----------
    addresses
        The register's 村组门牌 cells (``None`` for blank ones).
    households
        Stored households: ``id``, ``house_number``, ``village_code``.
    village_names
        Village code → name (to match an address that names the village before a house
        number that does not).
    village_codes
        The register's village code of each row, when it has the column.
    """
    index: dict[str, list[int]] = {}
    numbers = households["house_number"].tolist()
    villages = households["village_code"].tolist()
    for i, (number, village) in enumerate(zip(numbers, villages, strict=True)):
        if number is None or (isinstance(number, float) and np.isnan(number)):
            continue
        key = normalize_address(number)
        index.setdefault(key, []).append(i)
        name = village_names.get(str(village))
        if name and not key.startswith(name):
            index.setdefault(normalize_address(name + key), []).append(i)
    positions = np.full(len(addresses), -1, dtype=np.int64)
    reasons: dict[int, str] = {}
    for j, address in enumerate(addresses):
        if address is None or (isinstance(address, float) and np.isnan(address)):
            reasons[j] = "村组门牌为空 (no address)"
            continue
        found = index.get(normalize_address(address), [])
        wanted = None if village_codes is None else village_codes[j]
        if not _blank(wanted):
            found = [i for i in found if str(villages[i]) == str(wanted).strip()]
        if len(found) == 1:
            positions[j] = found[0]
        elif not found:
            reasons[j] = f"库中没有门牌为「{address}」的农户 (no stored household at this address)"
        else:
            reasons[j] = (
                f"「{address}」对应 {len(found)} 户，无法确定 (matches {len(found)} stored "
                "households; add the village code column)"
            )
    return AddressMatch(positions, reasons)
