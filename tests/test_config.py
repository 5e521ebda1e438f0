"""`[tool.ganlint]` configuration: real pyproject.toml files, real runs through the API and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from expectations import FIXTURES, expected_findings
from ganlint import api
from ganlint.cli import main
from ganlint.config import ConfigError, Overrides, Resolver, glob_matches
from ganlint.runner import RunOptions

PROJECTS = FIXTURES / "projects"
GAN = (PROJECTS / "configured" / "generated" / "gen_train.py").read_text(encoding="utf-8")


def reported(result) -> set[tuple[str, int, str, str]]:
    return {(f.filename, f.range.start.row, f.code, str(f.severity)) for f in result.findings}


def stated(folder: Path) -> set[tuple[str, int, str, str]]:
    return set().union(*(expected_findings(p) for p in folder.rglob("*.py")))


def project(tmp_path: Path, config: str, files: dict[str, str] | None = None) -> Path:
    (tmp_path / "pyproject.toml").write_text(config, encoding="utf-8")
    for name, text in (files or {"train.py": GAN}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


# -- the fixture projects ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["configured", "nested"])
def test_fixture_project_reports_exactly_the_stated_findings(name):
    folder = PROJECTS / name
    result = api.check_paths([str(folder)])
    assert result.errors == []
    assert reported(result) == stated(folder)


def test_exclude_is_honoured_for_files_named_explicitly():
    excluded = PROJECTS / "configured" / "generated" / "gen_train.py"
    result = api.check_paths([str(excluded)])
    assert result.findings == [] and result.files_checked == 0
    # the same file, once copied out of the excluded folder, has findings
    assert api.check_paths([str(excluded)], options=RunOptions(overrides=Overrides(
        config=PROJECTS / "nested" / "pyproject.toml"))).findings


def test_per_file_ignores_turn_a_rule_off_for_matching_files_only():
    result = api.check_paths([str(PROJECTS / "configured")])
    codes = {(Path(f.filename).name, f.code) for f in result.findings}
    assert ("train.py", "GAN201") in codes
    assert ("old_train.py", "GAN201") not in codes
    assert ("old_train.py", "GAN101") in codes


def test_nearest_pyproject_with_a_ganlint_table_wins():
    resolver = Resolver()
    nested = PROJECTS / "nested"
    assert resolver.settings_for(nested / "outer.py").path == (nested / "pyproject.toml").resolve()
    assert resolver.settings_for(nested / "sub" / "inner.py").path == (nested / "sub" / "pyproject.toml").resolve()
    # a pyproject.toml without [tool.ganlint] is passed over
    assert resolver.settings_for(nested / "sub" / "no_table" / "deeper.py").path == \
        (nested / "sub" / "pyproject.toml").resolve()


def test_no_pyproject_means_defaults(tmp_path):
    (tmp_path / "train.py").write_text(GAN, encoding="utf-8")
    settings = Resolver().settings_for(tmp_path / "train.py")
    assert settings.path is None
    codes = sorted(f.code for f in api.check_paths([str(tmp_path)]).findings)
    assert codes == ["GAN101", "GAN101", "GAN201", "GAN301", "GAN301"]


# -- rule options --------------------------------------------------------------------------------


def test_rule_options_reach_the_rule_and_change_the_findings(tmp_path):
    def gan101_lines(config: str) -> list[int]:
        project(tmp_path, config)
        return sorted(f.range.start.row for f in api.check_paths([str(tmp_path)]).findings if f.code == "GAN101")

    assert gan101_lines("[tool.ganlint]\n") == [10, 11]  # sigmoid and tanh by default
    assert gan101_lines('[tool.ganlint.rules.GAN101]\nactivations = ["sigmoid"]\n') == [10]
    assert gan101_lines('[tool.ganlint.rules.saturating-hidden-activation]\nactivations = ["tanh"]\n') == [11]
    # relu is the discriminator's hidden activation: counting it adds a finding there
    assert gan101_lines('[tool.ganlint.rules.GAN101]\nactivations = ["sigmoid", "tanh", "relu"]\n') == [10, 11, 19]
    settings = Resolver().settings_for(tmp_path / "train.py")
    rule = next(r for r in settings.rules() if r.CODE == "GAN101")
    assert rule.options.activations == ("sigmoid", "tanh", "relu")


# -- selection -----------------------------------------------------------------------------------


@pytest.mark.parametrize("config,overrides,expected", [
    ('select = ["GAN2"]', Overrides(), ["GAN201"]),
    ('ignore = ["GAN1", "GAN3"]', Overrides(), ["GAN201"]),
    ('ignore = ["from-logits-mismatch"]', Overrides(), ["GAN101", "GAN101", "GAN301", "GAN301"]),
    # the most specific selector wins, whichever list it is in
    ('select = ["GAN301"]\nignore = ["GAN3"]', Overrides(), ["GAN301", "GAN301"]),
    ('select = ["GAN3"]\nignore = ["GAN301"]', Overrides(), []),
    # the command line overrides the configuration: --select replaces, --ignore applies on top
    ('select = ["GAN2"]', Overrides(select=("GAN1",)), ["GAN101", "GAN101"]),
    ('select = ["GAN1", "GAN2"]', Overrides(ignore=("GAN101",)), ["GAN201"]),
])
def test_select_and_ignore(tmp_path, config, overrides, expected):
    project(tmp_path, f"[tool.ganlint]\n{config}\n")
    result = api.check_paths([str(tmp_path)], options=RunOptions(overrides=overrides))
    assert sorted(f.code for f in result.findings) == expected


def test_fail_on_from_config_and_overridden_by_the_command_line(tmp_path):
    project(tmp_path, '[tool.ganlint]\nfail-on = "error"\n')
    runner = CliRunner()
    assert runner.invoke(main, ["check", "--no-cache", str(tmp_path)]).exit_code == 0
    assert runner.invoke(main, ["check", "--no-cache", "--fail-on", "info", str(tmp_path)]).exit_code == 1
    project(tmp_path, '[tool.ganlint]\nfail-on = "info"\nselect = ["GAN3"]\n')
    assert runner.invoke(main, ["check", "--no-cache", str(tmp_path)]).exit_code == 1
    assert runner.invoke(main, ["check", "--no-cache", "--fail-on", "warning", str(tmp_path)]).exit_code == 0


def test_explicit_config_applies_to_every_file(tmp_path):
    project(tmp_path, '[tool.ganlint]\nselect = ["GAN3"]\n')
    other = tmp_path / "other.toml"
    other.write_text('[tool.ganlint]\nselect = ["GAN2"]\n', encoding="utf-8")
    runner = CliRunner()
    plain = runner.invoke(main, ["check", "--no-cache", "--format", "json", str(tmp_path / "train.py")])
    explicit = runner.invoke(main, ["check", "--no-cache", "--format", "json", "--config", str(other),
                                    str(tmp_path / "train.py")])
    assert '"GAN301"' in plain.stdout and '"GAN201"' not in plain.stdout
    assert '"GAN201"' in explicit.stdout and '"GAN301"' not in explicit.stdout


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("config,needles", [
    ('[tool.ganlint]\nslect = ["GAN1"]\n', ['"slect"', "allowed:", "select"]),
    ('[tool.ganlint]\nfail-on = "warn"\n', ["fail-on", '"warn"', "error, warning, info"]),
    ('[tool.ganlint]\nignore = ["GAN999"]\n', ["ignore", '"GAN999"', "allowed:"]),
    ('[tool.ganlint]\nignore = "GAN1"\n', ["ignore", "expected a list of strings"]),
    ('[tool.ganlint]\nexclude = [1]\n', ["exclude", "expected a list of strings"]),
    ('[tool.ganlint.per-file-ignores]\n"tests/*" = "GAN1"\n', ["per-file-ignores", '"tests/*"', "list of selectors"]),
    ('[tool.ganlint.per-file-ignores]\n"tests/*" = ["nope"]\n', ["per-file-ignores", '"nope"']),
    ('[tool.ganlint.rules.GAN999]\nx = 1\n', ["[tool.ganlint.rules]", '"GAN999"', "GAN101"]),
    ('[tool.ganlint.rules.GAN101]\nactivation = ["tanh"]\n', ["[tool.ganlint.rules.GAN101]", '"activation"',
                                                             "allowed: activations"]),
    ('[tool.ganlint.rules.GAN101]\nactivations = "tanh"\n', ["[tool.ganlint.rules.GAN101]", "activations",
                                                            "expected a list of strings"]),
    ('[tool.ganlint.rules.GAN101]\nactivations = ["sigmoyd"]\n', ["activations", "'sigmoyd'", "allowed:", "tanh"]),
    ('[tool.ganlint.rules.GAN301]\nmax-norm = 1.0\n', ["[tool.ganlint.rules.GAN301]", '"max-norm"']),
    ('[tool.ganlint]\nselect = [\n', ["invalid TOML"]),
])
def test_bad_configuration_is_one_line_naming_file_and_key_and_exits_2(tmp_path, config, needles):
    project(tmp_path, config)
    for command in (["check", "--no-cache", str(tmp_path)], ["config", str(tmp_path)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"ganlint: error: {(tmp_path / 'pyproject.toml').resolve()}")
        for needle in needles:
            assert needle in lines[0], (needle, lines[0])
    with pytest.raises(ConfigError):
        api.check_paths([str(tmp_path)])


def test_unknown_command_line_selector_exits_2(tmp_path):
    project(tmp_path, "[tool.ganlint]\n")
    result = CliRunner().invoke(main, ["check", "--no-cache", "--select", "GAN1,bogus", str(tmp_path)])
    assert result.exit_code == 2
    assert "--select" in result.stderr and '"bogus"' in result.stderr


def test_missing_explicit_config_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["check", "--config", str(tmp_path / "nope.toml"), str(tmp_path)])
    assert result.exit_code == 2


def test_unrelated_broken_pyproject_without_our_table_is_not_read(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project\nname = 'x'\n", encoding="utf-8")
    (tmp_path / "train.py").write_text(GAN, encoding="utf-8")
    assert api.check_paths([str(tmp_path)]).findings


# -- `ganlint config` ----------------------------------------------------------------------------


def test_config_command_explains_every_rule():
    folder = PROJECTS / "configured"
    pyproject = (folder / "pyproject.toml").resolve()
    result = CliRunner().invoke(main, ["config", str(folder)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"config: {pyproject}" in out
    assert f'GAN301 off: ignored by `ignore = ["GAN3"]` in {pyproject}' in out
    assert "GAN101 on:" in out and 'activations = ["sigmoid"]' in out
    assert "fail-on: error" in out and 'exclude: ["generated/**"]' in out
    assert '(except files matching "legacy/*.py": per-file-ignores)' in out

    legacy = CliRunner().invoke(main, ["config", str(folder / "legacy" / "old_train.py")]).stdout
    assert 'GAN201 off for this file: `per-file-ignores` "legacy/*.py"' in legacy

    generated = CliRunner().invoke(main, ["config", str(folder / "generated" / "gen_train.py")]).stdout
    assert '(excluded by "generated/**")' in generated

    cli = CliRunner().invoke(main, ["config", "--select", "GAN2", str(folder)]).stdout
    assert "GAN101 off: not selected by `--select GAN2`" in cli
    assert "GAN201 on: selected by `--select GAN2`" in cli


def test_config_command_without_any_pyproject(tmp_path):
    out = CliRunner().invoke(main, ["config", str(tmp_path)]).stdout
    assert "config: none" in out and "GAN101 on: every rule is on by default" in out


def test_config_command_as_a_real_process(cli):
    completed = cli("config", "fixtures/projects/nested/sub/inner.py")
    assert completed.returncode == 0, completed.stderr
    assert "nested/sub/pyproject.toml" in completed.stdout
    assert "GAN101 off: not selected by `select = [\"GAN2\"]`" in completed.stdout


# -- globs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern,path,expected", [
    ("generated/**", "generated/a/b.py", True),
    ("generated/**", "src/generated/b.py", False),
    ("generated", "src/generated/b.py", True),
    ("generated/", "src/generated/b.py", True),
    ("*_pb2.py", "deep/down/x_pb2.py", True),
    ("*_pb2.py", "deep/down/x_pb3.py", False),
    ("legacy/*.py", "legacy/a.py", True),
    ("legacy/*.py", "legacy/sub/a.py", False),
    ("**/test_*.py", "a/b/test_x.py", True),
    ("**/test_*.py", "test_x.py", True),
    ("src/[ab].py", "src/a.py", True),
    ("./src/a.py", "src/a.py", True),
])
def test_glob_matches(tmp_path, pattern, path, expected):
    assert glob_matches(pattern, tmp_path / path, tmp_path) is expected
