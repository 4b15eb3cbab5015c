#!/usr/bin/env bash
# Make a fresh Debian/Ubuntu machine with Python 3.11 ready for gisgrid:
#   1. the Debian packages gisgrid needs (only the missing ones; sudo when not root),
#   2. a virtual environment in .venv made with python3.11,
#   3. gisgrid installed into it in editable mode with its dev tools (pip install -e '.[dev]'),
#   4. the web app's browser libraries from the npm registry into web/node_modules (npm ci:
#      exactly the versions of web/package-lock.json; the app serves them, never a CDN).
# Idempotent: when everything is there it checks and returns in a second or two.
#
# usage: scripts/setup.sh [--with-test-deps] [--dry-run]
#   --with-test-deps  also install the Debian packages only the tests need
#   --dry-run         print what would be installed or created, change nothing
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian packages gisgrid needs at run time (python3.11-venv is added when `python3.11 -m venv`
# cannot make a venv). The wheels of pyogrio, shapely and pyproj bundle GDAL, GEOS and PROJ.
# npm installs the grid editor's drawing library (web/package.json); it is left out when an
# npm command is already there (Node.js from another source ships its own npm, and Debian's
# npm package would conflict with it).
# pango (with its FreeType backend and HarfBuzz's subsetter) and the Noto CJK fonts: `gisgrid
# print` and the web app's wall map (公示牌) are made into PDF by WeasyPrint, which lays text
# out with pango and embeds the Chinese fonts it finds through fontconfig.
DEB_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk)
if ! command -v npm >/dev/null 2>&1; then
    DEB_PACKAGES+=(npm)
fi
# Debian packages only the tests need. chromium and fonts-noto-cjk: the map tests open every
# map in headless Chromium (driven by Python playwright, no browser download) and read its
# Chinese labels. postgresql-15 and postgresql-15-postgis-3: the PostGIS store's tests start a
# throwaway PostgreSQL cluster with PostGIS (tests/postgis_server.py), unless
# GISGRID_TEST_DATABASE_URL names a server. gdal-bin: Debian's own, older GDAL (ogrinfo) must
# open the GeoPackage store as QGIS on a county PC would. poppler-utils: the wall map's tests
# read the printed PDF (pdfinfo, pdffonts, pdftotext).
DEB_TEST_PACKAGES=(chromium fonts-noto-cjk postgresql-15 postgresql-15-postgis-3 gdal-bin
    poppler-utils)

PYTHON="${PYTHON:-python3.11}"
VENV=".venv"
STAMP="$VENV/.gisgrid-setup"

with_test_deps=0
dry_run=0
for arg in "$@"; do
    case "$arg" in
        --with-test-deps) with_test_deps=1 ;;
        --dry-run) dry_run=1 ;;
        -h | --help)
            awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
            exit 0
            ;;
        *)
            echo "setup.sh: unknown option $arg (try --help)" >&2
            exit 2
            ;;
    esac
done

say() { printf '==> %s\n' "$*"; }

run() {
    if [ "$dry_run" = 1 ]; then
        printf '[dry run] %s\n' "$*"
    else
        "$@"
    fi
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        run "$@"
    elif command -v sudo >/dev/null 2>&1; then
        run sudo "$@"
    else
        echo "setup.sh: need root to run: $* (and sudo is not installed)" >&2
        exit 1
    fi
}

is_installed() {
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

apt_updated=0
apt_install() {
    # install the packages among "$@" that are missing; apt-get update at most once
    local missing=()
    local pkg
    for pkg in "$@"; do
        is_installed "$pkg" || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup.sh: missing Debian packages ${missing[*]}, and this is no Debian/Ubuntu" >&2
        exit 1
    fi
    say "installing Debian packages: ${missing[*]}"
    if [ "$apt_updated" = 0 ]; then
        as_root apt-get update
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
}

# 1. Debian packages ------------------------------------------------------------------------
packages=("${DEB_PACKAGES[@]}")
if [ "$with_test_deps" = 1 ]; then
    packages+=("${DEB_TEST_PACKAGES[@]}")
fi
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    packages+=(python3.11)
fi
apt_install "${packages[@]}"

# 2. the virtual environment ----------------------------------------------------------------
venv_ok() {
    [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null
}
if ! venv_ok; then
    say "creating $VENV with $PYTHON"
    if [ "$dry_run" = 1 ]; then
        run "$PYTHON" -m venv "$VENV"
    else
        rm -rf "$VENV"
        if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
            # Debian splits ensurepip out of the interpreter
            rm -rf "$VENV"
            apt_install python3.11-venv
            "$PYTHON" -m venv "$VENV"
        fi
    fi
fi

# 3. gisgrid and its Python dependencies ------------------------------------------------------
# Reinstall only when pyproject.toml changed since the last successful install (or the
# package cannot be imported): pip's own no-op check takes far longer.
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ] && [ -x "$VENV/bin/gisgrid" ] &&
    [ -x "$VENV/bin/pytest" ] &&
    "$VENV/bin/python" -c 'import importlib.metadata as m; m.version("gisgrid")' 2>/dev/null; then
    say "gisgrid is installed in $VENV"
else
    say "installing gisgrid and its dependencies into $VENV"
    run "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
    if [ "$dry_run" = 0 ]; then
        echo "$wanted" >"$STAMP"
    fi
fi
# 4. the browser libraries (web/package.json, pinned by web/package-lock.json) ---------------
# npm ci installs exactly the lock file's versions; run again only when the lock file changed
# (or the install is gone). Peer dependencies are left out: Leaflet comes from XStatic-Leaflet.
NPM_DIR="web"
NPM_STAMP="$NPM_DIR/node_modules/.gisgrid-setup"
npm_wanted="$(sha256sum "$NPM_DIR/package-lock.json" | cut -d' ' -f1)"
if [ -f "$NPM_STAMP" ] && [ "$(cat "$NPM_STAMP")" = "$npm_wanted" ]; then
    say "the browser libraries are installed in $NPM_DIR/node_modules"
else
    say "installing the browser libraries into $NPM_DIR/node_modules (npm ci)"
    run npm ci --prefix "$NPM_DIR" --omit=peer --no-audit --no-fund
    if [ "$dry_run" = 0 ]; then
        echo "$npm_wanted" >"$NPM_STAMP"
    fi
fi
say "ready: activate with 'source $VENV/bin/activate', or use ./run demo / ./run test"
