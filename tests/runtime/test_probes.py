"""Probes and verdict logic on plain numbers (no TensorFlow)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from ganlint.runtime.probes import (CONFIRMED, DISMISSED, INCONCLUSIVE, DiscriminatorCollapse, GradientAttenuation,
                                    GradientSpikes, LabelSmoothing, LossConsistency, NoneGradients, NonFinite)
from ganlint.runtime.verdicts import RunFacts, any_confirmed, judge


def test_probes_do_not_import_tensorflow():
    import subprocess

    code = ("import sys, ganlint.runtime.probes, ganlint.runtime.verdicts, ganlint.runtime.report, "
            "ganlint.runtime.command, ganlint.runtime.slicer; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tensorboard')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr


class TestAttenuation:
    def test_sigmoid_like_ratio_with_swap_gain_confirms(self):
        m = GradientAttenuation().measure(np.full(30, 0.09), swapped=0.45, actual=0.09)
        assert m.status == CONFIRMED
        assert m.numbers["rms_ratio_median"] == pytest.approx(0.09)
        assert m.numbers["swap_gain"] == pytest.approx(5.0)

    def test_low_ratio_that_relu_would_not_fix_is_not_confirmed(self):
        m = GradientAttenuation().measure(np.full(30, 0.15), swapped=0.16, actual=0.15)
        assert m.status != CONFIRMED

    def test_relu_like_ratio_dismisses(self):
        assert GradientAttenuation().measure(np.full(30, 0.5)).status == DISMISSED

    def test_between_thresholds_and_too_few_steps_are_inconclusive(self):
        assert GradientAttenuation().measure(np.full(30, 0.25)).status == INCONCLUSIVE
        assert GradientAttenuation().measure([0.05] * 3).status == INCONCLUSIVE


class TestSpikes:
    def test_healthy_series_dismisses(self):
        g = np.linspace(0.6, 1.2, 60) * (1 + 0.05 * np.sin(np.arange(60)))
        m = GradientSpikes().measure(g)
        assert m.status == DISMISSED
        assert m.numbers["spike_ratio"] < 2

    def test_spike_confirms_with_numbers(self):
        g = np.ones(60)
        g[40] = 8.0
        m = GradientSpikes().measure(g)
        assert m.status == CONFIRMED
        assert m.numbers["spike_ratio"] == pytest.approx(8.0)

    def test_non_finite_confirms_and_says_when(self):
        g = np.ones(60)
        g[12] = np.inf
        m = GradientSpikes().measure(g)
        assert m.status == CONFIRMED and m.numbers["first_non_finite_step"] == 12

    def test_middle_range_and_dead_network_are_inconclusive(self):
        g = np.ones(60)
        g[30] = 3.0
        assert GradientSpikes().measure(g).status == INCONCLUSIVE
        assert GradientSpikes().measure(np.zeros(60)).status == INCONCLUSIVE
        assert GradientSpikes().measure(np.ones(5)).status == INCONCLUSIVE


def test_label_smoothing_on_zeros():
    buggy = {"bce.1": {"min": [0.9] * 20, "max": [0.9] * 20, "mean": [0.9] * 20},
             "bce.2": {"min": [0.0] * 20, "max": [0.0] * 20, "mean": [0.0] * 20}}
    m = LabelSmoothing().measure(buggy, 0.1)
    assert m.status == CONFIRMED and "bce.2" in m.reason
    fixed = dict(buggy, **{"bce.2": {"min": [0.1] * 20, "max": [0.1] * 20, "mean": [0.1] * 20}})
    assert LabelSmoothing().measure(fixed, 0.1).status == DISMISSED
    assert LabelSmoothing().measure({}, 0.1).status == INCONCLUSIVE


def test_loss_consistency():
    same = LossConsistency().measure([0.69, 0.70, 0.71], [0.69, 0.70, 0.71], 1.0, 1.0)
    assert same.status == DISMISSED and "repaired" in same.reason
    off = LossConsistency().measure([9.6] * 10, [0.72] * 10, 14.5, 0.86)
    assert off.status == CONFIRMED
    assert off.numbers["g_grad_ratio"] == pytest.approx(14.5 / 0.86, rel=1e-3)
    assert LossConsistency().measure([0.7], [0.7]).status == INCONCLUSIVE


def test_runtime_checks():
    assert NoneGradients().measure({"discriminator": ["02_Dense/kernel"]}).status == CONFIRMED
    assert NoneGradients().measure({"generator": []}).status == DISMISSED
    assert DiscriminatorCollapse().measure([1.0] * 5 + [0.0] * 15).status == CONFIRMED
    assert DiscriminatorCollapse().measure([1.0] * 20).status == DISMISSED
    assert NonFinite().measure({"losses/x.1": [0.5, math.nan]}).status == CONFIRMED
    assert NonFinite().measure({"losses/x.1": [0.5, 0.4]}).status == DISMISSED


def _facts(series: dict, **kwargs) -> RunFacts:
    def get(tag):
        return np.asarray(series.get(tag, []), dtype=float)
    return RunFacts(series=get, tags=sorted(series), **kwargs)


def _finding(code, subject, row=10):
    return {"code": code, "name": code.lower(), "severity": "warning", "message": "m", "filename": "f.py",
            "location": {"row": row, "column": 1}, "subject": subject}


def test_judge_combines_events_and_counterfactuals():
    steps = 30
    series = {
        "G/grad_norm/00_Dense/kernel": [0.01 * 8] * steps,   # size 64 -> rms 0.01
        "G/grad_norm/01_Dense/kernel": [0.1 * 16] * steps,   # size 256 -> rms 0.1
        "G/grad_norm/global": [1.0] * steps, "D/grad_norm/global": [2.0] * steps,
        "labels/bce.1/min": [0.0] * steps, "labels/bce.1/max": [0.0] * steps, "labels/bce.1/mean": [0.0] * steps,
        "GAN201/loss_user/bce.1": [0.7] * steps, "GAN201/loss_correct/bce.1": [0.7] * steps,
    }
    findings = [
        _finding("GAN101", {"model": {"role": "generator"}, "layer": {"kind": "Dense", "kind_index": 0}}),
        _finding("GAN202", {"labels": {"constant": 0.1}}),
        _finding("GAN201", {"loss": {"variable": "bce"}, "expects": "logits"}),
        _finding("GAN301", {"optimizer": {"variable": "d_opt"}}),
        _finding("GAN999", {}),
    ]
    facts = _facts(series, steps_run=steps, loss_sites=["bce.1"], optimizer_roles={"d_opt": "discriminator"},
                   gan101={0: {"role": "generator", "kernel": "00_Dense/kernel", "next_kernel": "01_Dense/kernel",
                               "kernel_size": 64, "next_size": 256, "cf_actual": 0.1, "cf_relu": 0.5}},
                   gan201={2: {"d_head": "probabilities"}})
    verdicts = judge(findings, facts)
    by_code = {v["code"]: v for v in verdicts if v["code"]}
    assert by_code["GAN101"]["verdict"] == CONFIRMED
    assert by_code["GAN101"]["numbers"]["rms_ratio_median"] == pytest.approx(0.1)
    assert "G/grad_norm/00_Dense/kernel" in by_code["GAN101"]["tags"]
    assert by_code["GAN202"]["verdict"] == CONFIRMED
    assert by_code["GAN201"]["verdict"] == DISMISSED
    assert by_code["GAN301"]["verdict"] == DISMISSED and by_code["GAN301"]["numbers"]["network"] == "discriminator"
    assert by_code["GAN999"]["verdict"] == "not profiled"
    names = {v["name"]: v["verdict"] for v in verdicts if not v["code"]}
    assert names == {"none-gradient": DISMISSED, "discriminator-collapse": DISMISSED, "non-finite": DISMISSED}
    assert any_confirmed(verdicts)


def test_judge_without_steps_is_inconclusive_and_never_confirms():
    verdicts = judge([_finding("GAN101", {})], _facts({}, steps_run=0))
    assert [v["verdict"] for v in verdicts] == [INCONCLUSIVE]
    assert not any_confirmed(verdicts)
