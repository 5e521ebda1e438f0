#!/usr/bin/env bash
# Sets up, lints ganlint's own code (ruff, mypy), then runs the whole test suite (static and
# TensorFlow runtime tests, on the CPU). Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/ruff check ganlint scripts
.venv/bin/mypy
# One pytest worker per core, plus one: the runtime tests spend part of their time waiting on a
# child process (a time limit running out), and the spare worker fills it. tests/conftest.py keeps
# the fixtures that are profiled together in one run (tests/runtime/test_profile.py) on one worker.
workers=$(( $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1) + 1 ))
exec .venv/bin/python -m pytest -q -n "$workers" --dist load "$@"
