"""Column headers of registers: which layer column a header as written means.

One source of truth: a header names a column by the column's name (``head_name``) or by the
Chinese label its layer declares (``户主姓名``, :attr:`gisgrid.layers.schema.Field.label_zh`).
:data:`ALIASES` adds only the headers registers commonly use that differ from the labels
(``户主`` for ``head_name``, ``人口数`` for ``members``). Headers are compared after NFKC
(full-width letters, digits and brackets become plain ones), without spaces, a required
marker ``*`` or a unit in brackets at the end (``家庭人口（人）``), case-insensitively.

Beside the layer's columns a register may hold the coordinates (:data:`LON_HEADERS`,
:data:`LAT_HEADERS`) or a village/group/house-number address (:data:`ADDRESS_HEADERS`,
``村组门牌``) matched against the households in the store.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from gisgrid.errors import Problem
from gisgrid.layers.schema import Layer

#: headers of the longitude column (x)
LON_HEADERS = ("经度", "lon", "lng", "long", "longitude", "x", "东经", "x坐标", "坐标x")
#: headers of the latitude column (y)
LAT_HEADERS = ("纬度", "lat", "latitude", "y", "北纬", "y坐标", "坐标y")
#: headers of the village/group/house-number address column
ADDRESS_HEADERS = ("村组门牌", "村组门牌号", "address")

#: the headers registers use that are neither a column's name nor its Chinese label, by layer
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "households": {
        "id": ("户号", "农户编号", "编号"),
        "head_name": ("户主", "户主名", "姓名"),
        "house_number": ("门牌", "门牌号码"),
        "village_code": ("村代码", "村（社区）代码", "所属村代码", "村编码"),
        "members": ("人口", "人口数", "家庭人口数", "家庭成员数"),
        "elderly": ("老年人数", "60岁以上老人", "60岁以上人口"),
        "party_member": ("是否党员户",),
        "backbone": ("是否党员骨干户", "骨干户"),
        "backbone_id": ("联系骨干户编号", "骨干户编号"),
    },
    # a Shapefile's field names hold at most 10 bytes: 5 Chinese characters in GBK
    "grids": {"village_code": ("所属村", "村代码"), "responsible_name": ("负责人",)},
    "service_points": {"watcher": ("负责人", "守望者")},
    "incidents": {"reported_at": ("上报日期", "发生时间")},
    "visits": {"household_id": ("农户编号", "户号"), "at": ("走访日期",)},
}


def normalize_header(text: object) -> str:
    """A header as compared: NFKC, no spaces or ``*``, lower case, no unit in brackets."""
    s = unicodedata.normalize("NFKC", str(text)).strip().casefold()
    s = re.sub(r"[\s*＊]", "", s)
    return re.sub(r"\([^()]*\)$", "", s) or s


@dataclass(frozen=True)
class HeaderMap:
    """What the headers of a table mean for a layer.

    Attributes
    ----------
    columns
        Layer column → position of its header in the row.
    lon, lat, address
        Position of the longitude, latitude and address column, if any.
    headers
        The headers as written, by position.
    unknown
        Headers that name nothing (ignored; listed for the user).
    problems
        Whole-table problems (a column named twice).
    """

    columns: dict[str, int]
    lon: int | None
    lat: int | None
    address: int | None
    headers: tuple[str, ...]
    unknown: tuple[str, ...]
    problems: tuple[Problem, ...]

    def header_of(self, column: str) -> str:
        """The header as written for a layer column (the column name when absent)."""
        at = self.columns.get(column)
        return self.headers[at] if at is not None else column

    @property
    def known(self) -> int:
        """How many headers name something."""
        return len(self.columns) + sum(x is not None for x in (self.lon, self.lat, self.address))


def vocabulary(decl: Layer) -> dict[str, str]:
    """Normalised header → what it names: a column, ``:lon``, ``:lat`` or ``:address``."""
    words: dict[str, str] = {}
    for header in LON_HEADERS:
        words[normalize_header(header)] = ":lon"
    for header in LAT_HEADERS:
        words[normalize_header(header)] = ":lat"
    for header in ADDRESS_HEADERS:
        words[normalize_header(header)] = ":address"
    for column, aliases in ALIASES.get(decl.name, {}).items():
        for alias in aliases:
            words[normalize_header(alias)] = column
    for f in decl.fields:
        # the declared name and label win over every alias
        words[normalize_header(f.name)] = f.name
        if f.label_zh:
            words[normalize_header(f.label_zh)] = f.name
    return words


def map_headers(decl: Layer, headers: Sequence[object]) -> HeaderMap:
    """Read a header row for ``decl``.

    Parameters
    ----------
    decl
        The layer imported into.
    headers
        The cells of the header row, as written.
    """
    words = vocabulary(decl)
    written = tuple("" if h is None else str(h).strip() for h in headers)
    columns: dict[str, int] = {}
    special: dict[str, int] = {}
    unknown: list[str] = []
    problems: list[Problem] = []
    for at, header in enumerate(written):
        if not header:
            continue
        meaning = words.get(normalize_header(header))
        if meaning is None:
            unknown.append(header)
            continue
        seen = special if meaning.startswith(":") else columns
        if meaning in seen:
            first = written[seen[meaning]]
            problems.append(
                Problem(None, None, header, f"列「{first}」与「{header}」是同一列 (both name "
                        f"the same column '{meaning.lstrip(':')}')")
            )  # fmt: skip
            continue
        seen[meaning] = at
    return HeaderMap(
        columns=columns,
        lon=special.get(":lon"),
        lat=special.get(":lat"),
        address=special.get(":address"),
        headers=written,
        unknown=tuple(unknown),
        problems=tuple(problems),
    )
