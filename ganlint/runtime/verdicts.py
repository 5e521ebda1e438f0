"""The decision for each finding, from probe measurements. Pure Python + numpy, no TensorFlow.

A verdict is ``confirmed``, ``dismissed`` or ``inconclusive`` (or ``not profiled`` for codes the
profiler has no probe for), with the numbers that decided it and the TensorBoard tags to look at.
Runtime-only checks (None gradients, discriminator collapse, non-finite values) are reported
whether or not the static check found anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from ganlint.runtime.probes import (CONFIRMED, DISMISSED, INCONCLUSIVE, DiscriminatorCollapse, GradientAttenuation,
                                    GradientSpikes, LabelSmoothing, LossConsistency, Measurement, NoneGradients,
                                    NonFinite)

NOT_PROFILED = "not profiled"
# Which probes can judge each rule (and each runtime-only check).
PROBES_FOR = {
    "GAN101": (GradientAttenuation,),
    "GAN201": (LossConsistency,),
    "GAN202": (LabelSmoothing,),
    "GAN301": (GradientSpikes,),
    "none-gradient": (NoneGradients,),
    "discriminator-collapse": (DiscriminatorCollapse,),
    "non-finite": (NonFinite,),
}
PROFILED_CODES = tuple(code for code in PROBES_FOR if code.startswith("GAN"))
ROLE_PREFIX = {"generator": "G", "discriminator": "D"}


@dataclass
class RunFacts:
    """What the worker measured, in plain data."""

    series: Callable[[str], np.ndarray]
    tags: list[str]
    steps_run: int = 0
    gan101: dict = field(default_factory=dict)  # finding index -> layer match and counterfactual numbers
    gan201: dict = field(default_factory=dict)  # finding index -> {"grad_user", "grad_correct", "d_head"}
    optimizer_roles: dict = field(default_factory=dict)
    none_variables: dict = field(default_factory=dict)
    loss_sites: list = field(default_factory=list)
    findings: list = field(default_factory=list)


def _entry(finding: Mapping[str, Any] | None, measurement: Measurement, tags: list[str], *,
           name: str | None = None, message: str | None = None) -> dict:
    finding = finding or {}
    location = finding.get("location") or {}
    return {
        "code": finding.get("code"),
        "name": finding.get("name", name),
        "severity": finding.get("severity"),
        "filename": finding.get("filename"),
        "line": location.get("row"),
        "column": location.get("column"),
        "message": finding.get("message", message),
        "verdict": measurement.status,
        "reason": measurement.reason,
        "numbers": _jsonable(measurement.numbers),
        "tags": sorted(set(tags) | set(measurement.tags)),
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if math.isnan(v) else (str(v) if math.isinf(v) else v)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _role_of_optimizer(subject: Mapping, facts: RunFacts) -> str | None:
    optimizer = (subject.get("optimizer") or {}).get("variable")
    optimizer = optimizer.removeprefix("self.") if optimizer else optimizer
    if optimizer and optimizer in facts.optimizer_roles:
        return facts.optimizer_roles[optimizer]
    model = subject.get("model") or {}
    if model.get("role") in ROLE_PREFIX:
        return model["role"]
    lowered = (optimizer or "").lower()
    if "disc" in lowered or "critic" in lowered or lowered.endswith("_d") or lowered.startswith("d_"):
        return "discriminator"
    if "gen" in lowered or lowered.endswith("_g") or lowered.startswith("g_"):
        return "generator"
    return None


def judge_gan101(index: int, finding: Mapping, facts: RunFacts) -> dict:
    match = facts.gan101.get(index) or {}
    if match.get("error"):
        return _entry(finding, Measurement(INCONCLUSIVE, match["error"]), [])
    prefix = ROLE_PREFIX[match["role"]]
    tag, next_tag = f"{prefix}/grad_norm/{match['kernel']}", f"{prefix}/grad_norm/{match['next_kernel']}"
    a, b = facts.series(tag), facts.series(next_tag)
    n = min(a.size, b.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = (a[:n] / math.sqrt(match["kernel_size"])) / (b[:n] / math.sqrt(match["next_size"]))
    measurement = GradientAttenuation().measure(ratios, match.get("cf_relu"), match.get("cf_actual"))
    measurement.numbers["layer"] = match["kernel"].split("/")[0]
    measurement.numbers["next_layer"] = match["next_kernel"].split("/")[0]
    tags = [tag, next_tag, f"{prefix}/grad/{match['kernel']}", f"GAN101/{prefix}/{match['kernel'].split('/')[0]}/rms_ratio"]
    return _entry(finding, measurement, tags)


def judge_gan201(index: int, finding: Mapping, facts: RunFacts) -> dict:
    subject = finding.get("subject") or {}
    loss = subject.get("loss") or {}
    variable = loss.get("variable")
    extra = facts.gan201.get(index) or {}
    if extra.get("error"):
        return _entry(finding, Measurement(INCONCLUSIVE, extra["error"]), [])
    name = variable or loss.get("kind")
    sites = [s for s in facts.loss_sites if name and s.rsplit(".", 1)[0] == name]
    order = [i for i, f in enumerate(facts.findings) if f.get("code") == "GAN201"
             and ((f.get("subject") or {}).get("loss") or {}) == loss] if facts.findings else []
    if not variable and len(order) == len(sites) > 1 and index in order:
        # several calls of one functional loss: matched to the findings in source order
        sites = [sites[order.index(index)]]
    if not sites:
        why = (f"the loss `{variable}` was never called during the run" if variable else
               f"no call of `{loss.get('kind')}` was intercepted (the profiler intercepts loss objects, "
               "keras.losses.binary_crossentropy and tf.nn.sigmoid_cross_entropy_with_logits)")
        return _entry(finding, Measurement(INCONCLUSIVE, why, dict(extra)), [])
    user, correct, tags = [], [], []
    for site in sites:
        u, c = facts.series(f"GAN201/loss_user/{site}"), facts.series(f"GAN201/loss_correct/{site}")
        n = min(u.size, c.size)
        user.append(u[:n])
        correct.append(c[:n])
        tags += [f"GAN201/loss_user/{site}", f"GAN201/loss_correct/{site}"]
    measurement = LossConsistency().measure(np.concatenate(user), np.concatenate(correct),
                                            extra.get("grad_user"), extra.get("grad_correct"))
    head, expects = extra.get("d_head"), subject.get("expects")
    measurement.numbers["discriminator_output_at_runtime"] = head
    if "grad_counterfactual_reshaped_like_the_script" in extra:
        measurement.numbers["g_grad_with_output_reshaped"] = extra["grad_counterfactual_reshaped_like_the_script"]
    if measurement.status == DISMISSED and head and expects and head == expects:
        measurement.reason = (f"at runtime the discriminator emits {head}, which the loss expects; "
                              "the values agree")
    return _entry(finding, measurement, tags + ["D/out/real", "D/out/fake"])


def label_sites(facts: RunFacts) -> dict:
    sites = {}
    for site in facts.loss_sites:
        stats = {stat: facts.series(f"labels/{site}/{stat}") for stat in ("min", "max", "mean")}
        if stats["mean"].size:
            sites[site] = stats
    return sites


def judge_gan202(finding: Mapping, facts: RunFacts) -> dict:
    labels = (finding.get("subject") or {}).get("labels") or {}
    sites = label_sites(facts)
    measurement = LabelSmoothing().measure(sites, labels.get("constant"))
    return _entry(finding, measurement, [f"labels/{s}/{stat}" for s in sites for stat in ("mean", "min", "max")])


def judge_gan301(finding: Mapping, facts: RunFacts) -> dict:
    role = _role_of_optimizer(finding.get("subject") or {}, facts)
    if role is None:
        return _entry(finding, Measurement(INCONCLUSIVE, "cannot tell which network this optimizer updates"), [])
    tag = f"{ROLE_PREFIX[role]}/grad_norm/global"
    measurement = GradientSpikes().measure(facts.series(tag))
    measurement.numbers["network"] = role
    return _entry(finding, measurement, [tag])


def runtime_checks(facts: RunFacts) -> list[dict]:
    out = [_entry(None, NoneGradients().measure(facts.none_variables), [], name="none-gradient",
                  message="variables that never receive a gradient")]
    collapse = DiscriminatorCollapse().measure(facts.series("D/grad_norm/global"), facts.series("D/loss"))
    finals = {}
    for site in facts.loss_sites:  # the loss at each call site over the last quarter of the run
        values = facts.series(f"losses/{site}")
        if values.size:
            finals[site] = float(np.median(values[-max(1, values.size // 4):]))
    if finals:
        collapse.numbers["final_loss_by_call_site"] = {k: round(v, 6) for k, v in finals.items()}
    out.append(_entry(None, collapse, ["D/grad_norm/global", "D/out/real", "D/out/fake"]
                      + [f"losses/{site}" for site in finals], name="discriminator-collapse",
                      message="the discriminator's gradient collapses to exactly 0"))
    watched = [t for t in facts.tags if t.endswith("grad_norm/global") or t.startswith("losses/")
               or t.endswith("_nonfinite")]
    series = {}
    for tag in watched:
        values = facts.series(tag)
        series[tag] = values if not tag.endswith("_nonfinite") else np.where(values > 0, np.nan, 0.0)
    out.append(_entry(None, NonFinite().measure(series), [], name="non-finite",
                      message="NaN or Inf in losses or gradients"))
    return out


def judge(findings: list[Mapping], facts: RunFacts) -> list[dict]:
    verdicts = []
    facts.findings = list(findings)
    for index, finding in enumerate(findings):
        code = finding.get("code")
        if facts.steps_run == 0:
            verdicts.append(_entry(finding, Measurement(INCONCLUSIVE, "no training step completed"), []))
        elif code == "GAN101":
            verdicts.append(judge_gan101(index, finding, facts))
        elif code == "GAN201":
            verdicts.append(judge_gan201(index, finding, facts))
        elif code == "GAN202":
            verdicts.append(judge_gan202(finding, facts))
        elif code == "GAN301":
            verdicts.append(judge_gan301(finding, facts))
        else:
            verdicts.append(_entry(finding, Measurement(NOT_PROFILED, "no runtime probe for this rule"), []))
    if facts.steps_run:
        verdicts.extend(runtime_checks(facts))
    return verdicts


def any_confirmed(verdicts: list[Mapping]) -> bool:
    return any(v.get("verdict") == CONFIRMED for v in verdicts)
