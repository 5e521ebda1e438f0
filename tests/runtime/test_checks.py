"""The runtime checks' judgements on recorded numbers, the registry, and the promise that judging
needs neither TensorFlow nor numpy."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from ganlint.runtime.checks import CHECKS, Run, runtime_only_checks
from ganlint.runtime.recorder import LossSite, OptimizerApply, Place, Recorder
from ganlint.runtime.result import FindingRef, Status


def test_judging_imports_neither_tensorflow_nor_numpy():
    code = ("import sys, ganlint.runtime.checks, ganlint.runtime.report, ganlint.runtime.command, "
            "ganlint.runtime.protocol, ganlint.runtime.workspace, ganlint.runtime.slicer; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tensorboard', 'numpy')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_every_rule_has_a_runtime_check_or_says_it_has_none():
    from ganlint import docs
    from ganlint.registry import ALL_RULES

    for rule in ALL_RULES:
        own = rule.documentation().get("runtime confirmation", "")
        if rule.CODE in CHECKS:
            assert not own, f"{rule.CODE}: the runtime confirmation is the check's docstring, not the rule's"
            assert docs.sections(rule)["runtime confirmation"] == CHECKS[rule.CODE].documentation()
        else:
            assert own.startswith("None"), f"{rule.CODE} promises a runtime confirmation but has no check"


def test_every_check_belongs_to_a_rule_or_is_runtime_only_and_is_documented():
    from ganlint.registry import BY_CODE

    for code, check in CHECKS.items():
        assert check.CODE == code
        if check.runtime_only():
            assert check.TITLE, code
        else:
            assert code in BY_CODE, f"the check {check.__name__} names no rule: {code}"
        assert len(check.documentation()) > 80, code
    assert {c.CODE for c in runtime_only_checks()} == {"none-gradient", "discriminator-collapse", "non-finite"}


def test_every_rule_check_has_a_profile_fixture_that_states_a_verdict_for_it():
    from runtime_helpers import PROFILE_FIXTURES, expected_verdicts

    fixtures = [*PROFILE_FIXTURES.glob("*.py"), *PROFILE_FIXTURES.glob("*.ipynb")]
    stated = {key.split(":")[0] for path in fixtures for key in expected_verdicts(path)}
    missing = {code for code, check in CHECKS.items() if not check.runtime_only()} - stated
    assert not missing, f"no profile fixture states a verdict for {sorted(missing)}"


def _finding(code: str, subject: dict, line: int = 10, column: int = 1) -> FindingRef:
    return FindingRef(code=code, name=code.lower(), severity="warning", filename="f.py", line=line, column=column,
                      message="m", subject=subject)


def _run(recorder: Recorder, steps: int, **kwargs) -> Run:
    return Run(recorder, steps, **kwargs)


def _series(recorder: Recorder, tag: str, values) -> None:
    for step, value in enumerate(values):
        recorder.scalar(tag, value, step)


class TestSaturatingHiddenActivation:
    def _check(self, own: float, first: float, gain: float | None, steps: int = 30):
        check = CHECKS["GAN101"](_finding("GAN101", {"model": {"role": "generator"}}))
        check.evidence.update({"role": "generator", "layers": {"own": "02_Dense/kernel", "next": "03_Dense/kernel",
                                                               "first": "00_Dense/kernel"},
                               "sizes": {"own": 64, "next": 256, "first": 64}})
        if gain is not None:
            check.evidence["fixed_batch"] = {"ratio": own, "ratio_relu": own * gain, "gain_at_first_layer": gain}
        recorder = Recorder()
        _series(recorder, "G/grad_norm/03_Dense/kernel", [1.0 * 16] * steps)  # rms 1.0
        _series(recorder, "G/grad_norm/02_Dense/kernel", [own * 8] * steps)
        _series(recorder, "G/grad_norm/00_Dense/kernel", [first * 8] * steps)
        return check, check.judge(_run(recorder, steps))

    def test_attenuation_that_relu_would_undo_is_confirmed(self):
        check, verdict = self._check(0.09, 0.09, 5.0)
        assert verdict.status is Status.CONFIRMED
        assert verdict.numbers["rms_ratio_median"] == pytest.approx(0.09)
        assert "GAN101/G/02_Dense/rms_ratio" in check.series

    def test_a_stack_is_judged_by_its_compound_attenuation(self):
        # the last of three sigmoids passes 0.33 itself, but the first layer gets 0.004
        _, verdict = self._check(0.33, 0.004, 4.4)
        assert verdict.status is Status.CONFIRMED
        assert verdict.numbers["compound_ratio_median"] == pytest.approx(0.004)

    def test_no_gain_from_relu_is_dismissed_even_when_attenuated(self):
        _, verdict = self._check(0.1, 0.1, 1.05)
        assert verdict.status is Status.DISMISSED

    def test_healthy_ratios_dismiss_and_the_middle_is_inconclusive(self):
        assert self._check(0.5, 0.6, None)[1].status is Status.DISMISSED
        assert self._check(0.25, 0.25, None)[1].status is Status.INCONCLUSIVE
        assert self._check(0.05, 0.05, None, steps=3)[1].status is Status.INCONCLUSIVE

    def test_a_layer_that_could_not_be_found_is_inconclusive_with_the_reason(self):
        check = CHECKS["GAN101"](_finding("GAN101", {}))
        check.unmeasurable = "no layer of the generator matches"
        verdict = check.judge(_run(Recorder(), 30))
        assert verdict.status is Status.INCONCLUSIVE and "no layer" in verdict.reason


def _loss_site(recorder: Recorder, name: str, line: int, user: float, correct: float, steps: int = 10) -> str:
    site = f"{name}/L{line}"
    recorder.event(LossSite(Place("f.py", line), name, "BinaryCrossentropy", site, True))
    _series(recorder, f"GAN201/loss_user/{site}", [user] * steps)
    _series(recorder, f"GAN201/loss_correct/{site}", [correct] * steps)
    return site


class TestFromLogitsMismatch:
    def test_repaired_at_runtime_is_dismissed_as_fragile(self):
        recorder = Recorder()
        _loss_site(recorder, "bce", 30, 0.7, 0.7)
        check = CHECKS["GAN201"](_finding("GAN201", {"loss": {"variable": "bce"}, "expects": "logits"}))
        verdict = check.judge(_run(recorder, 10, discriminator_head="probabilities"))
        assert verdict.status is Status.DISMISSED and "fragile" in verdict.reason

    def test_different_losses_confirm_with_the_gradient_ratio(self):
        recorder = Recorder()
        _loss_site(recorder, "bce", 30, 9.6, 0.72)
        check = CHECKS["GAN201"](_finding("GAN201", {"loss": {"variable": "bce"}}))
        check.evidence.update({"grad_user": 14.5, "grad_correct": 0.86, "reshaped_like_the_script": False})
        verdict = check.judge(_run(recorder, 10))
        assert verdict.status is Status.CONFIRMED
        assert verdict.numbers["g_grad_ratio"] == pytest.approx(14.5 / 0.86, rel=1e-3)

    def test_functional_losses_in_one_statement_are_matched_in_order(self):
        recorder = Recorder()
        _loss_site(recorder, "sigmoid_cross_entropy_with_logits", 39, 0.7, 0.7)
        second = "sigmoid_cross_entropy_with_logits/L39.2"
        recorder.event(LossSite(Place("f.py", 39), "sigmoid_cross_entropy_with_logits", "x", second, True))
        _series(recorder, f"GAN201/loss_user/{second}", [1.0] * 10)
        _series(recorder, f"GAN201/loss_correct/{second}", [0.5] * 10)
        subject = {"loss": {"kind": "sigmoid_cross_entropy_with_logits"}}
        first_finding = _finding("GAN201", subject, line=40, column=13)
        second_finding = _finding("GAN201", subject, line=41, column=15)
        run = _run(recorder, 10, findings=[first_finding, second_finding], statements={40: (39, 41), 41: (39, 41)})
        assert CHECKS["GAN201"](first_finding).judge(run).status is Status.DISMISSED
        assert CHECKS["GAN201"](second_finding).judge(run).status is Status.CONFIRMED

    def test_a_loss_never_called_is_inconclusive(self):
        check = CHECKS["GAN201"](_finding("GAN201", {"loss": {"variable": "bce"}}))
        assert check.judge(_run(Recorder(), 10)).status is Status.INCONCLUSIVE


def test_label_smoothing_on_zeros():
    def recorder_with(fake_value: float) -> Recorder:
        recorder = Recorder()
        for site, value in (("bce/L20", 0.9), ("bce/L20.2", fake_value)):
            recorder.event(LossSite(Place("f.py", 20), "bce", "BinaryCrossentropy", site, True))
            for stat in ("min", "max", "mean"):
                _series(recorder, f"labels/{site}/{stat}", [value] * 20)
        return recorder

    check = CHECKS["GAN202"](_finding("GAN202", {"labels": {"constant": 0.1}}))
    verdict = check.judge(_run(recorder_with(0.0), 20))
    assert verdict.status is Status.CONFIRMED and "bce/L20.2" in verdict.reason
    assert check.judge(_run(recorder_with(0.1), 20)).status is Status.DISMISSED
    assert check.judge(_run(Recorder(), 20)).status is Status.INCONCLUSIVE


class TestMissingGradientClipping:
    def _verdict(self, norms):
        recorder = Recorder()
        recorder.event(OptimizerApply(None, "d_opt", 1, ("discriminator",), ("discriminator",), ()))
        _series(recorder, "D/grad_norm/global", norms)
        check = CHECKS["GAN301"](_finding("GAN301", {"optimizer": {"variable": "d_opt"}}))
        return check.judge(_run(recorder, len(norms)))

    def test_steady_norms_dismiss_and_name_the_network(self):
        verdict = self._verdict([0.6 + 0.01 * i for i in range(60)])
        assert verdict.status is Status.DISMISSED and verdict.numbers["network"] == "discriminator"

    def test_a_spike_or_a_non_finite_norm_confirms(self):
        spiky = [1.0] * 60
        spiky[40] = 8.0
        assert self._verdict(spiky).status is Status.CONFIRMED
        broken = [1.0] * 60
        broken[12] = math.inf
        verdict = self._verdict(broken)
        assert verdict.status is Status.CONFIRMED and verdict.numbers["first_non_finite_step"] == 12

    def test_middle_range_dead_network_and_short_runs_are_inconclusive(self):
        middle = [1.0] * 60
        middle[30] = 3.0
        assert self._verdict(middle).status is Status.INCONCLUSIVE
        assert self._verdict([0.0] * 60).status is Status.INCONCLUSIVE
        assert self._verdict([1.0] * 5).status is Status.INCONCLUSIVE


def test_runtime_only_checks():
    recorder = Recorder()
    recorder.event(OptimizerApply(None, "opt", 1, ("discriminator",), (), ("D/02_Dense/kernel",)))
    assert CHECKS["none-gradient"]().judge(_run(recorder, 5)).status is Status.CONFIRMED
    healthy = Recorder()
    healthy.event(OptimizerApply(None, "opt", 1, ("discriminator",), ("discriminator",), ()))
    assert CHECKS["none-gradient"]().judge(_run(healthy, 5)).status is Status.DISMISSED
    collapsed = Recorder()
    _series(collapsed, "D/grad_norm/global", [1.0] * 5 + [0.0] * 15)
    assert CHECKS["discriminator-collapse"]().judge(_run(collapsed, 20)).status is Status.CONFIRMED
    _series(healthy, "D/grad_norm/global", [1.0] * 20)
    assert CHECKS["discriminator-collapse"]().judge(_run(healthy, 20)).status is Status.DISMISSED
    bad = Recorder()
    _series(bad, "losses/x/L3", [0.5, math.nan])
    assert CHECKS["non-finite"]().judge(_run(bad, 2)).status is Status.CONFIRMED
    assert CHECKS["non-finite"]().judge(_run(healthy, 20)).status is Status.DISMISSED
