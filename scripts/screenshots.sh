#!/usr/bin/env bash
# Screenshots of the window (docs/screenshots/*.png): under Xvfb when xvfb-run is installed
# (apt-get install xvfb), else with Qt's offscreen platform.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if command -v xvfb-run >/dev/null 2>&1; then
    exec xvfb-run -a -s "-screen 0 1600x1000x24" env QT_QPA_PLATFORM=xcb "$PY" scripts/screenshots.py "$@"
fi
exec env QT_QPA_PLATFORM=offscreen "$PY" scripts/screenshots.py "$@"
