#!/usr/bin/env bash
# Creates .venv (once) and installs ganlint with the profiler and test extras into it. A later
# run installs again only when pyproject.toml changed (no package index needed then).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.ganlint-installed
wanted="$(.venv/bin/python -c 'import hashlib, sys; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    .venv/bin/python -m pip install --quiet -e ".[profile,test]"
    echo "$wanted" > "$stamp"
fi
