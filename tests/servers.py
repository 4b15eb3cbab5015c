"""Start ``gisgrid serve`` for real: a subprocess on a free loopback port (or another
command serving the app the same way: a benchmark's variant of it)."""

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
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gisgrid_server(store: str, *, timeout: float = 90.0, warm: bool = False) -> Iterator[str]:
    """Run ``gisgrid serve --store STORE`` until the block ends; yields its base URL.

    Ready when it answers; with ``warm``, only once ``/api/health`` says its caches are warm
    (the benchmarks measure the served app, not its start-up).
    """
    command = [sys.executable, "-m", "gisgrid", "serve", "--store", store]
    with app_server(command, name="gisgrid serve", timeout=timeout, warm=warm) as base:
        yield base


@contextmanager
def app_server(
    command: list[str], *, name: str, timeout: float = 90.0, warm: bool = False
) -> Iterator[str]:
    """Run ``command --port PORT`` (a free loopback port) until the block ends, as
    :func:`gisgrid_server` runs ``gisgrid serve``; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "GISGRID_STORE"}
    proc = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/health", timeout=2) as r:
                    if r.status == 200 and (not warm or json.loads(r.read())["warm"]):
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"{name} did not start:\n{out}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
