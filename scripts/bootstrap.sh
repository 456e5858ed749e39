#!/usr/bin/env bash
# Create or reuse the local virtual environment and install what Elysium needs.
# Usage: scripts/bootstrap.sh [extras]   (extras: "dev" for the test suite)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-embedded}"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "bootstrap: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi

# apt_install PKG...: installs Debian packages when we are root and have apt-get; fails otherwise.
apt_install() {
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: installing $* with apt-get" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        return 1
    fi
}

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# The tests check the alert rules with promtool (Debian's prometheus package).
if [ "$extras" = "dev" ] && ! command -v promtool >/dev/null 2>&1; then need_apt+=(prometheus); fi
# The browser tests (tests/web) drive Debian's chromium headless.
if [ "$extras" = "dev" ] && ! command -v chromium >/dev/null 2>&1; then need_apt+=(chromium); fi
if [ "${#need_apt[@]}" -gt 0 ]; then
    # The Debian package may start a system-wide server; Elysium starts its own.
    if ! apt_install "${need_apt[@]}"; then
        echo "bootstrap: please install: ${need_apt[*]} (e.g. sudo apt-get install ${need_apt[*]})" >&2
        exit 1
    fi
fi

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
digest="$(cat pyproject.toml | sha256sum | cut -c1-16)"
stamp=".venv/.elysium-${extras}-${digest}"
# "dev" holds everything "embedded" does: after scripts/test, scripts/up and scripts/elysium install nothing.
if [ "$extras" = "embedded" ] && [ -f ".venv/.elysium-dev-${digest}" ]; then
    stamp=".venv/.elysium-dev-${digest}"
fi
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[${extras}]"
    rm -f .venv/.elysium-"${extras}"-*
    touch "$stamp"
fi

# The dev extras also install the Solidity compiler and OpenZeppelin (contracts/package-lock.json)
# so the tests can check the committed artifacts against the sources. Running needs neither.
if [ "$extras" = "dev" ]; then
    lock_digest="$(sha256sum contracts/package-lock.json | cut -c1-16)"
    npm_stamp="contracts/node_modules/.elysium-${lock_digest}"
    if [ ! -f "$npm_stamp" ]; then
        if ! command -v npm >/dev/null 2>&1 && ! apt_install nodejs npm; then
            echo "bootstrap: node and npm are missing, so the contract artifacts cannot be rebuilt (sudo apt-get install nodejs npm)" >&2
        else
            (cd contracts && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
            touch "$npm_stamp"
        fi
    fi
fi

# The web client (web/): its packages, again whenever web/package-lock.json is newer than them
# (elysium up builds the client, so this runs for every extra).
if [ -f web/package-lock.json ] && { [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules ]; }; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "bootstrap: npm is missing, so the web client cannot be built (sudo apt-get install nodejs npm)" >&2
    else
        (cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        touch web/node_modules
    fi
fi
