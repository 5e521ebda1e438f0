"""Each rule's VALID examples produce nothing and its INVALID examples produce its findings."""

from __future__ import annotations

import pytest

from ganlint import api
from ganlint.engine import Linter
from ganlint.registry import ALL_RULES

CASES = [(rule, "valid", i, case) for rule in ALL_RULES for i, case in enumerate(rule.VALID)] + \
        [(rule, "invalid", i, case) for rule in ALL_RULES for i, case in enumerate(rule.INVALID)]


@pytest.mark.parametrize("rule,kind,index,case", CASES, ids=lambda v: v.CODE if hasattr(v, "CODE") else str(v) if not hasattr(v, "code") else "")
def test_example(rule, kind, index, case, tmp_path):
    path = tmp_path / case.filename
    path.write_text(case.code, encoding="utf-8")
    result = api.check_paths([str(path)], Linter([rule()]))
    assert result.errors == []
    codes = [f.code for f in result.findings]
    if kind == "valid":
        assert codes == [], f"{rule.CODE} VALID[{index}] reported: {[f.message for f in result.findings]}"
    else:
        assert codes == [rule.CODE] * case.count, f"{rule.CODE} INVALID[{index}] reported {codes}"


def test_every_rule_has_examples_both_ways():
    for rule in ALL_RULES:
        assert rule.VALID and rule.INVALID, rule.CODE


def test_codes_and_names_are_unique_and_well_formed():
    codes = [rule.CODE for rule in ALL_RULES]
    names = [rule.NAME for rule in ALL_RULES]
    assert len(set(codes)) == len(codes)
    assert len(set(names)) == len(names)
    for rule in ALL_RULES:
        assert rule.CODE[:3] == "GAN" and rule.CODE[3:].isdigit() and len(rule.CODE) == 6
        assert rule.NAME == rule.NAME.lower() and " " not in rule.NAME


def test_every_rule_documents_every_section():
    for rule in ALL_RULES:
        sections = rule.documentation()
        for section in ("what it does", "why is this bad", "example", "fix safety", "runtime confirmation"):
            assert sections.get(section), f"{rule.CODE} lacks '## {section}'"
        assert "Use instead" in sections["example"], rule.CODE
