"""Runtime profiler tests.

Tests marked ``tf`` need TensorFlow and run the profiler for real on tiny models on the CPU; the
rest (probes, verdicts, slicing, the command's input checks) run anywhere.

Profiler fixtures (``fixtures/profile/*.py``) state the verdicts that profiling must reach in a
module-level dict, ``EXPECTED_VERDICTS = {"GAN101": "confirmed", "none-gradient": "dismissed"}``:
keys are rule codes (every finding of that code must get that verdict) or the names of the
runtime-only checks (``none-gradient``, ``discriminator-collapse``, ``non-finite``). A code the
file does not list must not be reported by the static check at all ("the finding is gone").
Their static findings are stated the usual way, ``# warning: GAN101`` on the finding's line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for `import runtime_helpers`

from runtime_helpers import SCRIPTS, Batches, ScriptRun


def pytest_configure(config):
    config.addinivalue_line("markers", "tf: needs TensorFlow (runtime profiler tests)")
    # The suite runs a pytest worker per core (plus one), and each may have TensorFlow training a
    # tiny model: one TF thread per process keeps them from fighting over the cores. The models
    # are too small to gain from more; a user's run keeps TensorFlow's defaults.
    for variable in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(variable, "1")


@pytest.fixture(scope="session")
def batches(tmp_path_factory) -> Batches:
    return Batches(lambda group: tmp_path_factory.mktemp(group))


@pytest.fixture(scope="session")
def script_batch(tmp_path_factory) -> ScriptRun:
    """The one run of every script registered with `runtime_helpers.SCRIPTS`."""
    return SCRIPTS.run(tmp_path_factory.mktemp("scripts"))
