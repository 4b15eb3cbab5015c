"""The ``gisgrid`` command: demo, import, export, layers (and more as issues land)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from gisgrid.errors import GisgridError
from gisgrid.layers import LAYERS

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


def _fail(exc: GisgridError) -> None:
    err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def _run(action: Callable[[], Any]) -> Any:
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
            help="print the exchange format of every layer as Markdown (for the README)",
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
        _fail(GisgridError(f"--mode must be append or replace, not {mode!r}"))

    def action() -> None:
        st = open_store(store)
        result = import_file(st, layer, file, crs=crs, mode=mode, source_layer=source_layer)  # type: ignore[arg-type]
        note = ""
        if result.source_crs and "4490" in result.source_crs:
            note = " (CGCS2000 taken as WGS84: they agree within a metre)"
        out.print(f"imported {result.features} {layer} into {st.url} ({result.mode}){note}")

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


def _demo_steps(st: Any, out_dir: Path) -> None:
    """What ``gisgrid demo`` runs on the county once it is in the store, in this order."""
    # demo step: assignment (gisgrid assign)
    # demo step: checks (gisgrid check), printing the summary
    # demo step: maps (gisgrid map …) into out_dir


def _print_counts(st: Any) -> None:
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
