from __future__ import annotations

from collections.abc import Iterator

from ganlint.findings import Severity
from ganlint.model.facts import GradientCall
from ganlint.model.tapes import OUTSIDE, Reach
from ganlint.model.values import Site
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

_SETUP = (
    "import tensorflow as tf\n"
    "from tensorflow import keras\n"
    "generator = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(64, activation='tanh')])\n"
    "discriminator = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(1)])\n"
    "bce = keras.losses.BinaryCrossentropy(from_logits=True)\n"
    "opt = keras.optimizers.Adam(1e-4)\n"
)


class LossOutsideTape(Rule):
    """
    ## What it does
    Flags the target of `tape.gradient(target, ...)` when the tape did not record it:

    - the loss is computed after the tape's `with` block has ended (or before it began), for
      instance a `tf.reduce_mean` taken after the block, or the whole forward pass written after
      it;
    - the loss is computed inside the block, but only from tensors made outside it: the model
      calls ran before the block, so the tape recorded no way from the loss to the variables the
      gradient is asked for.

    The block's extent is the code that runs while it is open, so a loss computed in a helper
    function called inside the block is recorded. Not reported: a loss built inside the block from
    tensors made outside it when the tape watches tensors (`tape.watch(...)`: the watched ones may
    be what the gradient is taken for) or the gradient is taken for something other than a
    network's variables; a tape whose `with` block the program model never saw; a loss it could
    not resolve.

    ## Why is this bad?
    A tape records only the operations that run while it is open. For a target it did not record,
    `tape.gradient` returns None for every variable; `apply_gradients` then raises
    `No gradients provided for any variable` (Keras 3), and with some of them None, the network
    silently stops training.

    ## Example
    ```python
    cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        fake_output = discriminator(generator(noise, training=True), training=True)
    gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
    grads = tape.gradient(gen_loss, generator.trainable_variables)
    ```

    Use instead:
    ```python
    cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        fake_output = discriminator(generator(noise, training=True), training=True)
        gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
    grads = tape.gradient(gen_loss, generator.trainable_variables)
    ```

    ## Fix safety
    No automatic fix: moving code into the block changes what runs where.
    """

    CODE = "GAN302"
    NAME = "loss-outside-tape"
    SEVERITY = Severity.ERROR
    SUMMARY = "the loss given to `tape.gradient` was computed outside the tape's block"

    VALID = (
        Valid(_SETUP + "def step(noise):\n"
              "    with tf.GradientTape() as tape:\n"
              "        fake = discriminator(generator(noise))\n"
              "        loss = bce(tf.ones_like(fake), fake)\n"
              "    return tape.gradient(loss, generator.trainable_variables)\n"),
        # the loss computed by a helper called inside the block
        Valid(_SETUP + "def generator_loss(noise):\n"
              "    fake = discriminator(generator(noise))\n"
              "    return bce(tf.ones_like(fake), fake)\n"
              "def step(noise):\n"
              "    with tf.GradientTape() as tape:\n"
              "        loss = generator_loss(noise)\n"
              "    return tape.gradient(loss, generator.trainable_variables)\n"),
        # the same helper called outside first (for logging), then inside the block
        Valid(_SETUP + "def generator_loss(noise):\n"
              "    fake = discriminator(generator(noise))\n"
              "    return bce(tf.ones_like(fake), fake)\n"
              "def step(noise):\n"
              "    before = generator_loss(noise)\n"
              "    with tf.GradientTape() as tape:\n"
              "        loss = generator_loss(noise)\n"
              "    return tape.gradient(loss, generator.trainable_variables)\n"),
        # `tape.watch` on an input made outside the block
        Valid(_SETUP + "def penalty(real, fake):\n"
              "    mixed = real + 0.5 * (fake - real)\n"
              "    with tf.GradientTape() as tape:\n"
              "        tape.watch(mixed)\n"
              "        scores = discriminator(mixed)\n"
              "    return tape.gradient(scores, [mixed])\n"),
        # a loss the model cannot resolve
        Valid(_SETUP + "def step(noise, loss_fn):\n"
              "    with tf.GradientTape() as tape:\n"
              "        fake = discriminator(generator(noise))\n"
              "    loss = loss_fn(fake)\n"
              "    return tape.gradient(loss, generator.trainable_variables)\n"),
    )
    INVALID = (
        Invalid(_SETUP + "def step(noise):\n"
                "    with tf.GradientTape() as tape:\n"
                "        fake = discriminator(generator(noise))\n"
                "    loss = bce(tf.ones_like(fake), fake)  # <- here: bce\n"
                "    grads = tape.gradient(loss, generator.trainable_variables)\n"
                "    opt.apply_gradients(zip(grads, generator.trainable_variables))\n"),
        # the mean taken after the block
        Invalid(_SETUP + "def step(noise):\n"
                "    with tf.GradientTape() as tape:\n"
                "        fake = discriminator(generator(noise))\n"
                "        per_sample = tf.nn.softplus(-fake)\n"
                "    loss = tf.reduce_mean(per_sample)  # <- here: tf\n"
                "    return tape.gradient(loss, generator.trainable_variables)\n"),
        # inside the block, but only from a forward pass that ran before it
        Invalid(_SETUP + "def step(noise):\n"
                "    fake = discriminator(generator(noise))\n"
                "    with tf.GradientTape() as tape:\n"
                "        loss = bce(tf.ones_like(fake), fake)  # <- here: bce\n"
                "    return tape.gradient(loss, generator.trainable_variables)\n"),
        # the generator ran before the block: the discriminator's call inside it does not help G
        Invalid(_SETUP + "def step(noise):\n"
                "    images = generator(noise)\n"
                "    with tf.GradientTape() as tape:\n"
                "        fake = discriminator(images)\n"
                "        loss = bce(tf.ones_like(fake), fake)  # <- here: bce\n"
                "    return tape.gradient(loss, generator.trainable_variables)\n"),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        for site, (call, how), others in context.once_per_run(self.CODE, _unrecorded).get(id(context.module), []):
            tape = call.tape
            name = tape.name or "tape"
            if how == OUTSIDE:
                where = f"is computed outside the `with` block of `{name}`"
            else:
                where = (f"is computed inside the `with` block of `{name}`, but only from tensors made outside it "
                         f"(the network it needs ran before the block)")
            yield Report(
                site,
                f"the loss given to `{name}.gradient` at line {call.site.first_line()} {where}, so the tape recorded "
                f"no way to the variables and every gradient is None",
                related=tuple((c.site, "the gradient call") for c in (call, *others)),
                subject={"gradient": {"line": call.site.first_line()}, "tape": tape.name},
            )


def _unrecorded(context: RuleContext) -> dict[int, list[tuple[Site, tuple[GradientCall, str], list[GradientCall]]]]:
    """Per module, each loss that a `gradient` call's tape did not record: (where the loss is
    computed, (the first such call, how), the other calls with the same loss)."""
    reach = Reach()
    by_loss: dict[int, tuple[Site, tuple[GradientCall, str], list[GradientCall]]] = {}
    for facts in context.project_facts():
        for call in facts.gradient_calls:
            how = reach.unrecorded(call)
            if how is None:
                continue
            site = call.target.op.site or call.target_site
            if site is None:
                continue
            if id(site.node) in by_loss:
                by_loss[id(site.node)][2].append(call)
            else:
                by_loss[id(site.node)] = (site, (call, how), [])
    found: dict[int, list[tuple[Site, tuple[GradientCall, str], list[GradientCall]]]] = {}
    for entry in by_loss.values():
        found.setdefault(id(entry[0].module), []).append(entry)
    return found
