"""The rule reference: `ganlint rule`, the generated `rules/` folder and finding URLs."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from expectations import ROOT
from ganlint import api, docs
from ganlint.engine import Linter
from ganlint.findings import RULES_URL
from ganlint.registry import ALL_RULES

PREAMBLE = "import tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"

# Rules whose documented "Example" is a fragment that cannot be linted on its own (the rule needs
# a context the snippet leaves out). Their VALID/INVALID examples (tests/test_rule_examples.py)
# are their real tests; every other rule's Example must trigger it and its "Use instead" must not.
FRAGMENTS = {
    "GAN101": "a generator alone: no discriminator in the snippet, so no role",
    "GAN201": "elides the discriminator's layers with `...`",
    "GAN301": "uses a `tape` and a loss defined outside the snippet",
    "GAN203": "a loss helper alone: no networks in the snippet, so no D(G(z)) and no generator to train",
    "GAN304": "uses networks defined outside the snippet: no roles to tell the two apart",
    "GAN306": "compiles networks defined outside the snippet: no roles, and no training calls",
}


def test_rules_folder_is_current():
    problems = docs.stale()
    assert not problems, "rules/ is stale, run `python -m ganlint.docs`: " + "; ".join(problems)


def test_readme_rules_table_lists_every_rule_and_is_current():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index(docs.TABLE_START):text.index(docs.TABLE_END)]
    for rule in ALL_RULES:
        assert f"| [{rule.CODE}](rules/{docs.page_name(rule)}) | {rule.NAME} | {rule.SEVERITY} |" in table
    assert not docs.readme_stale(), "the README's rules table is stale: run `python -m ganlint.docs`"


def test_readme_drift_is_detected(tmp_path):
    readme = tmp_path / "README.md"
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    last_row = docs.readme_table().splitlines()[-1]
    readme.write_text(text.replace(last_row + "\n", ""), encoding="utf-8")  # a rule missing from the table
    assert docs.readme_stale(readme)
    readme.write_text(docs.render_readme(readme.read_text(encoding="utf-8")), encoding="utf-8")
    assert not docs.readme_stale(readme)


def test_every_page_is_marked_generated():
    for path in sorted((ROOT / "rules").glob("*.md")):
        assert path.read_text(encoding="utf-8").startswith(docs.BANNER), path.name


def test_every_finding_url_names_a_page_in_rules():
    prefix = RULES_URL.split("{code}")[0]
    assert prefix.endswith("/rules/")
    for rule in ALL_RULES:
        url = RULES_URL.format(code=rule.CODE, name=rule.NAME)
        page = ROOT / "rules" / url[len(prefix):]
        assert page.is_file(), url
        assert page.read_text(encoding="utf-8").splitlines()[2] == f"# {rule.CODE}: {rule.NAME}"
    index = (ROOT / "rules" / "README.md").read_text(encoding="utf-8")
    for rule in ALL_RULES:
        assert f"[{rule.CODE}]({docs.page_name(rule)})" in index


def test_every_page_has_every_section():
    for rule in ALL_RULES:
        text = (ROOT / "rules" / docs.page_name(rule)).read_text(encoding="utf-8")
        headings = re.findall(r"(?m)^## (.+)$", text)
        assert headings[:6] == [docs.TITLES[key] for key in docs.SECTIONS], rule.CODE
        sections = docs.sections(rule)
        for key in docs.SECTIONS:
            assert sections.get(key), f"{rule.CODE}: empty '{docs.TITLES[key]}'"


def test_fix_column_agrees_with_the_fix_safety_text():
    for rule in ALL_RULES:
        fix = docs.fix_availability(rule)
        safety = docs.sections(rule)["fix safety"]
        if fix == "none":
            assert safety.startswith("No automatic fix"), rule.CODE
        else:
            assert safety.split(":")[0].strip().lower() in ("safe", "unsafe"), rule.CODE
            assert safety.split(":")[0].strip().lower() == fix, f"{rule.CODE}: docs say {safety[:20]!r}, fix is {fix}"


def _snippet(text: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, text
    return PREAMBLE + "\n".join(blocks)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.CODE)
def test_documented_example_triggers_and_use_instead_does_not(rule):
    sections = docs.sections(rule)
    example = api.check_source(_snippet(sections["example"]), "example.py", Linter())
    instead = api.check_source(_snippet(sections["use instead"]), "example.py", Linter())
    triggered = rule.CODE in {f.code for f in example.findings}
    if rule.CODE in FRAGMENTS:
        assert not triggered, f"{rule.CODE}'s Example now works standalone: remove it from FRAGMENTS"
        return
    assert triggered, f"{rule.CODE}: the documented Example reports nothing"
    assert rule.CODE not in {f.code for f in instead.findings}, f"{rule.CODE}: 'Use instead' is reported"


def test_rule_command_prints_each_section_by_code_and_by_name(cli):
    from click.testing import CliRunner

    from ganlint.cli import main

    # In this process, through click's own runner: a fresh interpreter per rule added nothing but
    # seconds. The calls below that check exit codes and messages run the real command line.
    runner = CliRunner()
    for rule in ALL_RULES:
        by_code = runner.invoke(main, ["rule", rule.CODE.lower()])
        assert by_code.exit_code == 0, by_code.output
        for key in docs.SECTIONS:
            assert f"## {docs.TITLES[key]}" in by_code.output
        assert docs.sections(rule)["runtime confirmation"].splitlines()[0] in by_code.output
        by_name = runner.invoke(main, ["rule", rule.NAME])
        assert by_name.output == by_code.output
    first = ALL_RULES[0]
    assert cli("rule", first.NAME).stdout == runner.invoke(main, ["rule", first.CODE]).output
    missing = cli("rule", "GAN999")
    assert missing.returncode == 2 and "no rule 'GAN999'" in missing.stderr
    assert cli("rule").returncode == 2


def test_rule_all_in_every_format(cli, tmp_path):
    as_json = json.loads(cli("rule", "--all", "--format", "json").stdout)
    assert [item["code"] for item in as_json] == [rule.CODE for rule in ALL_RULES]
    for item in as_json:
        assert set(item["documentation"]) == {docs.TITLES[key] for key in docs.SECTIONS}
        assert item["fix"] in ("none", "safe", "unsafe", "safe, unsafe")
    text = cli("rule", "--all").stdout
    assert all(f"{rule.CODE} ({rule.NAME})" in text for rule in ALL_RULES)
    markdown = cli("rule", "--all", "--format", "markdown").stdout
    assert all(f"# {rule.CODE}: {rule.NAME}" in markdown for rule in ALL_RULES)
    written = cli("rule", "--all", "--format", "markdown", "--output", str(tmp_path / "out"))
    assert written.returncode == 0, written.stderr
    for path, text in docs.render_all(tmp_path / "out").items():
        assert path.read_text(encoding="utf-8") == text
    assert docs.stale(tmp_path / "out") == []


def test_stale_folder_is_detected_and_regenerated(tmp_path):
    folder = tmp_path / "rules"
    docs.write_all(folder)
    page = folder / docs.page_name(ALL_RULES[0])
    page.write_text(page.read_text(encoding="utf-8") + "hand edit\n", encoding="utf-8")
    (folder / "GAN999-gone.md").write_text(docs.BANNER + "\n", encoding="utf-8")
    assert sorted(docs.stale(folder)) == [f"{page.name}: out of date", "GAN999-gone.md: no such rule (remove it)"]
    check = subprocess.run([sys.executable, "-m", "ganlint.docs", "--check", "--output", str(folder)],
                           capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert check.returncode == 1 and "stale" in check.stderr
    docs.write_all(folder)
    assert docs.stale(folder) == []
