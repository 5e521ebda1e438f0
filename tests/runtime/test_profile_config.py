"""`[tool.ganlint.profile]` supplies defaults for `ganlint profile`; bad keys are one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from runtime_helpers import NEEDS_TENSORFLOW, profile_env

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "profile" / "gan202_zeros_times_constant.py"


def _profile(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganlint", "profile", FIXTURE.name, *args], cwd=folder,
                          capture_output=True, text=True, timeout=300, env=profile_env())


def test_unknown_profile_key_is_a_one_line_error(tmp_path):
    shutil.copy(FIXTURE, tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.ganlint.profile]\nstepz = 3\n")
    completed = _profile(tmp_path)
    assert completed.returncode == 2
    errors = completed.stderr.strip().splitlines()
    assert len(errors) == 1 and 'unknown key "stepz"' in errors[0] and "pyproject.toml" in errors[0]


@pytest.mark.tf
@NEEDS_TENSORFLOW
def test_profile_defaults_come_from_pyproject_and_a_reused_logdir_reports_only_this_run(tmp_path):
    shutil.copy(FIXTURE, tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.ganlint.profile]\nsteps = 24\nlogdir = "tb"\n')
    completed = _profile(tmp_path, "--format", "json")
    report = json.loads(completed.stdout)
    assert report["steps_run"] == 24
    assert Path(report["logdir"]) == tmp_path / "tb"
    # the command line still wins over the configuration; the logdir is the same one again
    completed = _profile(tmp_path, "--format", "json", "--steps", "3")
    report = json.loads(completed.stdout)
    assert report["steps_run"] == 3
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 2
    # verdicts are judged on what this run recorded, whatever else the logdir holds
    verdict = next(v for v in report["verdicts"] if v["code"] == "GAN202")
    assert verdict["verdict"] == "confirmed"
    assert {site["steps"] for site in verdict["numbers"]["label_sites"].values()} == {3}
