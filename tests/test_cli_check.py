"""`ganlint check` as a daily tool: real processes, worker processes, config, cache and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from expectations import FIXTURES
from ganlint import api
from ganlint.engine import Linter, discover
from ganlint.runner import RunOptions, components, imported_names

from test_cache import PAIR_A, PAIR_B
from test_config import GAN


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Every fixture (but the config projects), plus a pair of files that only
    make sense together: many components for the workers to share."""
    root = tmp_path_factory.mktemp("corpus")
    for copy in range(1):
        for path in FIXTURES.rglob("*.py"):
            relative = path.relative_to(FIXTURES)
            if relative.parts[0] == "projects":
                continue
            target = root / f"copy{copy}" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    (root / "pair").mkdir()
    (root / "pair" / "a.py").write_text(PAIR_A, encoding="utf-8")
    (root / "pair" / "b.py").write_text(PAIR_B, encoding="utf-8")
    (root / "broken.py").write_text("import tensorflow as tf\nx = (\n", encoding="utf-8")
    (root / "pyproject.toml").write_text("[tool.ganlint]\n", encoding="utf-8")
    return root


def test_jobs_2_and_jobs_1_give_identical_output(cli, corpus):
    outputs = {}
    for jobs in ("1", "2", "5"):
        completed = cli("check", "--no-cache", "--format", "json", "--jobs", jobs, str(corpus))
        assert completed.returncode == 1, completed.stderr
        outputs[jobs] = completed.stdout
    assert outputs["1"] == outputs["2"] == outputs["5"]
    findings = json.loads(outputs["1"])
    assert len(findings) > 30 and {f["code"] for f in findings} >= {"GAN000", "GAN101", "GAN201", "GAN202", "GAN301"}


def test_parallel_run_really_uses_workers_and_matches_one_whole_program_model(corpus):
    serial = api.check_paths([str(corpus)], options=RunOptions(jobs=1))
    parallel = api.check_paths([str(corpus)], options=RunOptions(jobs=3))
    assert serial.processes == 0 and parallel.processes == 3
    assert [f.to_json() for f in parallel.findings] == [f.to_json() for f in serial.findings]
    # the same as one program model over the whole run, the engine without components
    files, _ = discover([str(corpus)])
    whole = Linter().check_files(files, [corpus])
    assert [f.to_json() for f in serial.findings] == [f.to_json() for f in whole.findings]
    # the pair: a.py's model is a generator only because b.py names a discriminator
    assert any(f.filename.endswith("a.py") and f.code == "GAN101" for f in parallel.findings)


def test_components_keep_importing_files_together(corpus):
    files, _ = discover([str(corpus / "copy0"), str(corpus / "pair")])
    data = {id(f): f.path.read_bytes() for f in files}
    parts = components(files, data, [corpus / "copy0", corpus / "pair"])
    names = [sorted(f.path.name for f in part.files) for part in parts]
    assert ["losses.py", "models.py", "train.py"] in names
    assert ["a.py"] in names and ["b.py"] in names  # no import between them: separate


def test_import_scan_errs_on_the_side_of_joining():
    names = imported_names(b"from .models import (make_generator,\n    make_discriminator)\n"
                           b"import pkg.sub as s, other\nfrom x import \\\n    y\n"
                           b"def f():\n    from . import helpers\n")
    assert {("models", 1), ("models.make_generator", 1), ("models.make_discriminator", 1), ("pkg", 0),
            ("pkg.sub", 0), ("other", 0), ("x.y", 0), ("helpers", 1)} <= names


def test_cache_then_parallel_then_serial_agree(cli, corpus, tmp_path):
    target = tmp_path / "c"
    shutil.copytree(corpus, target)
    first = cli("check", "--format", "json", "--jobs", "4", str(target))
    second = cli("check", "--format", "json", "--jobs", "1", str(target))
    assert (target / ".ganlint_cache" / ".gitignore").is_file()
    assert first.stdout == second.stdout and first.returncode == second.returncode == 1
    fresh = cli("check", "--no-cache", "--format", "json", "--jobs", "1", str(target))
    assert fresh.stdout == first.stdout


def test_exit_codes(cli, tmp_path):
    (tmp_path / "train.py").write_text(GAN, encoding="utf-8")
    (tmp_path / "clean.py").write_text("import tensorflow as tf\nx = tf.constant(1)\n", encoding="utf-8")
    assert cli("check", "--no-cache", str(tmp_path / "clean.py")).returncode == 0
    assert cli("check", "--no-cache", str(tmp_path / "train.py")).returncode == 1
    assert cli("check", "--no-cache", "--exit-zero", str(tmp_path / "train.py")).returncode == 0
    (tmp_path / "pyproject.toml").write_text("[tool.ganlint]\nfail-on = 'error'\n", encoding="utf-8")
    assert cli("check", "--no-cache", str(tmp_path / "train.py")).returncode == 0
    (tmp_path / "pyproject.toml").write_text("[tool.ganlint]\nfail-on = 'fatal'\n", encoding="utf-8")
    bad = cli("check", "--no-cache", str(tmp_path / "train.py"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "fail-on" in bad.stderr
    missing = cli("check", "--no-cache", str(tmp_path / "nope.py"))
    assert missing.returncode == 2


def test_stdin_gets_the_settings_of_its_stdin_filename(cli, tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.ganlint]\nselect = ['GAN2']\n", encoding="utf-8")
    completed = cli("check", "--format", "json", "-", "--stdin-filename", str(tmp_path / "train.py"), stdin=GAN)
    assert [f["code"] for f in json.loads(completed.stdout)] == ["GAN201"]


def test_pre_commit_style_explicit_files_honour_exclude(cli, tmp_path):
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "gan.py").write_text(GAN, encoding="utf-8")
    (tmp_path / "train.py").write_text(GAN, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.ganlint]\nexclude = ['vendor']\n", encoding="utf-8")
    completed = cli("check", "--format", "json", str(tmp_path / "vendor" / "gan.py"), str(tmp_path / "train.py"),
                        cwd=tmp_path)
    filenames = {f["filename"] for f in json.loads(completed.stdout)}
    assert filenames == {str(tmp_path / "train.py")}


def test_a_notebook_joins_the_modules_its_cells_import(tmp_path):
    from ganlint.engine import SourceFile, decode

    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": ["import tensorflow as tf\n", "import helpers\n"]}
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "explore.ipynb").write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    (tmp_path / "helpers.py").write_text("from tensorflow import keras\n", encoding="utf-8")
    files, data = [], {}
    for name in ("explore.ipynb", "helpers.py"):
        file = SourceFile(tmp_path / name, str(tmp_path / name))
        data[id(file)] = file.path.read_bytes()
        file.text = decode(file, data[id(file)])
        files.append(file)
    parts = components(files, data, [tmp_path])
    assert [sorted(f.path.name for f in part.files) for part in parts] == [["explore.ipynb", "helpers.py"]]
