"""Draw the sample county as an SVG for the docs: villages by township, planted defects.

    .venv/bin/python scripts/draw_sample_map.py [--store S] [--out docs/sample-county.png]

Reads the store written by ``gisgrid demo``; draws with shapely into SVG (no plotting
library) and, for a ``.png`` output, rasterises the SVG with headless Chromium.
"""

from __future__ import annotations

import argparse
import html
import subprocess
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from gisgrid import crs as crsmod
from gisgrid.stores import open_store

PALETTE = [
    "#8dd3c7",
    "#ffffb3",
    "#bebada",
    "#fb8072",
    "#80b1d3",
    "#fdb462",
    "#b3de69",
    "#fccde5",
    "#d9d9d9",
    "#bc80bd",
    "#ccebc5",
    "#ffed6f",
    "#a6cee3",
    "#b2df8a",
]
WIDTH = 900


def path_d(geom: shapely.Geometry, tx) -> str:
    parts = []
    for poly in shapely.get_parts(geom):
        for ring in [poly.exterior, *poly.interiors]:
            xy = tx(np.asarray(ring.coords))
            pix = np.round(xy).astype(int)
            keep = np.r_[True, (np.diff(pix, axis=0) != 0).any(axis=1)]
            parts.append("M" + "L".join(f"{x},{y}" for x, y in pix[keep]) + "Z")
    return "".join(parts)


def rasterise(svg: Path, png: Path, width: int, height: int) -> None:
    """SVG → PNG with headless Chromium (Debian ``chromium``), offline."""
    with tempfile.TemporaryDirectory() as profile:
        page = Path(profile) / "page.html"
        page.write_text(
            f'<html><body style="margin:0"><img src="{svg.resolve().as_uri()}" '
            f'width="{width}"></body></html>',
            encoding="utf-8",
        )
        subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--hide-scrollbars",
                f"--window-size={width},{height}",
                f"--screenshot={png.resolve()}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", default=None)
    ap.add_argument("--out", default="docs/sample-county.png")
    args = ap.parse_args()
    store = open_store(args.store)
    townships = store.read("townships").to_crs(crsmod.METRIC_CRS)
    villages = store.read("villages").to_crs(crsmod.METRIC_CRS)
    grids = store.read("grids", where={"level": 2}).to_crs(crsmod.METRIC_CRS)
    manifest = store.get_meta("sample_manifest") or {}
    x0, y0, x1, y1 = townships.total_bounds
    scale = WIDTH / (x1 - x0)
    height = (y1 - y0) * scale + 40

    def tx(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([(xy[:, 0] - x0) * scale, (y1 - xy[:, 1]) * scale + 30])

    simple = shapely.coverage_simplify(grids.geometry.values, 60.0)
    village_geoms = shapely.coverage_simplify(villages.geometry.values, 60.0)
    township_geoms = shapely.coverage_simplify(townships.geometry.values, 60.0)
    colour = dict(zip(townships["code"], PALETTE, strict=False))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" font-family="Noto Sans CJK SC, sans-serif">',
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="10" y="22" font-size="16">华容县样本县（轮廓与名称真实，其余为合成数据）'
        " Huarong sample county: 14 townships, 203 villages, 1,240 level-2 grids</text>",
    ]
    for code, geom in zip(villages["code"], village_geoms, strict=True):
        fill = colour[code[:9]]
        out.append(f'<path d="{path_d(geom, tx)}" fill="{fill}" stroke="#333" stroke-width="0.8"/>')
    out.append('<g fill="none" stroke="#888" stroke-width="0.3">')
    out += [f'<path d="{path_d(g, tx)}"/>' for g in simple]
    out.append('</g><g fill="none" stroke="#333" stroke-width="0.8">')
    out += [f'<path d="{path_d(g, tx)}"/>' for g in villages.geometry.values]
    out.append('</g><g fill="none" stroke="black" stroke-width="2">')
    out += [f'<path d="{path_d(g, tx)}"/>' for g in townships.geometry.values]
    out.append("</g>")
    for name, geom in zip(townships["name"], township_geoms, strict=True):
        p = tx(np.asarray(shapely.point_on_surface(geom).coords))[0]
        out.append(
            f'<text x="{p[0]:.0f}" y="{p[1]:.0f}" font-size="13" text-anchor="middle" '
            f'stroke="white" stroke-width="3" paint-order="stroke">{html.escape(name)}</text>'
        )
    defects = manifest.get("defects", {})
    spots = [d.get("point") for d in defects.get("gaps", [])]
    for p in spots:
        if p:
            xy = crsmod.to_metric(gpd.GeoSeries([shapely.Point(p)], crs=crsmod.STORAGE_CRS)).iloc[0]
            q = tx(np.array([[xy.x, xy.y]]))[0]
            out.append(
                f'<circle cx="{q[0]:.1f}" cy="{q[1]:.1f}" r="7" fill="none" stroke="red" '
                'stroke-width="2"/>'
            )
    out.append(
        f'<text x="10" y="{height - 8:.0f}" font-size="12" fill="#c00">○ planted gaps '
        "(预设的网格缝隙), recorded in the manifest</text></svg>"
    )
    target = Path(args.out)
    target.parent.mkdir(parents=True, exist_ok=True)
    svg = target.with_suffix(".svg")
    svg.write_text("\n".join(out), encoding="utf-8")
    if target.suffix == ".png":
        rasterise(svg, target, WIDTH, round(height))
        svg.unlink()
    size_kb = target.stat().st_size / 1e3
    print(f"wrote {args.out} ({size_kb:.0f} kB); {len(spots)} gaps marked")


if __name__ == "__main__":
    main()
