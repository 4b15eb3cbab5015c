"""A SQLite file kept beside a GeoPackage: its transactions, its mode, its schema.

The GeoPackage store keeps what is not a layer in files of their own beside the ``.gpkg``
(``NAME.access.sqlite``: :mod:`gisgrid.stores.sqlite_ledger`; ``NAME.changes.sqlite``:
:mod:`gisgrid.stores.sqlite_changesets`), never in it: the GeoPackage is rewritten by
copy-on-write on every layer write and handed to QGIS users.

Each file is created with mode 0600 before SQLite opens it (SQLite gives its ``-wal`` and
``-shm`` files the mode of the database). It is never copied, so it runs in WAL mode: readers
never wait for a writer. A busy timeout makes concurrent processes wait for each other
instead of failing, and every transaction that writes begins with ``BEGIN IMMEDIATE``: the
write lock is taken at the start, so a transaction never fails half-way for want of it, and
what it reads (a compare-and-set) no other writer changes before it commits. The schema is
made on first use and numbered by ``PRAGMA user_version``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from gisgrid.errors import StoreError

#: how long a call waits for another process's write transaction before it fails
BUSY_SECONDS = 30.0


class SideFile:
    """One SQLite file beside a GeoPackage, made with its schema on first use.

    Parameters
    ----------
    path
        The file; it and its folder are made on first use.
    what
        What the file is, for messages (``the ledger``, ``the change sets``).
    schema
        The statements that create the schema (``IF NOT EXISTS``), run once in one
        transaction when the file has an older ``user_version`` than ``version``.
    version
        The schema version the statements make.
    busy_seconds
        How long a call waits while another process writes before it fails.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        what: str,
        schema: Sequence[str],
        version: int,
        busy_seconds: float = BUSY_SECONDS,
    ) -> None:
        self.path = Path(path)
        self.what = what
        self._schema = tuple(schema)
        self._version = version
        self._busy_seconds = busy_seconds
        self._ready = False  # the schema was found at its version
        #: the connection :meth:`read_one` keeps open, the file (device, inode) it is open
        #: on, and the lock that gives it to one thread at a time
        self._reader: sqlite3.Connection | None = None
        self._reader_file: tuple[int, int] | None = None
        self._reader_lock = threading.Lock()

    @contextlib.contextmanager
    def transaction(self, doing: str, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction on a connection of its own; SQLite's errors become StoreError."""
        try:
            con = self._open()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{doing} {self.what} {self.path} failed: {exc}") from exc
        try:
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield con
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"{doing} {self.what} {self.path} failed: {exc}") from exc
        finally:
            con.close()

    def read_one(self, doing: str, sql: str, params: Sequence[object]) -> tuple[object, ...] | None:
        """The first row of one reading statement (``None``: no row), on a connection kept
        open for it.

        For the reads of every signed-in request (its API token, its account): opening a
        connection is most of what a read costs. The statement runs alone, in SQLite's
        autocommit mode: it is its own read transaction and sees every commit made before
        it, by any connection of any process, exactly as a new connection would; nothing is
        kept between two calls but the connection. A file replaced meanwhile (another inode:
        a restored copy) gets a new connection. One thread at a time uses it.
        """
        with self._reader_lock:
            try:
                found = _file_id(self.path)
                if self._reader is None or found is None or found != self._reader_file:
                    self._close_reader()
                    self._reader = self._open(check_same_thread=False)
                    self._reader_file = _file_id(self.path)
                row: tuple[object, ...] | None = self._reader.execute(sql, params).fetchone()
                return row
            except (sqlite3.Error, OSError) as exc:
                self._close_reader()
                raise StoreError(f"{doing} {self.what} {self.path} failed: {exc}") from exc

    def close(self) -> None:
        """Close the connection :meth:`read_one` keeps (the next call opens another)."""
        with self._reader_lock:
            self._close_reader()

    def _close_reader(self) -> None:
        reader, self._reader, self._reader_file = self._reader, None, None
        if reader is not None:
            with contextlib.suppress(sqlite3.Error):
                reader.close()

    def _open(self, *, check_same_thread: bool = True) -> sqlite3.Connection:
        """A connection to the file, made (mode 0600) and given its schema when new."""
        if self._create_file():
            self._ready = False
        # timeout: SQLite's busy timeout, waiting for another process's write to end
        con = sqlite3.connect(
            self.path,
            timeout=self._busy_seconds,
            isolation_level=None,
            check_same_thread=check_same_thread,
        )
        try:
            con.execute("PRAGMA foreign_keys = ON")
            if not self._ready:
                self._prepare(con)
                self._ready = True
        except BaseException:
            con.close()
            raise
        return con

    def _create_file(self) -> bool:
        """Make the file readable by its owner only, before SQLite opens it; whether it was new."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return False
        try:
            os.fchmod(fd, 0o600)  # whatever the umask says
        finally:
            os.close(fd)
        return True

    def _prepare(self, con: sqlite3.Connection) -> None:
        """Create the schema when the file has none; refuse a newer one."""
        con.execute("PRAGMA journal_mode = WAL")  # kept by the file: once is enough
        if _user_version(con) == self._version:
            return
        con.execute("BEGIN IMMEDIATE")  # two processes at once: one creates, one waits
        try:
            version = _user_version(con)
            if version > self._version:
                raise StoreError(
                    f"{self.what} {self.path} has schema version {version}, newer than this "
                    f"gisgrid knows ({self._version}): upgrade gisgrid"
                )
            for statement in self._schema:
                con.execute(statement)
            con.execute(f"PRAGMA user_version = {self._version:d}")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


def _file_id(path: Path) -> tuple[int, int] | None:
    """The file's device and inode (``None``: no such file)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _user_version(con: sqlite3.Connection) -> int:
    return int(con.execute("PRAGMA user_version").fetchone()[0])
