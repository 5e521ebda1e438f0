"""`ganlint check` must never import TensorFlow (or Keras): it runs on every commit."""

from __future__ import annotations

import subprocess
import sys

from expectations import FIXTURES, ROOT

PROBE = """
import sys
from click.testing import CliRunner
from ganlint.cli import main
result = CliRunner().invoke(main, ["check", "--exit-zero", *sys.argv[1:]])
assert result.exit_code == 0, result.output
assert "GAN" in result.output, result.output
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras", "tensorboard"))
print("LOADED", loaded)
sys.exit(1 if loaded else 0)
"""


def test_check_loads_no_tensorflow_module():
    completed = subprocess.run([sys.executable, "-c", PROBE, str(FIXTURES)], cwd=ROOT,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "LOADED []" in completed.stdout
