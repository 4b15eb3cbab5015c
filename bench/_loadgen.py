"""An open-loop HTTP load generator: requests at a fixed rate, latency from the scheduled time.

Run as its own process so the server under test and the load do not share an interpreter:

    python bench/_loadgen.py --host 127.0.0.1 --port 8000 --rate 200 --seconds 20 PATHS.json \
        [--headers HEADERS.json]

Each request is due at ``start + i / rate``; its latency counts from that moment, not from
when it was actually sent, so a stalled server cannot hide its queue (no coordinated
omission). Requests go over a pool of keep-alive connections (one the server closed while
idle is opened again), each with the headers of
HEADERS.json (a JSON object: the ``Authorization`` of a signed-in caller; a file, so no token
shows in the process list). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import numpy as np


async def worker(
    host: str,
    port: int,
    queue: asyncio.Queue[tuple[float, str] | None],
    out: list[tuple[float, int]],
    headers: dict[str, str],
) -> None:
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            due, path = item
            request = (
                f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n{extra}\r\n"
            )
            writer.write(request.encode())
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:  # the server closed an idle keep-alive connection: again
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(request.encode())
                await writer.drain()
                status_line = await reader.readline()
            status = int(status_line.split()[1])
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            out.append((time.perf_counter() - due, status))
    finally:
        writer.close()


async def run(
    host: str,
    port: int,
    rate: float,
    seconds: float,
    paths: list[str],
    conns: int,
    headers: dict[str, str],
) -> dict[str, float]:
    queue: asyncio.Queue[tuple[float, str] | None] = asyncio.Queue()
    out: list[tuple[float, int]] = []
    workers = [asyncio.create_task(worker(host, port, queue, out, headers)) for _ in range(conns)]
    n = int(rate * seconds)
    start = time.perf_counter() + 0.2
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, paths[i % len(paths)]))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    lat = np.array([t for t, _ in out]) * 1000
    ok = sum(1 for _, s in out if 200 <= s < 300)
    return {
        "requests": len(out),
        "ok": ok,
        "rate_achieved": len(out) / elapsed,
        "p50_ms": float(np.percentile(lat, 50)),
        "p90_ms": float(np.percentile(lat, 90)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("paths", help="JSON file: a list of request paths")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--headers", help="JSON file: an object of headers sent with every request")
    a = ap.parse_args()
    with open(a.paths, encoding="utf-8") as fh:
        paths = json.load(fh)
    headers: dict[str, str] = {}
    if a.headers:
        with open(a.headers, encoding="utf-8") as fh:
            headers = json.load(fh)
    stats = asyncio.run(run(a.host, a.port, a.rate, a.seconds, paths, a.connections, headers))
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
