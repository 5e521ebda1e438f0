"""The results cache: real files on disk, real runs; parses are counted by wrapping the parser."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import libcst
import pytest
from click.testing import CliRunner

from expectations import FIXTURES
from ganlint import api
from ganlint.cache import DIRECTORY
from ganlint.cli import main
from ganlint.findings import Finding
from ganlint.runner import RunOptions

from test_config import GAN

CACHED = RunOptions(cache=True)
UNCACHED = RunOptions(cache=False)
PAIR_A = ("from tensorflow import keras\nfrom tensorflow.keras import layers\n\n"
          "generator = keras.Sequential([keras.Input(shape=(100,)), layers.Dense(128, activation='sigmoid'), "
          "layers.Dense(100)])\n")
PAIR_B = ("from tensorflow import keras\nfrom tensorflow.keras import layers\n\n"
          "discriminator = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(64, activation='relu'), "
          "layers.Dense(1)])\n")


@pytest.fixture
def parses(monkeypatch):
    """How many times LibCST parsed a module (every parse in ganlint goes through this function)."""
    calls: list[int] = []
    real = libcst.parse_module

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(libcst, "parse_module", counting)
    return calls


def view(result) -> list[dict]:
    return [f.to_json() for f in result.findings]


def copy_fixtures(target: Path) -> Path:
    for folder in ("split_project", "seeds", "traps", "subclassed"):
        shutil.copytree(FIXTURES / folder, target / folder)
    (target / "pyproject.toml").write_text("[tool.ganlint]\n", encoding="utf-8")
    return target


def test_findings_read_back_exactly():
    result = api.check_paths([str(p) for p in FIXTURES.rglob("*.py") if "projects" not in p.parts])
    assert len(result.findings) > 10
    assert any(f.fix for f in result.findings) and any(f.related for f in result.findings)
    for finding in result.findings:
        data = json.loads(json.dumps(finding.to_json()))
        assert Finding.from_json(data) == finding


def test_second_run_is_served_from_the_cache(tmp_path, parses):
    copy_fixtures(tmp_path)
    cold = api.check_paths([str(tmp_path)], options=CACHED)
    cold_parses = len(parses)
    assert cold.files_parsed > 0 and cold_parses >= cold.files_parsed and cold.cached == 0
    cache = tmp_path / DIRECTORY
    assert (cache / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == "*"
    assert list(cache.rglob("*.json"))

    warm = api.check_paths([str(tmp_path)], options=CACHED)
    assert len(parses) == cold_parses  # not a single parse
    assert warm.files_parsed == 0 and warm.cached > 0
    assert view(warm) == view(cold)
    assert warm.files_checked == cold.files_checked
    assert view(api.check_paths([str(tmp_path)], options=UNCACHED)) == view(cold)


def test_an_edit_reparses_only_its_component(tmp_path, parses):
    copy_fixtures(tmp_path)
    api.check_paths([str(tmp_path)], options=CACHED)
    before = len(parses)
    seed = tmp_path / "seeds" / "seed004_example1_dcgan.py"
    seed.write_text(seed.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    result = api.check_paths([str(tmp_path)], options=CACHED)
    assert len(parses) - before == 1 and result.files_parsed == 1


def test_cross_module_edit_changes_the_findings_of_an_unchanged_file(tmp_path):
    copy_fixtures(tmp_path)
    losses = str(tmp_path / "split_project" / "losses.py")

    def losses_findings(options):
        return [f.to_json() for f in api.check_paths([str(tmp_path)], options=options).findings
                if f.filename == losses]

    assert [f["code"] for f in losses_findings(CACHED)] == ["GAN201"]
    models = tmp_path / "split_project" / "models.py"
    # the discriminator now ends in a sigmoid: the loss (from_logits=False) is right, no finding
    models.write_text(models.read_text(encoding="utf-8").replace(
        "layers.Dense(1),", "layers.Dense(1, activation='sigmoid'),"), encoding="utf-8")
    assert losses_findings(CACHED) == losses_findings(UNCACHED) == []


def test_a_change_elsewhere_in_the_run_that_renames_models_is_seen(tmp_path):
    # a.py's model is a generator only because the run also holds a model named `discriminator`
    (tmp_path / "a.py").write_text(PAIR_A, encoding="utf-8")
    (tmp_path / "b.py").write_text(PAIR_B, encoding="utf-8")
    assert [f.code for f in api.check_paths([str(tmp_path)], options=CACHED).findings] == ["GAN101"]
    (tmp_path / "b.py").write_text(PAIR_B.replace("discriminator =", "classifier ="), encoding="utf-8")
    assert api.check_paths([str(tmp_path)], options=CACHED).findings == []
    assert api.check_paths([str(tmp_path)], options=UNCACHED).findings == []
    (tmp_path / "b.py").write_text(PAIR_B, encoding="utf-8")
    assert [f.code for f in api.check_paths([str(tmp_path)], options=CACHED).findings] == ["GAN101"]


def test_settings_are_part_of_the_key(tmp_path):
    (tmp_path / "train.py").write_text(GAN, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.ganlint]\n", encoding="utf-8")
    first = api.check_paths([str(tmp_path)], options=CACHED)
    (tmp_path / "pyproject.toml").write_text('[tool.ganlint.rules.GAN101]\nactivations = ["tanh"]\n', encoding="utf-8")
    second = api.check_paths([str(tmp_path)], options=CACHED)
    assert second.files_parsed == 1
    assert sorted(f.range.start.row for f in first.findings if f.code == "GAN101") == [10, 11]
    assert sorted(f.range.start.row for f in second.findings if f.code == "GAN101") == [11]
    # and the command line too
    third = api.check_paths([str(tmp_path)], options=RunOptions(cache=True, overrides=api.Overrides(select=("GAN2",))))
    assert [f.code for f in third.findings] == ["GAN201"]


def test_cli_uses_the_cache_at_the_project_root_and_no_cache_writes_nothing(tmp_path, monkeypatch, parses):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(GAN, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.ganlint]\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    runner = CliRunner()
    uncached = runner.invoke(main, ["check", "--no-cache", "--format", "json", str(tmp_path / "src")])
    assert not (tmp_path / DIRECTORY).exists() and not (elsewhere / DIRECTORY).exists()
    first = runner.invoke(main, ["check", "--format", "json", str(tmp_path / "src")])
    assert (tmp_path / DIRECTORY).is_dir() and not (elsewhere / DIRECTORY).exists()
    count = len(parses)
    second = runner.invoke(main, ["check", "--format", "json", str(tmp_path / "src")])
    assert len(parses) == count
    assert uncached.stdout == first.stdout == second.stdout and first.exit_code == second.exit_code == 1


def test_without_a_ganlint_table_the_cache_is_at_the_project_root_never_the_current_folder(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "train.py").write_text(GAN, encoding="utf-8")
    (project / ".git").mkdir()
    monkeypatch.chdir(project / "src")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    assert CliRunner().invoke(main, ["check", "train.py"]).exit_code == 1
    assert (project / DIRECTORY / ".gitignore").is_file()
    assert not (project / "src" / DIRECTORY).exists() and not (tmp_path / "user-cache").exists()


def test_a_file_of_the_users_named_like_the_cache_is_left_alone(tmp_path, parses):
    (tmp_path / "train.py").write_text(GAN, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.ganlint]\n", encoding="utf-8")
    (tmp_path / DIRECTORY).write_text("mine", encoding="utf-8")
    first = api.check_paths([str(tmp_path)], options=CACHED)
    second = api.check_paths([str(tmp_path)], options=CACHED)
    assert view(first) == view(second) and second.files_parsed == 1
    assert (tmp_path / DIRECTORY).read_text(encoding="utf-8") == "mine"


def test_a_corrupt_entry_is_recomputed(tmp_path):
    (tmp_path / "train.py").write_text(GAN, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.ganlint]\n", encoding="utf-8")
    first = api.check_paths([str(tmp_path)], options=CACHED)
    for entry in (tmp_path / DIRECTORY).rglob("*.json"):
        entry.write_text("{not json", encoding="utf-8")
    second = api.check_paths([str(tmp_path)], options=CACHED)
    assert second.files_parsed == 1 and view(first) == view(second)
    third = api.check_paths([str(tmp_path)], options=CACHED)
    assert third.files_parsed == 0 and view(third) == view(first)


@pytest.mark.parametrize("damage", [
    lambda entry: {k: v for k, v in entry.items() if k != "named_all"},
    lambda entry: {**entry, "findings": [{"code": "GAN101"}]},
    lambda entry: {**entry, "errors": 3},
])
def test_an_entry_of_the_wrong_shape_is_recomputed(tmp_path, damage):
    (tmp_path / "train.py").write_text(GAN, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.ganlint]\n", encoding="utf-8")
    first = api.check_paths([str(tmp_path)], options=CACHED)
    for path in (tmp_path / DIRECTORY).rglob("*.json"):
        path.write_text(json.dumps(damage(json.loads(path.read_text(encoding="utf-8")))), encoding="utf-8")
    second = api.check_paths([str(tmp_path)], options=CACHED)
    assert second.files_parsed == 1 and view(second) == view(first)
