"""PostgreSQL going down under a running gisgrid, and coming back (issue #11, point 4).

A cluster of its own (the session's shared server keeps running for the other tests) holds a
small sample county; the real web app runs on it in a subprocess. While PostgreSQL is stopped
(``pg_ctl stop -m fast``, as an administrator would), requests that read the database answer
503 with a JSON error within seconds and ``/api/health`` says not ready; started again on the
same port, everything works again without restarting gisgrid.

What answers from memory while the database is down (and so stays 200): ``/api/locate`` (the
grids are held by the locator), the check report and the dashboard once computed, and
``/api/health/live``. Household search and details, layers and incidents need the database.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from accounts import admin_headers
from postgis_server import Cluster, PostGISServer, ServerUnavailable
from servers import gisgrid_server

from gisgrid.errors import StoreError
from gisgrid.sample import MIN_HOUSEHOLDS, build_sample_county, write_sample_county
from gisgrid.settings import PostGISSettings
from gisgrid.stores.postgis import PostGISStore

#: a request that must read the database (households are never kept in memory as GeoJSON)
DATA = "/api/layers/households?limit=1"
#: what "fails fast" and "recovers" mean here, in seconds (the defaults: connect timeout 3 s)
FAST = 5.0
RECOVERY = 5.0


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    seconds: float


def get(url: str, headers: dict[str, str] | None = None) -> Answer:
    """GET ``url`` (with ``headers``: the public health routes need none)."""
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=60
        ) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    return Answer(status, json.loads(raw), time.monotonic() - t0)


def wait_for(url: str, status: int, *, within: float) -> Answer:
    """Ask ``url`` until it answers ``status``; fails after ``within`` seconds."""
    t0 = time.monotonic()
    while True:
        answer = get(url)
        if answer.status == status:
            answer.seconds = time.monotonic() - t0
            return answer
        assert time.monotonic() - t0 < within, f"still {answer.status} {answer.body}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[tuple[Cluster, str]]:
    try:
        server = PostGISServer(None)  # never the shared one: this test stops it
    except ServerUnavailable as exc:
        pytest.skip(f"no PostgreSQL binaries to start a cluster of its own: {exc}")
    assert server.cluster is not None
    try:
        url = server.fresh_database()
        store = PostGISStore(url)
        store.init()
        write_sample_county(store, build_sample_county(seed=11, households=MIN_HOUSEHOLDS))
        store.close()
        yield server.cluster, url
    finally:
        server.close()


@pytest.fixture(scope="module")
def auth(own_cluster: tuple[Cluster, str]) -> dict[str, str]:
    """A county admin's ``Authorization`` header (the app answers no one else)."""
    _, url = own_cluster
    return admin_headers(url)


@pytest.fixture(scope="module")
def app(own_cluster: tuple[Cluster, str], auth: dict[str, str]) -> Iterator[str]:
    _, url = own_cluster
    with gisgrid_server(url, warm=True) as base:
        yield base


@pytest.fixture
def cluster(own_cluster: tuple[Cluster, str]) -> Iterator[Cluster]:
    """The cluster, running again after the test whatever it did."""
    cluster, _ = own_cluster
    yield cluster
    if not cluster.running:
        cluster.resume()


def test_requests_fail_fast_while_postgres_is_down_and_recover_by_themselves(
    app: str, auth: dict[str, str], cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    assert get(f"{app}{DATA}", auth).status == 200
    assert get(f"{app}/api/health").status == 200

    cluster.pause()
    timings: dict[str, float] = {}
    for round_ in range(2):  # the second time the pool is already gone: as fast
        down = get(f"{app}{DATA}", auth)
        assert down.status == 503, down.body
        assert down.seconds < FAST
        error = down.body["error"]
        assert error["type"] == "StoreError"
        assert "cannot connect to the PostGIS store" in error["message"]
        assert "***" in error["message"]  # the URL without its password
        timings[f"503 #{round_ + 1}"] = down.seconds
    health = get(f"{app}/api/health")
    assert health.status == 503 and health.seconds < FAST
    assert health.body["status"] == "unavailable" and health.body["ready"] is False
    assert "cannot connect" in health.body["message"]
    timings["health 503"] = health.seconds
    # liveness is answered from memory; who is asking is checked in the store, so while it
    # is down nothing that needs a signed-in caller is answered (fail closed), and fast
    assert get(f"{app}/api/health/live").body == {"status": "ok"}
    for path in ("/api/locate?lon=112.55&lat=29.52", "/api/check"):
        refused = get(f"{app}{path}", auth)
        assert refused.status == 503 and refused.seconds < FAST, path
        assert refused.body["error"]["type"] == "StoreError"
    # a public route does not need to know the caller: a token sent along changes nothing
    assert get(f"{app}/api/health/live", auth).body == {"status": "ok"}

    cluster.resume()
    back = wait_for(f"{app}/api/health", 200, within=RECOVERY)
    assert back.body["ready"] is True and back.body["status"] == "ok"
    timings["health ready again"] = back.seconds
    again = get(f"{app}{DATA}", auth)
    assert again.status == 200 and again.body["numberReturned"] == 1
    with capsys.disabled():
        print("\n  " + ", ".join(f"{k}: {v:.2f} s" for k, v in timings.items()))


def test_a_restart_between_requests_fails_no_request(
    app: str, auth: dict[str, str], cluster: Cluster
) -> None:
    """The pool's connections died with the old server: the first request after the
    restart finds them broken, and connects afresh instead of answering 503."""
    assert get(f"{app}{DATA}", auth).status == 200
    cluster.pause()
    cluster.resume()
    first = get(f"{app}{DATA}", auth)
    assert first.status == 200, first.body
    assert first.seconds < FAST


def test_the_cli_exits_5_within_seconds_while_postgres_is_down(
    own_cluster: tuple[Cluster, str], cluster: Cluster, tmp_path: Path
) -> None:
    _, url = own_cluster
    cluster.pause()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GISGRID_")}
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "gisgrid", "assign", "--store", url],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - t0
    assert done.returncode == 5, done.stderr
    assert "cannot connect to the PostGIS store" in done.stderr
    assert "Traceback" not in done.stderr
    assert seconds < FAST + 5  # the interpreter and its imports take a few seconds of it


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback port that accepts TCP connections and never says a word (a hung server,
    or a firewall that lets the handshake through): only a timeout ends a wait on it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"127.0.0.1:{listener.getsockname()[1]}"


def test_a_server_that_does_not_answer_fails_within_the_connect_timeout(
    silent_server: str,
) -> None:
    store = PostGISStore(
        f"postgresql://clerk:s3cret@{silent_server}/county",
        settings=PostGISSettings(connect_timeout=2),
    )
    t0 = time.monotonic()
    with pytest.raises(StoreError, match="cannot connect to the PostGIS store") as exc:
        store.layer_names()
    assert time.monotonic() - t0 < 2 + 2
    assert "s3cret" not in str(exc.value)


def test_a_connect_timeout_in_the_url_wins(silent_server: str) -> None:
    store = PostGISStore(
        f"postgresql://clerk@{silent_server}/county?connect_timeout=2",
        settings=PostGISSettings(connect_timeout=30),
    )
    t0 = time.monotonic()
    with pytest.raises(StoreError):
        store.count("households")
    assert time.monotonic() - t0 < 2 + 2


def test_requests_queued_behind_a_failed_connection_fail_with_it(silent_server: str) -> None:
    """Eight web requests at once on a host that does not answer: one waits out the
    connect timeout, the others fail with its error instead of each waiting in turn."""
    store = PostGISStore(
        f"postgresql://clerk@{silent_server}/county", settings=PostGISSettings(connect_timeout=2)
    )
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: _fails(store), range(8)))
    assert all(outcomes)
    assert time.monotonic() - t0 < 2 + 2  # not 8 × 2 s


def _fails(store: PostGISStore) -> bool:
    try:
        store.layer_names()
    except StoreError as exc:
        return "cannot connect to the PostGIS store" in str(exc)
    return False
