"""Real writer processes and the stores they write, for the concurrency and crash tests.

A writer is a separate Python process running the real ``gisgrid`` command (``import``,
``assign``) or the web app's incident report (:func:`gisgrid.services.incidents.report_incident`).
It imports everything first, says ``ready``, and starts on ``go``: so writers started
together really meet at the store (start-up takes a second or two, a small write a tenth),
and a kill lands while the command works, not while Python imports.

A :class:`Target` is a store to copy for every round: a GeoPackage file, or a PostGIS
database made from a template database (tests/postgis_server.py).

Used by tests/test_concurrent_writers.py, tests/test_crash_safety.py and
scripts/crash_soak.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from conftest import LEVEL3_BOXES, V1, raw_frame
from postgis_server import PostGISServer

from gisgrid.layers import LAYERS
from gisgrid.stores import Store, open_store
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.postgis import PostGISStore
from gisgrid.stores.sqlite_ledger import SQLiteLedger, ledger_path

LAUNCH = r"""
import json, sys, time
import geopandas, pyogrio, psycopg  # noqa: F401  (imported before "ready")
import gisgrid.analysis.assign, gisgrid.cli, gisgrid.exchange, gisgrid.services.incidents
import gisgrid.stores.geopackage, gisgrid.stores.postgis
from gisgrid.errors import GisgridError

job = json.loads(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
time.sleep(job["delay"])
if job["report"] is not None:  # the web app's report, as its route calls it
    from gisgrid.services.incidents import NewIncident, report_incident
    from gisgrid.stores import open_store

    try:
        report_incident(open_store(job["store"]), NewIncident(**job["report"]))
    except GisgridError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)
    print("reported", flush=True)
    sys.exit(0)
gisgrid.cli.app(args=job["args"], prog_name="gisgrid")
"""


def writer_env() -> dict[str, str]:
    """The environment of a writer: no GISGRID_ settings of ours, messages not wrapped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GISGRID_")}
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    return env


@dataclass
class Writer:
    """One writer process: started (imports done) by :meth:`start`, let go by :meth:`go`.

    Attributes
    ----------
    kind
        ``append``, ``replace``, ``assign`` or ``report``.
    keys
        The keys it writes (households, service points or incidents; none for ``assign``).
    """

    kind: str
    store: str
    args: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = None
    keys: tuple[str, ...] = ()
    delay: float = 0.0
    process: subprocess.Popen[str] | None = None
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""

    def start(self, cwd: Path) -> None:
        """Start the process (it imports, then waits for :meth:`go`); see :meth:`ready`."""
        job = {"args": [*self.args, "--store", self.store], "report": self.report}
        job.update({"delay": self.delay, "store": self.store})
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, json.dumps(job)],
            cwd=cwd,
            env=writer_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ready(self) -> None:
        """Wait until the process has imported everything."""
        assert self.process is not None and self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if line != "ready":
            self.process.kill()
            _, err = self.process.communicate()
            raise RuntimeError(f"writer {self.kind} did not start: {line!r} {err}")

    def go(self) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def wait(self, timeout: float = 120) -> int:
        assert self.process is not None
        out, err = self.process.communicate(timeout=timeout)
        self.stdout, self.stderr = out, err
        self.returncode = self.process.returncode
        return self.returncode

    def kill(self) -> None:
        """``kill -9``: no clean-up of any kind runs in the writer."""
        assert self.process is not None
        self.process.kill()
        self.wait()

    def describe(self) -> str:
        keys = ",".join(self.keys)
        return f"{self.kind}[{keys}] exit {self.returncode}: {self.stderr.strip()[-300:]}"


# --- files the writers import ------------------------------------------------------------------

#: level-3 grid boxes, and spots well inside one (the rule is never asked about an edge)
GRID_CODES = sorted(LEVEL3_BOXES)


def spot(n: int) -> tuple[float, float]:
    """A point well inside a level-3 grid (n cycles through them), or in none (every 5th)."""
    if n % 5 == 4:
        return (112.62 + 0.001 * (n % 50), 29.40)  # second township: in no level-3 grid
    x0, y0, x1, y1 = LEVEL3_BOXES[GRID_CODES[n % len(GRID_CODES)]]
    return (x0 + (x1 - x0) * (0.2 + 0.01 * (n % 40)), y0 + (y1 - y0) * 0.5)


def grid_of(x: float, y: float) -> str | None:
    """The level-3 grid of a spot from :func:`spot` (none sits on an edge)."""
    for code in GRID_CODES:
        x0, y0, x1, y1 = LEVEL3_BOXES[code]
        if x0 <= x <= x1 and y0 <= y <= y1:
            return code
    return None


def households_file(path: Path, ids: Sequence[str], numbers: Sequence[int]) -> Path:
    features = []
    for hid, n in zip(ids, numbers, strict=True):
        props = {"id": hid, "head_name": f"测试户主{hid}", "village_code": V1, "members": 3}
        props.update({"elderly": 1, "party_member": False})
        geometry = {"type": "Point", "coordinates": list(spot(n))}
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    return _geojson(path, features)


def service_points_file(path: Path, ids: Sequence[str]) -> Path:
    features = []
    for n, sid in enumerate(ids):
        props = {"id": sid, "kind": "village_centre", "name": f"测试站{sid}", "village_code": V1}
        geometry = {"type": "Point", "coordinates": list(spot(n))}
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    return _geojson(path, features)


def _geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    doc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def incident(iid: str, n: int) -> dict[str, Any]:
    """A :class:`~gisgrid.services.incidents.NewIncident` as keyword arguments."""
    x, y = spot(n)
    return {"lon": x, "lat": y, "kind": "dispute", "id": iid, "description": "并发测试"}


# --- stores ------------------------------------------------------------------------------------


def base_frames() -> dict[str, pd.DataFrame]:
    """The little county of tests/conftest.py, validated (households without grid codes)."""
    return {name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()}


@dataclass
class Target:
    """A store to copy for each round: a GeoPackage file or a PostGIS template database."""

    name: str
    template: str  # a .gpkg path, or a database name on ``server``
    server: PostGISServer | None = None
    made: list[str] = field(default_factory=list)

    @classmethod
    def geopackage(cls, folder: Path, frames: dict[str, pd.DataFrame]) -> Target:
        store = GeoPackageStore(folder / "template" / "county.gpkg")
        store.write(frames)
        return cls("geopackage", str(store.path))

    @classmethod
    def postgis(cls, server: PostGISServer, frames: dict[str, pd.DataFrame]) -> Target:
        url = server.fresh_database()
        store = PostGISStore(url)
        store.init()
        store.write(frames)
        store.close()
        return cls("postgis", server.name_of(url), server)

    def fresh(self, folder: Path) -> str:
        """A new store holding the template's content: its path or URL."""
        if self.server is None:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "county.gpkg"
            shutil.copyfile(self.template, path)
            return str(path)
        url = self.server.create_database(template=self.template)
        self.made.append(url)
        return url

    def drop(self, location: str) -> None:
        if self.server is not None:
            self.server.drop_database(location)
            self.made.remove(location)
        else:
            shutil.rmtree(Path(location).parent, ignore_errors=True)

    def close(self) -> None:
        for url in list(self.made):
            self.drop(url)


def keys_of(store: Store, layer: str) -> list[str]:
    """The keys of ``layer`` as stored, sorted (duplicates kept: a test looks for them)."""
    return sorted(str(k) for k in store.read(layer, columns=["id"])["id"])


def digest(store: Store, layers: Iterable[str]) -> str:
    """One digest of the content of ``layers``, rows in key order, columns as declared."""
    h = hashlib.sha256()
    for layer in layers:
        frame = store.read(layer)
        decl = LAYERS[layer]
        frame = frame.sort_values(list(decl.key), kind="stable").reset_index(drop=True)
        if "geometry" in frame.columns:
            wkt = frame.geometry.to_wkt(rounding_precision=7)
            frame = pd.DataFrame(frame.drop(columns="geometry")).assign(wkt=wkt.to_numpy())
        h.update(layer.encode())
        h.update(frame.to_csv(index=False, na_rep="<NA>").encode())
    return h.hexdigest()


def open_location(location: str) -> Store:
    return open_store(location)


def settle(location: str, seconds: float = 10.0) -> None:
    """Wait until a PostGIS store takes a write again (the server notices a killed client)."""
    if not location.startswith("postgresql://"):
        return
    import psycopg

    deadline = time.monotonic() + seconds
    while True:
        with psycopg.connect(location, autocommit=True) as conn:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND application_name = 'gisgrid'"
            ).fetchone()
        if not busy or not busy[0] or time.monotonic() > deadline:
            return
        time.sleep(0.05)


# --- kill -9 at a random moment ----------------------------------------------------------------

#: the layers a crash case compares (what import of households and assign write)
COMPARED = ("households", "incidents", "service_points")
CRASH_KINDS = ("replace", "append", "assign")


def leftovers(location: str) -> list[str]:
    """Files beside a GeoPackage store other than the store, its lock file and its ledger
    (accounts and the audit log, with SQLite's own files: live, not leftovers).

    A writer killed while it made the ledger can leave SQLite's rollback journal (the ledger
    takes its write-ahead mode in its first transaction); SQLite rolls it back when the
    ledger is next opened, which :func:`ledger_recovers` checks.
    """
    if location.startswith("postgresql://"):
        return []
    path = Path(location)
    ledger = ledger_path(path).name
    own = ("-wal", "-shm", "-journal")
    keep = {path.name, f".{path.name}.lock", ledger, *(f"{ledger}{end}" for end in own)}
    return sorted(p.name for p in path.parent.iterdir() if p.name not in keep)


def ledger_recovers(location: str) -> None:
    """Open a GeoPackage's ledger, if the writer made one, and find it whole and journal-free.

    Raises
    ------
    AssertionError
        A rollback journal outlives the ledger's next opening.
    """
    if location.startswith("postgresql://"):
        return
    path = ledger_path(Path(location))
    if not path.exists():
        return
    SQLiteLedger(path).accounts()  # its first read rolls a hot journal back, or fails
    journal = path.with_name(f"{path.name}-journal")
    assert not journal.exists(), f"{journal.name} outlived the ledger's next opening"


@dataclass
class CrashOutcome:
    """What one killed writer left: ``old`` or ``new`` content, files found before opening."""

    kind: str
    ended: str
    killed_after: float
    leftovers: list[str]


@dataclass
class CrashCase:
    """One kind of write (``replace``, ``append``, ``assign``) on one target, killed at will.

    :meth:`prepare` runs the write once to the end on a copy: the content before and after
    (:func:`digest` of :data:`COMPARED`) and how long the write takes once started.
    """

    target: Target
    kind: str
    folder: Path
    old: str = ""
    new: str = ""
    seconds: float = 0.0

    def args(self) -> list[str]:
        if self.kind == "assign":
            return ["assign"]
        n = 400
        if self.kind == "append":
            ids = [f"K{i:05d}" for i in range(n)]
        else:  # replace: other households entirely (backbone references none of them)
            ids = [f"R{i:05d}" for i in range(n)]
        path = self.folder / f"{self.kind}.geojson"
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            households_file(path, ids, list(range(n)))
        return ["import", "households", str(path), "--mode", self.kind]

    def prepare(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        location = self.target.fresh(self.folder / "reference")
        store = open_location(location)
        self.old = digest(store, COMPARED)
        store.close()
        writer = Writer(self.kind, location, args=self.args())
        writer.start(self.folder)
        writer.ready()
        started = time.monotonic()
        writer.go()
        if writer.wait() != 0:
            raise RuntimeError(f"the reference {self.kind} failed: {writer.stderr}")
        self.seconds = time.monotonic() - started
        store = open_location(location)
        self.new = digest(store, COMPARED)
        store.close()
        self.target.drop(location)
        if self.old == self.new:
            raise RuntimeError(f"the reference {self.kind} changed nothing")

    def kill_once(self, when: float, run: int) -> CrashOutcome:
        """Start the write, ``kill -9`` it ``when`` seconds after it began, and look.

        Raises
        ------
        AssertionError
            The store holds neither the old nor the new content, holds a key twice, keeps
            a leftover after it is opened again, or refuses the next write.
        """
        location = self.target.fresh(self.folder / f"run{run}")
        writer = Writer(self.kind, location, args=self.args())
        writer.start(self.folder)
        writer.ready()
        writer.go()
        time.sleep(when)
        writer.kill()
        found = leftovers(location)
        settle(location)
        store = open_location(location)  # opening removes a dead writer's copies
        try:
            after_open = leftovers(location)
            assert after_open == [], f"{self.kind} killed after {when:.3f} s left {after_open}"
            now = digest(store, COMPARED)
            ended = "old" if now == self.old else "new" if now == self.new else "neither"
            assert ended != "neither", f"{self.kind} killed after {when:.3f} s: mixed content"
            for layer in COMPARED:
                keys = keys_of(store, layer)
                assert len(keys) == len(set(keys)), f"{layer}: a key twice"
            store.write({}, meta={"after_crash": run})  # the next writer is not locked out
            assert leftovers(location) == []
            ledger_recovers(location)
        finally:
            store.close()
        self.target.drop(location)
        return CrashOutcome(self.kind, ended, when, found)


def each_store(
    kind: str, folder: Path, frames: dict[str, pd.DataFrame], pg: Any
) -> Iterator[Target]:
    """A fixture's body: a :class:`Target` of ``kind`` holding ``frames``, removed afterwards.

    ``pg`` gives the PostGIS server when asked (``request.getfixturevalue``), so a GeoPackage
    run needs none.
    """
    if kind == "geopackage":
        yield Target.geopackage(folder, frames)
        return
    server: PostGISServer = pg("pg_server")
    made = Target.postgis(server, frames)
    yield made
    made.close()
    server.drop_database(made.template)
