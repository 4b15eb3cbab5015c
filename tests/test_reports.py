"""Reports that leave the screen: the Excel workbook of the figures and the wall map in PDF.

The workbook is opened with openpyxl and every figure compared with
:func:`gisgrid.analysis.indicators.area_table` (the one place figures come from); the PDF is
read with Debian's poppler-utils (``pdfinfo``, ``pdffonts``, ``pdftotext``): its page size,
its embedded fonts, every grid and responsible person in its text, no phone for a role
without staff contacts, a name holding markup printed as text. The scale bar is checked
against the SVG's own transform and the area projected here.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from accounts import TestAccount, make_account
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from gisgrid import codes
from gisgrid import crs as crsmod
from gisgrid.analysis import indicators
from gisgrid.api import create_app
from gisgrid.reports import wallmap, workbook
from gisgrid.reports.figures import Inputs, gather
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.ledger import AuditQuery

pytestmark = pytest.mark.slow

#: the clock the cases are read on (the sample county describes 2026-11-30)
NOW = dt.datetime(2026, 11, 30, 12, 0)
#: the figures that do not depend on the clock (cases do: their lateness is read on it)
STEADY = [c for c in indicators.COLUMNS if c not in indicators.CASE_COLUMNS]
#: A3 and A4 landscape in points, as pdfinfo prints them
A3 = (1190.55, 841.89)
A4 = (841.89, 595.28)


@pytest.fixture(scope="module")
def store_path(sample_gpkg_copy: str) -> Path:
    return Path(sample_gpkg_copy)


@pytest.fixture(scope="module")
def inputs(store_path: Path) -> Inputs:
    return gather(GeoPackageStore(store_path), now=NOW)


@pytest.fixture(scope="module")
def places(inputs: Inputs) -> tuple[str, str]:
    """A township and one of its villages with level-3 grids that have responsible persons."""
    g = inputs.frames["grids"]
    staffed = g[(g["level"] == 3) & g["responsible_name"].notna() & g["responsible_phone"].notna()]
    village = str(sorted(staffed["village_code"])[0])
    return codes.township_of(village), village


@pytest.fixture(scope="module")
def accounts(store_path: Path, places: tuple[str, str], inputs: Inputs) -> dict[str, TestAccount]:
    township, village = places
    g = inputs.frames["grids"]
    grid = str(sorted(g.loc[(g["level"] == 3) & (g["village_code"] == village), "code"])[0])
    areas = {
        "admin": "430623",
        "township": township,
        "village": village,
        "viewer": township,
        "grid": grid,
    }
    return {role: make_account(str(store_path), role, area) for role, area in areas.items()}


@pytest.fixture(scope="module")
def client(store_path: Path, accounts: dict[str, TestAccount]) -> Iterator[TestClient]:
    with TestClient(create_app(store=str(store_path)), base_url="https://testserver") as c:
        yield c


def _rows(ws: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """The headers (row 2) and the rows (from row 3) of a sheet, by header."""
    values = list(ws.iter_rows(values_only=True))
    headers = [str(h) for h in values[1]]
    return headers, [dict(zip(headers, row, strict=True)) for row in values[2:]]


def _expected(value: Any, column: str) -> Any:
    return workbook.cell_value(column, value)


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, float) and isinstance(got, (int, float)):
        return abs(got - want) < 1e-12
    return bool(got == want)


def _check_sheet(ws: Any, table: pd.DataFrame, level: str, columns: list[str]) -> None:
    headers, rows = _rows(ws)
    assert [r["代码"] for r in rows] == list(table["code"])
    for column in columns:
        if level == "grid" and column == "six_no":
            continue
        header = workbook.header_of(column)
        assert header in headers, header
        for row, want in zip(rows, table[column], strict=True):
            assert _same(row[header], _expected(want, column)), (row["代码"], column)


# --- the workbook -----------------------------------------------------------------------------


def test_the_county_workbook_holds_every_figure_of_the_indicators(inputs: Inputs) -> None:
    data, sheets = workbook.build_workbook(inputs, county="华容县")
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["乡镇", "村（社区）", "网格"]
    frames, report, cases = inputs.frames, inputs.report, inputs.cases
    for title, level in (("乡镇", "township"), ("村（社区）", "village"), ("网格", "grid")):
        ws = book[title]
        table = indicators.area_table(frames, report, level=level, within=None, cases=cases)
        assert len(table) > 0
        _check_sheet(ws, table, level, list(indicators.COLUMNS))
        # title row: the area and the date; a bold, frozen header row; formats and widths
        assert "华容县" in ws["A1"].value and inputs.as_of.isoformat() in ws["A1"].value
        assert ws.freeze_panes == "C3"
        assert all(c.font.b for c in ws[2] if c.value is not None)
        headers = [c.value for c in ws[2]]
        households = headers.index("户数（户）") + 1
        share = headers.index("联户覆盖率（%）") + 1
        assert ws.cell(3, households).number_format == "#,##0"
        assert ws.cell(3, share).number_format == "0.0%"
        assert ws.column_dimensions["B"].width >= 14
    assert len(book["乡镇"]["A"]) - 2 == 14  # the sample's 14 townships
    grid_sheet = book["网格"]
    headers, rows = _rows(grid_sheet)
    assert {"负责人", "联系电话", "网格层级", "所属村（社区）"} <= set(headers)
    assert {r["网格层级"] for r in rows} == {"二级网格", "三级网格"}
    assert [s.title for s in sheets] == book.sheetnames


def test_a_township_and_a_village_workbook_hold_their_own_rows(
    inputs: Inputs, places: tuple[str, str]
) -> None:
    township, village = places
    frames, report, cases = inputs.frames, inputs.report, inputs.cases
    data, _ = workbook.build_workbook(inputs, county="华容县", area=township)
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["乡镇", "村（社区）", "网格"]
    assert [r["代码"] for r in _rows(book["乡镇"])[1]] == [township]
    villages = indicators.area_table(frames, report, level="village", within=township, cases=cases)
    _check_sheet(book["村（社区）"], villages, "village", list(indicators.COLUMNS))
    grids = _rows(book["网格"])[1]
    assert grids and all(str(r["代码"]).startswith(township) for r in grids)
    data, _ = workbook.build_workbook(inputs, county="华容县", area=village)
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["村（社区）", "网格"]
    table = indicators.area_table(frames, report, level="grid", within=village, cases=cases)
    _check_sheet(book["网格"], table, "grid", list(indicators.COLUMNS))
    assert [r["代码"] for r in _rows(book["村（社区）"])[1]] == [village]


def test_the_dashboard_offers_the_workbook_scoped_masked_and_recorded(
    client: TestClient,
    accounts: dict[str, TestAccount],
    inputs: Inputs,
    places: tuple[str, str],
    store_path: Path,
) -> None:
    township, village = places
    r = client.get(f"/api/report.xlsx?township={township}", headers=accounts["admin"].headers)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith(workbook_media_type())
    assert "attachment" in r.headers["content-disposition"]
    book = load_workbook(io.BytesIO(r.content))
    frames, report = inputs.frames, inputs.report
    villages = indicators.area_table(frames, report, level="village", within=township)
    _check_sheet(book["村（社区）"], villages, "village", STEADY)
    log = GeoPackageStore(store_path).ledger.audit(
        AuditQuery(actor=accounts["admin"].username, action="report_export", limit=5)
    )
    assert log and township in (log[0].entry.target or "")
    # a township officer's own workbook without asking; another township's is refused
    r = client.get("/api/report.xlsx", headers=accounts["township"].headers)
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content))
    assert [r["代码"] for r in _rows(book["乡镇"])[1]] == [township]
    other = next(c for c in frames["townships"]["code"] if c != township)
    r = client.get(f"/api/report.xlsx?township={other}", headers=accounts["township"].headers)
    assert r.status_code == 403
    # the viewer sees figures, the responsible persons masked; the grid worker their grids
    r = client.get(f"/api/report.xlsx?village={village}", headers=accounts["viewer"].headers)
    grids = _rows(load_workbook(io.BytesIO(r.content))["网格"])[1]
    real = frames["grids"].set_index("code")
    for row in grids:
        name, phone = (
            real.loc[row["代码"], "responsible_name"],
            real.loc[row["代码"], "responsible_phone"],
        )
        if isinstance(name, str):
            assert row["负责人"] != name and "*" in row["负责人"]
        if isinstance(phone, str):
            assert row["联系电话"] != phone
    r = client.get("/api/report.xlsx", headers=accounts["grid"].headers)
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["网格"]
    codes_shown = [row["代码"] for row in _rows(book["网格"])[1]]
    assert len(codes_shown) == 1 and codes_shown[0].startswith(village)
    assert client.get(
        "/api/report.xlsx?township=430623999", headers=accounts["admin"].headers
    ).status_code in (403, 404)
    r = client.get(
        f"/api/report.xlsx?township={township}&village={village}",
        headers=accounts["admin"].headers,
    )
    assert r.status_code == 400 and r.json()["error"]["message"]


def workbook_media_type() -> str:
    return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_gisgrid_report_writes_the_workbook_and_refuses_bad_options(
    run_gisgrid: Callable[..., Any],
    store_path: Path,
    inputs: Inputs,
    places: tuple[str, str],
    tmp_path: Path,
) -> None:
    township, village = places
    out = tmp_path / "figures" / "report.xlsx"
    done = run_gisgrid("report", "--xlsx", out, "--village", village, store=store_path)
    assert done.returncode == 0, done.stderr
    book = load_workbook(out)
    assert book.sheetnames == ["村（社区）", "网格"]
    table = indicators.area_table(inputs.frames, inputs.report, level="grid", within=village)
    _check_sheet(book["网格"], table, "grid", STEADY)
    # the CLI is the store's owner: responsible persons in full
    _, rows = _rows(book["网格"])
    real = inputs.frames["grids"].set_index("code")
    assert all(
        r["负责人"] == real.loc[r["代码"], "responsible_name"]
        for r in rows
        if isinstance(real.loc[r["代码"], "responsible_name"], str)
    )
    log = GeoPackageStore(store_path).ledger.audit(AuditQuery(action="report_export", limit=50))
    assert any(e.entry.target == village and (e.entry.actor or "").startswith("cli:") for e in log)
    for args, code in (
        (("--township", township, "--village", village), 2),
        (("--township", "12345"), 2),
        (("--village", township), 2),
        (("--village", "430623999999"), 6),
    ):
        done = run_gisgrid("report", "--xlsx", tmp_path / "x.xlsx", *args, store=store_path)
        assert done.returncode == code, (args, done.stderr)
        assert "error" in done.stderr
    done = run_gisgrid("report", "--xlsx", tmp_path / "x.csv", store=store_path)
    assert done.returncode == 2 and ".xlsx" in done.stderr
    assert run_gisgrid("report", store=store_path).returncode == 2  # --xlsx is required


# --- the wall map -------------------------------------------------------------------------------


def _poppler(tool: str, pdf: Path, *args: str) -> str:
    assert shutil.which(tool), f"{tool} missing: Debian poppler-utils (./run test installs it)"
    done = subprocess.run(
        [tool, *args, str(pdf), *(["-"] if tool == "pdftotext" else [])],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _page_size(pdf: Path) -> tuple[float, float]:
    info = _poppler("pdfinfo", pdf)
    m = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert m, info
    return float(m.group(1)), float(m.group(2))


def _fonts_embedded(pdf: Path) -> None:
    lines = _poppler("pdffonts", pdf).splitlines()[2:]
    assert lines, "no fonts in the PDF"
    for line in lines:
        # name, type (may hold spaces), encoding, emb, sub, uni, object, id
        emb = line.split()[-5]
        assert emb == "yes", line
    assert any("CJK" in line for line in lines)


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _grids_of(store_path: Path, village: str) -> pd.DataFrame:
    g = GeoPackageStore(store_path).read("grids", where={"village_code": village})
    return g[g["level"] > 1]


def test_gisgrid_print_writes_the_villages_wall_map(
    run_gisgrid: Callable[..., Any], store_path: Path, places: tuple[str, str], tmp_path: Path
) -> None:
    _, village = places
    pdf = tmp_path / "wall.pdf"
    done = run_gisgrid("print", "--village", village, "--out", pdf, store=store_path)
    assert done.returncode == 0, done.stderr
    w, h = _page_size(pdf)
    assert (round(w), round(h)) == (round(A3[0]), round(A3[1]))  # A3 landscape
    _fonts_embedded(pdf)
    text = _flat(_poppler("pdftotext", pdf))
    grids = _grids_of(store_path, village)
    assert len(grids) >= 2
    for rec in grids.to_dict("records"):
        assert _flat(str(rec["name"])) in text, rec["name"]
        if isinstance(rec["responsible_name"], str):
            assert rec["responsible_name"] in text
        if isinstance(rec["responsible_phone"], str):
            assert rec["responsible_phone"] in text  # the command shows phones
    for word in ("网格公示牌", "负责人", "联系电话", "比例尺", "北", "三级网格", "二级网格"):
        assert word in text, word
    done = run_gisgrid(
        "print", "--village", village, "--paper", "A4", "--out", tmp_path / "a4.pdf",
        store=store_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    w, h = _page_size(tmp_path / "a4.pdf")
    assert (round(w), round(h)) == (round(A4[0]), round(A4[1]))


def test_gisgrid_print_refuses_bad_options(
    run_gisgrid: Callable[..., Any], store_path: Path, places: tuple[str, str], tmp_path: Path
) -> None:
    township, village = places
    out = tmp_path / "x.pdf"
    for args, code in (
        ((), 2),
        (("--township", township, "--village", village), 2),
        (("--village", "43"), 2),
        (("--village", village, "--paper", "A5"), 2),
        (("--township", "430623999"), 6),
    ):
        done = run_gisgrid("print", *args, "--out", out, store=store_path)
        assert done.returncode == code, (args, done.stderr)
        assert "error" in done.stderr
    done = run_gisgrid("print", "--village", village, "--out", tmp_path / "x.png", store=store_path)
    assert done.returncode == 2 and ".pdf" in done.stderr
    assert not out.exists()


def _net_of(html: str) -> tuple[ET.Element, ET.Element, tuple[float, float, float, float]]:
    """A wall map's SVG, its group of outlines and that group's ``matrix(s 0 0 sy tx ty)``."""
    svg = re.search(r"<svg.*?</svg>", html, re.S)
    assert svg
    root = ET.fromstring(svg.group(0))
    ns = {"s": "http://www.w3.org/2000/svg"}
    group = root.find(".//s:g[@id='net']", ns)
    assert group is not None
    m = re.fullmatch(
        r"matrix\(([-\d.e]+) 0 0 ([-\d.e]+) ([-\d.e]+) ([-\d.e]+)\)", group.get("transform", "")
    )
    assert m, group.get("transform")
    s, sy, tx, ty = map(float, m.groups())
    return root, group, (s, sy, tx, ty)


def test_the_scale_bar_measures_the_map_in_metres(
    store_path: Path, places: tuple[str, str]
) -> None:
    _, village = places
    store = GeoPackageStore(store_path)
    net = wallmap.load_net(store, village=village, as_of=dt.date(2026, 11, 30))
    html = wallmap.render_html(net, paper="A3")
    root, group, (s, sy, _, _) = _net_of(html)
    assert sy == -s  # north up, no stretch
    ns = {"s": "http://www.w3.org/2000/svg"}
    # the village's outline in the SVG (metres) has the width of the village projected here
    outline = group.find("s:path[@class='outline']", ns)
    assert outline is not None
    xs = [float(p.split(",")[0]) for p in re.findall(r"-?[\d.]+,-?[\d.]+", outline.get("d", ""))]
    villages = store.read("villages")
    projected = gpd.GeoSeries(
        villages.loc[villages["code"] == village, "geometry"].values, crs=crsmod.STORAGE_CRS
    ).to_crs(crsmod.METRIC_CRS)
    x0, _, x1, _ = projected.total_bounds
    assert abs((max(xs) - min(xs)) - (x1 - x0)) < 0.5  # metres
    bar = root.find(".//s:g[@id='scalebar']", ns)
    assert bar is not None
    metres = int(bar.get("data-metres", "0"))
    rect = bar.find("s:rect", ns)
    assert rect is not None
    length_mm = float(rect.get("width", "0"))
    assert metres > 0 and abs(length_mm - metres * s) < 1e-6
    label = "".join(t.text or "" for t in bar.findall("s:text", ns))
    shown = f"{metres / 1000:g} 千米" if metres >= 1000 else f"{metres} 米"
    assert shown in label
    assert f"1:{round(1000 / s):,}" in label
    # the bar is a nice round length between a tenth and a half of the map's width
    assert str(metres).strip("0") in ("1", "2", "5")
    assert 0.05 * net_width(root) <= length_mm <= 0.5 * net_width(root)


#: how far each piece of furniture reaches from its group's origin (millimetres), as the
#: template draws it: the legend's frame, the arrow and its 北, the bar with its labels
REACH = {"legend": (0.0, 0.0, 60.0, 30.0), "north": (0.0, 0.0, 10.0, 20.0)}


def _group_box(root: ET.Element, name: str, bar_length: float) -> shapely.Geometry | None:
    ns = {"s": "http://www.w3.org/2000/svg"}
    group = root.find(f".//s:g[@id='{name}']", ns)
    if group is None:
        return None
    m = re.fullmatch(r"translate\(([-\d.]+) ([-\d.]+)\)", group.get("transform", ""))
    assert m, group.get("transform")
    x, y = float(m.group(1)), float(m.group(2))
    x0, y0, x1, y1 = REACH.get(name, (0.0, -4.5, max(bar_length + 6.0, 26.0), 6.5))
    return shapely.box(x + x0, y + y0, x + x1, y + y1)


def _furniture_clear(html: str, what: str) -> None:
    """The legend, north arrow and scale bar of a wall map cover none of the outlines drawn."""
    root, group, (s, _, tx, ty) = _net_of(html)
    ns = {"s": "http://www.w3.org/2000/svg"}
    # every outline drawn (the area, its villages, its grids) on paper, with the thick
    # outline's half width
    rings = []
    for path in group.findall("s:path", ns):
        for ring in re.findall(r"M([^MZ]+)Z", path.get("d", "")):
            xy = [tuple(map(float, p.split(","))) for p in ring.split()]
            rings.append(shapely.Polygon([(tx + s * x, ty - s * y) for x, y in xy]))
    drawn = shapely.union_all([r.buffer(0) for r in rings]).buffer(0.8)
    bar = root.find(".//s:g[@id='scalebar']/s:rect", ns)
    assert bar is not None
    boxes = {n: _group_box(root, n, float(bar.get("width", "0"))) for n in REACH | {"scalebar": 0}}
    beside = '<div class="side">' in html
    assert (boxes["legend"] is None) == beside  # the legend on the map only without the table
    placed = [b for b in boxes.values() if b is not None]
    for name, box in boxes.items():
        if box is not None:
            assert box.intersection(drawn).area < 0.01, f"{what}: the {name} covers the map"
            assert box.bounds[0] >= 0 and box.bounds[2] <= net_width(root), name
    assert shapely.union_all(placed).area == pytest.approx(sum(b.area for b in placed))


@pytest.mark.parametrize("paper", ["A3", "A4"])
def test_the_legend_arrow_and_scale_bar_cover_none_of_the_area(
    store_path: Path, places: tuple[str, str], paper: str
) -> None:
    """On the township's map and on the map of each of its villages, whatever their shape."""
    township, _ = places
    store = GeoPackageStore(store_path)
    as_of = dt.date(2026, 11, 30)
    net = wallmap.load_net(store, township=township, as_of=as_of)
    _furniture_clear(wallmap.render_html(net, paper=paper), f"{township} {paper}")  # type: ignore[arg-type]
    for village in sorted(net.villages["code"]):
        net = wallmap.load_net(store, village=village, as_of=as_of)
        _furniture_clear(wallmap.render_html(net, paper=paper), f"{village} {paper}")  # type: ignore[arg-type]


def net_width(root: ET.Element) -> float:
    return float(root.get("viewBox", "0 0 0 0").split()[2])


def test_a_name_holding_markup_is_printed_as_text(
    store_path: Path, places: tuple[str, str], tmp_path: Path
) -> None:
    _, village = places
    path = tmp_path / "county.gpkg"
    shutil.copy(store_path, path)
    store = GeoPackageStore(path)
    grids = store.read("grids")
    target = grids.index[(grids["village_code"] == village) & (grids["level"] == 3)][0]
    grids.loc[target, "name"] = "<img src=x>"
    store.write({"grids": grids}, mode="replace")
    net = wallmap.load_net(store, village=village)
    html = wallmap.render_html(net)
    assert "<img" not in html and "&lt;img src=x&gt;" in html
    pdf = tmp_path / "markup.pdf"
    pdf.write_bytes(wallmap.html_to_pdf(html))
    text = _poppler("pdftotext", pdf)
    assert "<img src=x>" in text


def test_the_web_page_prints_phones_only_for_roles_with_staff_contacts(
    client: TestClient,
    accounts: dict[str, TestAccount],
    places: tuple[str, str],
    store_path: Path,
    tmp_path: Path,
) -> None:
    township, village = places
    grids = _grids_of(store_path, village)
    phones = [p for p in grids["responsible_phone"] if isinstance(p, str)]
    people = [p for p in grids["responsible_name"] if isinstance(p, str)]
    assert phones and people
    texts = {}
    for role in ("village", "viewer"):
        r = client.get(f"/api/wallmap.pdf?village={village}", headers=accounts[role].headers)
        assert r.status_code == 200, r.text[:300]
        assert r.headers["content-type"] == "application/pdf"
        pdf = tmp_path / f"{role}.pdf"
        pdf.write_bytes(r.content)
        _fonts_embedded(pdf)
        texts[role] = _flat(_poppler("pdftotext", pdf))
    assert all(p in texts["village"] for p in phones + people)
    assert not any(p in texts["viewer"] for p in phones) and "联系电话" not in texts["viewer"]
    assert all(_flat(str(n)) in texts["viewer"] for n in grids["name"])
    log = GeoPackageStore(store_path).ledger.audit(
        AuditQuery(actor=accounts["viewer"].username, action="wallmap_print", limit=5)
    )
    assert log and (log[0].entry.detail or {}).get("phones") is False
    # a township's map: A3, its grids listed after the map
    r = client.get(f"/api/wallmap.pdf?township={township}", headers=accounts["township"].headers)
    assert r.status_code == 200
    pdf = tmp_path / "township.pdf"
    pdf.write_bytes(r.content)
    w, h = _page_size(pdf)
    assert (round(w), round(h)) == (round(A3[0]), round(A3[1]))
    _fonts_embedded(pdf)
    pages = re.search(r"Pages:\s+(\d+)", _poppler("pdfinfo", pdf))
    assert pages and int(pages.group(1)) >= 2
    # one area, no more, no less; another township's is refused
    h_admin = accounts["admin"].headers
    assert client.get("/api/wallmap.pdf", headers=h_admin).status_code == 400
    both = f"/api/wallmap.pdf?township={township}&village={village}"
    assert client.get(both, headers=h_admin).status_code == 400
    other = f"/api/wallmap.pdf?village={village}"
    assert client.get(other, headers=accounts["grid"].headers).status_code == 403


def test_the_dashboard_links_its_areas_reports(
    client: TestClient, accounts: dict[str, TestAccount], places: tuple[str, str]
) -> None:
    township, village = places
    h = accounts["admin"].headers
    page = client.get("/", headers=h).text
    assert 'href="/api/report.xlsx"' in page and "导出统计表（Excel）" in page
    for query in (f"township={township}", f"village={village}"):
        page = client.get(f"/?{query}", headers=h).text
        assert f'href="/api/report.xlsx?{query}"' in page
        assert f'href="/api/wallmap.pdf?{query}"' in page and "打印网格公示牌（PDF）" in page
