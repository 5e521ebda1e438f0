"""Output formats of `ganlint check`: text, concise, json, sarif, github (real CLI runs)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ganlint import output
from ganlint.findings import Applicability, Edit, Finding, Fix, Position, Range, Severity
from ganlint.registry import ALL_RULES

GAN = '''import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers


def make_generator():
    return keras.Sequential([
        keras.Input(shape=(100,)),
        layers.Dense(128, activation="sigmoid"),
        layers.Dense(784, activation="tanh"),
    ])


def make_discriminator():
    return keras.Sequential([keras.Input(shape=(784,)), layers.Dense(128, activation="relu"),
                             layers.Dense(1, activation="sigmoid")])


generator = make_generator()
discriminator = make_discriminator()
bce = keras.losses.BinaryCrossentropy(from_logits=True)


def discriminator_loss(real_output, fake_output):
    return bce(tf.ones_like(real_output), real_output) + bce(tf.zeros_like(fake_output), fake_output)


libellé = "é"; fake_labels = tf.zeros((8, 1)) * 0.1


def train_step(images, noise):
    smoothed = keras.losses.binary_crossentropy(fake_labels, discriminator(generator(noise)))
    return discriminator_loss(discriminator(images), discriminator(generator(noise))) + smoothed
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "src").mkdir()
    (root / "src" / "gan.py").write_text(GAN, encoding="utf-8")
    (root / "src" / "clean.py").write_text("import tensorflow as tf\nx = tf.ones(3)\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def findings_json(cli, project) -> list[dict]:
    completed = cli("check", "--no-cache", "--format", "json", "src", cwd=project)
    assert completed.returncode == 1, completed.stderr
    return json.loads(completed.stdout)


def test_json_is_a_list_of_documented_objects(findings_json):
    assert isinstance(findings_json, list) and len(findings_json) == 3
    assert [f["code"] for f in findings_json] == ["GAN101", "GAN201", "GAN202"]
    for finding in findings_json:
        assert set(finding) >= {"code", "name", "severity", "message", "filename", "location", "end_location",
                                "fix", "url", "related"}
        assert finding["filename"] == "src/gan.py"
        assert set(finding["location"]) == {"row", "column"}
        assert finding["url"].endswith(f"/rules/{finding['code']}-{finding['name']}.md")
    gan202 = findings_json[2]
    # columns count characters: `libellé = "é"; fake_labels = ` is 29 characters (31 bytes)
    assert gan202["location"] == {"row": 28, "column": 30} and gan202["end_location"] == {"row": 28, "column": 52}
    assert gan202["fix"] == {"applicability": "unsafe", "message": gan202["fix"]["message"], "edits": [
        {"content": "tf.zeros((8, 1)) + 0.1", "location": {"row": 28, "column": 30},
         "end_location": {"row": 28, "column": 52}}]}
    assert findings_json[0]["fix"] is None
    assert findings_json[1]["related"] and all(set(r) >= {"message", "filename", "location", "end_location"}
                                                for r in findings_json[1]["related"])


def test_text_has_header_excerpt_caret_and_summary_on_stderr(cli, project, findings_json):
    completed = cli("check", "--no-cache", "src", cwd=project)
    assert completed.returncode == 1
    assert "\x1b[" not in completed.stdout  # not a terminal: no colour
    lines = completed.stdout.splitlines()
    for finding in findings_json:
        start = finding["location"]
        header = f"src/gan.py:{start['row']}:{start['column']}: {finding['code']} [{finding['severity']}] {finding['message']}"
        at = next(i for i, line in enumerate(lines) if line.startswith(header))
        source_line = GAN.splitlines()[start["row"] - 1]
        assert lines[at + 2] == f" {start['row']} | {source_line}"
        caret = lines[at + 3]
        bar = caret.index("|")
        assert caret.index("^") - bar - 2 == start["column"] - 1
        end = finding["end_location"]
        if end["row"] == start["row"]:
            assert caret.count("^") == end["column"] - start["column"]
    assert "   = fix (unsafe): Replace `*` with `+`" in completed.stdout
    assert "= note: src/gan.py:" in completed.stdout
    assert completed.stderr.strip().splitlines()[-1] == (
        "Found 3 findings in 2 files (1 error, 2 warnings). 1 fixable with `--fix --unsafe-fixes` "
        "(unsafe: review the change).")


def test_concise_is_one_line_per_finding(cli, project, findings_json):
    completed = cli("check", "--no-cache", "--format", "concise", "src", cwd=project)
    assert completed.stdout.splitlines() == [
        f"src/gan.py:{f['location']['row']}:{f['location']['column']}: {f['code']} [{f['severity']}] {f['message']}"
        + (" [*]" if f["fix"] else "") for f in findings_json]


def test_colour_only_when_asked_and_never_with_no_color(monkeypatch):
    finding = Finding("GAN202", "label-smoothing-on-zeros", Severity.ERROR, "m", "f.py",
                      Range(Position(1, 5), Position(1, 9)))
    sources = output.SourceLines({"f.py": "x = zeros * 2\n"})
    coloured = output.render_text([finding], color=True, sources=sources)
    plain = output.render_text([finding], color=False, sources=sources)
    assert "\x1b[" in coloured and "\x1b[" not in plain
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert output.use_color(True) and not output.use_color(False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not output.use_color(True)


def test_tabs_in_the_excerpt_keep_the_caret_aligned():
    finding = Finding("GAN202", "label-smoothing-on-zeros", Severity.ERROR, "m", "f.py",
                      Range(Position(2, 6), Position(2, 7)))
    text = output.render_text([finding], sources=output.SourceLines({"f.py": "if x:\n\ty = a * b\n"}))
    assert "\t    ^" in text


# -- SARIF ---------------------------------------------------------------------------------------


def _check_region(region: dict) -> None:
    assert set(region) == {"startLine", "startColumn", "endLine", "endColumn"}
    assert all(isinstance(v, int) and v >= 1 for v in region.values())
    assert (region["endLine"], region["endColumn"]) >= (region["startLine"], region["startColumn"])


def _check_location(location: dict) -> None:
    physical = location["physicalLocation"]
    uri = physical["artifactLocation"]["uri"]
    assert isinstance(uri, str) and "\\" not in uri
    if physical["artifactLocation"].get("uriBaseId") == "%SRCROOT%":
        assert not uri.startswith("/") and ":" not in uri.split("/")[0]
    else:
        assert uri.startswith("file:///")
    _check_region(physical["region"])


def validate_sarif(log: dict) -> None:
    """SARIF 2.1.0 structure, as GitHub code scanning reads it (checked by hand: the schema cannot
    be downloaded here)."""
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(log["runs"], list) and len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "ganlint" and isinstance(driver["version"], str)
    assert driver["informationUri"].startswith("https://")
    ids = [rule["id"] for rule in driver["rules"]]
    assert len(ids) == len(set(ids))
    for rule in driver["rules"]:
        assert re.fullmatch(r"GAN\d{3}", rule["id"]) and isinstance(rule["name"], str)
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["helpUri"].startswith("https://")
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note", "none")
    assert run["columnKind"] in ("unicodeCodePoints", "utf16CodeUnits")
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/")
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note", "none")
        assert isinstance(result["message"]["text"], str) and result["message"]["text"]
        assert len(result["locations"]) == 1
        _check_location(result["locations"][0])
        for related in result.get("relatedLocations", []):
            assert isinstance(related["id"], int) and related["message"]["text"]
            _check_location(related)
        for fix in result.get("fixes", []):
            assert fix["description"]["text"]
            for change in fix["artifactChanges"]:
                assert change["artifactLocation"]["uri"]
                for replacement in change["replacements"]:
                    _check_region(replacement["deletedRegion"])
                    assert isinstance(replacement["insertedContent"]["text"], str)


def test_sarif_is_valid_and_says_what_json_says(cli, project, findings_json):
    completed = cli("check", "--no-cache", "--format", "sarif", "src", cwd=project)
    assert completed.returncode == 1
    log = json.loads(completed.stdout)
    validate_sarif(log)
    run = log["runs"][0]
    assert {rule["id"] for rule in run["tool"]["driver"]["rules"]} >= {rule.CODE for rule in ALL_RULES}
    levels = {"error": "error", "warning": "warning", "info": "note"}
    assert len(run["results"]) == len(findings_json)
    for result, finding in zip(run["results"], findings_json):
        assert result["ruleId"] == finding["code"] and result["level"] == levels[finding["severity"]]
        assert result["message"]["text"] == finding["message"]
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"] == {"uri": "src/gan.py", "uriBaseId": "%SRCROOT%"}
        assert physical["region"] == {"startLine": finding["location"]["row"],
                                      "startColumn": finding["location"]["column"],
                                      "endLine": finding["end_location"]["row"],
                                      "endColumn": finding["end_location"]["column"]}
        assert len(result.get("relatedLocations", [])) == len(finding["related"])
    fix = run["results"][2]["fixes"][0]
    replacement = fix["artifactChanges"][0]["replacements"][0]
    assert replacement == {"deletedRegion": {"startLine": 28, "startColumn": 30, "endLine": 28, "endColumn": 52},
                           "insertedContent": {"text": "tf.zeros((8, 1)) + 0.1"}}
    # absolute paths under the working folder become relative URIs too
    absolute = json.loads(cli("check", "--no-cache", "--format", "sarif", str(project / "src"), cwd=project).stdout)
    assert absolute["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/gan.py"


def test_sarif_with_no_findings_is_still_a_valid_log(cli, project):
    completed = cli("check", "--no-cache", "--format", "sarif", "src/clean.py", cwd=project)
    assert completed.returncode == 0
    log = json.loads(completed.stdout)
    validate_sarif(log)
    assert log["runs"][0]["results"] == []


def test_sarif_uri_outside_the_working_folder_is_a_file_uri(tmp_path):
    finding = Finding("GAN202", "label-smoothing-on-zeros", Severity.ERROR, "m", "/elsewhere/a b.py",
                      Range(Position(1, 1), Position(1, 2)))
    log = json.loads(output.render_sarif([finding]))
    validate_sarif(log)
    assert log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "file:///elsewhere/a%20b.py"}


# -- GitHub --------------------------------------------------------------------------------------


def test_github_annotations(cli, project, findings_json):
    completed = cli("check", "--no-cache", "--format", "github", "src", cwd=project)
    assert completed.returncode == 1
    lines = completed.stdout.splitlines()
    assert len(lines) == len(findings_json)
    levels = {"error": "error", "warning": "warning", "info": "notice"}
    for line, finding in zip(lines, findings_json):
        start, end = finding["location"], finding["end_location"]
        head = (f"::{levels[finding['severity']]} file=src/gan.py,line={start['row']},col={start['column']},"
                f"endLine={end['row']}")
        assert line.startswith(head)
        assert f"title={finding['code']} {finding['name']}::" in line
        assert line.endswith("::" + finding["message"].replace("%", "%25"))


def test_github_escapes_properties_and_data():
    finding = Finding("GAN201", "from-logits-mismatch", Severity.INFO, "100% wrong\nsecond line", "dir,x/a:b.py",
                      Range(Position(3, 2), Position(3, 7)))
    assert output.render_github([finding]) == (
        "::notice file=dir%2Cx/a%3Ab.py,line=3,col=2,endLine=3,endColumn=7,"
        "title=GAN201 from-logits-mismatch::100%25 wrong%0Asecond line\n")


def test_summary_counts_severities_and_fixes():
    def make(severity, applicability=None):
        fix = Fix(applicability, "m", (Edit(Range(Position(1, 1), Position(1, 1)), ""),)) if applicability else None
        return Finding("GAN101", "n", severity, "m", "f.py", Range(Position(1, 1), Position(1, 2)), fix=fix)

    findings = [make(Severity.ERROR, Applicability.SAFE), make(Severity.INFO), make(Severity.INFO, Applicability.UNSAFE),
                make(Severity.WARNING)]
    assert output.summary(findings, 1) == ("Found 4 findings in 1 file (1 error, 1 warning, 2 info). "
                                           "1 fixable with `--fix`. 1 more with `--unsafe-fixes`.")
    assert output.summary([], 3) == "No findings in 3 files."


def test_stdin_text_gets_an_excerpt(cli, project):
    completed = cli("check", "--no-cache", "-", "--stdin-filename", "piped.py", cwd=project,
                    stdin="import tensorflow as tf\nfake = tf.zeros(2) * 0.5\n")
    assert completed.returncode == 1
    assert completed.stdout.splitlines()[0].startswith("piped.py:2:8: GAN202 [error]")
    assert " 2 | fake = tf.zeros(2) * 0.5" in completed.stdout


def test_sarif_uris_of_paths_with_dot_dot(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    assert output.artifact_uri("../a/x y.py") == ("x%20y.py", True)
    assert output.artifact_uri("sub/../x.py") == ("x.py", True)
    uri, relative = output.artifact_uri("../b/x.py")
    assert not relative and uri == (tmp_path / "b" / "x.py").as_uri()
