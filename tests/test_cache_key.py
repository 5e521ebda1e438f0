"""The results cache is never stale and never lands where it does not belong.

Regression tests for issue 11 ("Cache"): the modules a file imports are part of what its entry
depends on however the import is written, because the entry holds what the analysis itself read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganlint import api
from ganlint.cache import DIRECTORY
from ganlint.cli import main
from ganlint.runner import RunOptions

CACHED = RunOptions(cache=True)
UNCACHED = RunOptions(cache=False)

# The loss expects logits; the discriminator built in the imported module decides whether that
# is a mismatch (it ends in a sigmoid) or not (it ends in a plain Dense).
TRAIN = """import tensorflow as tf
{import_line}

generator = keras.Sequential([keras.Input(shape=(100,)), keras.layers.Dense(784, activation="tanh")])
discriminator = make_discriminator()
loss = keras.losses.BinaryCrossentropy(from_logits=True)


def step(images, noise):
    with tf.GradientTape() as tape:
        fake_output = discriminator(generator(noise))
        d_loss = loss(tf.zeros_like(fake_output), fake_output)
    return d_loss
"""
MODELS = """from tensorflow import keras


def make_discriminator():
    return keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(64, activation="relu"),
                             keras.layers.Dense(1{activation})])
"""
SIGMOID = ', activation="sigmoid"'

IMPORTS = {
    "plain": ("models", "from tensorflow import keras\nfrom models import make_discriminator"),
    "non-ascii-module": ("modèles", "from tensorflow import keras\nfrom modèles import make_discriminator"),
    "form-feed": ("models", "from tensorflow import keras\n\x0cimport models\nmake_discriminator = models.make_discriminator"),
    "semicolon": ("models", "from tensorflow import keras; import models as m; make_discriminator = m.make_discriminator"),
}


def codes(result) -> list[str]:
    return sorted(f.code for f in result.findings)


def write_project(root: Path, style: str, newline: str, activation: str) -> tuple[Path, Path]:
    module, import_line = IMPORTS[style]
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[tool.ganlint]\n", encoding="utf-8")
    train = root / "train.py"
    train.write_bytes(TRAIN.format(import_line=import_line).replace("\n", newline).encode("utf-8"))
    models = root / f"{module}.py"
    models.write_text(MODELS.format(activation=activation), encoding="utf-8")
    return train, models


@pytest.mark.parametrize("newline", ["\n", "\r"], ids=["lf", "cr-only"])
@pytest.mark.parametrize("style", list(IMPORTS))
def test_an_edit_to_an_imported_module_is_seen_however_the_import_is_written(tmp_path, style, newline):
    train, models = write_project(tmp_path, style, newline, SIGMOID)
    first = api.check_paths([str(train)], options=CACHED)  # only train.py is linted; models is read
    assert "GAN201" in codes(first), first.findings
    assert codes(api.check_paths([str(train)], options=CACHED)) == codes(first)
    models.write_text(MODELS.format(activation=""), encoding="utf-8")  # no sigmoid any more: no mismatch
    warm = api.check_paths([str(train)], options=CACHED)
    assert codes(warm) == codes(api.check_paths([str(train)], options=UNCACHED))
    assert "GAN201" not in codes(warm)


def test_a_module_that_appears_where_an_import_looks_is_seen(tmp_path):
    train, models = write_project(tmp_path, "plain", "\n", SIGMOID)
    models.unlink()
    before = api.check_paths([str(train)], options=CACHED)
    assert "GAN201" not in codes(before)  # make_discriminator is unknown: silent
    models.write_text(MODELS.format(activation=SIGMOID), encoding="utf-8")
    after = api.check_paths([str(train)], options=CACHED)
    assert "GAN201" in codes(after) and codes(after) == codes(api.check_paths([str(train)], options=UNCACHED))


def test_an_unchanged_project_is_served_from_the_cache(tmp_path):
    train, _ = write_project(tmp_path, "non-ascii-module", "\r", SIGMOID)
    cold = api.check_paths([str(train)], options=CACHED)
    warm = api.check_paths([str(train)], options=CACHED)
    assert cold.cached == 0 and warm.cached == 1 and warm.files_parsed == 0
    assert [f.to_json() for f in warm.findings] == [f.to_json() for f in cold.findings]


# -- where the cache lives ------------------------------------------------------------------------------

GAN = TRAIN.format(import_line="from tensorflow import keras\nmake_discriminator = None")


@pytest.mark.parametrize("marker", ["pyproject.toml", "setup.cfg", ".git"])
def test_without_a_ganlint_table_the_cache_is_at_the_nearest_project_root(tmp_path, monkeypatch, marker):
    project = tmp_path / "project"
    (project / "src" / "deep").mkdir(parents=True)
    (project / "src" / "deep" / "train.py").write_text(GAN, encoding="utf-8")
    (project / marker).mkdir() if marker == ".git" else (project / marker).write_text("", encoding="utf-8")
    monkeypatch.chdir(project / "src")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    CliRunner().invoke(main, ["check", "deep/train.py"])
    assert (project / DIRECTORY / ".gitignore").is_file()
    assert sorted(p.name for p in tmp_path.rglob(DIRECTORY)) == [DIRECTORY]
    assert not (tmp_path / "user-cache").exists()


def test_without_any_project_root_the_cache_is_in_the_user_cache_folder(tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "train.py").write_text(GAN, encoding="utf-8")
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    first = CliRunner().invoke(main, ["check", "--format", "json", "train.py"])
    second = CliRunner().invoke(main, ["check", "--format", "json", "train.py"])
    assert first.stdout == second.stdout
    assert (tmp_path / "user-cache" / "ganlint" / "CACHEDIR.TAG").is_file()
    assert list((tmp_path / "user-cache" / "ganlint").rglob("*.json"))
    assert not list((tmp_path / "work").rglob(DIRECTORY))


def test_a_symbolic_link_in_place_of_the_cache_folder_is_not_followed(tmp_path):
    project = tmp_path / "project"
    train, _ = write_project(project, "plain", "\n", SIGMOID)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project / DIRECTORY).symlink_to(elsewhere)
    first = api.check_paths([str(train)], options=CACHED)
    second = api.check_paths([str(train)], options=CACHED)
    assert list(elsewhere.iterdir()) == []
    assert second.cached == 0 and codes(first) == codes(second)


def test_a_symbolic_link_in_place_of_an_entry_folder_is_not_followed(tmp_path):
    project = tmp_path / "project"
    train, _ = write_project(project, "plain", "\n", SIGMOID)
    api.check_paths([str(train)], options=CACHED)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for folder in [p for p in (project / DIRECTORY).rglob("*") if p.is_dir() and p.parent.name.startswith("v")]:
        for entry in folder.iterdir():
            entry.unlink()
        folder.rmdir()
        folder.symlink_to(elsewhere)
    again = api.check_paths([str(train)], options=CACHED)
    assert again.cached == 0 and list(elsewhere.iterdir()) == []
    assert os.path.islink(next(p for p in (project / DIRECTORY).rglob("*") if p.parent.name.startswith("v")))
