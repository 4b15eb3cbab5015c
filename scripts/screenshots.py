"""Take the docs' screenshots of the leader's pages and the printed wall map.

    ./run demo                                   # the sample county and its demo accounts
    .venv/bin/python scripts/screenshots.py [--store gisgrid.gpkg] [--out docs/screens]

Serves the store with the real ``gisgrid serve`` on a loopback port, signs in through the
sign-in page with the demo accounts that ``gisgrid demo`` wrote beside the store, and
photographs each page in Debian's headless Chromium (``/usr/bin/chromium``, driven by
playwright; every request that would leave the machine is refused and fails the script).
The wall map is fetched as the PDF a village prints and its first page turned into an
image by poppler's ``pdftoppm``. :data:`SHOTS` lists the images; ``docs/leader.md`` shows
them (``tests/test_docs.py`` checks that both name the same files).

Needs the test set-up (``./run setup --with-test-deps``: chromium, playwright,
poppler-utils).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

CHROMIUM = os.environ.get("GISGRID_CHROMIUM", "/usr/bin/chromium")


@dataclass(frozen=True)
class Shot:
    """One image: who looks (a demo account's role), at what (``{township}`` and
    ``{village}`` in ``path`` are the demo accounts' own areas), on which screen."""

    file: str
    role: str
    path: str
    width: int
    height: int
    map_page: bool = False


#: the images, in the order docs/leader.md shows them
SHOTS = (
    Shot("dashboard-county.png", "leader", "/", 1440, 1000),
    Shot("dashboard-township.png", "leader", "/?township={township}", 1440, 1000),
    Shot("map-coverage.png", "leader", "/maps/coverage", 1440, 900, map_page=True),
    Shot("map-incidents.png", "leader", "/maps/incidents", 1440, 900, map_page=True),
    Shot("finder-phone.png", "village", "/finder", 390, 844),
)
#: the wall map's image (a village's printed PDF, first page)
WALL_MAP = "wallmap-village.png"


@dataclass(frozen=True)
class DemoAccount:
    role: str
    username: str
    password: str
    area: str


def read_accounts(store: Path) -> dict[str, DemoAccount]:
    """The demo accounts ``gisgrid demo`` wrote beside ``store``, by role."""
    path = store.with_name(f"{store.stem}.demo-accounts.txt")
    if not path.exists():
        raise SystemExit(f"screenshots: no {path}: run ./run demo first")
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        role, username, password, area, *_ = line.split("\t")
        found[role] = DemoAccount(role, username, password, area)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(store: Path) -> Iterator[str]:
    """``gisgrid serve`` on the store, on a free loopback port, until the block ends."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "GISGRID_STORE"}
    command = [sys.executable, "-m", "gisgrid", "serve", "--store", str(store)]
    proc = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/health", timeout=2) as r:
                    if json.loads(r.read()).get("warm"):
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("screenshots: gisgrid serve did not start")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _stays_here(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in {"data", "blob", "about"} or parsed.hostname == "127.0.0.1"


def signed_in(
    browser: Any, base: str, account: DemoAccount, *, width: int, height: int
) -> tuple[Any, list[str]]:
    """A page of a fresh context, signed in as ``account`` through the sign-in form, and
    the list that collects the requests it refused (any that would leave the machine)."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    left: list[str] = []

    def route(r: Any) -> None:
        if _stays_here(r.request.url):
            r.continue_()
        else:
            left.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.goto(f"{base}/login", wait_until="load")
    page.fill("#username", account.username)
    page.fill("#password", account.password)
    with page.expect_navigation(wait_until="load"):
        page.press("#password", "Enter")
    if "/login" in page.url:
        raise SystemExit(f"screenshots: {account.username} could not sign in")
    return page, left


def take(page: Any, left: list[str], base: str, shot: Shot, path: str, out: Path) -> Path:
    """Open ``path`` and photograph the viewport into ``out / shot.file``."""
    page.goto(f"{base}{path}", wait_until="load", timeout=180_000)
    if shot.map_page:
        page.wait_for_function("window.gisgrid && window.gisgrid.ready === true", timeout=180_000)
    page.wait_for_timeout(1500)  # map tiles are drawn, fonts settled
    target = out / shot.file
    page.screenshot(path=str(target))
    if left:
        raise SystemExit(f"screenshots: {path} asked the internet for {left}")
    return target


def wall_map(page: Any, base: str, village: str, out: Path) -> Path:
    """The village's wall map PDF (A4), its first page as an image by ``pdftoppm``."""
    answer = page.request.get(f"{base}/api/wallmap.pdf?village={village}&paper=A4")
    if answer.status != 200:
        raise SystemExit(f"screenshots: the wall map answered {answer.status}")
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise SystemExit("screenshots: pdftoppm missing: ./run setup --with-test-deps")
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "wallmap.pdf"
        pdf.write_bytes(answer.body())
        stem = Path(tmp) / "page"
        subprocess.run(
            [pdftoppm, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", pdf, stem],
            check=True,
        )
        target = out / WALL_MAP
        shutil.copyfile(stem.with_suffix(".png"), target)
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="gisgrid.gpkg", type=Path)
    ap.add_argument("--out", default="docs/screens", type=Path)
    args = ap.parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # the test set-up installs it
        raise SystemExit("screenshots: playwright missing: ./run setup --with-test-deps") from exc
    accounts = read_accounts(args.store)
    areas = {
        "township": accounts["township"].area,
        "village": accounts["village"].area,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    with served(args.store) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            for shot in SHOTS:
                page, left = signed_in(
                    browser, base, accounts[shot.role], width=shot.width, height=shot.height
                )
                made = take(page, left, base, shot, shot.path.format(**areas), args.out)
                print(f"{made} ({made.stat().st_size // 1024} KiB)")
                page.context.close()
            page, _ = signed_in(browser, base, accounts["leader"], width=800, height=600)
            made = wall_map(page, base, areas["village"], args.out)
            print(f"{made} ({made.stat().st_size // 1024} KiB)")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
