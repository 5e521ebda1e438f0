#!/usr/bin/env bash
# Sets up, then runs ganlint on the bundled examples: the static check on the seed rewrites and a
# short profiling run of the bundled DCGAN, whose TensorBoard logs land under runs/ganlint/.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 2
echo "== ganlint check fixtures/seeds"
.venv/bin/ganlint check fixtures/seeds
echo "== ganlint profile fixtures/profile/dcgan_example.py"
if [ -f fixtures/profile/dcgan_example.py ]; then
    .venv/bin/ganlint profile fixtures/profile/dcgan_example.py
fi
