"""The documented exit codes and the program's agree (issue #11, point 3).

The table of exit codes in the manual (docs/planner.md) is parsed, and for every code it
lists a real ``gisgrid`` command is run that must end with it (several ways for the codes
with several causes). The table must list exactly the codes the error classes of
:mod:`gisgrid.errors` carry, and no code path may raise the bare base class, whose exit code
1 is left to bugs (an uncaught exception).
"""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import LEVEL2_BOXES, V1, raw_frame, write_frame
from shapely.geometry import box

import gisgrid
from gisgrid import errors
from gisgrid.stores.geopackage import GeoPackageStore

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(gisgrid.__file__).resolve().parent
TABLE_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*(.+?)\s*\|\s*$")

Run = Callable[..., subprocess.CompletedProcess[str]]


def documented_tables() -> dict[Path, dict[int, str]]:
    """Every Markdown table headed ``| exit code | meaning |`` in the manual and README."""
    tables: dict[Path, dict[int, str]] = {}
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        lines = page.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if re.match(r"^\|\s*exit code\s*\|", line, flags=re.IGNORECASE):
                rows: dict[int, str] = {}
                for row in lines[i + 2 :]:  # past the header's |---| line
                    found = TABLE_ROW.match(row)
                    if not found:
                        break
                    rows[int(found[1])] = found[2]
                tables[page] = rows
    return tables


def documented_codes() -> dict[int, str]:
    tables = documented_tables()
    assert tables, "no table of exit codes (| exit code | meaning |) in README.md or docs/"
    first = next(iter(tables.values()))
    for page, rows in tables.items():
        assert rows.keys() == first.keys(), f"{page} lists other exit codes"
    return first


def error_classes() -> list[type[errors.GisgridError]]:
    found: list[type[errors.GisgridError]] = []
    todo = [errors.GisgridError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


@dataclass
class Kit:
    """What the cases build their commands from."""

    tmp: Path
    filled: Path  # a GeoPackage store holding the fixture county
    bad_input: Callable[[str], tuple[str, Path, tuple[Any, ...]]]

    def townships_file(self) -> Path:
        return write_frame(raw_frame("townships"), self.tmp / "townships.geojson")

    def new_store(self) -> Path:
        return self.tmp / "new.gpkg"

    def overlapping_grids(self) -> Path:
        """The fixture grids with a level-3 grid redrawn over its whole level-2 parent."""
        frame = raw_frame("grids")
        frame.loc[frame["code"] == V1 + "001001", "geometry"] = box(*LEVEL2_BOXES[V1 + "001"])
        return write_frame(frame, self.tmp / "grids.gpkg", layer="grids")


#: case → (the exit code it must end with, the command's arguments)
CASES: dict[str, tuple[int, Callable[[Kit], list[str | Path]]]] = {
    "import into a new store": (
        0,
        lambda k: ["import", "townships", k.townships_file(), "--store", k.new_store()],
    ),
    "export to GeoJSON": (
        0,
        lambda k: ["export", "grids", k.tmp / "g.geojson", "--store", k.filled],
    ),
    "an unknown option (click's usage error)": (2, lambda k: ["layers", "--no-such-option"]),
    "an unknown --mode": (
        2,
        lambda k: ["import", "townships", k.townships_file(), "--mode", "foo", "--store", k.filled],
    ),
    "an unknown layer": (2, lambda k: ["import", "roads", k.townships_file(), "--store", k.filled]),
    "an unknown CRS": (
        2,
        lambda k: [
            "import",
            "townships",
            k.townships_file(),
            "--crs",
            "EPSG:999999",
            "--store",
            k.new_store(),
        ],
    ),
    "a store URL of no known kind": (2, lambda k: ["layers", "--store", "mysql://db/county"]),
    "exporting to a format gisgrid does not write": (
        2,
        lambda k: ["export", "grids", k.tmp / "grids.shp", "--store", k.filled],
    ),
    "a report --out that cannot be written": (
        2,
        lambda k: ["check", "--store", k.filled, "--out", k.tmp],  # a folder
    ),
    "a missing input file": (3, lambda k: ["import", "townships", k.tmp / "none.geojson"]),
    "an input that is no vector file": (3, lambda k: ["import", "townships", garbage(k.tmp)]),
    "a missing report for a map": (
        3,
        lambda k: [
            "map",
            "coverage",
            "--store",
            k.filled,
            "--report",
            k.tmp / "none.json",
            "--out",
            k.tmp / "m.html",
        ],
    ),
    "an input with a bad feature": (4, lambda k: ["import", *k.bad_input("bad_code")[:2]]),
    "grids that would add an overlap": (
        4,
        lambda k: [
            "import",
            "grids",
            k.overlapping_grids(),
            "--mode",
            "replace",
            "--store",
            k.filled,
        ],
    ),
    "a folder named like a GeoPackage": (5, lambda k: ["layers", "--store", folder(k.tmp)]),
    "a PostGIS server that does not run": (
        5,
        lambda k: ["assign", "--store", "postgresql://clerk:pw@127.0.0.1:1/county"],
    ),
    "assign without level-3 grids": (
        6,
        lambda k: ["assign", "--store", k.tmp / "empty.gpkg"],
    ),
    "a map of an unknown village": (
        6,
        lambda k: [
            "map",
            "finder",
            "--village",
            "430623999999",
            "--store",
            k.filled,
            "--out",
            k.tmp / "m.html",
        ],
    ),
    "a token for a disabled account": (
        7,
        lambda k: [
            "tokens",
            "create",
            disabled_account(k.filled),
            "--name",
            "x",
            "--store",
            k.filled,
        ],
    ),
}


def disabled_account(store: Path) -> str:
    """The name of a disabled account added to ``store``."""
    from gisgrid.roles import Role
    from gisgrid.services import accounts

    ledger = GeoPackageStore(store).ledger
    accounts.add_account(
        ledger, username="off", display_name="停用", role=Role.VIEWER, area="430623",
        password="Dongting-lake-42", actor="test",
    )  # fmt: skip
    accounts.set_disabled(ledger, "off", disabled=True, actor="test")
    return "off"


def garbage(tmp: Path) -> Path:
    path = tmp / "townships.geojson"
    path.write_bytes(b"\x00\x01 not json at all \xff")
    return path


def folder(tmp: Path) -> Path:
    path = tmp / "folder.gpkg"
    path.mkdir()
    return path


def test_the_manual_lists_exactly_the_codes_of_the_error_classes() -> None:
    documented = documented_codes()
    used = {cls.exit_code for cls in error_classes() if cls is not errors.GisgridError}
    assert set(documented) == {0} | used
    assert 1 not in documented  # left to bugs: an exception gisgrid did not raise on purpose


def test_every_documented_code_has_a_command_that_ends_with_it() -> None:
    assert {code for code, _ in CASES.values()} == set(documented_codes())


@pytest.mark.parametrize("case", list(CASES))
def test_the_command_ends_with_its_documented_code(
    case: str,
    run_gisgrid: Run,
    tmp_path: Path,
    filled_store: GeoPackageStore,
    bad_input: Callable[[str], tuple[str, Path, tuple[Any, ...]]],
) -> None:
    code, build = CASES[case]
    assert code in documented_codes()
    args = build(Kit(tmp=tmp_path, filled=filled_store.path, bad_input=bad_input))
    done = run_gisgrid(*args)
    assert done.returncode == code, f"{case}: exit {done.returncode}\n{done.stdout}{done.stderr}"
    assert "Traceback" not in done.stdout + done.stderr
    if code != 0:
        assert done.stderr.strip(), "a refusal says why"


def called(node: ast.Call) -> str:
    """The name a call calls: ``f`` of ``f(…)`` and of ``module.f(…)``."""
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else ""


def test_no_code_raises_the_bare_base_class() -> None:
    """``GisgridError(...)`` itself would exit 1, the code of a bug: every refusal names
    its kind (and so its documented code)."""
    bare = []
    for source in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and called(node) == "GisgridError":
                bare.append(f"{source.relative_to(PACKAGE)}:{node.lineno}")
    assert bare == []


def test_no_exit_code_is_written_by_hand() -> None:
    """No ``typer.Exit(1)`` / ``sys.exit(2)`` either: every exit code comes from an error
    class (``typer.Exit(exc.exit_code)``)."""
    literal_one = []
    for source in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                first = node.args[0]
                if called(node) in ("Exit", "exit") and isinstance(first, ast.Constant):
                    literal_one.append(f"{source.relative_to(PACKAGE)}:{node.lineno}")
    assert literal_one == []
