#!/usr/bin/env bash
# Set up a development copy of Quire: a virtualenv in .venv with Quire and everything it,
# its window and its tests need. Safe to run again; it only reinstalls when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")"

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Quire needs Python 3.11 or newer (found: $("$PY" --version 2>&1))." >&2
    echo "  Install it, or point PYTHON at one: PYTHON=python3.12 ./setup.sh" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv ..." >&2
    "$PY" -m venv .venv
fi
stamp=.venv/.quire-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing Quire and its dependencies into .venv ..." >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[gui,dev]"
    echo "$want" > "$stamp"
fi
