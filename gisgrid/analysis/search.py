"""Find households by head-of-household name, pinyin initials, house number or id.

Field staff type on phones, often in pinyin: ``zs`` or ``zhangsan`` finds 张三. The index
holds only what search needs (id, name, house number, village) and is rebuilt from the store
when households change. Matching is ranked:

=====  ===========================================================
score  match
=====  ===========================================================
100    the id exactly
95     the whole name, or the whole house number
85     the name starts with the query
80     the house number contains the query
75     the name contains the query
70     pinyin initials start with the query (``zs`` → 张三)
65     full pinyin starts with the query (``zhangs`` → 张三)
40–60  fuzzy: the query's characters appear in the name in order
=====  ===========================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Hit:
    """One search result."""

    id: str
    score: int


def romanise(names: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Pinyin initials and full pinyin (lower case, no tones) of every name (the finder map's
    own search matches them as :meth:`HouseholdSearch.search` does).

    Converts each distinct character once, then joins per name: fast for 150,000 names.
    pypinyin (half a second to import) is imported here, on first use: a server starts
    without it.
    """
    from pypinyin import Style, pinyin

    chars = sorted({c for name in names.dropna() for c in str(name)})
    full = {c: (pinyin(c, style=Style.NORMAL, errors="default")[0][0] or c).lower() for c in chars}
    initials = ["".join(full[c][0] for c in str(n)) if isinstance(n, str) else "" for n in names]
    fulls = ["".join(full[c] for c in str(n)) if isinstance(n, str) else "" for n in names]
    return np.asarray(initials, dtype=object), np.asarray(fulls, dtype=object)


#: numpy's variable-width UTF-8 strings: its vectorised string functions (np.strings) run in C
_TEXT = np.dtypes.StringDType()


def _text(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=object).astype(_TEXT)


class HouseholdSearch:
    """An in-memory search index over households.

    The columns are kept as numpy strings, so that each kind of match is one vectorised pass
    over all households (np.strings, in C).

    Parameters
    ----------
    households
        A frame with ``id``, ``head_name``, ``house_number`` and ``village_code``.
    """

    def __init__(self, households: pd.DataFrame) -> None:
        self.ids = households["id"].astype(str).to_numpy(dtype=object)
        self.names = households["head_name"].fillna("").astype(str).to_numpy(dtype=object)
        self.numbers = households["house_number"].fillna("").astype(str).to_numpy(dtype=object)
        self.villages = households["village_code"].fillna("").astype(str).to_numpy(dtype=object)
        self.initials, self.pinyin = romanise(households["head_name"])
        self._ids, self._names, self._numbers = (
            _text(self.ids),
            _text(self.names),
            _text(self.numbers),
        )
        self._villages = _text(self.villages)
        self._initials, self._pinyin = _text(self.initials), _text(self.pinyin)

    def __len__(self) -> int:
        return len(self.ids)

    def search(
        self,
        query: str,
        *,
        village: str | None = None,
        limit: int = 20,
        allowed: np.ndarray | None = None,
    ) -> list[Hit]:
        """Households matching ``query``, best first (ties by id).

        Parameters
        ----------
        query
            Name, pinyin (initials or full), house number or id; surrounding space ignored.
        village
            Only households registered in this village (12-digit code), township (9) or
            county (6).
        limit
            At most this many hits.
        allowed
            Only the households marked true (one per household, in the order of the frame
            the index was built from): the caller's area
            (:meth:`gisgrid.analysis.scope.Scope.rows_in`).
        """
        q = query.strip()
        if not q:
            return []
        score = np.zeros(len(self.ids), dtype=np.int64)

        def better(mask: np.ndarray, value: int) -> None:
            score[mask & (score < value)] = value

        better(self._ids == q, 100)
        better((self._names == q) | (self._numbers == q), 95)
        better(np.strings.startswith(self._names, q), 85)
        better(np.strings.find(self._numbers, q) >= 0, 80)
        better(np.strings.find(self._names, q) >= 0, 75)
        lowered = q.lower().replace(" ", "")
        if lowered.isascii() and lowered.isalpha():
            better(np.strings.startswith(self._initials, lowered), 70)
            better(np.strings.startswith(self._pinyin, lowered), 65)
        elif len(q) >= 2 and not q.isascii():
            np.maximum(score, self._fuzzy(q), out=score)
        if village:
            score[~np.strings.startswith(self._villages, village)] = 0
        if allowed is not None:
            score[~allowed] = 0
        hits = np.flatnonzero(score > 0)
        order = np.lexsort((self.ids[hits], -score[hits]))[:limit]
        return [Hit(str(self.ids[hits[i]]), int(score[hits[i]])) for i in order]

    def _fuzzy(self, q: str) -> np.ndarray:
        """40–60 for names holding the query's characters in order (张明 finds 张小明)."""
        first = np.strings.find(self._names, q[0]) >= 0
        out = np.zeros(len(self.names), dtype=np.int64)
        for i in np.flatnonzero(first):
            name = self.names[i]
            pos = 0
            found = 0
            for ch in q:
                j = name.find(ch, pos)
                if j < 0:
                    break
                found += 1
                pos = j + 1
            if found == len(q):
                out[i] = 40 + int(20 * len(q) / max(len(name), len(q)))
        return out
