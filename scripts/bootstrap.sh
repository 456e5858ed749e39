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

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ "${#need_apt[@]}" -gt 0 ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: installing ${need_apt[*]} with apt-get" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
        # The Debian package may start a system-wide server; Elysium starts its own.
    else
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
