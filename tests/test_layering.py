"""The house: data flows one way (store → layers → analysis → cartography / api), proven.

Every ``gisgrid`` import in the package is read with :mod:`ast` (also imports inside functions)
and checked against the rooms' order; a module that reaches upwards fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import gisgrid

PACKAGE = Path(gisgrid.__file__).parent

#: each room, and the rooms it must never import (directly or inside a function)
FORBIDDEN: dict[str, set[str]] = {
    "errors": {"layers", "stores", "analysis", "services", "cartography", "api", "cli", "sample"},
    "codes": {"layers", "stores", "analysis", "services", "cartography", "api", "cli", "sample"},
    "crs": {"layers", "stores", "analysis", "services", "cartography", "api", "cli", "sample"},
    "roles": {"layers", "stores", "analysis", "services", "cartography", "api", "cli", "sample"},
    "settings": {"layers", "stores", "analysis", "services", "cartography", "api", "cli"},
    "layers": {"stores", "analysis", "services", "cartography", "api", "cli", "sample"},
    "stores": {"analysis", "services", "cartography", "api", "cli", "sample", "exchange"},
    "analysis": {"services", "cartography", "api", "cli", "sample", "exchange"},
    "services": {"cartography", "api", "cli", "sample"},
    "cartography": {"services", "api", "cli", "sample", "reports"},
    # the Excel workbook and the printed wall map: read analysis (and the cases' service)
    "reports": {"api", "cli", "sample"},
    "api": {"cli", "sample"},
}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports() -> list[tuple[str, str]]:
    """(importing module, imported gisgrid module) for every gisgrid import in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                # "from gisgrid import codes" names the room in the alias
                target = names[1] if node.module == "gisgrid" and len(names) > 1 else names[0]
                if target.startswith("gisgrid."):
                    found.append((module, target))
            elif isinstance(node, ast.Import):
                found += [(module, a.name) for a in node.names if a.name.startswith("gisgrid.")]
    return found


def test_the_scan_sees_the_imports() -> None:
    pairs = _imports()
    assert ("gisgrid.stores.base", "gisgrid.layers") in {(a, _top(b)) for a, b in pairs}
    assert len(pairs) > 100


def _top(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_room_imports_upwards() -> None:
    upwards = sorted(
        f"{importer} imports {imported}"
        for importer, imported in _imports()
        if _room(imported) in FORBIDDEN.get(_room(importer), set())
    )
    assert upwards == []


def test_no_import_cycle_between_rooms() -> None:
    edges: dict[str, set[str]] = {}
    for importer, imported in _imports():
        a, b = _room(importer), _room(imported)
        if a != b and a and b:
            edges.setdefault(a, set()).add(b)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(room for room in edges if reaches(room, room, {room}))
    assert cycles == []
