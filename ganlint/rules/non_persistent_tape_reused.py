from __future__ import annotations

from collections.abc import Iterator

from ganlint.findings import Severity
from ganlint.model.facts import GradientCall
from ganlint.model.tapes import exclusive, loops_between
from ganlint.model.values import Site
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

_SETUP = (
    "import tensorflow as tf\n"
    "from tensorflow import keras\n"
    "generator = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(64, activation='tanh')])\n"
    "discriminator = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(1)])\n"
    "bce = keras.losses.BinaryCrossentropy(from_logits=True)\n"
)
_TWO_LOSSES = (
    "        fake = discriminator(generator(noise))\n"
    "        real = discriminator(images)\n"
    "        g_loss = bce(tf.ones_like(fake), fake)\n"
    "        d_loss = bce(tf.ones_like(real), real) + bce(tf.zeros_like(fake), fake)\n"
)


class NonPersistentTapeReused(Rule):
    """
    ## What it does
    Flags a second `gradient` call on a `tf.GradientTape` that is not `persistent=True`: one tape
    used for both the generator's and the discriminator's gradients, the same tape asked twice
    through a helper, or a `gradient` call in a loop (`for _ in range(n_critic):`) on a tape made
    before the loop. Calls in the two arms of one `if`, or in an arm that returns and after that
    `if`, are not reported (only one of them runs), nor a tape whose `persistent=` the program
    model cannot read.

    ## Why is this bad?
    A tape that is not persistent releases what it recorded as soon as its first `gradient` call
    returns. The second call raises `RuntimeError: A non-persistent GradientTape can only be used
    to compute one set of gradients`, so the training step fails at its first run (or, in a loop,
    at its second iteration).

    ## Example
    ```python
    with tf.GradientTape() as tape:
        fake_output = discriminator(generator(noise, training=True), training=True)
        real_output = discriminator(images, training=True)
        gen_loss, disc_loss = generator_loss(fake_output), discriminator_loss(real_output, fake_output)
    gen_grads = tape.gradient(gen_loss, generator.trainable_variables)
    disc_grads = tape.gradient(disc_loss, discriminator.trainable_variables)
    ```

    Use instead:
    ```python
    with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
        fake_output = discriminator(generator(noise, training=True), training=True)
        real_output = discriminator(images, training=True)
        gen_loss, disc_loss = generator_loss(fake_output), discriminator_loss(real_output, fake_output)
    gen_grads = gen_tape.gradient(gen_loss, generator.trainable_variables)
    disc_grads = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
    ```

    (or `tf.GradientTape(persistent=True)`, deleted with `del tape` once done).

    ## Fix safety
    No automatic fix: one tape per network and a persistent tape are both correct repairs.
    """

    CODE = "GAN305"
    NAME = "non-persistent-tape-reused"
    SEVERITY = Severity.ERROR
    SUMMARY = "`gradient` called twice on a tape that is not persistent"

    VALID = (
        Valid(_SETUP + "def step(images, noise):\n"
              "    with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:\n" + _TWO_LOSSES +
              "    g_tape.gradient(g_loss, generator.trainable_variables)\n"
              "    d_tape.gradient(d_loss, discriminator.trainable_variables)\n"),
        Valid(_SETUP + "def step(images, noise):\n"
              "    with tf.GradientTape(persistent=True) as tape:\n" + _TWO_LOSSES +
              "    tape.gradient(g_loss, generator.trainable_variables)\n"
              "    tape.gradient(d_loss, discriminator.trainable_variables)\n"
              "    del tape\n"),
        # one call per arm of an `if`
        Valid(_SETUP + "def step(images, noise, train_generator):\n"
              "    with tf.GradientTape() as tape:\n" + _TWO_LOSSES +
              "    if train_generator:\n"
              "        return tape.gradient(g_loss, generator.trainable_variables)\n"
              "    else:\n"
              "        return tape.gradient(d_loss, discriminator.trainable_variables)\n"),
        # the arm that returns, and the code after the `if`, never both run
        Valid(_SETUP + "def step(images, noise, train_generator):\n"
              "    with tf.GradientTape() as tape:\n" + _TWO_LOSSES +
              "    if train_generator:\n"
              "        return tape.gradient(g_loss, generator.trainable_variables)\n"
              "    return tape.gradient(d_loss, discriminator.trainable_variables)\n"),
        # a new tape on every iteration
        Valid(_SETUP + "def step(images, noise, n_critic):\n"
              "    for _ in range(n_critic):\n"
              "        with tf.GradientTape() as tape:\n" + _TWO_LOSSES.replace("        ", "            ") +
              "        tape.gradient(d_loss, discriminator.trainable_variables)\n"),
        # persistence the model cannot read
        Valid(_SETUP + "def step(images, noise, keep):\n"
              "    with tf.GradientTape(persistent=keep) as tape:\n" + _TWO_LOSSES +
              "    tape.gradient(g_loss, generator.trainable_variables)\n"
              "    tape.gradient(d_loss, discriminator.trainable_variables)\n"),
    )
    INVALID = (
        Invalid(_SETUP + "def step(images, noise):\n"
                "    with tf.GradientTape() as tape:\n" + _TWO_LOSSES +
                "    tape.gradient(g_loss, generator.trainable_variables)\n"
                "    tape.gradient(d_loss, discriminator.trainable_variables)  # <- here\n"),
        # `persistent=False` said out loud; a call over two lines
        Invalid(_SETUP + "opt = keras.optimizers.Adam()\n"
                "def step(images, noise):\n"
                "    with tf.GradientTape(persistent=False) as tape:\n" + _TWO_LOSSES +
                "    g_grads = tape.gradient(g_loss, generator.trainable_variables)\n"
                "    d_grads = tape.gradient(d_loss,  # <- here: tape\n"
                "                            discriminator.trainable_variables)\n"
                "    opt.apply_gradients(zip(d_grads, discriminator.trainable_variables))\n"),
        # a loop on a tape made before it
        Invalid(_SETUP + "def step(images, noise, n_critic):\n"
                "    with tf.GradientTape() as tape:\n" + _TWO_LOSSES +
                "    for _ in range(n_critic):\n"
                "        grads = tape.gradient(d_loss, discriminator.trainable_variables)  # <- here: tape\n"),
        # the same tape handed to a helper twice
        Invalid(_SETUP + "def grads_of(tape, loss, model):\n"
                "    return tape.gradient(loss, model.trainable_variables)  # <- here: tape\n"
                "def step(images, noise):\n"
                "    with tf.GradientTape() as tape:\n" + _TWO_LOSSES +
                "    return grads_of(tape, g_loss, generator), grads_of(tape, d_loss, discriminator)\n"),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        for call, first in context.once_per_run(self.CODE, _reused_calls).get(id(context.module), []):
            tape, made = call.tape, call.tape.line()
            name = f"`{tape.name}` (made at line {made})" if tape.name else f"the tape made at line {made}"
            if first is not None:
                problem = f"{name} already gave its gradients at line {first.site.first_line()}"
                related: tuple[tuple[Site, str], ...] = ((first.site, "the first `gradient` call"),)
            else:
                problem = f"this call runs on every iteration of a loop, but {name} is made once, outside it"
                related = ()
            yield Report(
                call.site,
                f"{problem}; a tape that is not `persistent=True` can compute gradients only once, so this "
                f"call raises RuntimeError",
                related=related,
                subject={"tape": {"name": tape.name, "line": made},
                         "gradient": {"line": call.site.first_line()}},
            )


def _reused_calls(context: RuleContext) -> dict[int, list[tuple[GradientCall, GradientCall | None]]]:
    """Per module, the `gradient` calls that reuse a non-persistent tape: (call, an earlier call
    on the tape, or None for a call in a loop that the tape's creation is not in)."""
    by_tape: dict[int, list[GradientCall]] = {}
    for facts in context.project_facts():
        for call in facts.gradient_calls:
            if call.tape.persistent is False:
                by_tape.setdefault(id(call.tape), []).append(call)
    found: dict[int, list[tuple[GradientCall, GradientCall | None]]] = {}
    for calls in by_tape.values():
        calls.sort(key=lambda c: c.order)
        for index, call in enumerate(calls):
            first = next((c for c in calls[:index] if not exclusive(c.path, call.path)), None)
            if first is not None or loops_between(call.tape, call):
                found.setdefault(id(call.site.module), []).append((call, first))
    return found
