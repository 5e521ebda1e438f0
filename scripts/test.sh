#!/usr/bin/env bash
# Sets up, then runs the whole test suite (static and TensorFlow runtime tests, on the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m pytest -q "$@"
