"""The pre-commit hooks, run by the real pre-commit on a throwaway git repository, offline.

A `language: python` hook makes pre-commit build a virtualenv and pip-install the hook's
repository into it, which needs the package index; CI machines may have none. The tests
therefore run the hooks exactly as `.pre-commit-hooks.yaml` publishes them (id, entry, file
types, stages) from a `repo: local` configuration with `language: system`: pre-commit runs the
`ganlint` this checkout installed in the test environment, and installs nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from expectations import ROOT

MANIFEST = ROOT / ".pre-commit-hooks.yaml"
BUGGY = ("import tensorflow as tf\n\nfake_labels = tf.zeros((8, 1)) * 0.1\n"
         "loss = tf.keras.losses.binary_crossentropy(fake_labels, scores)\n")
CLEAN = "import os\n\nprint(os.getcwd())\n"
NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
               "source": ["import tensorflow as tf\n", "real = tf.ones((8, 1)) * 0.9\n"]}],
    "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5,
}


def git(*args: str, cwd: Path, env: dict) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def pre_commit(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def local_config() -> str:
    """The published hooks as a `repo: local` configuration run from the test environment."""
    import yaml  # pre-commit's own dependency

    hooks = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    for hook in hooks:
        hook["language"] = "system"  # the only change: use what is installed, install nothing
        hook.pop("minimum_pre_commit_version", None)  # a manifest key, not a config one
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}, sort_keys=False)


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    if importlib.util.find_spec("pre_commit") is None:  # a test dependency: pyproject's `test` extra
        pytest.fail("pre-commit is not installed: `pip install -e .[test]`")
    scripts = Path(sys.executable).parent
    if shutil.which("ganlint", path=str(scripts)) is None:
        pytest.fail(f"no `ganlint` script next to {sys.executable}: `pip install -e .[test]`")
    home = tmp_path_factory.mktemp("pre-commit-home")
    return {**os.environ, "PATH": f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}",
            "PRE_COMMIT_HOME": str(home), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull, "PRE_COMMIT_COLOR": "never", "NO_COLOR": "1",
            "PIP_NO_INDEX": "1"}  # and would fail, were anything to reach for the index


@pytest.fixture
def user_repo(tmp_path, env) -> Path:
    repo = tmp_path / "user"
    repo.mkdir()
    git("init", "-q", cwd=repo, env=env)
    (repo / "train.py").write_text(BUGGY, encoding="utf-8")
    (repo / "util.py").write_text(CLEAN, encoding="utf-8")
    (repo / "explore.ipynb").write_text(json.dumps(NOTEBOOK, indent=1) + "\n", encoding="utf-8")
    (repo / ".pre-commit-config.yaml").write_text(local_config(), encoding="utf-8")
    git("add", "-A", cwd=repo, env=env)
    git("commit", "-q", "-m", "buggy", cwd=repo, env=env)
    return repo


def test_manifest_is_valid(env):
    completed = pre_commit("validate-manifest", str(MANIFEST), cwd=ROOT, env=env)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_hook_fails_on_the_bug_and_passes_once_fixed(user_repo, env):
    failed = pre_commit("run", "ganlint-check", "--all-files", cwd=user_repo, env=env)
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output
    assert "ganlint check" in output and "Failed" in output
    assert "train.py:3:15: GAN202 [error]" in output
    assert "util.py" not in output  # nothing to say about the clean file

    # the notebook is handed to the hook too (`types_or: [python, jupyter]`)
    notebook = json.loads((user_repo / "explore.ipynb").read_text(encoding="utf-8"))
    notebook["cells"][0]["source"][1] = "fake = tf.zeros((8, 1)) * 0.1\n"
    (user_repo / "explore.ipynb").write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
    (user_repo / "train.py").write_text(BUGGY.replace("* 0.1", "+ 0.1"), encoding="utf-8")
    git("commit", "-q", "-am", "fix train.py, break the notebook", cwd=user_repo, env=env)
    notebook_only = pre_commit("run", "ganlint-check", "--all-files", cwd=user_repo, env=env)
    output = notebook_only.stdout + notebook_only.stderr
    assert notebook_only.returncode == 1, output
    assert "explore.ipynb:cell 1:2:8: GAN202 [error]" in output and "train.py" not in output

    notebook["cells"][0]["source"][1] = "fake = tf.zeros((8, 1)) + 0.1\n"
    (user_repo / "explore.ipynb").write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
    git("commit", "-q", "-am", "fix", cwd=user_repo, env=env)
    passed = pre_commit("run", "ganlint-check", "--all-files", cwd=user_repo, env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "ganlint check" in passed.stdout and "Passed" in passed.stdout


def test_installed_hook_blocks_a_commit_and_profile_is_manual_only(user_repo, env):
    installed = pre_commit("install", cwd=user_repo, env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    (user_repo / "more.py").write_text(BUGGY, encoding="utf-8")
    git("add", "more.py", cwd=user_repo, env=env)
    blocked = subprocess.run(["git", "commit", "-m", "add more"], cwd=user_repo, env=env, capture_output=True,
                             text=True, timeout=300)
    assert blocked.returncode != 0, blocked.stdout + blocked.stderr
    assert "more.py:3:15: GAN202 [error]" in blocked.stdout + blocked.stderr
    assert "ganlint profile" not in blocked.stdout  # manual stage: not run on commit
    (user_repo / "more.py").write_text(CLEAN, encoding="utf-8")
    git("add", "more.py", cwd=user_repo, env=env)
    committed = subprocess.run(["git", "commit", "-m", "add more"], cwd=user_repo, env=env, capture_output=True,
                               text=True, timeout=300)
    assert committed.returncode == 0, committed.stdout + committed.stderr
