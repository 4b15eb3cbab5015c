"""Coordinates that look wrong: GCJ-02 or BD-09 taken for WGS84, lon/lat swapped, metres
declared as degrees, points outside the county.

Phone map apps in China (Amap, Tencent, WeChat: GCJ-02; Baidu: BD-09) shift every point by
a few hundred metres (about 600 m around Huarong) and their exports (KML, CSV) still say
WGS84. Imported as WGS84 such points sit beside their houses, in the wrong grid near a
boundary. :func:`detect_coordinates` weighs the points as given against the same points
converted from GCJ-02 and from BD-09, on what the store already holds (:class:`Reference`):

* **matched**: the median distance to the stored feature with the same key (a register
  imported again, a household's id), the strongest evidence;
* **nearest**: the median distance to the nearest stored household;
* **in village**: the share of points inside the village their row names (``village_code``);
* **in county**: the share of points inside the county (the townships).

A conversion *fits better* on a measure when it cuts a median distance to a third (and gains
at least :data:`MATCHED_GAIN_M` / :data:`NEAREST_GAIN_M`) or raises a share by at least
:data:`SHARE_GAIN` (two points at least). A measure counts only over enough points: the
same key over :data:`MIN_MATCHED` pairs, the others over :data:`MIN_POINTS` points (one new
household 1.5 km from the others fits a conversion by chance as well as not). The points are
judged GCJ-02 (BD-09) when the conversion fits better on some measure and the points as given
on none. The verdict keeps every figure (:class:`Fit`), so the user reads the evidence, not
just the conclusion.

Before that, and whatever CRS was declared: most points (:data:`MAJORITY`) with |x| > 180 or
|y| > 90 are metres, not degrees (the CGCS2000 Gauss-Krüger zones and UTM zones that put them
in the county are suggested); most points with x in China's latitudes and y in its
longitudes are swapped; most points outside the county, whatever the conversion, are
outside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import shapely

from gisgrid import crs as crsmod
from gisgrid.analysis.checks.context import to_metric
from gisgrid.layers.schema import OUTLINE_MARGIN_M, Layer
from gisgrid.stores.base import Store

Kind = Literal["ok", "gcj02", "bd09", "swapped", "projected", "outside", "unchecked"]

#: the share of the points above which they are swapped, projected or outside
MAJORITY = 0.5
#: least gain of the median distance to the same stored feature that counts
MATCHED_GAIN_M = 100.0
#: least gain of the median distance to the nearest stored household that counts
NEAREST_GAIN_M = 30.0
#: fewest pairs of the same key, and fewest points, a measure is judged on
MIN_MATCHED = 3
MIN_POINTS = 5
#: how much shorter a median distance must be to count (a third of the other)
DISTANCE_RATIO = 1 / 3
#: least gain of a share (inside the village, inside the county) that counts
SHARE_GAIN = 0.02
#: the offsets tried on points declared WGS84 (or CGCS2000)
OFFSETS = (crsmod.GCJ02, crsmod.BD09)
#: projected CRSs tried on metres declared as degrees: CGCS2000 Gauss-Krüger 6° (zone
#: number in the false easting 4491-4501, without 4502-4512), 3° (with 4513-4533, without
#: 4534-4554), and WGS84 UTM zones 43-53 N
PROJECTED_CANDIDATES = (
    *range(4491, 4555),
    *range(32643, 32654),
)
LABELS = {
    crsmod.STORAGE_CRS: "WGS84",
    crsmod.CGCS2000: "CGCS2000",
    crsmod.GCJ02: "GCJ-02",
    crsmod.BD09: "BD-09",
}


@dataclass(frozen=True)
class Reference:
    """What the store holds to judge points by, in the metric CRS.

    Attributes
    ----------
    county
        The union of the townships (``None``: no townships stored).
    villages
        Each stored village's outline, by code.
    households
        Stored households' points, an (n, 2) array.
    keyed
        The stored points of the layer imported into, by key.
    """

    county: shapely.Geometry | None
    villages: dict[str, shapely.Geometry]
    households: np.ndarray
    keyed: dict[str, tuple[float, float]]

    @property
    def empty(self) -> bool:
        return self.county is None and not self.villages and not len(self.households)


@dataclass(frozen=True)
class Fit:
    """How the points fit the store if they are in ``crs`` (``None``: not measurable)."""

    crs: str
    in_county: float | None
    in_village: float | None
    matched_m: float | None
    nearest_m: float | None
    #: how many points have a stored feature of the same key
    matched_n: int = 0

    def describe(self) -> tuple[str, str]:
        """The figures in words (Chinese, then English)."""
        said = [
            (self.in_county, "县界内 {:.0%}", "{:.0%} inside the county"),
            (self.in_village, "所填村内 {:.0%}", "{:.0%} inside the village their row names"),
            (
                self.matched_m,
                "距库中同编号要素中位 {:,.0f} 米",
                "median {:,.0f} m from the stored feature of the same key",
            ),
            (
                self.nearest_m,
                "距最近已有农户中位 {:,.0f} 米",
                "median {:,.0f} m from the nearest stored household",
            ),
        ]
        zh = [z.format(v) for v, z, _ in said if v is not None]
        en = [e.format(v) for v, _, e in said if v is not None]
        label = LABELS.get(self.crs, self.crs)
        return f"按 {label}：{'，'.join(zh)}", f"as {label}: {', '.join(en)}"


@dataclass(frozen=True)
class CoordinateVerdict:
    """What :func:`detect_coordinates` found.

    Attributes
    ----------
    kind
        ``ok``; ``gcj02`` / ``bd09`` (the points fit the store better converted from that);
        ``swapped``; ``projected`` (metres declared as degrees); ``outside`` (most points
        outside the county, whatever the conversion); ``unchecked`` (nothing to judge by).
    points
        How many points were judged.
    declared
        The CRS the points were declared in (canonical name).
    stated
        Whether the user stated it (``--crs``): then an offset found is reported, not refused.
    fits
        The figures of each hypothesis, the declared one first.
    shift_m
        The median distance between the points as given and converted (the offset's size).
    shift_bearing
        The compass direction (degrees) of the median shift from converted to as given.
    suggestion
        What to give ``--crs`` (``gcj02``, ``bd09``, ``EPSG:4546``), if anything.
    share
        The share of the points that are swapped / metres / outside (for those kinds).
    """

    kind: Kind
    points: int
    declared: str
    stated: bool
    fits: tuple[Fit, ...] = ()
    shift_m: float | None = None
    shift_bearing: float | None = None
    suggestion: str | None = None
    share: float | None = None

    @property
    def refuses(self) -> bool:
        """Whether the import must stop (an offset the user did not state, metres, swapped)."""
        if self.kind in ("gcj02", "bd09"):
            return not self.stated
        return self.kind in ("swapped", "projected")

    @property
    def message_zh(self) -> str:
        return self._messages()[0]

    @property
    def message(self) -> str:
        return self._messages()[1]

    def _messages(self) -> tuple[str, str]:
        if self.kind in ("gcj02", "bd09"):
            label = LABELS[self.kind]
            app = "高德/腾讯/微信" if self.kind == "gcj02" else "百度"
            evidence = [f.describe() for f in self.fits]
            zh = "；".join(e[0] for e in evidence)
            en = "; ".join(e[1] for e in evidence)
            shift = (
                f"（两者相差中位 {self.shift_m:,.0f} 米，方位 {self.shift_bearing:.0f}°）"
                if self.shift_m is not None and self.shift_bearing is not None
                else ""
            )
            shift_en = (
                f" (the two differ by a median {self.shift_m:,.0f} m, bearing "
                f"{self.shift_bearing:.0f}°)"
                if self.shift_m is not None and self.shift_bearing is not None
                else ""
            )
            if self.stated:
                head_zh = (
                    f"注意：坐标按 {LABELS.get(self.declared, self.declared)} 导入，但更像 {label}"
                )
                head_en = f"note: imported as declared, but the points look like {label}"
                tail_zh = tail_en = ""
            else:
                head_zh = f"坐标疑似为 {label}（{app}地图坐标），不是 WGS84"
                head_en = f"the coordinates look like {label}, not WGS84"
                tail_zh = f"。确认请加 --crs {self.kind}；确为 WGS84 请加 --crs wgs84"
                tail_en = (
                    f". If so, import with --crs {self.kind}; if they really are WGS84, "
                    "say so with --crs wgs84"
                )
            return (
                f"{head_zh}{shift}：{zh}{tail_zh}",
                f"{head_en}{shift_en}: {en}{tail_en}",
            )
        share = f"{self.share:.0%}" if self.share is not None else ""
        if self.kind == "swapped":
            return (
                f"{share} 的点经纬度对调了（经度列里是纬度）：请交换经度、纬度两列",
                f"{share} of the points have longitude and latitude swapped: swap the columns",
            )
        if self.kind == "projected":
            hint_zh = (
                f"；按 {self.suggestion} 换算后落在县内，请加 --crs {self.suggestion}"
                if self.suggestion
                else "；请用 --crs 指明投影坐标系（如 CGCS2000 高斯-克吕格 EPSG:4546）"
            )
            hint_en = (
                f"; as {self.suggestion} they fall in the county: "
                f"import with --crs {self.suggestion}"
                if self.suggestion
                else "; name their projected CRS with --crs (e.g. CGCS2000 Gauss-Kruger EPSG:4546)"
            )
            return (
                f"{share} 的坐标是以米为单位的投影坐标，不是经纬度{hint_zh}",
                f"{share} of the coordinates are projected metres, not degrees{hint_en}",
            )
        if self.kind == "outside":
            fit = self.fits[0].describe() if self.fits else ("", "")
            return (
                f"大部分点不在本县内（{fit[0]}）：坐标系是否写错？",
                f"most points lie outside the county ({fit[1]}): wrong CRS?",
            )
        if self.kind == "unchecked":
            return (
                "库中尚无乡镇和农户，未检查坐标偏移",
                "the store holds no townships or households yet: offsets not checked",
            )
        zh, en = self.fits[0].describe() if self.fits else ("", "")
        return f"坐标检查通过（{zh}）", f"the coordinates fit the store ({en})"


def reference_from_store(store: Store, decl: Layer) -> Reference:
    """The townships, villages and households of ``store``, and the stored points of ``decl``."""
    own = None
    if decl.geometry_type == "Point" and decl.key and decl.name != "households":
        own = store.read(decl.name, columns=list(decl.key))
    return build_reference(
        townships=store.read("townships", columns=["code"]),
        villages=store.read("villages", columns=["code"]),
        households=store.read("households", columns=["id"]),
        own=own,
        key=decl.key if decl.geometry_type == "Point" else (),
    )


def build_reference(
    *,
    townships: pd.DataFrame,
    villages: pd.DataFrame,
    households: pd.DataFrame,
    own: pd.DataFrame | None = None,
    key: Sequence[str] = ("id",),
) -> Reference:
    """A :class:`Reference` from the layers' frames (WGS84).

    Parameters
    ----------
    townships, villages
        Their outlines (villages with ``code``).
    households
        Stored households (with ``id``).
    own
        The stored points of the layer imported into, when it is not households (``None``:
        the households are).
    key
        The key columns of the layer imported into (``()``: no matching by key).
    """
    county = None
    if len(townships):
        county = shapely.union_all(to_metric(townships.geometry.values))
    outlines = dict(
        zip(
            villages["code"].astype(str),
            to_metric(villages.geometry.values),
            strict=True,
        )
    )
    points = _metric_xy(households.geometry.values)
    keyed: dict[str, tuple[float, float]] = {}
    if key:
        frame = households if own is None else own
        xy = points if own is None else _metric_xy(own.geometry.values)
        keyed = {
            k: (float(p[0]), float(p[1])) for k, p in zip(key_strings(frame, key), xy, strict=True)
        }
    return Reference(county, outlines, points, keyed)


def key_strings(frame: pd.DataFrame, key: Sequence[str]) -> list[str]:
    """Each row's key as one text (``a/b`` for a key of two columns)."""
    return ["/".join(map(str, parts)) for parts in zip(*(frame[k] for k in key), strict=True)]


def _metric_xy(geoms: object) -> np.ndarray:
    arr = np.asarray(geoms, dtype=object)
    if not len(arr):
        return np.empty((0, 2))
    lon, lat = shapely.get_x(arr), shapely.get_y(arr)
    x, y = crsmod.transformer(crsmod.STORAGE_CRS, crsmod.METRIC_CRS).transform(lon, lat)
    return np.column_stack([x, y])


def detect_coordinates(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    declared: str | None,
    stated: bool,
    reference: Reference,
    village_codes: Sequence[object] | None = None,
    keys: Sequence[object] | None = None,
) -> CoordinateVerdict:
    """Judge a file's point coordinates against the store (see the module's docstring).

    Parameters
    ----------
    x, y
        The coordinates as given (longitude, latitude when declared in degrees).
    declared
        Their CRS as declared (``None``: WGS84, as a table's lon/lat columns are read).
    stated
        Whether the user stated the CRS (``--crs``); an offset found is then not refused.
    reference
        What the store holds (:func:`reference_from_store`).
    village_codes
        Each point's village code as its row gives it (households, service points).
    keys
        Each point's key (``H001``), to find the stored feature of the same key.
    """
    declared_name = crsmod.normalize_crs(declared)
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    finite = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[finite], ys[finite]
    codes = None if village_codes is None else np.asarray(village_codes, dtype=object)[finite]
    key_arr = None if keys is None else np.asarray(keys, dtype=object)[finite]
    n = len(xs)
    base = CoordinateVerdict("ok", n, declared_name, stated)
    if n == 0:
        return CoordinateVerdict("unchecked", 0, declared_name, stated)
    geographic = declared_name in (crsmod.STORAGE_CRS, crsmod.CGCS2000, *OFFSETS) or _geographic(
        declared_name
    )
    if geographic:
        x0, y0, x1, y1 = crsmod.CHINA_BBOX
        swapped = (ys >= x0) & (ys <= x1) & (xs >= y0) & (xs <= y1)
        metres = ((np.abs(xs) > 180) | (np.abs(ys) > 90)) & ~swapped
        if metres.mean() > MAJORITY:
            suggestion = _projected_suggestion(xs[metres], ys[metres], reference)
            return _with(base, kind="projected", share=float(metres.mean()), suggestion=suggestion)
        if swapped.mean() > MAJORITY:
            return _with(base, kind="swapped", share=float(swapped.mean()))
    if reference.empty:
        return _with(base, kind="unchecked")
    lon, lat = crsmod.convert_points(xs, ys, source=declared_name)
    given = _fit(declared_name, np.asarray(lon), np.asarray(lat), reference, codes, key_arr)
    fits = [given]
    found: Fit | None = None
    if declared_name in (crsmod.STORAGE_CRS, crsmod.CGCS2000):
        for offset in OFFSETS:
            olon, olat = crsmod.convert_points(xs, ys, source=offset)
            fit = _fit(offset, np.asarray(olon), np.asarray(olat), reference, codes, key_arr)
            fits.append(fit)
            wins = _better(fit, given, n) and not _better(given, fit, n)
            if wins and (found is None or (_better(fit, found, n) and not _better(found, fit, n))):
                found = fit
    if found is not None:
        flon, flat = crsmod.convert_points(xs, ys, source=found.crs)
        shift, bearing = _shift(
            np.asarray(lon), np.asarray(lat), np.asarray(flon), np.asarray(flat)
        )
        kind: Kind = "gcj02" if found.crs == crsmod.GCJ02 else "bd09"
        return _with(
            base, kind=kind, fits=tuple(fits), shift_m=shift, shift_bearing=bearing,
            suggestion=found.crs,
        )  # fmt: skip
    if given.in_county is not None and given.in_county < MAJORITY and reference.county is not None:
        # outside by more than the margin an import allows (a house on the border is not)
        allowed = shapely.buffer(reference.county, OUTLINE_MARGIN_M)
        x, y = crsmod.transformer(crsmod.STORAGE_CRS, crsmod.METRIC_CRS).transform(lon, lat)
        inside = shapely.contains_xy(allowed, np.asarray(x), np.asarray(y))
        if inside.mean() < MAJORITY:
            return _with(base, kind="outside", fits=tuple(fits), share=1 - float(inside.mean()))
    return _with(base, fits=tuple(fits))


def _with(verdict: CoordinateVerdict, **changes: object) -> CoordinateVerdict:
    from dataclasses import replace

    return replace(verdict, **changes)  # type: ignore[arg-type]


def _geographic(name: str) -> bool:
    try:
        return bool(crsmod.transformer(name, crsmod.STORAGE_CRS).source_crs.is_geographic)  # type: ignore[union-attr]
    except Exception:
        return False


def _fit(
    crs: str,
    lon: np.ndarray,
    lat: np.ndarray,
    reference: Reference,
    codes: np.ndarray | None,
    keys: np.ndarray | None,
) -> Fit:
    """The figures of the points as WGS84 lon/lat ``lon``, ``lat`` (hypothesis ``crs``)."""
    x, y = crsmod.transformer(crsmod.STORAGE_CRS, crsmod.METRIC_CRS).transform(lon, lat)
    xy = np.column_stack([np.asarray(x), np.asarray(y)])
    points = shapely.points(xy)
    in_county = None
    if reference.county is not None:
        shapely.prepare(reference.county)
        in_county = float(shapely.contains(reference.county, points).mean())
    in_village = None
    if codes is not None and reference.villages:
        names = np.asarray(list(reference.villages), dtype=object)
        wanted = np.asarray([str(c) for c in codes], dtype=object)
        judged = int(np.isin(wanted, names).sum())
        tree = shapely.STRtree(list(reference.villages.values()))
        at, village = tree.query(points, predicate="within")
        hits = len(np.unique(at[names[village] == wanted[at]]))
        in_village = hits / judged if judged else None
    matched = None
    matched_n = 0
    if keys is not None and reference.keyed:
        pairs = [
            (i, reference.keyed[str(k)]) for i, k in enumerate(keys) if str(k) in reference.keyed
        ]
        matched_n = len(pairs)
        if pairs:
            at = np.asarray([i for i, _ in pairs])
            other = np.asarray([p for _, p in pairs])
            gaps = np.hypot(*(xy[at] - other).T)
            matched = float(np.median(np.where(np.isfinite(gaps), gaps, np.inf)))
    nearest = None
    finite = np.isfinite(xy).all(axis=1)  # a point PROJ cannot project (swapped, far away)
    if len(reference.households) and finite.any():
        distances = np.full(len(xy), np.inf)
        from scipy.spatial import cKDTree  # a tenth of a second to import: on first use

        distances[finite], _ = cKDTree(reference.households).query(xy[finite])
        nearest = float(np.median(distances))
    return Fit(crs, in_county, in_village, matched, nearest, matched_n)


def _better(a: Fit, b: Fit, n: int) -> bool:
    """Whether ``a`` fits better than ``b`` on some measure (see the module's docstring)."""

    def closer(p: float | None, q: float | None, gain: float) -> bool:
        return p is not None and q is not None and p <= q * DISTANCE_RATIO and q - p >= gain

    def more(p: float | None, q: float | None) -> bool:
        return p is not None and q is not None and p - q >= SHARE_GAIN and (p - q) * n >= 2

    by_key = a.matched_n >= MIN_MATCHED and closer(a.matched_m, b.matched_m, MATCHED_GAIN_M)
    if n < MIN_POINTS:
        return by_key
    return (
        by_key
        or closer(a.nearest_m, b.nearest_m, NEAREST_GAIN_M)
        or more(a.in_village, b.in_village)
        or more(a.in_county, b.in_county)
    )


def _shift(
    lon: np.ndarray, lat: np.ndarray, flon: np.ndarray, flat: np.ndarray
) -> tuple[float, float]:
    """The median shift from converted to as given: metres and compass bearing."""
    t = crsmod.transformer(crsmod.STORAGE_CRS, crsmod.METRIC_CRS).transform
    ax, ay = t(lon, lat)
    bx, by = t(flon, flat)
    dx, dy = np.asarray(ax) - np.asarray(bx), np.asarray(ay) - np.asarray(by)
    size = float(np.median(np.hypot(dx, dy)))
    bearing = float(np.degrees(np.arctan2(np.median(dx), np.median(dy))) % 360)
    return size, bearing


def _projected_suggestion(x: np.ndarray, y: np.ndarray, reference: Reference) -> str | None:
    """The projected CRS that puts the most of these metres in the county (or in China)."""
    if reference.county is None:
        return None  # any zone puts metres somewhere in China: only the county decides
    best: tuple[float, str] | None = None
    sample_x, sample_y = x[:500], y[:500]
    for code in PROJECTED_CANDIDATES:
        name = f"EPSG:{code}"
        try:
            lon, lat = crsmod.transformer(name, crsmod.STORAGE_CRS).transform(sample_x, sample_y)
        except Exception:
            continue
        lon, lat = np.asarray(lon), np.asarray(lat)
        mx, my = crsmod.transformer(crsmod.STORAGE_CRS, crsmod.METRIC_CRS).transform(lon, lat)
        inside = shapely.contains(reference.county, shapely.points(np.asarray(mx), np.asarray(my)))
        score = float(np.mean(inside))
        if score > 0 and (best is None or score > best[0]):
            best = (score, name)
    return best[1] if best is not None and best[0] >= MAJORITY else None
