"""The printable wall map of a township or village (the 公示牌 villages post), as PDF.

The map is drawn here as SVG from the grids in force, projected to the metric CRS
(:data:`gisgrid.crs.METRIC_CRS`; no tiles): level-3 grids outlined, level-2 grids thicker,
the village (or the township and its villages) thickest. The geometries are written in
metres from the area's south-west corner inside one group whose ``transform`` is
``matrix(s 0 0 -s tx ty)``: ``s`` is millimetres of paper per metre, so the map's scale is
1 : 1000/``s`` and the scale bar, drawn in millimetres, is ``metres × s`` long. Each
level-3 grid carries its number (and, on a village's map, its name); the table beside the
map (or after it, when the grids are many) lists every grid with its responsible person
and, for roles that see staff contacts (:attr:`gisgrid.roles.RoleInfo.staff_contacts`),
their phone. The page is an autoescaped Jinja template (``templates/wallmap.html``) made
into PDF by WeasyPrint with the Noto CJK fonts embedded (Debian ``fonts-noto-cjk``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd
import jinja2
import numpy as np
import shapely

from gisgrid import codes as gridcodes
from gisgrid import crs as crsmod
from gisgrid.analysis.versions import net_on
from gisgrid.errors import ConfigError, OfflineAssetError, UnknownAreaError
from gisgrid.stores.base import Reader

#: paper sizes (landscape), millimetres
PAPERS: dict[str, tuple[float, float]] = {"A3": (420.0, 297.0), "A4": (297.0, 210.0)}
Paper = Literal["A3", "A4"]
#: page margin, header and footer heights, the gap between map and table (millimetres)
MARGIN = 10.0
HEADER = 20.0
FOOTER = 8.0
GAP = 6.0
#: the width of the table beside the map, and how many rows fit beside it, per paper
TABLE_WIDTH = {"A3": 125.0, "A4": 100.0}
ROWS_BESIDE = {"A3": 42, "A4": 26}
#: line widths on paper (millimetres)
STROKES = {"level3": 0.25, "level2": 0.7, "village": 1.0, "outline": 1.6}
#: lengths a scale bar may have (metres)
NICE = (1, 2, 5)
#: the map's furniture (millimetres): its size, and the corners it prefers, best first; it
#: goes to the free corner where it covers least of the area, and the net is drawn smaller
#: (by SHRINK, up to FIT_TRIES times) until nothing covers it
NORTH_SIZE = (10.0, 20.0)
LEGEND_SIZE = (60.0, 30.0)
SCALEBAR_HEIGHT = 12.0
#: the scale bar's text reaches this far (its "比例尺 1:nn,nnn" line, its end label)
SCALEBAR_MIN_WIDTH = 28.0
CORNERS = ("tl", "tr", "bl", "br")
PREFERS = {"legend": ("br", "bl", "tr", "tl"), "north": ("tr", "tl", "br", "bl"),
           "scalebar": ("bl", "br", "tl", "tr")}  # fmt: skip
INSET = 3.0
SHRINK = 0.93
FIT_TRIES = 12
#: the fonts of the page and the map (Debian fonts-noto-cjk; embedded in the PDF)
FONTS = "Noto Sans CJK SC, Noto Sans CJK, Noto Sans SC, sans-serif"

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
)


@dataclass(frozen=True)
class WallNet:
    """What a wall map shows: the area, its grids in force and who is responsible."""

    kind: Literal["township", "village"]
    code: str
    name: str
    #: the township's name (a village's map names both)
    township_name: str
    county: str | None
    #: the villages drawn: a township's villages, or the village itself (lon/lat)
    villages: gpd.GeoDataFrame
    #: the area's outline (lon/lat)
    outline: shapely.Geometry
    #: level-2 and level-3 grids in force, by code (names and contacts as the caller sees them)
    grids: gpd.GeoDataFrame
    as_of: dt.date
    #: whether the responsible persons' phones are shown
    phones: bool


def load_net(
    reader: Reader,
    *,
    township: str | None = None,
    village: str | None = None,
    as_of: dt.date | None = None,
    phones: bool = True,
    county: str | None = None,
) -> WallNet:
    """Read the net of one township or one village for its wall map.

    Parameters
    ----------
    reader
        The store, or the caller's view of it (names and phones masked as their role needs).
    township, village
        Exactly one: the area's code.
    as_of
        The day whose grids are shown (default today; the date printed on the map).
    phones
        Show the responsible persons' phones (roles with staff contacts).
    county
        The county's name, for the title.

    Raises
    ------
    ConfigError
        Neither or both areas given, or a code of the wrong form.
    UnknownAreaError
        The area is not in the store.
    """
    if (township is None) == (village is None):
        raise ConfigError("give one of --township or --village (给出乡镇或村代码之一)")
    code = str(township or village)
    kind: Literal["township", "village"] = "township" if township is not None else "village"
    pattern = gridcodes.TOWNSHIP_PATTERN if kind == "township" else gridcodes.VILLAGE_PATTERN
    if not re.fullmatch(pattern, code):
        raise ConfigError(f"{code!r} is not a {kind} code ({'9' if township else '12'} digits)")
    townships = reader.read("townships", where={"code": gridcodes.township_of(code)})
    villages = reader.read("villages")
    villages = villages[[gridcodes.lies_in(str(c), code) for c in villages["code"]]]
    if townships.empty or villages.empty:
        raise UnknownAreaError(f"no {kind} {code} in {reader.url}")
    villages = villages.sort_values("code").reset_index(drop=True)
    grids = net_on(reader, as_of, where={"village_code": list(villages["code"])})
    grids = grids[grids["level"] > 1].sort_values("code").reset_index(drop=True)
    if kind == "township":
        area = townships.iloc[0]
        geom = area["geometry"]
        whole = geom is not None and not geom.is_empty
        outline = geom if whole else shapely.union_all(villages.geometry.values)
        name = str(area["name"])
    else:
        row = villages.iloc[0]
        outline, name = row["geometry"], str(row["name"])
    return WallNet(
        kind=kind,
        code=code,
        name=name,
        township_name=str(townships.iloc[0]["name"]),
        county=county,
        villages=villages,
        outline=outline,
        grids=grids,
        as_of=as_of or dt.date.today(),
        phones=phones,
    )


# --- drawing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """Text at a point of the map (millimetres on paper)."""

    x: float
    y: float
    text: str
    size: float
    sub: str = ""


@dataclass(frozen=True)
class Row:
    """One line of the grid table."""

    number: str
    name: str
    level: int
    person: str
    phone: str


@dataclass(frozen=True)
class Box:
    """A rectangle on the map (millimetres from its top-left corner)."""

    x: float
    y: float
    width: float
    height: float

    def polygon(self) -> shapely.Geometry:
        return shapely.box(self.x, self.y, self.x + self.width, self.y + self.height)


@dataclass(frozen=True)
class Drawing:
    """The map as the template draws it: paths in metres, the rest in millimetres."""

    width: float
    height: float
    #: millimetres of paper per metre on the ground
    scale: float
    transform: str
    #: (class, path data) of each outline, in metres from the south-west corner
    paths: list[tuple[str, str]]
    strokes: dict[str, float]
    labels: list[Label]
    village_labels: list[Label]
    bar_metres: int
    bar_length: float
    bar_label: str
    denominator: int
    #: where the north arrow, the scale bar and (on a map without the table beside it)
    #: the legend stand: corners where they cover none of the area
    furniture: dict[str, Box] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)


def _ring_path(coords: np.ndarray) -> str:
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    return f"M{pts}Z"


def _path(geom: shapely.Geometry, x0: float, y0: float) -> str:
    """SVG path data of a polygon or multipolygon, in metres from ``(x0, y0)``."""
    parts = []
    polygons = getattr(geom, "geoms", [geom])
    for poly in polygons:
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)[:, :2] - (x0, y0)
            parts.append(_ring_path(xy))
    return "".join(parts)


def nice_length(metres: float) -> int:
    """The longest 1, 2 or 5 × 10^k metres not above ``metres`` (at least 1)."""
    if metres < 1:
        return 1
    k = 10 ** math.floor(math.log10(metres))
    return int(max(n * k for n in NICE if n * k <= metres))


def _metric(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoSeries:
    series = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    return series.to_crs(crsmod.METRIC_CRS)


def _corner(corner: str, size: tuple[float, float], width: float, height: float) -> Box:
    w, h = size
    x = INSET if corner[1] == "l" else width - INSET - w
    y = INSET if corner[0] == "t" else height - INSET - h
    return Box(x, y, w, h)


def _furnish(
    area: shapely.Geometry, sizes: dict[str, tuple[float, float]], width: float, height: float
) -> tuple[dict[str, Box], float]:
    """Each piece of furniture in a corner of its own, largest first, where it covers least
    of ``area`` (on paper); the boxes and the area they cover together."""
    free = list(CORNERS)
    boxes: dict[str, Box] = {}
    covered = 0.0
    for name in sorted(sizes, key=lambda n: -sizes[n][0] * sizes[n][1]):
        cover = {
            c: shapely.area(_corner(c, sizes[name], width, height).polygon() & area) for c in free
        }
        best = min(free, key=lambda c: (round(cover[c], 3), PREFERS[name].index(c)))
        boxes[name] = _corner(best, sizes[name], width, height)
        covered += cover[best]
        free.remove(best)
    return boxes, covered


def draw(net: WallNet, *, width: float, height: float, legend: bool = True) -> Drawing:
    """Draw ``net`` in a map frame of ``width`` × ``height`` millimetres, with a north arrow,
    a scale bar and (with ``legend``) the legend in corners where they cover none of it."""
    outline = _metric(gpd.GeoSeries([net.outline], crs=crsmod.STORAGE_CRS)).iloc[0]
    grids = net.grids
    g_m = _metric(grids) if len(grids) else gpd.GeoSeries([], crs=crsmod.METRIC_CRS)
    v_m = _metric(net.villages)
    footprint = shapely.union_all([outline, *g_m.values, *v_m.values])
    minx, miny, maxx, maxy = footprint.bounds
    pad = 4.0  # millimetres of white inside the frame
    dx, dy = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    fit = min((width - 2 * pad) / dx, (height - 2 * pad) / dy)
    # the thick outline's half width (on paper) counts as covered too
    reach = STROKES["outline"] / 2
    placed: tuple[float, dict[str, Box], float] | None = None
    for attempt in range(FIT_TRIES):
        s = fit * SHRINK**attempt
        tx = (width - s * dx) / 2
        ty = (height - s * dy) / 2 + s * dy
        on_paper = shapely.transform(
            footprint,
            lambda xy, s=s, tx=tx, ty=ty: np.column_stack(
                (tx + s * (xy[:, 0] - minx), ty - s * (xy[:, 1] - miny))
            ),
        ).buffer(reach)
        bar = nice_length(width / s / 5)
        sizes = {
            "north": NORTH_SIZE,
            "scalebar": (max(bar * s + 8.0, SCALEBAR_MIN_WIDTH), SCALEBAR_HEIGHT),
        }
        if legend:
            sizes["legend"] = LEGEND_SIZE
        boxes, covered = _furnish(on_paper, sizes, width, height)
        if placed is None or covered < placed[2]:
            placed = (s, boxes, covered)
        if covered == 0.0:
            break
    assert placed is not None
    s, furniture, _ = placed
    tx = (width - s * dx) / 2
    ty = (height - s * dy) / 2 + s * dy
    transform = f"matrix({s:.9g} 0 0 {-s:.9g} {tx:.6g} {ty:.6g})"

    def to_paper(x: float, y: float) -> tuple[float, float]:
        return (tx + s * (x - minx), ty - s * (y - miny))

    level = grids["level"].to_numpy() if len(grids) else np.array([], dtype=int)
    paths = [("level3", _path(geom, minx, miny)) for geom in g_m.values[level == 3]]
    paths += [("level2", _path(geom, minx, miny)) for geom in g_m.values[level == 2]]
    if net.kind == "township":
        paths += [("village", _path(geom, minx, miny)) for geom in v_m.values]
    paths.append(("outline", _path(outline, minx, miny)))
    strokes = {k: w / s for k, w in STROKES.items()}

    rows: list[Row] = []
    labels: list[Label] = []
    n = 0
    for i, rec in enumerate(grids.to_dict("records")):
        lv = int(rec["level"])
        number = ""
        if lv == 3:
            n += 1
            number = str(n)
            p = shapely.point_on_surface(g_m.values[i])
            x, y = to_paper(p.x, p.y)
            on_map = str(rec["name"]) if net.kind == "village" else ""
            labels.append(Label(x, y, number, 3.2 if net.kind == "village" else 2.2, on_map))
        rows.append(
            Row(
                number=number,
                name=str(rec["name"]),
                level=lv,
                person=_text(rec.get("responsible_name")) or "（无）",
                phone=_text(rec.get("responsible_phone")) if net.phones else "",
            )
        )
    village_labels = []
    if net.kind == "township":
        for name, geom in zip(net.villages["name"], v_m.values, strict=True):
            p = shapely.point_on_surface(geom)
            x, y = to_paper(p.x, p.y)
            village_labels.append(Label(x, y + 3.0, str(name), 3.0))
    ground = width / s
    bar = nice_length(ground / 5)
    return Drawing(
        width=width,
        height=height,
        scale=s,
        transform=transform,
        paths=paths,
        strokes=strokes,
        labels=labels,
        village_labels=village_labels,
        bar_metres=bar,
        bar_length=bar * s,
        bar_label=f"{bar / 1000:g} 千米" if bar >= 1000 else f"{bar} 米",
        denominator=round(1000 / s),
        furniture=furniture,
        rows=rows,
    )


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def render_html(net: WallNet, *, paper: Paper = "A3") -> str:
    """The wall map's page as HTML (autoescaped), ready for :func:`html_to_pdf`."""
    if paper not in PAPERS:
        raise ConfigError(f"paper must be A3 or A4, not {paper!r}")
    page_w, page_h = PAPERS[paper]
    inner_w, inner_h = page_w - 2 * MARGIN, page_h - 2 * MARGIN
    map_h = inner_h - HEADER - FOOTER
    rows = len(net.grids)
    beside = rows <= ROWS_BESIDE[paper]
    map_w = inner_w - TABLE_WIDTH[paper] - GAP if beside else inner_w
    # beside the table stands the legend; a map without the table carries its own
    drawing = draw(net, width=map_w, height=map_h, legend=not beside)
    title = f"{net.name}网格公示牌"
    place = " · ".join(
        p
        for p in (
            net.county or "",
            net.township_name if net.kind == "village" else "",
            net.name,
        )
        if p
    )
    return TEMPLATES.get_template("wallmap.html").render(
        title=title,
        place=place,
        net=net,
        d=drawing,
        paper=paper,
        page_w=page_w,
        page_h=page_h,
        margin=MARGIN,
        map_w=map_w,
        map_h=map_h,
        table_w=TABLE_WIDTH[paper],
        beside=beside,
        fonts=FONTS,
        date=net.as_of.isoformat(),
        level3=sum(1 for r in drawing.rows if r.level == 3),
        level2=sum(1 for r in drawing.rows if r.level == 2),
    )


def _refuse(url: str, *args: object, **kwargs: object) -> dict[str, object]:
    """WeasyPrint's URL fetcher: the page links nothing, and nothing is fetched."""
    raise ValueError(f"the wall map loads nothing: {url}")


def html_to_pdf(html: str) -> bytes:
    """The PDF of a page (WeasyPrint; fonts embedded as subsets).

    Raises
    ------
    OfflineAssetError
        WeasyPrint or the libraries it needs (Debian pango) are not installed.
    """
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise OfflineAssetError(
            f"printing needs WeasyPrint and Debian's pango and fonts-noto-cjk "
            f"(scripts/setup.sh installs them): {exc}"
        ) from exc
    pdf = weasyprint.HTML(string=html, url_fetcher=_refuse).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf


def wall_map_pdf(net: WallNet, *, paper: Paper = "A3") -> bytes:
    """The wall map of ``net`` as PDF bytes."""
    return html_to_pdf(render_html(net, paper=paper))


def grid_names(net: WallNet) -> Iterable[str]:
    """The names of the grids on the map (level 2 and 3)."""
    return [str(n) for n in net.grids["name"]]


__all__ = [
    "PAPERS",
    "Drawing",
    "WallNet",
    "draw",
    "grid_names",
    "html_to_pdf",
    "load_net",
    "nice_length",
    "render_html",
    "wall_map_pdf",
]
