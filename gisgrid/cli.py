"""The ``gisgrid`` command: demo, import, export, layers, serve, users, tokens, audit, …"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar, cast

import typer
from rich.console import Console
from rich.table import Table

from gisgrid.errors import (
    ConfigError,
    GisgridError,
    InputFileError,
    NotFoundError,
    StoreConstraintError,
    UnknownAreaError,
)
from gisgrid.layers import LAYERS

if TYPE_CHECKING:  # the commands import their modules when they run: a quick --help
    from gisgrid.analysis.checks import CheckReport
    from gisgrid.stores import Store
    from gisgrid.stores.ledger import Outcome

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
    file: Annotated[
        Path,
        typer.Argument(
            help="Excel (.xlsx), CSV (.csv: UTF-8, UTF-8 with BOM, GBK/GB18030), zipped "
            "Shapefile (.zip), KML/KMZ, GeoJSON (.geojson, .json) or GeoPackage (.gpkg)"
        ),
    ],
    store: StoreOption = None,
    crs: Annotated[
        str | None,
        typer.Option(
            help="CRS of the file's coordinates (a register's lon/lat columns, a Shapefile "
            "without .prj, a file that says wrong): wgs84, cgcs2000, gcj02, bd09 or EPSG:n; "
            "stating it also accepts points the coordinate check finds offset"
        ),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="append: add features (keys must be new); replace: the whole layer")
    ] = "append",
    source_layer: Annotated[
        str | None,
        typer.Option(
            help="layer of a GeoPackage, worksheet of a workbook, Shapefile of a zip or folder "
            "of a KML holding several"
        ),
    ] = None,
    allow_findings: Annotated[
        bool,
        typer.Option(
            "--allow-findings",
            help="grids: import even when they add overlaps, gaps, parts outside the parent "
            "or missing parents (listed on stderr)",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="check the file and show what would change; write nothing"),
    ] = False,
) -> None:
    """Import a register or map file into a layer, all or nothing.

    The whole file is checked first; every problem is reported by row (or feature) and
    column as the file has them, in Chinese then English, and nothing is written (exit 4).
    Points are checked for GCJ-02/BD-09 offsets, swapped longitude/latitude and metres given
    as degrees. Grids also go through the boundary checks of ``gisgrid check``: an import
    that adds an overlap, a gap, a grid outside its parent or a missing parent is refused
    unless ``--allow-findings`` is given. ``--dry-run`` shows the report and what would
    change, and writes nothing.
    """
    from gisgrid.exchange import import_file
    from gisgrid.stores import open_store

    if mode not in ("append", "replace"):
        _fail(ConfigError(f"--mode must be append or replace, not {mode!r}"))

    def action() -> None:
        st = open_store(store)
        result = import_file(
            st,
            layer,
            file,
            crs=crs,
            mode=mode,  # type: ignore[arg-type]
            source_layer=source_layer,
            allow_findings=allow_findings,
            dry_run=dry_run,
        )
        for text in result.notes:
            err.print(f"note: {text}", highlight=False, markup=False)
        if result.verdict is not None and result.verdict.kind == "ok":
            verdict = result.verdict
            err.print(
                f"note: {verdict.message_zh} ({verdict.message})", highlight=False, markup=False
            )
        changes = "; ".join(
            f"{c.layer}: 新增 added {c.added:,}, 替换 replaced {c.replaced:,}, "
            f"删除 removed {c.removed:,}"
            for c in result.changes
        )
        if result.dry_run:
            out.print(
                f"试运行 dry run: {result.features:,} {layer} from {file.name} "
                f"({result.format}) pass every check; nothing was written. "
                f"Would change ({result.mode}): {changes}",
                highlight=False,
                markup=False,
            )
            for problem in result.findings:
                err.print(f"note:   - {problem}", highlight=False, markup=False)
            return
        detail: dict[str, object] = {
            "file": file.name,
            "mode": result.mode,
            "features": result.features,
        }
        if result.findings:
            detail["findings_allowed"] = len(result.findings)
        _audit(st, "import", target=layer, detail=detail)
        note = ""
        if result.source_crs and "4490" in result.source_crs:
            note = " (CGCS2000 taken as WGS84: they agree within a metre)"
        out.print(f"imported {result.features} {layer} into {st.url} ({result.mode}){note}")
        out.print(f"导入结果 changes: {changes}", highlight=False, markup=False)
        if result.findings:
            err.print(
                f"note: imported with {len(result.findings)} finding(s) of the boundary "
                "checks (--allow-findings):",
                highlight=False,
            )
        for problem in result.findings:
            err.print(f"note:   - {problem}", highlight=False, markup=False)
        _reassign_after_import(st, layer)

    _run(action)


def _reassign_after_import(st: Store, layer: str) -> None:
    """After new grids, the points' stored grid codes follow (as ``gisgrid assign``).

    A separate transaction after the import's: should it not run (a crash, another writer
    busy), every reader still places points by their geometry, and ``gisgrid assign``
    writes the codes later. (Imported points come assigned in the import's own write:
    :func:`gisgrid.exchange.with_grid_codes`.)
    """
    from gisgrid.analysis.assign import assign_store

    if layer != "grids":
        return
    if not st.count("grids", where={"level": 3}):
        return
    try:
        report = assign_store(st)
    except GisgridError as exc:
        err.print(f"note: grid codes not reassigned ({exc}); run gisgrid assign", markup=False)
        return
    assigned = {item.layer: item.assigned for item in report.layers}
    _audit(st, "assign", target="grid_code", detail={"after": f"import {layer}", **assigned})
    shown = ", ".join(f"{name} {n:,}" for name, n in assigned.items())
    out.print(f"重新分配网格 grid codes reassigned ({report.grids} level-3 grids): {shown}")


@app.command("export")
def export_command(
    layer: LayerArgument,
    file: Annotated[
        Path,
        typer.Argument(
            help="the file to write; its ending picks the format: .xlsx (Excel), .zip or "
            ".shp.zip (zipped Shapefile), .kml, .kmz, .geojson or .json, .gpkg"
        ),
    ],
    area: Annotated[
        str | None,
        typer.Option(
            "--area",
            metavar="CODE",
            help="only what lies in this township or village (or prefecture, county, grid)",
        ),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Export a layer, or what of it lies in one area, to Excel, Shapefile, KML, GeoJSON or
    GeoPackage (WGS84 longitude, latitude; see docs/exchange-format.md).

    One consistent read of the store, written to a temporary file and renamed: a failed
    export leaves nothing. Exit 2 for a bad option (an unknown ending, a layer without
    geometry for .zip/.kml), 6 for an area not in the store.
    """
    from gisgrid.exchange import export_layer, format_of
    from gisgrid.stores import open_store

    def action() -> None:
        fmt = format_of(file)  # before the store is opened: a bad ending is a bad option
        st = open_store(store)
        n = export_layer(st, layer, file, area=area)
        # an export of household records is a read of personal data: recorded like one
        detail: dict[str, object] = {"file": file.name, "format": fmt, "features": n}
        if area is not None:
            detail["area"] = area
        _audit(st, "export", target=layer, detail=detail)
        where = f" of {area}" if area else ""
        out.print(f"exported {n} {layer}{where} to {file}", highlight=False)

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
def assign_command(
    store: StoreOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="DATE",
            help="assign to the grids in force on this date, YYYY-MM-DD [default: today]",
        ),
    ] = None,
) -> None:
    """Assign households, incidents and service points to their level-3 grids (三级网格).

    A point belongs to the grid that covers it (inside or on its boundary); on a shared
    edge or vertex, or inside an overlap, to the one with the smallest code. Only the grids
    in force on the date count (valid_from on or before it, valid_to after it): a retired
    grid takes no points. Points in no grid get none and are listed. Only grid_code
    changes, in one transaction.
    """
    from gisgrid.stores import open_store

    _run(lambda: _assign(open_store(store), as_of=_date(as_of, "--as-of")))


@app.command("volunteers")
def volunteers_command(
    by: Annotated[
        str, typer.Option("--by", help="volunteer (每位志愿者) or team (每支服务队)")
    ] = "volunteer",
    since: Annotated[
        str | None, typer.Option("--since", help="activities held on or after YYYY-MM-DD")
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="write a CSV file (UTF-8, opens in Excel)")
    ] = None,
    store: StoreOption = None,
) -> None:
    """The volunteers' time bank (时间银行): hours per volunteer or per team.

    Without ``--out`` the table is printed; with it, written as CSV. Volunteers' names are
    personal data: writing them to a file is recorded in the audit log, like an export.
    """
    from gisgrid.analysis.volunteers import hours_by_team, hours_by_volunteer
    from gisgrid.stores import open_store

    if by not in ("volunteer", "team"):
        _fail(ConfigError(f"--by must be volunteer or team, not {by!r}"))

    def action() -> None:
        day = _date(since, "--since")  # inside: a bad date is a clear error, not a traceback
        st = open_store(store)
        activities = st.read("volunteer_activities")
        hours = st.read("volunteer_hours")
        if by == "team":
            table = hours_by_team(activities, hours, st.read("volunteer_teams"), since=day)
        else:
            table = hours_by_volunteer(activities, hours, since=day)
        if out_file is not None:
            out_file.parent.mkdir(parents=True, exist_ok=True)
            table.to_csv(out_file, index=False, encoding="utf-8-sig")
            _audit(st, "export", target="volunteer_hours", detail={"file": out_file.name,
                   "by": by, "rows": len(table)})  # fmt: skip
            out.print(f"wrote {len(table)} rows ({by}) to {out_file}")
            return
        title = "志愿服务时长 volunteer hours" + (f" since {day.isoformat()}" if day else "")
        shown = Table(title=title)
        for column in table.columns:
            shown.add_column(str(column))
        for row in table.itertuples(index=False):
            shown.add_row(*(_cell(v) for v in row))
        out.print(shown)
        out.print(f"合计 total: {float(table['hours'].sum()) if len(table) else 0.0:g} h")

    _run(action)


@app.command("history")
def history_command(
    code: Annotated[str, typer.Argument(help="the grid's code (12, 15 or 18 digits)")],
    store: StoreOption = None,
) -> None:
    """Show a grid's versions (版本) oldest first, and its lineage (来自 / 演变为).

    Every version the store keeps: the ones publications superseded (grid_versions) and the
    latest (grids). A grid not in the store exits 6.
    """
    from gisgrid.analysis.versions import grid_history
    from gisgrid.stores import open_store

    def action() -> None:
        found = grid_history(open_store(store), code)
        table = Table(title=f"网格 {found.code} 的版本 versions")
        for column in ("版本 version", "名称 name", "负责人 responsible", "启用 from",
                       "停用 to", "面积 m²", "变更单 change set", "被替代 superseded"):  # fmt: skip
            table.add_column(column)
        for _, v in found.versions.iterrows():
            table.add_row(
                str(v["version"]),
                _cell(v["name"]),
                _cell(v["responsible_name"]),
                _cell(v["valid_from"]),
                _cell(v["valid_to"]),
                f"{v['area_m2']:,.0f}",
                f"#{v['change_set']}" if _cell(v["change_set"]) else "导入 import",
                _cell(v["superseded_at"]),
            )
        out.print(table)
        status = {
            "in_force": "现行 in force",
            "retired": "已停用 retired",
            "future": "待生效 future",
        }
        out.print(f"状态 status: {status[found.status()]}")
        if found.came_from:
            out.print(f"来自 came from: {', '.join(found.came_from)}")
        if found.went_into:
            out.print(f"演变为 went into: {', '.join(found.went_into)}")

    _run(action)


def _cell(value: object) -> str:
    """A table cell: empty for a missing value, a date without its midnight."""
    text = "" if value is None else str(value)
    if text in ("NaT", "<NA>", "nan", "None"):
        return ""
    return text.removesuffix(" 00:00:00")


def _date(text: str | None, option: str) -> dt.date | None:
    """An ISO date of an option (``None`` when not given)."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} takes an ISO date such as 2026-11-30, not {text!r}") from None


def _assign(st: Store, *, as_of: dt.date | None = None) -> None:
    """Assign every point layer of the store and print what happened (``gisgrid assign``)."""
    from rich.markup import escape

    from gisgrid.analysis.assign import assign_store

    report = assign_store(st, as_of=as_of)
    _audit(
        st,
        "assign",
        target="grid_code",
        detail={
            "as_of": report.as_of.isoformat(),
            **{item.layer: item.assigned for item in report.layers},
        },
    )
    where = escape(report.store)  # a path may hold [brackets]
    table = Table(
        title=f"三级网格分配 assignment to {report.grids} level-3 grids in force on "
        f"{report.as_of.isoformat()} · {where}"
    )
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
        int | None,
        typer.Option(
            min=0,
            max=5_000_000,
            help="number of synthetic households (default 150,000 in the county, "
            "1,500,000 in the prefecture)",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(help="random seed: the same seed gives the same county")
    ] = 2023,
    out_dir: Annotated[
        Path, typer.Option("--out", help="folder for generated maps and reports")
    ] = Path("maps"),
    prefecture: Annotated[
        str | None,
        typer.Option(
            help="build the whole prefecture instead of the county: 430600 (Yueyang, its nine "
            "counties and districts)"
        ),
    ] = None,
    county: Annotated[
        list[str] | None,
        typer.Option(help="with --prefecture: only this county of it (repeat for several)"),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=16, help="with --prefecture: counties built at once")
    ] = 2,
) -> None:
    """Build the Huarong sample county (or the Yueyang prefecture) into the store and run
    everything on it.

    The outlines, township and village names and codes are real; everything inside is
    synthetic (fake people, generated boundaries) and deterministic for a seed.
    """
    from gisgrid.sample import DEFAULT_HOUSEHOLDS, build_sample_county, write_sample_county
    from gisgrid.sample.prefecture import DEFAULT_PREFECTURE_HOUSEHOLDS, build_sample_prefecture
    from gisgrid.stores import open_store

    if county and prefecture is None:
        raise typer.BadParameter("--county needs --prefecture", param_hint="--county")

    def action() -> None:
        st = open_store(store)
        st.init()  # PostGIS: create or upgrade the schema first
        started = time.perf_counter()
        with out.status("generating the sample county …") as status:

            def progress(message: str) -> None:
                status.update(message)
                out.print(f"  [dim]{time.perf_counter() - started:5.1f}s[/] {message}")

            if prefecture is None:
                built = build_sample_county(
                    seed=seed, households=households or DEFAULT_HOUSEHOLDS, progress=progress
                )
            else:
                built = build_sample_prefecture(
                    prefecture,
                    seed=seed,
                    households=households or DEFAULT_PREFECTURE_HOUSEHOLDS,
                    counties=county,
                    workers=workers,
                    progress=progress,
                )
            progress("writing to the store")
            manifest_path = write_sample_county(st, built)
        out_dir.mkdir(parents=True, exist_ok=True)
        what = "sample county" if prefecture is None else "sample prefecture"
        out.print(f"{what} written to {st.url} in {time.perf_counter() - started:.1f} s")
        if manifest_path is not None:
            out.print(f"planted defects recorded in {manifest_path}")
        _print_counts(
            st, title="样本县 sample county" if prefecture is None else "样本市 sample prefecture"
        )
        _demo_steps(st, out_dir)
        _demo_accounts(st, out_dir)

    _run(action)


def _demo_accounts(st: Store, out_dir: Path) -> None:
    """The demo's account step: one account per role, passwords in a file for the user only."""
    from gisgrid.sample.accounts import (
        demo_accounts_path,
        make_demo_accounts,
        write_demo_accounts,
    )

    made = make_demo_accounts(st, actor=cli_actor())
    path = write_demo_accounts(demo_accounts_path(st, fallback_dir=out_dir), made, store_url=st.url)
    out.print(
        f"演示账户（每个角色一个）及其密码已写入 {path}（仅本用户可读）\n"
        f"demo accounts (one per role) and their passwords written to {path} (readable by you "
        "only)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@app.command("serve")
def serve_command(
    store: StoreOption = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
    access_log: Annotated[
        bool | None,
        typer.Option(
            help="one JSON line per request on standard output: route template, status, "
            "duration, bytes, role; nothing personal (default GISGRID_WEB_ACCESS_LOG)"
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="worker processes sharing the port, each with its own copy of the grids and "
            "caches; every one sees every write within about a second",
        ),
    ] = 1,
) -> None:
    """Run the web app and HTTP API (dashboard, maps, household finder, /api/…).

    Listens on 127.0.0.1 by default; use --host 0.0.0.0 to serve the county intranet, which
    needs an enabled admin account in the store first (gisgrid users add … --role admin).
    With --workers N, N processes answer on the same port (each loads the grids and warms
    its caches; memory grows with N). On SIGTERM or Ctrl+C it stops taking connections, lets
    the requests under way finish (at most GISGRID_WEB_SHUTDOWN_SECONDS) and closes the
    store; after SIGTERM it exits 0.
    """
    import signal

    import uvicorn

    from gisgrid.api import create_app
    from gisgrid.api.priority import favour_the_event_loop
    from gisgrid.settings import WebSettings

    def action() -> None:
        from gisgrid.services.accounts import has_enabled_admin
        from gisgrid.stores import open_store

        web = WebSettings()
        st = open_store(store)
        try:
            st.layer_names()  # fail here, clearly, on a bad store
            if not is_loopback(host) and not has_enabled_admin(st.ledger):
                raise ConfigError(
                    f"没有启用的管理员账户，只能在本机地址上运行 / the store has no enabled admin "
                    f"account: gisgrid serves {host} only once one exists (gisgrid users add "
                    "NAME --role admin --area COUNTY_CODE); on 127.0.0.1, ::1 or localhost it "
                    "runs without"
                )
        finally:
            st.close()  # the app opens its own in its lifespan
        processes = "" if workers == 1 else f" with {workers} worker processes"
        favour_the_event_loop()  # (each worker process does it in app_from_settings)
        out.print(
            f"gisgrid serving {store or 'the default store'} on http://{host}:{port}/{processes}"
        )
        if workers == 1:
            app: Any = create_app(store=store, access_log=access_log)
        else:
            # each worker process builds its own app from the environment (uvicorn imports
            # the factory there): the options go into it, inherited by the workers
            if store is not None:
                os.environ["GISGRID_STORE"] = store
            if access_log is not None:
                os.environ["GISGRID_WEB_ACCESS_LOG"] = "true" if access_log else "false"
            app = "gisgrid.api.main:app_from_settings"
        # uvicorn handles SIGTERM itself while it serves (a graceful shutdown; with workers,
        # each worker's), then raises it again or returns: asked to stop and stopped, the
        # command exits 0
        previous = signal.signal(signal.SIGTERM, _stopped)
        try:
            uvicorn.run(
                app,
                host=host,
                port=port,
                log_level="info",
                # uvicorn's own lines hold the raw path (household ids): the app's JSON
                # lines (--access-log) keep the route template instead
                access_log=False,
                timeout_graceful_shutdown=web.shutdown_seconds,
                workers=workers,
                factory=workers > 1,
            )
        finally:
            signal.signal(signal.SIGTERM, previous)

    _run(action)


def _stopped(signum: int, frame: object) -> NoReturn:
    """SIGTERM outside uvicorn's own handling (before it serves, or once it has shut down)."""
    raise SystemExit(0)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only: 127.0.0.0/8, ::1 or ``localhost``."""
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # any other name may resolve to anything
        return False


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
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="DATE",
            help="draw the grids in force on this date, YYYY-MM-DD [default: today]",
        ),
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
            as_of=_date(as_of, "--as-of"),
        )  # fmt: skip
        path = save_map(m, out_file)
        out.print(f"map written to {path} ({path.stat().st_size / 1e3:,.0f} kB)")

    _run(action)


TownshipOption = Annotated[
    str | None, typer.Option("--township", help="9-digit township code", show_default=False)
]
VillageOption = Annotated[
    str | None, typer.Option("--village", help="12-digit village code", show_default=False)
]


def _area_option(township: str | None, village: str | None) -> str | None:
    """The area of ``--township`` / ``--village`` (at most one), its form checked."""
    from gisgrid import codes

    if township is not None and village is not None:
        raise ConfigError("give --township or --village, not both")
    if township is not None and not re.fullmatch(codes.TOWNSHIP_PATTERN, township):
        raise ConfigError(f"--township must be a 9-digit township code, not {township!r}")
    if village is not None and not re.fullmatch(codes.VILLAGE_PATTERN, village):
        raise ConfigError(f"--village must be a 12-digit village code, not {village!r}")
    return township or village


def _output(path: Path, suffix: str, option: str) -> None:
    if path.suffix.lower() != suffix:
        raise ConfigError(f"{option} must name a {suffix} file, not {path.name!r}")


def _write_bytes(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc}") from exc


@app.command("report")
def report_command(
    xlsx: Annotated[
        Path,
        typer.Option("--xlsx", help="write the dashboard's figures to this Excel workbook (.xlsx)"),
    ],
    store: StoreOption = None,
    township: TownshipOption = None,
    village: VillageOption = None,
) -> None:
    """Write the dashboard's figures as an Excel workbook: one sheet per level.

    The county (sheets 乡镇, 村（社区）, 网格), or with --township / --village that area (its
    own row, and the villages and grids in it). Every figure is the dashboard's. Exit 2 for a
    bad option or a file that cannot be written, 6 for a code not in the store.
    """
    from gisgrid.cartography import county_name
    from gisgrid.stores import open_store

    def action() -> None:
        area = _area_option(township, village)
        _output(xlsx, ".xlsx", "--xlsx")
        from gisgrid.reports.figures import gather
        from gisgrid.reports.workbook import build_workbook

        st = open_store(store)
        known = set(st.read("townships")["code"]) | set(st.read("villages")["code"])
        if area is not None and area not in known:
            raise UnknownAreaError(f"no township or village {area} in {st.url}")
        inputs = gather(st)
        data, sheets = build_workbook(inputs, county=county_name(st), area=area)
        _write_bytes(xlsx, data)
        rows = {s.title: len(s.table) for s in sheets}
        _audit(
            st, "report_export", target=area or "county", detail={"file": xlsx.name, "rows": rows}
        )
        shown = ", ".join(f"{title} {n:,}" for title, n in rows.items())
        out.print(f"报表已写入 workbook written to {xlsx} ({shown})", highlight=False)

    _run(action)


@app.command("print")
def print_command(
    out_file: Annotated[Path, typer.Option("--out", help="the PDF file to write")],
    store: StoreOption = None,
    township: TownshipOption = None,
    village: VillageOption = None,
    paper: Annotated[str, typer.Option(help="A3 or A4 (landscape)")] = "A3",
) -> None:
    """Print the wall map (公示牌) of a township or village to PDF.

    The grid net (level-3 grids outlined, level-2 thicker, the boundary thickest), each
    grid's number on the map and a table of grids, responsible persons and phones, legend,
    scale bar, north arrow and date; CJK fonts embedded. Exit 2 for a bad option, 6 for a
    code not in the store.
    """
    from gisgrid.cartography import county_name
    from gisgrid.stores import open_store

    def action() -> None:
        area = _area_option(township, village)
        if area is None:
            raise ConfigError("give --township or --village")
        if paper not in ("A3", "A4"):
            raise ConfigError(f"--paper must be A3 or A4, not {paper!r}")
        _output(out_file, ".pdf", "--out")
        from gisgrid.reports.wallmap import load_net, wall_map_pdf

        st = open_store(store)
        net = load_net(st, township=township, village=village, county=county_name(st))
        _write_bytes(out_file, wall_map_pdf(net, paper="A4" if paper == "A4" else "A3"))
        _audit(st, "wallmap_print", target=area, detail={"file": out_file.name, "paper": paper})
        out.print(
            f"公示牌已写入 wall map written to {out_file} ({len(net.grids)} grids, {paper})",
            highlight=False,
        )

    _run(action)


def _demo_maps(st: Store, out_dir: Path) -> None:
    """The demo's map step: the three maps (the finder for the village with elder care)."""
    from gisgrid.cartography import build_map, save_map

    report_path = out_dir / "check-report.json"
    report = report_path.read_text(encoding="utf-8") if report_path.exists() else "auto"
    points = st.read("service_points", where={"kind": "elder_care"})
    villages = [v for v in points["village_code"] if isinstance(v, str)]
    village = villages[0] if villages else str(st.read("villages")["code"].min())
    maps: dict[str, Callable[[], Any]] = {  # built one at a time, each saved before the next
        "coverage": lambda: build_map("coverage", st, report=report),
        "incidents": lambda: build_map("incidents", st),
        "finder": lambda: build_map("finder", st, village=village),
    }
    for kind, build in maps.items():
        path = save_map(build(), out_dir / f"{kind}.html")
        out.print(f"map written to {path} ({path.stat().st_size / 1e3:,.0f} kB)")


def _print_counts(st: Store, *, title: str) -> None:
    from gisgrid.stores.base import APPEND_ONLY_LAYERS

    table = Table(title=title)
    table.add_column("layer")
    table.add_column("图层")
    table.add_column("features", justify="right")
    for name, decl in LAYERS.items():
        count = st.count(name)
        if name in APPEND_ONLY_LAYERS and not count:
            continue  # a new county has no history yet: a row of 0 says nothing
        table.add_row(name, decl.label_zh, str(count))
    out.print(table)


# --- accounts, tokens and the audit log ----------------------------------------------------------

users_app = typer.Typer(
    help="Accounts of the web app: add, list, set-role, disable, enable, reset-password.",
    no_args_is_help=True,
)
tokens_app = typer.Typer(
    help="API tokens for scripts: create (shown once), list, revoke.", no_args_is_help=True
)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")

ROLE_HELP = "admin, leader, township, village, grid, planner or viewer"
PasswordFileOption = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        help="read the password from the first line of this file ('-': standard input)",
        show_default=False,
    ),
]
GenerateOption = Annotated[
    bool, typer.Option("--generate", help="generate a password and print it once")
]
PhoneOption = Annotated[
    str | None,
    typer.Option(
        "--phone",
        help="grid worker: a phone; the grids whose responsible person has it are theirs too",
        show_default=False,
    ),
]


def _audit(st: Store, action: str, *, target: str, detail: dict[str, object] | None = None) -> None:
    """Record a change or an export made with the command in the store's audit log."""
    from gisgrid.services.accounts import record_action

    record_action(st.ledger, action, actor=cli_actor(), target=target, detail=detail)


def cli_actor() -> str:
    """Who the audit log names for a change made with the command: ``cli:<login name>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in the environment or the password database
        return f"cli:uid{os.getuid()}"


def _read_password_file(path: Path) -> str:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(
            f"cannot read the password file {path}: {exc.__class__.__name__}"
        ) from exc
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise InputFileError(f"the password file {path} holds no password on its first line")
    return lines[0]


def _new_password(password_file: Path | None, generate: bool, *, prompt: bool) -> str | None:
    """The password chosen by the options: from a file, prompted twice (hidden) when
    ``prompt``, or ``None`` to generate one. Never from the command line itself."""
    if password_file is not None and generate:
        raise ConfigError("--password-file and --generate exclude each other")
    if password_file is not None:
        return _read_password_file(password_file)
    if generate or not prompt:
        return None
    return str(
        typer.prompt("密码 password", hide_input=True, confirmation_prompt="再输一次 repeat it")
    )


def _show_generated(username: str, password: str) -> None:
    err.print(
        f"为 {username} 生成的密码（只显示这一次）/ generated password of {username} "
        "(shown only this once):",
        markup=False,
        highlight=False,
    )
    typer.echo(password)


def _when(at: dt.datetime | None) -> str:
    return "" if at is None else at.astimezone().strftime("%Y-%m-%d %H:%M")


@users_app.command("add")
def users_add_command(
    username: Annotated[str, typer.Argument(help="3-32 characters of a-z 0-9 _ . -")],
    role: Annotated[
        str,
        typer.Option("--role", help=ROLE_HELP),
    ],
    area: Annotated[
        str,
        typer.Option(
            "--area",
            help="area code: county (6 digits), township (9), village (12), grid (15/18)",
        ),
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="display name, e.g. 张伟 (default: the username)")
    ] = None,
    phone: PhoneOption = None,
    password_file: PasswordFileOption = None,
    generate: GenerateOption = False,
    store: StoreOption = None,
) -> None:
    """Add an account. The password is asked twice (hidden), read from --password-file, or
    generated with --generate; it is never given on the command line."""
    from gisgrid.services import accounts
    from gisgrid.stores import open_store

    def action() -> None:
        role_ = accounts.parse_role(role)
        accounts.check_username(username)
        accounts.check_area(role_, area)  # before asking for a password
        st = open_store(store)
        if st.ledger.account(username) is not None:
            raise StoreConstraintError(f"账户已存在 / the account {username!r} exists already")
        password = _new_password(password_file, generate, prompt=True)
        chosen = accounts.generate_password() if password is None else password
        account = accounts.add_account(
            st.ledger,
            username=username,
            display_name=name or username,
            role=role_,
            area=area,
            password=chosen,
            phone=phone,
            actor=cli_actor(),
        )
        out.print(
            f"已添加账户 added {account.username} ({account.role.value} "
            f"{accounts.ROLES[account.role].label_zh}, {account.area})",
            markup=False,
            highlight=False,
        )
        if password is None:
            _show_generated(account.username, chosen)

    _run(action)


@users_app.command("list")
def users_list_command(store: StoreOption = None) -> None:
    """List the accounts: username, name, role, area, phone, disabled, created."""
    from gisgrid.roles import ROLES
    from gisgrid.stores import open_store

    def action() -> None:
        table = Table(title="账户 accounts")
        for column in ("username", "name 姓名", "role 角色", "area 区域", "phone 电话",
                       "disabled 停用", "created 创建"):  # fmt: skip
            table.add_column(column)
        for a in open_store(store).ledger.accounts():
            table.add_row(
                a.username,
                a.display_name,
                f"{a.role.value} {ROLES[a.role].label_zh}",
                a.area,
                a.phone or "",
                "停用 yes" if a.disabled else "",
                _when(a.created_at),
            )
        out.print(table)

    _run(action)


@users_app.command("set-role")
def users_set_role_command(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Argument(help=ROLE_HELP)],
    area: Annotated[str, typer.Argument(help="area code fitting the role")],
    phone: PhoneOption = None,
    store: StoreOption = None,
) -> None:
    """Give an account another role and area; its sessions end."""
    from gisgrid.services import accounts
    from gisgrid.stores import open_store

    def action() -> None:
        account = accounts.set_role(
            open_store(store).ledger,
            username,
            role=accounts.parse_role(role),
            area=area,
            phone=phone,
            actor=cli_actor(),
        )
        out.print(
            f"{account.username}: {account.role.value} {accounts.ROLES[account.role].label_zh}, "
            f"{account.area} (其会话已结束 its sessions ended)",
            markup=False,
            highlight=False,
        )

    _run(action)


def _set_disabled(username: str, store: str | None, *, disabled: bool) -> None:
    from gisgrid.services import accounts
    from gisgrid.stores import open_store

    def action() -> None:
        account = accounts.set_disabled(
            open_store(store).ledger, username, disabled=disabled, actor=cli_actor()
        )
        state = "已停用 disabled (its sessions ended)" if disabled else "已启用 enabled"
        out.print(f"{account.username}: {state}", markup=False, highlight=False)

    _run(action)


@users_app.command("disable")
def users_disable_command(
    username: Annotated[str, typer.Argument()], store: StoreOption = None
) -> None:
    """Disable an account: its sessions end and its API tokens stop working."""
    _set_disabled(username, store, disabled=True)


@users_app.command("enable")
def users_enable_command(
    username: Annotated[str, typer.Argument()], store: StoreOption = None
) -> None:
    """Enable a disabled account again."""
    _set_disabled(username, store, disabled=False)


@users_app.command("reset-password")
def users_reset_password_command(
    username: Annotated[str, typer.Argument()],
    password_file: PasswordFileOption = None,
    generate: GenerateOption = False,
    store: StoreOption = None,
) -> None:
    """Set a new password (asked twice, from --password-file, or --generate); the account's
    sessions end."""
    from gisgrid.services import accounts
    from gisgrid.stores import open_store

    def action() -> None:
        ledger = open_store(store).ledger
        if ledger.account(username) is None:
            raise NotFoundError(f"没有账户 / no account {username!r}")
        password = _new_password(password_file, generate, prompt=True)
        account, chosen = accounts.reset_password(
            ledger, username, password=password, actor=cli_actor()
        )
        out.print(
            f"{account.username}: 密码已更改 password changed (其会话已结束 its sessions ended)",
            markup=False,
            highlight=False,
        )
        if password is None:
            _show_generated(account.username, chosen)

    _run(action)


@tokens_app.command("create")
def tokens_create_command(
    username: Annotated[str, typer.Argument(help="the account the token acts as")],
    name: Annotated[str, typer.Option("--name", help="what the token is for, e.g. nightly-export")],
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            min=0,
            help="days it lasts, 0 for no end [default: GISGRID_AUTH_TOKEN_DAYS, 365]",
            show_default=False,
        ),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Create an API token; its value is printed once and never shown again."""
    from gisgrid.services import accounts
    from gisgrid.stores import open_store

    def action() -> None:
        ledger = open_store(store).ledger
        account = ledger.account(username)
        if account is None:
            raise NotFoundError(f"没有账户 / no account {username!r}")
        record, value = accounts.create_token(
            ledger, account, name=name, days=days, actor=cli_actor()
        )
        ends = _when(record.expires_at) or "never 永不"
        err.print(
            f"令牌 token {record.id} ({record.name}) for {account.username}, expires {ends}. "
            "此值只显示这一次，请立即保存 / this value is shown only now: store it safely",
            markup=False,
            highlight=False,
        )
        typer.echo(value)

    _run(action)


@tokens_app.command("list")
def tokens_list_command(
    username: Annotated[str | None, typer.Argument(help="only this account's tokens")] = None,
    store: StoreOption = None,
) -> None:
    """List API tokens (never their values): id, account, name, prefix, dates, state."""
    from gisgrid.services.accounts import token_is_valid
    from gisgrid.stores import open_store

    def action() -> None:
        ledger = open_store(store).ledger
        names = {a.id: a.username for a in ledger.accounts()}
        account_id = None
        if username is not None:
            account = ledger.account(username)
            if account is None:
                raise NotFoundError(f"没有账户 / no account {username!r}")
            account_id = account.id
        now = dt.datetime.now(dt.UTC)
        table = Table(title="API 令牌 tokens")
        for column in ("id", "account 账户", "name 名称", "prefix 前缀", "created 创建",
                       "expires 到期", "last used 最近使用", "state 状态"):  # fmt: skip
            table.add_column(column)
        for t in ledger.tokens(account_id=account_id):
            if t.revoked_at is not None:
                state = "已撤销 revoked"
            elif not token_is_valid(t, now=now):
                state = "已过期 expired"
            else:
                state = "有效 valid"
            table.add_row(
                str(t.id),
                names.get(t.account_id, str(t.account_id)),
                t.name,
                f"{t.prefix}…",
                _when(t.created_at),
                _when(t.expires_at) or "never 永不",
                _when(t.last_used_at),
                state,
            )
        out.print(table)

    _run(action)


@tokens_app.command("revoke")
def tokens_revoke_command(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="the token's id (tokens list)")],
    store: StoreOption = None,
) -> None:
    """Revoke an API token: it stops working at once."""
    from gisgrid.services.accounts import revoke_token
    from gisgrid.stores import open_store

    def action() -> None:
        record = revoke_token(open_store(store).ledger, token_id, actor=cli_actor())
        out.print(f"令牌 token {record.id} ({record.name}) 已撤销 revoked", markup=False)

    _run(action)


def _moment(text: str | None, option: str) -> dt.datetime | None:
    """An ISO date or time of an option; without a zone it is the machine's local time."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{option} takes an ISO date or time such as 2026-11-30 or 2026-11-30T08:00, "
            f"not {text!r}"
        ) from None
    return moment.astimezone() if moment.tzinfo is None else moment


_OUTCOMES = ("ok", "denied", "failed")


@app.command("audit")
def audit_command(
    since: Annotated[
        str | None, typer.Option(help="from this ISO date or time (local time unless a zone)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="before this ISO date or time")] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="who acted (a username, or cli:<login>)")
    ] = None,
    action_: Annotated[
        str | None, typer.Option("--action", help="e.g. sign_in, households_read, account_add")
    ] = None,
    address: Annotated[str | None, typer.Option(help="the client address")] = None,
    outcome: Annotated[str | None, typer.Option(help="ok, denied or failed")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="at most this many")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    store: StoreOption = None,
) -> None:
    """Read the audit log, newest first: sign-ins, reads of household records, changes."""
    from gisgrid.stores import open_store
    from gisgrid.stores.ledger import AuditQuery

    def action() -> None:
        if outcome is not None and outcome not in _OUTCOMES:
            raise ConfigError(f"--outcome must be ok, denied or failed, not {outcome!r}")
        query = AuditQuery(
            since=_moment(since, "--since"),
            until=_moment(until, "--until"),
            actor=user,
            action=action_,
            address=address,
            outcome=cast("Outcome | None", outcome),
            limit=limit,
        )
        records = open_store(store).ledger.audit(query)
        if as_json:
            rows = [
                {
                    "id": r.id,
                    "at": r.entry.at.isoformat(),
                    "action": r.entry.action,
                    "outcome": r.entry.outcome,
                    "actor": r.entry.actor,
                    "role": r.entry.role,
                    "address": r.entry.address,
                    "target": r.entry.target,
                    "reason": r.entry.reason,
                    "detail": dict(r.entry.detail),
                }
                for r in records
            ]
            typer.echo(json.dumps(rows, ensure_ascii=False, indent=1, default=str))
            return
        table = Table(title="审计日志 audit log")
        for column in ("id", "at 时间", "action 操作", "outcome 结果", "actor 操作人", "role",
                       "address 地址", "target 对象", "reason 事由"):  # fmt: skip
            table.add_column(column)
        for r in records:
            e = r.entry
            table.add_row(
                str(r.id), e.at.astimezone().strftime("%Y-%m-%d %H:%M:%S"), e.action,
                e.outcome, e.actor or "", e.role or "", e.address or "", e.target or "",
                e.reason or "",
            )  # fmt: skip
        out.print(table)

    _run(action)


def main() -> None:  # pragma: no cover - console entry for `python -m gisgrid`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

__all__ = ["app"]
