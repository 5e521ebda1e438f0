"""Each rule's VALID examples produce nothing; each INVALID example produces exactly one finding
of its rule starting at every `# <- here` marker (line and column), and nothing else."""

from __future__ import annotations

import pkgutil

import pytest

import ganlint.rules
from ganlint import api
from ganlint.engine import Linter
from ganlint.registry import ALL_RULES, MODEL_RULES
from ganlint.rule import Check, EngineCheck, Invalid, Rule

CASES = [(rule, "valid", i, case) for rule in ALL_RULES for i, case in enumerate(rule.VALID)] + \
        [(rule, "invalid", i, case) for rule in ALL_RULES for i, case in enumerate(rule.INVALID)]


def _case_id(value: object) -> str:
    return getattr(value, "CODE", "") if isinstance(value, type) else "" if hasattr(value, "code") else str(value)


@pytest.mark.parametrize("rule,kind,index,case", CASES, ids=_case_id)
def test_example(rule, kind, index, case, tmp_path):
    path = tmp_path / case.filename
    path.write_text(case.code, encoding="utf-8")
    result = api.check_paths([str(path)], Linter([rule()]))
    assert result.errors == []
    reported = sorted((f.range.start.row, f.range.start.column) for f in result.findings)
    assert {f.code for f in result.findings} <= {rule.CODE}
    if kind == "valid":
        assert reported == [], f"{rule.CODE} VALID[{index}] reported: {[f.message for f in result.findings]}"
    else:
        expected = sorted(case.expected_starts())
        assert expected, f"{rule.CODE} INVALID[{index}] has no `# <- here` marker"
        assert reported == expected, f"{rule.CODE} INVALID[{index}]: findings start at {reported}, markers say {expected}"


def test_markers_give_line_and_column():
    case = Invalid("x = 1\nlabels = zeros * 0.1  # <- here: zeros\n    y = 2  # <- here\nz = f(y)  # <- here (2): y\n")
    assert case.expected_starts() == [(2, 10), (3, 5), (4, 7), (4, 7)]
    with pytest.raises(ValueError, match="not on the line"):
        Invalid("x = 1  # <- here: y\n").expected_starts()


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
    from ganlint import docs

    for rule in ALL_RULES:
        sections = docs.sections(rule)  # "Runtime confirmation" comes from the rule's runtime check
        for section in ("what it does", "why is this bad", "example", "use instead", "fix safety",
                        "runtime confirmation"):
            assert sections.get(section), f"{rule.CODE} lacks '## {section}'"


def test_every_rule_module_is_registered_in_code_order():
    # Adding a rule is adding a module: the registry finds it without being edited.
    modules = {info.name for info in pkgutil.iter_modules(ganlint.rules.__path__, "ganlint.rules.")}
    assert {rule.__module__ for rule in ALL_RULES} == modules
    assert [rule.CODE for rule in ALL_RULES] == sorted(rule.CODE for rule in ALL_RULES)
    assert all(issubclass(rule, (Rule, EngineCheck)) and issubclass(rule, Check) for rule in ALL_RULES)


def test_engine_checks_are_not_model_rules():
    unused_suppression = next(rule for rule in ALL_RULES if rule.CODE == "GAN901")
    assert issubclass(unused_suppression, EngineCheck) and not hasattr(unused_suppression, "check")
    assert unused_suppression not in MODEL_RULES
    assert all(issubclass(rule, Rule) for rule in MODEL_RULES)
