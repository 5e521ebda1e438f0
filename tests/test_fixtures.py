"""Every fixture states its findings in comments; the linter must report exactly those."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from expectations import FIXTURES, ROOT, expected_findings
from ganlint import api
from ganlint.config import Overrides
from ganlint.registry import ALL_RULES
from ganlint.runner import RunOptions

# Folders with their own configuration or file types are tested by their own tests.
SEPARATELY_TESTED = {"projects", "notebooks"}


def fixture_files() -> list[Path]:
    return sorted(
        path for path in FIXTURES.rglob("*.py")
        if not (set(path.relative_to(FIXTURES).parts) & SEPARATELY_TESTED)
    )


def fixture_folders() -> list[Path]:
    return sorted({path.parent for path in fixture_files()})


def test_fixtures_exist_and_state_findings():
    files = fixture_files()
    assert len(files) >= 10
    # every rule of the registry has fixtures that state its findings (a new rule needs no edit
    # here); the configured projects hold the suppression rule's
    everywhere = set().union(*(expected_findings(f) for f in FIXTURES.rglob("*.py")))
    assert {code for _, _, code, _ in everywhere} >= {rule.CODE for rule in ALL_RULES}
    # the shapes public GAN code comes in, each with its own folder
    assert {"keras2_recipe", "keras2_split", "real_code", "subclassed", "split_project"} <= {
        folder.name for folder in fixture_folders()}
    # GAN402 under both Keras versions, decided by imports and by configuration
    assert {"keras3", "keras2_imports", "keras2_config"} <= {folder.name for folder in fixture_folders()}


@pytest.mark.parametrize("folder", fixture_folders(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_folder_reports_exactly_the_stated_findings(folder: Path):
    files = [f for f in fixture_files() if f.parent == folder]
    result = api.check_paths([str(f) for f in files])
    assert result.errors == []
    reported = {(f.filename, f.range.start.row, f.code, str(f.severity)) for f in result.findings}
    expected = set().union(*(expected_findings(f) for f in files))
    missing = expected - reported
    unexpected = reported - expected
    assert not missing, f"expected findings not reported: {sorted(missing)}"
    assert not unexpected, f"unexpected findings: {sorted(unexpected)}"


def test_no_finding_is_reported_twice():
    # Code the program model runs more than once (a builder called with two arguments, a helper
    # called from two places) still gives one finding per site.
    for folder in fixture_folders():
        result = api.check_paths([str(f) for f in fixture_files() if f.parent == folder])
        sites = [(f.filename, f.range, f.code, f.message) for f in result.findings]
        assert len(sites) == len(set(sites)), f"{folder.name}: {len(sites) - len(set(sites))} duplicate(s)"


def test_cli_json_over_all_fixtures_matches_annotations(cli):
    files = fixture_files()
    completed = cli("check", "--format", "json", "--no-cache", *[str(f.relative_to(ROOT)) for f in files])
    assert completed.returncode == 1, completed.stderr
    findings = json.loads(completed.stdout)
    reported = {(str(ROOT / f["filename"]), f["location"]["row"], f["code"], f["severity"]) for f in findings}
    expected = set().union(*(expected_findings(f) for f in files))
    assert reported == expected
    for finding in findings:
        assert set(finding) >= {"code", "name", "severity", "message", "filename", "location",
                                "end_location", "fix", "url", "related"}


def test_cli_text_over_all_fixtures_matches_annotations(cli):
    files = fixture_files()
    completed = cli("check", "--format", "text", "--no-cache", *[str(f.relative_to(ROOT)) for f in files])
    assert completed.returncode == 1, completed.stderr
    finding_line = re.compile(r"^(\S.*?):(\d+):(\d+): (GAN\d{3}) \[(\w+)\] ")
    reported = set()
    for line in completed.stdout.splitlines():  # excerpts and fix lines follow each finding
        match = finding_line.match(line)
        if match:
            filename, row, _column, code, severity = match.groups()
            reported.add((str(ROOT / filename), int(row), code, severity))
    expected = set().union(*(expected_findings(f) for f in files))
    assert reported == expected


def test_a_fixture_folder_with_its_own_config_is_linted_with_it(tmp_path):
    # fixtures/trainable/keras2_config says `keras-version = 2`: the classic recipe is right there,
    # and the same script linted for Keras 3 (by another configuration) is a finding
    script = FIXTURES / "trainable" / "keras2_config" / "classic_recipe.py"
    assert [f.code for f in api.check_paths([str(script)]).findings] == []
    keras3 = tmp_path / "pyproject.toml"
    keras3.write_text("[tool.ganlint]\nkeras-version = 3\n", encoding="utf-8")
    findings = api.check_paths([str(script)], options=RunOptions(overrides=Overrides(config=keras3))).findings
    assert [(f.code, f.range.start.row) for f in findings] == [("GAN402", 13)]
    assert "assuming Keras 3" in findings[0].message
