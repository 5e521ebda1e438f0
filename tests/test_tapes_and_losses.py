"""The program model's facts about gradient tapes, gradient calls, optimizer identity and loss
expressions (`ganlint.model.tapes`, `ganlint.model.loss_forms`), on their own."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from ganlint.model.graph import nested_models
from ganlint.model.loss_forms import LossReader
from ganlint.model.project import Project
from ganlint.model.roles import assign_roles
from ganlint.model.tapes import FROM_OUTSIDE, OUTSIDE, Reach, exclusive, loops_between, recorded
from ganlint.model.values import Tensor

MODELS = (
    "import numpy as np\nimport tensorflow as tf\nfrom tensorflow import keras\n"
    "generator = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(64, activation='tanh')])\n"
    "discriminator = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(1)])\n"
    "critic = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(1, activation='sigmoid')])\n"
    "bce = keras.losses.BinaryCrossentropy(from_logits=True)\n"
)


def _analyse(source: str, tmp_path: Path):
    path = tmp_path / "script.py"
    path.write_text(source)
    project = Project([tmp_path])
    module = project.add(path, source, cst.parse_module(source), str(path))
    return project.analyse(module)


def _calls(source: str, tmp_path: Path):
    return _analyse(MODELS + source, tmp_path).gradient_calls


def test_tensors_made_in_a_with_block_and_in_helpers_it_calls_are_recorded(tmp_path):
    source = ("def g_loss(noise):\n    fake = discriminator(generator(noise))\n"
              "    return bce(tf.ones_like(fake), fake)\n"
              "def step(noise):\n    before = generator(noise)\n"
              "    with tf.GradientTape() as tape:\n        inside = g_loss(noise)\n"
              "    after = tf.reduce_mean(inside)\n"
              "    return tape.gradient(inside, generator.trainable_variables), tape.gradient(after, before)\n")
    first, second = _calls(source, tmp_path)
    assert first.tape is second.tape and first.tape.name == "tape" and first.tape.entered
    lines = (MODELS + source).splitlines()
    assert first.tape.line() == next(i for i, text in enumerate(lines, 1) if "with tf.GradientTape() as tape" in text)
    assert recorded(first.target, first.tape) and not recorded(second.target, second.tape)
    assert first.target.inputs and all(isinstance(t, Tensor) for t in first.target.inputs)  # the loss call's
    assert first.gradients.taken_for.display_name == "generator" and first.gradients.call is first
    assert not first.inside and second.order > first.order


def test_a_helper_run_outside_then_inside_a_block_is_not_taken_from_the_cache(tmp_path):
    calls = _calls("def g_loss():\n    return tf.reduce_mean(discriminator(generator(tf.random.normal((4, 16)))))\n"
                   "logged = g_loss()\n"
                   "with tf.GradientTape() as tape:\n    loss = g_loss()\n"
                   "grads = tape.gradient(loss, generator.trainable_variables)\n", tmp_path)
    assert recorded(calls[0].target, calls[0].tape)


@pytest.mark.parametrize("body,expected", [
    ("    with tf.GradientTape() as tape:\n        fake = discriminator(generator(noise))\n"
     "    loss = bce(tf.ones_like(fake), fake)\n", OUTSIDE),
    ("    fake = discriminator(generator(noise))\n"
     "    with tf.GradientTape() as tape:\n        loss = bce(tf.ones_like(fake), fake)\n", FROM_OUTSIDE),
    ("    images = generator(noise)\n"
     "    with tf.GradientTape() as tape:\n        fake = discriminator(images)\n"
     "        loss = bce(tf.ones_like(fake), fake)\n", FROM_OUTSIDE),
    ("    with tf.GradientTape() as tape:\n        fake = discriminator(generator(noise))\n"
     "        loss = bce(tf.ones_like(fake), fake)\n", None),
    # `tape.watch`, and an operand the model could not resolve: cannot tell
    ("    fake = discriminator(generator(noise))\n"
     "    with tf.GradientTape() as tape:\n        tape.watch(fake)\n        loss = bce(tf.ones_like(fake), fake)\n",
     None),
    ("    fake = discriminator(generator(noise))\n"
     "    with tf.GradientTape() as tape:\n        loss = bce(tf.ones_like(fake), fake) + penalty(noise)\n", None),
])
def test_a_loss_the_tape_did_not_record(tmp_path, body, expected):
    calls = _calls("def step(noise):\n" + body + "    return tape.gradient(loss, generator.trainable_variables)\n",
                   tmp_path)
    assert Reach().unrecorded(calls[0]) == expected


def test_calls_in_the_two_arms_of_an_if_are_exclusive_and_a_loop_is_seen(tmp_path):
    calls = _calls("def step(noise, flag, n):\n    with tf.GradientTape() as tape:\n"
                   "        loss = tf.reduce_mean(discriminator(generator(noise)))\n"
                   "    if flag:\n        a = tape.gradient(loss, generator.trainable_variables)\n"
                   "    else:\n        b = tape.gradient(loss, discriminator.trainable_variables)\n"
                   "    c = tape.gradient(loss, discriminator.trainable_variables)\n"
                   "    for _ in range(n):\n        d = tape.gradient(loss, discriminator.trainable_variables)\n",
                   tmp_path)
    a, b, c, d = calls
    assert exclusive(a.path, b.path) and not exclusive(a.path, c.path) and not exclusive(b.path, d.path)
    assert not loops_between(c.tape, c) and len(loops_between(d.tape, d)) == 1


def test_code_after_an_if_whose_arm_returned_belongs_to_the_other_arm(tmp_path):
    calls = _calls("def grads(tape, loss, flag):\n"
                   "    if flag:\n        return tape.gradient(loss, discriminator.trainable_variables)\n"
                   "    return tape.gradient(loss, generator.trainable_variables)\n"
                   "def step(noise, flag):\n    with tf.GradientTape() as tape:\n"
                   "        loss = tf.reduce_mean(discriminator(generator(noise)))\n"
                   "        other = -loss\n"
                   "    return grads(tape, loss, flag), grads(tape, other, flag)\n", tmp_path)
    first_arm, first_after, second_arm, second_after = calls
    assert exclusive(first_arm.path, first_after.path)  # one run of `grads`: one of the two
    assert not exclusive(first_arm.path, second_arm.path) and not exclusive(first_after.path, second_after.path)
    assert not exclusive(first_arm.path, second_after.path)  # two runs: two calls on the tape


def test_persistence_is_read_or_left_unknown(tmp_path):
    calls = _calls("def step(x, keep):\n"
                   "    with tf.GradientTape() as a, tf.GradientTape(persistent=True) as b, "
                   "tf.GradientTape(persistent=keep) as c, tf.GradientTape(True) as d:\n"
                   "        y = generator(x)\n"
                   "    return a.gradient(y, x), b.gradient(y, x), c.gradient(y, x), d.gradient(y, x)\n", tmp_path)
    assert [call.tape.persistent for call in calls] == [False, True, None, True]


def test_each_call_of_an_optimizer_or_tape_factory_makes_a_new_object(tmp_path):
    facts = _analyse(MODELS + "def make():\n    return keras.optimizers.Adam(1e-4)\n"
                     "def tape():\n    return tf.GradientTape()\n"
                     "shared = keras.optimizers.Adam(1e-4)\ndef same():\n    return shared\n"
                     "g_opt, d_opt, one, two = make(), make(), same(), same()\n"
                     "with tape() as g_tape, tape() as d_tape:\n    y = generator(tf.random.normal((2, 16)))\n"
                     "g_tape.gradient(y, generator.trainable_variables)\n"
                     "d_tape.gradient(y, generator.trainable_variables)\n"
                     "for opt in (g_opt, d_opt, one, two):\n"
                     "    opt.apply_gradients(zip(g, generator.trainable_variables))\n", tmp_path)
    optimizers = [application.optimizer for application in facts.gradient_applications]
    assert optimizers[0] is not optimizers[1] and optimizers[2] is optimizers[3]
    assert facts.gradient_calls[0].tape is not facts.gradient_calls[1].tape


def test_clipping_keeps_whose_gradients_they_are_and_zip_says_where_they_are_paired(tmp_path):
    facts = _analyse(MODELS + "opt = keras.optimizers.Adam()\n"
                     "def step(loss):\n    with tf.GradientTape() as tape:\n        y = discriminator(loss)\n"
                     "    grads = tape.gradient(y, discriminator.trainable_variables)\n"
                     "    grads = [tf.clip_by_value(g, -1.0, 1.0) for g in grads]\n"
                     "    opt.apply_gradients(zip(grads, generator.trainable_variables))\n"
                     "def old(loss):\n    tf.compat.v1.train.AdamOptimizer().minimize(loss, None)\n", tmp_path)
    applied, minimized = facts.gradient_applications
    assert applied.gradients.clipped and applied.gradients.taken_for.display_name == "discriminator"
    assert applied.variables_of.display_name == "generator" and applied.pairing.code().startswith("zip(")
    assert minimized.method == "minimize" and not minimized.var_list_given


def test_a_combined_model_nests_both_networks(tmp_path):
    facts = _analyse(MODELS + "z = keras.Input(shape=(16,))\ncombined = keras.Model(z, discriminator(generator(z)))\n",
                     tmp_path)
    combined = next(model for model in facts.models if model.display_name == "combined")
    assert {model.display_name for model in nested_models(combined)} == {"discriminator", "generator"}


FORMS = [
    # (loss written on d = D(G(z)) with D's logits, or p with D's sigmoid head; saturating, non-saturating)
    ("tf.reduce_mean(tf.math.log(1. - p + 1e-8))", (1.0, 0.0)),
    ("tf.reduce_mean(tf.math.log(tf.maximum(1 - p, 1e-7)))", (1.0, 0.0)),
    ("keras.ops.mean(keras.ops.log1p(-p))", (1.0, 0.0)),
    ("np.mean(np.log(tf.ones_like(p) - p))", (1.0, 0.0)),
    ("tf.reduce_mean(tf.math.log(1 - tf.sigmoid(d)))", (1.0, 0.0)),
    ("-tf.reduce_mean(tf.nn.softplus(d))", (1.0, 0.0)),
    ("tf.reduce_mean(tf.math.log_sigmoid(-d))", (1.0, 0.0)),
    ("-bce(tf.zeros_like(d), d)", (1.0, 0.0)),
    ("-tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(d), logits=d))", (1.0, 0.0)),
    ("0.5 * -keras.losses.binary_crossentropy(0.0, p)", (0.5, 0.0)),
    ("bce(tf.ones_like(d), d)", (0.0, -1.0)),
    ("tf.reduce_mean(tf.nn.softplus(-d))", (0.0, -1.0)),
    ("-tf.reduce_mean(tf.math.log(p))", (0.0, -1.0)),
    ("bce(tf.ones_like(d) * 0.9, d)", (-0.1, -0.9)),
    ("bce(tf.ones_like(real), real) + bce(tf.zeros_like(d), d)", (-1.0, 0.0)),  # the discriminator's
    ("-(bce(tf.ones_like(real), real) + bce(tf.zeros_like(d), d))", (1.0, 0.0)),
    ("-tf.reduce_mean(d)", (0.0, 0.0)),  # Wasserstein
]


@pytest.mark.parametrize("loss,counts", FORMS, ids=[f[0] for f in FORMS])
def test_loss_forms(tmp_path, loss, counts):
    facts = _analyse(MODELS + "def step(noise, images):\n    with tf.GradientTape() as tape:\n"
                     "        d = discriminator(generator(noise))\n        p = critic(generator(noise))\n"
                     "        real = discriminator(images)\n"
                     f"        loss = {loss}\n"
                     "    return tape.gradient(loss, generator.trainable_variables)\n", tmp_path)
    roles = assign_roles(facts.models)
    reader = LossReader(lambda model: roles[id(model)].role)
    form = reader.form(facts.gradient_calls[0].target)
    assert form is not None and (form.saturating, form.non_saturating) == pytest.approx(counts)
    assert form.minimax == (counts[0] > 0 and counts[1] >= 0)


@pytest.mark.parametrize("loss", [
    "tf.reduce_mean(w * tf.math.log(1 - p))",  # a weight it cannot read
    "tf.reduce_mean(tf.square(tf.math.log(1 - p)))",
    "tf.reduce_mean(tf.math.log(1 - tf.stop_gradient(p)))",
    "tf.reduce_mean(tf.math.log(1 - d))",  # the log of a logit
])
def test_loss_forms_it_cannot_read(tmp_path, loss):
    facts = _analyse(MODELS + "def step(noise, w):\n    with tf.GradientTape() as tape:\n"
                     "        d = discriminator(generator(noise))\n        p = critic(generator(noise))\n"
                     f"        loss = {loss}\n"
                     "    return tape.gradient(loss, generator.trainable_variables)\n", tmp_path)
    roles = assign_roles(facts.models)
    assert LossReader(lambda model: roles[id(model)].role).form(facts.gradient_calls[0].target) is None
