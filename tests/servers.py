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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gisgrid_server(
    store: str,
    *,
    timeout: float = 90.0,
    warm: bool = False,
    options: Sequence[str] = (),
    output: list[str] | None = None,
) -> Iterator[str]:
    """Run ``gisgrid serve --store STORE [OPTIONS]`` until the block ends; yields its base URL.

    Ready when ``/api/health`` answers 200, which it does once the store answers and the
    hot paths are warm; ``warm`` waits for the caches too (``caches``: the dashboard's
    layers, report and search; the benchmarks measure the served app, not its start-up).
    ``output`` receives what the server printed, once it has stopped.
    """
    command = [sys.executable, "-m", "gisgrid", "serve", "--store", store, *options]
    with app_server(
        command, name="gisgrid serve", timeout=timeout, warm=warm, output=output
    ) as base:
        yield base


@contextmanager
def app_server(
    command: list[str],
    *,
    name: str,
    timeout: float = 90.0,
    warm: bool = False,
    output: list[str] | None = None,
) -> Iterator[str]:
    """Run ``command --port PORT`` (a free loopback port) until the block ends, as
    :func:`gisgrid_server` runs ``gisgrid serve``; yields its base URL. ``output`` receives
    what the command printed, once it has stopped."""
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
                    if r.status == 200 and (not warm or json.loads(r.read())["caches"]):
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
            printed, _ = proc.communicate(timeout=20)
            if output is not None:
                output.append(printed.decode())
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
