"""A real PostgreSQL + PostGIS server for the tests (and the PostGIS benchmark).

Two ways to get one:

* ``GISGRID_TEST_DATABASE_URL`` set: that server is used. The URL names any database on it
  that the role can connect to; the role needs ``CREATEDB`` (each test session creates its
  own fresh databases there, named ``gisgrid_test_…``, and drops them at the end) and must be
  able to ``CREATE EXTENSION postgis`` (a superuser, or a server whose ``template1`` already
  has PostGIS).
* otherwise a throwaway cluster is started: ``initdb`` in a new temporary folder, a free
  port on 127.0.0.1, a random password, ``fsync`` off. PostgreSQL refuses to run as root;
  as root the cluster runs as the ``postgres`` system user (Debian's package makes it), or
  ``nobody`` when there is none. The cluster and its folder are removed at the end.

The binaries are looked up in ``GISGRID_TEST_PG_BIN``, then ``/usr/lib/postgresql/<newest>/bin``
(Debian's layout), then ``PATH``. ``scripts/setup.sh --with-test-deps`` installs Debian's
``postgresql-15`` and ``postgresql-15-postgis-3``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

TEST_URL_ENV = "GISGRID_TEST_DATABASE_URL"
SUPERUSER = "gisgrid_test"


class ServerUnavailable(RuntimeError):
    """No PostgreSQL server could be found or started (the message says why)."""


def find_bindir() -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    env = os.environ.get("GISGRID_TEST_PG_BIN")
    if env:
        return Path(env)
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
        reverse=True,
    )
    if candidates:
        return candidates[0].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise ServerUnavailable(
        "no PostgreSQL server binaries (initdb): install Debian's postgresql-15 and "
        "postgresql-15-postgis-3 (scripts/setup.sh --with-test-deps), or set "
        f"{TEST_URL_ENV} to a PostGIS server"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(dbname)))


@dataclass
class Cluster:
    """A throwaway PostgreSQL cluster in a temporary folder, run by an unprivileged user."""

    bindir: Path
    root: Path = field(init=False)
    port: int = field(init=False, default=0)
    password: str = field(init=False, default_factory=lambda: secrets.token_hex(16))
    _user: pwd.struct_passwd | None = field(init=False, default=None)
    _running: bool = field(init=False, default=False)
    _options: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="gisgrid-pg-"))
        if os.geteuid() == 0:
            self._user = _unprivileged_user()
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self._user is not None:
            kwargs = {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        return subprocess.run(
            [str(a) for a in args],
            capture_output=True,
            text=True,
            check=False,
            cwd=self.root,
            env=env,
            **kwargs,  # type: ignore[call-overload]
        )

    def start(self) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._user is not None:
            os.chown(pwfile, self._user.pw_uid, self._user.pw_gid)
        pwfile.chmod(0o600)
        done = self._run(
            self.bindir / "initdb",
            "-D",
            self.data,
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        pwfile.unlink()
        if done.returncode != 0:
            raise ServerUnavailable(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        last = ""
        for _attempt in range(5):  # another process may take the free port before we do
            self.port = _free_port()
            options = " ".join(
                [
                    f"-p {self.port}",
                    "-c listen_addresses=127.0.0.1",
                    f"-c unix_socket_directories={self.root}",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    "-c max_connections=60",
                    "-c shared_buffers=256MB",
                    "-c maintenance_work_mem=256MB",
                    "-c work_mem=64MB",
                ]
            )
            self._options = options
            done = self._pg_ctl_start()
            if done.returncode == 0:
                self._running = True
                return
            last = done.stdout + done.stderr + self.log_tail()
        raise ServerUnavailable(f"the PostgreSQL cluster did not start:\n{last}")

    @property
    def running(self) -> bool:
        return self._running

    def _pg_ctl_start(self) -> subprocess.CompletedProcess[str]:
        log = self.root / "server.log"
        return self._run(
            self.bindir / "pg_ctl", "-D", self.data, "-l", log, "-o", self._options, "-w", "start"
        )

    def pause(self) -> None:
        """Stop the server as an administrator would (``-m fast``), keeping its data."""
        done = self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        if done.returncode != 0:
            raise ServerUnavailable(f"pg_ctl stop failed:\n{done.stdout}\n{done.stderr}")
        self._running = False

    def resume(self) -> None:
        """Start the paused server again, on the same port with the same data."""
        done = self._pg_ctl_start()
        if done.returncode != 0:
            raise ServerUnavailable(f"the cluster did not start again:\n{done.stderr}")
        self._running = True

    def log_tail(self, lines: int = 30) -> str:
        log = self.root / "server.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server (at once: its data are thrown away) and remove the folder."""
        if self._running:
            self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
            self._running = False
        shutil.rmtree(self.root, ignore_errors=True)


def _unprivileged_user() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ServerUnavailable("running as root, and there is no 'postgres' or 'nobody' user")


class PostGISServer:
    """A PostGIS server and the fresh databases a test session makes on it.

    Parameters
    ----------
    url
        A server to use (``GISGRID_TEST_DATABASE_URL``); ``None`` starts a throwaway cluster.
    """

    def __init__(self, url: str | None = None) -> None:
        self._cluster: Cluster | None = None
        if url is None:
            self._cluster = Cluster(find_bindir())
            try:
                self._cluster.start()
            except BaseException:
                self._cluster.stop()
                raise
            url = self._cluster.url
        self.admin_url = url
        self.tag = f"gisgrid_test_{os.getpid()}_{secrets.token_hex(3)}"
        self._databases: list[str] = []
        self._serial = 0
        self._template: str | None = None
        atexit.register(self.close)
        try:
            with self._admin() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            self.close()
            raise ServerUnavailable(f"cannot connect to the test server: {exc}") from exc

    @classmethod
    def from_environment(cls) -> PostGISServer:
        """The server named by ``GISGRID_TEST_DATABASE_URL``, or a throwaway cluster."""
        return cls(os.environ.get(TEST_URL_ENV) or None)

    @property
    def cluster(self) -> Cluster | None:
        """The throwaway cluster (to stop and start it again); ``None`` for a given server."""
        return self._cluster

    @property
    def throwaway(self) -> bool:
        """Whether this is a cluster started for the session."""
        return self._cluster is not None

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(self.admin_url, autocommit=True)

    def url_of(self, dbname: str) -> str:
        return _with_database(self.admin_url, dbname)

    def create_database(self, *, template: str | None = None, postgis: bool = True) -> str:
        """A new empty database (a copy of ``template`` when given); returns its URL."""
        self._serial += 1
        name = f"{self.tag}_{self._serial}"
        with self._admin() as conn:
            if template is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            else:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                        sql.Identifier(name), sql.Identifier(template)
                    )
                )
        self._databases.append(name)
        url = self.url_of(name)
        if postgis and template is None:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        return url

    def postgis_template(self) -> str:
        """Name of a database holding only the PostGIS extension, made once, to copy from."""
        if self._template is None:
            self._template = self.name_of(self.create_database())
        return self._template

    def fresh_database(self) -> str:
        """URL of a new database with PostGIS and nothing else (a copy of the template)."""
        return self.create_database(template=self.postgis_template())

    def drop_database(self, url_or_name: str) -> None:
        """Drop a database made by :meth:`create_database` (closing its connections)."""
        name = urlsplit(url_or_name).path.lstrip("/") if "://" in url_or_name else url_or_name
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        with contextlib.suppress(ValueError):
            self._databases.remove(name)

    @staticmethod
    def name_of(url: str) -> str:
        return urlsplit(url).path.lstrip("/")

    def close(self) -> None:
        """Drop every database made here and stop a throwaway cluster."""
        if self._cluster is None:
            for name in list(self._databases):
                with contextlib.suppress(psycopg.Error):
                    self.drop_database(name)
        else:
            self._cluster.stop()
            self._cluster = None
        self._databases.clear()
