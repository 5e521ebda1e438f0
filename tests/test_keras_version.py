"""Which Keras a file is written for: configuration first, then the file's own choice, then what
is installed, then 3."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganlint import api
from ganlint.config import ConfigError
from ganlint.model import keras_version
from ganlint.rule import RuleContext


def _versions(tmp_path: Path, source: str, config: str | None = None) -> list:
    if config is not None:
        (tmp_path / "pyproject.toml").write_text(config)
    path = tmp_path / "train.py"
    path.write_text(source)
    seen = []
    original = RuleContext.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.append(self.keras_version)

    RuleContext.__init__ = spy
    try:
        api.check_paths([str(path)])
    finally:
        RuleContext.__init__ = original
    return seen


@pytest.mark.parametrize("source", [
    "import tf_keras as keras\n",
    "from tf_keras import layers\nimport tensorflow as tf\n",
    "import os\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\nimport tensorflow as tf\n",
    "import os\nos.environ.setdefault('TF_USE_LEGACY_KERAS', 'True')\nimport tensorflow as tf\n",
])
def test_a_file_that_chooses_keras_2_gets_it(tmp_path: Path, source: str):
    (version,) = _versions(tmp_path, source)
    assert version.major == 2 and ("tf_keras" in version.reason or "TF_USE_LEGACY_KERAS" in version.reason)


def test_configuration_wins_and_otherwise_the_installed_keras_decides(tmp_path: Path):
    (configured,) = _versions(tmp_path, "import tf_keras as keras\n", "[tool.ganlint]\nkeras-version = 3\n")
    assert configured.major == 3 and "keras-version = 3" in configured.reason
    (plain,) = _versions(tmp_path, "import tensorflow as tf\nfrom tensorflow import keras\n", "[tool.ganlint]\n")
    installed = keras_version.installed_major()
    assert plain.major == (installed if installed in (2, 3) else 3)
    (unset,) = _versions(tmp_path, "import os\nos.environ['TF_USE_LEGACY_KERAS'] = '0'\nimport tensorflow as tf\n")
    assert unset.major == plain.major


def test_a_bad_keras_version_is_a_one_line_error(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[tool.ganlint]\nkeras-version = 4\n")
    (tmp_path / "train.py").write_text("import tensorflow as tf\n")
    with pytest.raises(ConfigError, match="keras-version = 4: expected 2 or 3"):
        api.check_paths([str(tmp_path / "train.py")])
