"""The ``gisgrid`` command: demo, import, export, layers (and more as issues land)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from gisgrid.errors import ConfigError, GisgridError, InputFileError
from gisgrid.layers import LAYERS

if TYPE_CHECKING:  # the commands import their modules when they run: a quick --help
    from gisgrid.analysis.checks import CheckReport
    from gisgrid.stores import Store

T = TypeVar("T")

app = typer.Typer(
    name="gisgrid",
    help="gisgrid: grid-governance GIS for Chinese counties (网格化基层治理).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="GISGRID_STORE",
        help="GeoPackage path or postgresql:// URL [default: ./gisgrid.gpkg]",
        show_default=False,
    ),
]
LayerArgument = Annotated[str, typer.Argument(help=f"one of: {', '.join(LAYERS)}")]


def _fail(exc: GisgridError) -> NoReturn:
    err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def _run(action: Callable[[], T]) -> T:
    try:
        return action()
    except GisgridError as exc:
        _fail(exc)


@app.command("layers")
def layers_command(
    store: StoreOption = None,
    markdown: Annotated[
        bool,
        typer.Option(
            "--markdown",
            help="print the exchange format of every layer as Markdown (docs/exchange-format.md)",
        ),
    ] = False,
) -> None:
    """List the layers, their features in the store, and what each holds."""
    from gisgrid.stores import open_store

    if markdown:
        from gisgrid.layers.docs import exchange_format_markdown

        # plain print: rich would read [brackets] as markup and wrap long table rows
        typer.echo(exchange_format_markdown(), nl=False)
        return

    def action() -> None:
        st = open_store(store)
        table = Table(title=f"{st.url}")
        for column in ("layer", "图层", "features", "geometry", "holds"):
            table.add_column(column)
        present = set(st.layer_names())
        for name, decl in LAYERS.items():
            count = str(st.count(name)) if name in present else "–"
            table.add_row(
                name, decl.label_zh, count, decl.geometry_type or "none", decl.description
            )
        out.print(table)

    _run(action)


@app.command("import")
def import_command(
    layer: LayerArgument,
    file: Annotated[Path, typer.Argument(help="GeoJSON (.geojson, .json) or GeoPackage (.gpkg)")],
    store: StoreOption = None,
    crs: Annotated[
        str | None,
        typer.Option(
            help="CRS of the file's coordinates if it does not say: EPSG:4326, "
            "EPSG:4490 (CGCS2000), gcj02, bd09 or any EPSG code"
        ),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="append: add features (keys must be new); replace: the whole layer")
    ] = "append",
    source_layer: Annotated[
        str | None, typer.Option(help="layer inside a GeoPackage holding several")
    ] = None,
) -> None:
    """Import a GeoJSON or GeoPackage file into a layer, all or nothing.

    The whole file is checked first; any bad feature is reported (which one, which field,
    what is wrong) and nothing is written.
    """
    from gisgrid.exchange import import_file
    from gisgrid.stores import open_store

    if mode not in ("append", "replace"):
        _fail(ConfigError(f"--mode must be append or replace, not {mode!r}"))

    def action() -> None:
        st = open_store(store)
        result = import_file(st, layer, file, crs=crs, mode=mode, source_layer=source_layer)  # type: ignore[arg-type]
        note = ""
        if result.source_crs and "4490" in result.source_crs:
            note = " (CGCS2000 taken as WGS84: they agree within a metre)"
        out.print(f"imported {result.features} {layer} into {st.url} ({result.mode}){note}")
        for text in result.notes:
            err.print(f"note: {text}", highlight=False)

    _run(action)


@app.command("export")
def export_command(
    layer: LayerArgument,
    file: Annotated[Path, typer.Argument(help="GeoJSON (.geojson, .json) or GeoPackage (.gpkg)")],
    store: StoreOption = None,
) -> None:
    """Export a layer to a GeoJSON or GeoPackage file (EPSG:4326)."""
    from gisgrid.exchange import export_layer
    from gisgrid.stores import open_store

    def action() -> None:
        st = open_store(store)
        n = export_layer(st, layer, file)
        out.print(f"exported {n} {layer} to {file}")

    _run(action)


@app.command("init")
def init_command(store: StoreOption = None) -> None:
    """Create or upgrade the store's schema (PostGIS); safe to run again, keeps the data.

    Applies the migrations the database has not had yet, in order, in one transaction. A
    GeoPackage store needs none: it is created on first write (an existing file is checked).
    """
    from gisgrid.stores import open_store

    def action() -> None:
        st = open_store(store)
        try:
            result = st.init()
        finally:
            st.close()
        if not result.versioned:
            out.print(f"{st.url}: a GeoPackage store needs no set-up (made on first write)")
        elif result.applied:
            out.print(
                f"{st.url}: schema version {result.before} → {result.after} "
                f"(applied {', '.join(result.applied)})"
            )
        else:
            out.print(f"{st.url}: schema is up to date (version {result.after}), nothing to do")

    _run(action)


@app.command("assign")
def assign_command(store: StoreOption = None) -> None:
    """Assign households, incidents and service points to their level-3 grids (三级网格).

    A point belongs to the grid that covers it (inside or on its boundary); on a shared
    edge or vertex, or inside an overlap, to the one with the smallest code. Points in no
    grid get none and are listed. Only grid_code changes, in one transaction.
    """
    from gisgrid.stores import open_store

    _run(lambda: _assign(open_store(store)))


def _assign(st: Store) -> None:
    """Assign every point layer of the store and print what happened (``gisgrid assign``)."""
    from rich.markup import escape

    from gisgrid.analysis.assign import assign_store

    report = assign_store(st)
    where = escape(report.store)  # a path may hold [brackets]
    table = Table(title=f"三级网格分配 assignment to {report.grids} level-3 grids · {where}")
    for column in ("layer", "图层", "features 总数", "assigned 已入格", "in no grid 未入格"):
        table.add_column(column, justify="left" if column in ("layer", "图层") else "right")
    table.add_column("on shared edge or overlap 共边/重叠", justify="right")
    for item in report.layers:
        table.add_row(
            item.layer,
            LAYERS[item.layer].label_zh,
            str(item.features),
            str(item.assigned),
            str(len(item.unassigned)),
            str(item.shared),
        )
    out.print(table)
    for item in report.layers:
        if item.unassigned:
            shown = ", ".join(item.unassigned[:_SHOWN_IDS])
            more = len(item.unassigned) - _SHOWN_IDS
            tail = f" … and {more} more 等" if more > 0 else ""
            out.print(
                f"{item.layer} in no grid 不在任何三级网格: {shown}{tail}",
                highlight=False,
                soft_wrap=True,
            )
    out.print(
        f"assigned in {report.seconds:.1f} s ({report.engine}); shared edges and overlaps go "
        "to the smallest code 共边或重叠处归编码最小的网格",
        highlight=False,
    )


_SHOWN_IDS = 10


@app.command("check")
def check_command(
    store: StoreOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the JSON report instead of the summary")
    ] = False,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="write the JSON report to this file (the summary still prints)"),
    ] = None,
    lang: Annotated[str, typer.Option(help="labels of the summary: both, zh or en")] = "both",
) -> None:
    """Check the net: gaps, overlaps, nesting, households, linkage, staff, services, six-no.

    Prints a summary (Chinese and English labels) or, with --json, the JSON report. Findings
    are not errors: the exit code is 0 whatever the report finds. Thresholds come from
    GISGRID_CHECK_* environment variables (see docs/planner.md, section Checks).
    """
    from gisgrid.analysis.checks import check_store
    from gisgrid.errors import ConfigError
    from gisgrid.stores import open_store

    if lang not in ("both", "zh", "en"):
        _fail(ConfigError(f"--lang must be both, zh or en, not {lang!r}"))

    def action() -> None:
        report = check_store(open_store(store))
        if out_file is not None:
            _write_report(report, out_file)
        if as_json and out_file is None:
            typer.echo(report.to_json())
        elif not as_json:
            typer.echo(report.summary(lang))  # type: ignore[arg-type]
        if out_file is not None:
            err.print(f"报告已写入 report written to {out_file}", highlight=False)

    _run(action)


def _write_report(report: CheckReport, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report.to_json() + "\n", encoding="utf-8")
    except OSError as exc:
        # the --out the user gave cannot be written: a bad option, like an unknown file type
        raise ConfigError(f"cannot write the report to {path}: {exc}") from exc


def _demo_check(st: Store, out_dir: Path) -> None:
    """The demo's check step: print the summary, write ``out_dir/check-report.json``."""
    from gisgrid.analysis.checks import check_store

    report = check_store(st)
    typer.echo(report.summary())
    path = out_dir / "check-report.json"
    _write_report(report, path)
    out.print(f"check report written to {path}")


@app.command("demo")
def demo_command(
    store: StoreOption = None,
    households: Annotated[
        int, typer.Option(min=0, max=5_000_000, help="number of synthetic households")
    ] = 150_000,
    seed: Annotated[
        int, typer.Option(help="random seed: the same seed gives the same county")
    ] = 2023,
    out_dir: Annotated[
        Path, typer.Option("--out", help="folder for generated maps and reports")
    ] = Path("maps"),
) -> None:
    """Build the Huarong sample county into the store and run everything on it.

    The outline, township and village names and codes are real; everything inside is
    synthetic (fake people, generated boundaries) and deterministic for a seed.
    """
    from gisgrid.sample import build_sample_county, write_sample_county
    from gisgrid.stores import open_store

    def action() -> None:
        st = open_store(store)
        st.init()  # PostGIS: create or upgrade the schema first
        started = time.perf_counter()
        with out.status("generating the sample county …") as status:

            def progress(message: str) -> None:
                status.update(message)
                out.print(f"  [dim]{time.perf_counter() - started:5.1f}s[/] {message}")

            county = build_sample_county(seed=seed, households=households, progress=progress)
            progress("writing to the store")
            manifest_path = write_sample_county(st, county)
        out_dir.mkdir(parents=True, exist_ok=True)
        out.print(f"sample county written to {st.url} in {time.perf_counter() - started:.1f} s")
        if manifest_path is not None:
            out.print(f"planted defects recorded in {manifest_path}")
        _print_counts(st)
        _demo_steps(st, out_dir)

    _run(action)


@app.command("serve")
def serve_command(
    store: StoreOption = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
    access_log: Annotated[bool, typer.Option(help="log every request")] = False,
) -> None:
    """Run the web app and HTTP API (dashboard, maps, household finder, /api/…).

    Listens on 127.0.0.1 by default; use --host 0.0.0.0 to serve the county intranet.
    """
    import uvicorn

    from gisgrid.api import create_app

    def action() -> None:
        from gisgrid.stores import open_store

        open_store(store).layer_names()  # fail here, clearly, on a bad store
        out.print(f"gisgrid serving {store or 'the default store'} on http://{host}:{port}/")
        uvicorn.run(
            create_app(store=store), host=host, port=port, log_level="info", access_log=access_log
        )

    _run(action)


def _demo_steps(st: Store, out_dir: Path) -> None:
    """What ``gisgrid demo`` runs on the county once it is in the store, in this order."""
    _assign(st)
    _demo_check(st, out_dir)
    _demo_maps(st, out_dir)


@app.command("map")
def map_command(
    kind: Annotated[str, typer.Argument(help="coverage, incidents or finder")],
    out_file: Annotated[
        Path,
        typer.Option(
            "--out", help="HTML file to write; its scripts go into gisgrid-assets/ beside it"
        ),
    ],
    store: StoreOption = None,
    township: Annotated[
        str | None, typer.Option(help="9-digit township code: map this township only")
    ] = None,
    village: Annotated[
        str | None, typer.Option(help="12-digit village code: map this village only")
    ] = None,
    grid: Annotated[
        str | None, typer.Option(help="grid code: map this grid and the grids inside it")
    ] = None,
    indicator: Annotated[
        str,
        typer.Option(
            help="coverage map: colour level-3 grids by households, linkage, distance, "
            "incidents or none"
        ),
    ] = "households",
    tiles: Annotated[
        str | None,
        typer.Option(
            help="basemap: none (default), osm, tianditu (key in GISGRID_TIANDITU_KEY) or "
            "custom (GISGRID_TILES_URL)",
            show_default=False,
        ),
    ] = None,
    lang: Annotated[str, typer.Option(help="language of the map: zh or en")] = "zh",
    report_file: Annotated[
        Path | None,
        typer.Option("--report", help="a check report (JSON) to draw instead of checking now"),
    ] = None,
) -> None:
    """Write an interactive map that works offline: coverage, incidents or finder.

    The finder needs --village or --grid. The page and its gisgrid-assets/ folder open
    from disk with no network; only a chosen --tiles basemap is fetched from outside.
    """
    from gisgrid.cartography import build_map, save_map
    from gisgrid.stores import open_store

    def action() -> None:
        report = "auto"  # or the text of a JSON report
        if report_file is not None:
            try:
                report = report_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise InputFileError(f"cannot read the report {report_file}: {exc}") from exc
        m = build_map(
            kind, open_store(store), township=township, village=village, grid=grid,
            indicator=indicator, tiles=tiles, lang=lang, report=report,
        )  # fmt: skip
        path = save_map(m, out_file)
        out.print(f"map written to {path} ({path.stat().st_size / 1e3:,.0f} kB)")

    _run(action)


def _demo_maps(st: Store, out_dir: Path) -> None:
    """The demo's map step: the three maps (the finder for the village with elder care)."""
    from gisgrid.cartography import build_map, save_map

    report_path = out_dir / "check-report.json"
    report = report_path.read_text(encoding="utf-8") if report_path.exists() else "auto"
    points = st.read("service_points", where={"kind": "elder_care"})
    villages = [v for v in points["village_code"] if isinstance(v, str)]
    village = villages[0] if villages else str(st.read("villages")["code"].min())
    for kind, options in (
        ("coverage", {"report": report}),
        ("incidents", {}),
        ("finder", {"village": village}),
    ):
        path = save_map(build_map(kind, st, **options), out_dir / f"{kind}.html")
        out.print(f"map written to {path} ({path.stat().st_size / 1e3:,.0f} kB)")


def _print_counts(st: Store) -> None:
    table = Table(title="样本县 sample county")
    table.add_column("layer")
    table.add_column("图层")
    table.add_column("features", justify="right")
    for name, decl in LAYERS.items():
        table.add_row(name, decl.label_zh, str(st.count(name)))
    out.print(table)


def main() -> None:  # pragma: no cover - console entry for `python -m gisgrid`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

__all__ = ["app"]
