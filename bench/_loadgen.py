"""An open-loop HTTP load generator: requests at a fixed rate, latency from the scheduled time.

Run as its own process so the server under test and the load do not share an interpreter:

    python bench/_loadgen.py --host 127.0.0.1 --port 8000 --rate 200 --seconds 20 PATHS.json \
        [--headers HEADERS.json] [--connections 32]

Lean on purpose, so that on a 2-core machine it takes little from the server under test:
raw HTTP/1.1 over keep-alive connections, parsed by an ``asyncio.Protocol`` (no streams, no
HTTP library), on uvloop when it is installed (it comes with uvicorn). Each request is due
at ``start + i / rate``; its latency counts from that moment, not from when it was actually
sent, so a stalled server cannot hide its queue (no coordinated omission): a request whose
time has come while every connection is busy waits for one, and that wait counts. A
connection the server closed is opened again. Each request carries the headers of
HEADERS.json (a JSON object: the ``Authorization`` of a signed-in caller; a file, so no
token shows in the process list).

Prints one JSON line: requests, ok (2xx), errors (anything else, or a connection lost), the
rate achieved, p50/p90/p99/max latency in ms, and what the generator itself cost: its own
CPU seconds (user + system) over the wall-clock seconds of the run (``cpu_share``: 0.1 is a
tenth of one core).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np

_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


class Connection(asyncio.Protocol):
    """One keep-alive connection: one request in flight at a time."""

    def __init__(self, done: Callable[[Connection, int], None]) -> None:
        self.done = done
        # uvloop's transports are not asyncio.Transport subclasses: any with write and close
        self.transport: Any = None
        self.buffer = bytearray()
        self.busy = False
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def send(self, request: bytes) -> None:
        self.busy = True
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        found = _LENGTH.search(self.buffer, 0, end + 2)
        length = int(found.group(1)) if found else 0
        if len(self.buffer) < end + 4 + length:
            return
        status = int(self.buffer[9:12])
        del self.buffer[: end + 4 + length]
        self.busy = False
        self.done(self, status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.busy:  # the answer never came
            self.busy = False
            self.done(self, 0)
        if not self.lost.done():
            self.lost.set_result(None)


async def run(
    host: str,
    port: int,
    rate: float,
    seconds: float,
    paths: list[str],
    conns: int,
    headers: dict[str, str],
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    requests = [
        f"GET {p} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n{extra}\r\n".encode()
        for p in paths
    ]
    n = int(rate * seconds)
    latencies = np.zeros(n)
    statuses = np.zeros(n, dtype=np.int32)
    due_of: dict[Connection, tuple[int, float]] = {}
    idle: collections.deque[Connection] = collections.deque()
    waiting: collections.deque[tuple[int, float]] = collections.deque()
    finished = loop.create_future()
    count = [0]
    tasks: set[asyncio.Task[None]] = set()  # reconnections under way, kept referenced

    def send(conn: Connection, i: int, due: float) -> None:
        if conn.transport is None:  # closed by the server while idle: another one
            waiting.appendleft((i, due))
            tasks.add(loop.create_task(reconnect()))
            return
        due_of[conn] = (i, due)
        conn.send(requests[i % len(requests)])

    def done(conn: Connection, status: int) -> None:
        i, due = due_of.pop(conn)
        latencies[i] = time.perf_counter() - due
        statuses[i] = status
        count[0] += 1
        if count[0] == n and not finished.done():
            finished.set_result(None)
        if conn.transport is None:  # closed: a new one takes its place
            tasks.add(loop.create_task(reconnect()))
        elif waiting:
            send(conn, *waiting.popleft())
        else:
            idle.append(conn)

    async def connect() -> Connection:
        _, conn = await loop.create_connection(lambda: Connection(done), host, port)
        return conn

    async def reconnect() -> None:
        conn = await connect()
        if waiting:
            send(conn, *waiting.popleft())
        else:
            idle.append(conn)

    for _ in range(conns):
        idle.append(await connect())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    start = time.perf_counter() + 0.1
    i = 0
    while i < n:
        now = time.perf_counter()
        while i < n and start + i / rate <= now:  # every request whose time has come
            due = start + i / rate
            if idle:
                send(idle.popleft(), i, due)
            else:
                waiting.append((i, due))
            i += 1
        if i < n:
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
    await asyncio.wait_for(finished, timeout=max(60.0, seconds))
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    for conn in [*idle]:
        if conn.transport is not None:
            conn.transport.close()
    lat = latencies * 1000
    ok = int(((statuses >= 200) & (statuses < 300)).sum())
    return {
        "requests": n,
        "ok": ok,
        "errors": n - ok,
        "rate_achieved": n / elapsed,
        "p50_ms": float(np.percentile(lat, 50)),
        "p90_ms": float(np.percentile(lat, 90)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "cpu_seconds": cpu,
        "wall_seconds": elapsed,
        "cpu_share": cpu / elapsed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("paths", help="JSON file: a list of request paths")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--headers", help="JSON file: an object of headers sent with every request")
    a = ap.parse_args()
    with open(a.paths, encoding="utf-8") as fh:
        paths = json.load(fh)
    headers: dict[str, str] = {}
    if a.headers:
        with open(a.headers, encoding="utf-8") as fh:
            headers = json.load(fh)
    try:
        import uvloop
    except ImportError:  # plain asyncio: a little more CPU per request
        runner = asyncio.run
    else:
        runner = uvloop.run
    stats = runner(run(a.host, a.port, a.rate, a.seconds, paths, a.connections, headers))
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
