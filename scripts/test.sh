#!/usr/bin/env bash
# Sets up, lints ganlint's own code (ruff, mypy), then runs the whole test suite (static and
# TensorFlow runtime tests, on the CPU). Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/ruff check ganlint scripts
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
