from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ganlint.findings import Severity
from ganlint.model.facts import trained_by
from ganlint.model.graph import nested_models
from ganlint.model.roles import DISCRIMINATOR, GENERATOR
from ganlint.model.values import Gradients, Model, Optimizer, Site
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

_MODELS = (
    "import tensorflow as tf\n"
    "from tensorflow import keras\n"
    "generator = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(64, activation='tanh')])\n"
    "discriminator = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(1)])\n"
)
_STEP = (
    "def step(images, noise):\n"
    "    with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:\n"
    "        fake = discriminator(generator(noise))\n"
    "        g_loss = -tf.reduce_mean(fake)\n"
    "        d_loss = tf.reduce_mean(fake) - tf.reduce_mean(discriminator(images))\n"
    "    g_grads = g_tape.gradient(g_loss, generator.trainable_variables)\n"
    "    d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)\n"
    "    {g}.apply_gradients(zip(g_grads, generator.trainable_variables))\n"
    "    {d}.apply_gradients(zip(d_grads, discriminator.trainable_variables))\n"
)
_RECIPE = (
    "from keras.layers import Dense, Input\nfrom keras.models import Model, Sequential\n"
    "from keras.optimizers import Adam\n"
    "generator = Sequential([Input(shape=(16,)), Dense(64, activation='tanh')])\n"
    "discriminator = Sequential([Input(shape=(64,)), Dense(1, activation='sigmoid')])\n"
    "{optimizers}"
    "discriminator.compile(loss='binary_crossentropy', optimizer={d})\n"
    "discriminator.trainable = False\n"
    "z = Input(shape=(16,))\n"
    "combined = Model(z, discriminator(generator(z)))\n"
    "combined.compile(loss='binary_crossentropy', optimizer={g}){marker}\n"
    "for batch in batches:\n"
    "    discriminator.train_on_batch(batch, valid)\n"
    "    combined.train_on_batch(noise, valid)\n"
)


@dataclass(frozen=True)
class _Use:
    """One way an optimizer object updates a network: an apply in custom code, or a compile
    whose model Keras then trains."""

    optimizer: Optimizer
    network: str  # generator | discriminator
    model: Model
    site: Site
    order: int
    how: str  # for messages


class SharedOptimizer(Rule):
    """
    ## What it does
    Flags one optimizer object that updates the variables of both networks of a GAN:

    - the same object's `apply_gradients` (or `apply`, `minimize`) called with the generator's
      variables and with the discriminator's, in one training step or in two;
    - one object passed to `compile` of the discriminator and of the combined model `D(G(z))` (the
      Keras-2 recipe; the combined model trains the generator), when both are trained with
      `train_on_batch` or `fit`.

    The finding sits on the use that makes the optimizer shared (the second network's update), with
    the first as a related location. An update that pairs one network's gradients with the other's
    variables is GAN304's finding and does not count here. Not reported: a factory function called
    once per network
    (each call makes a new optimizer), string optimizers (`optimizer="adam"`: Keras makes one per
    compile), one optimizer per network kept in a dict or a list, and a compiled model that the
    code read never trains.

    The severity depends on the file's Keras version (see the README): an error under Keras 3,
    a warning under Keras 2; the message says which it assumes.

    ## Why is this bad?
    Keras 3 builds an optimizer's state for the variables of its first update and raises
    `ValueError: Unknown variable ... This optimizer can only be called for the variables it was
    originally built with` when the other network's update comes. Keras 2 runs, but the two
    networks share one step count and, for Adam, one set of moment estimates: each network's
    learning-rate warm-up and bias correction follow the other's steps.

    ## Example
    ```python
    optimizer = Adam(0.0002, 0.5)
    discriminator.compile(loss="binary_crossentropy", optimizer=optimizer)
    combined.compile(loss="binary_crossentropy", optimizer=optimizer)
    ```

    Use instead:
    ```python
    discriminator.compile(loss="binary_crossentropy", optimizer=Adam(0.0002, 0.5))
    combined.compile(loss="binary_crossentropy", optimizer=Adam(0.0002, 0.5))
    ```

    ## Fix safety
    No automatic fix: the second optimizer's settings are a training decision.
    """

    CODE = "GAN306"
    NAME = "shared-optimizer"
    SEVERITY = Severity.ERROR
    SUMMARY = "one optimizer object updates both networks (error under Keras 3, warning under Keras 2)"

    VALID = (
        Valid(_MODELS + "g_opt = keras.optimizers.Adam(1e-4)\nd_opt = keras.optimizers.Adam(1e-4)\n"
              + _STEP.format(g="g_opt", d="d_opt")),
        # a factory called once per network
        Valid(_MODELS + "def make_optimizer():\n    return keras.optimizers.Adam(2e-4, beta_1=0.5)\n"
              "g_opt = make_optimizer()\nd_opt = make_optimizer()\n" + _STEP.format(g="g_opt", d="d_opt")),
        # one per network in a dict
        Valid(_MODELS + "opts = {'g': keras.optimizers.Adam(1e-4), 'd': keras.optimizers.Adam(1e-4)}\n"
              + _STEP.format(g="opts['g']", d="opts['d']")),
        # string optimizers: Keras makes one per compile
        Valid(_RECIPE.format(optimizers="", d="'adam'", g="'adam'", marker="")),
        # one object for both compiles, but the code read never trains
        Valid(_RECIPE.format(optimizers="optimizer = Adam(0.0002, 0.5)\n", d="optimizer", g="optimizer",
                             marker="").split("for batch")[0]),
    )
    INVALID = (
        Invalid(_MODELS + "opt = keras.optimizers.Adam(1e-4)\n"
                + _STEP.format(g="opt", d="opt").replace("discriminator.trainable_variables))\n",
                                                         "discriminator.trainable_variables))  # <- here: opt\n")),
        Invalid(_RECIPE.format(optimizers="optimizer = Adam(0.0002, 0.5)\n", d="optimizer", g="optimizer",
                               marker="  # <- here: combined")),
        # the combined model compiled with the discriminator's own optimizer
        Invalid(_RECIPE.format(optimizers="", d="Adam(0.0002, 0.5)", g="discriminator.optimizer",
                               marker="  # <- here: combined")),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        version = context.keras_version
        for first, shared in context.once_per_run(self.CODE, _shared).get(id(context.module), []):
            optimizer = first.optimizer
            label = f"`{optimizer.variable}` ({optimizer.kind})" if optimizer.variable else f"`{optimizer.kind}`"
            if version.major >= 3:
                consequence = ("Keras 3 builds it for the first network's variables and raises `Unknown variable` "
                               "at this update")
            else:
                consequence = (f"Keras {version.major} lets both networks share its step count and moment "
                               "estimates")
            yield Report(
                shared.site,
                f"{label} {first.how} and, here, {shared.how}: one optimizer for both networks; {consequence} "
                f"(assuming {version}: {version.reason})",
                related=((first.site, f"it {first.how} here"), (optimizer.site, "the optimizer is made here")),
                subject={"optimizer": {"variable": optimizer.variable, "kind": optimizer.kind},
                         "keras_version": version.major, "networks": [first.network, shared.network]},
                severity=Severity.ERROR if version.major >= 3 else Severity.WARNING,
            )


def _shared(context: RuleContext) -> dict[int, list[tuple[_Use, _Use]]]:
    """Per module, (first use, the use that makes it shared) for each optimizer that updates both
    networks."""
    uses: dict[int, list[_Use]] = {}
    training_calls = [call for facts in context.project_facts() for call in facts.training_calls]
    for facts in context.project_facts():
        for application in facts.gradient_applications:
            model, optimizer = application.variables_of, application.optimizer
            network = _network(context, model) if model is not None else None
            gradients = application.gradients
            taken_for = gradients.taken_for if isinstance(gradients, Gradients) else None
            if taken_for is not None and _network(context, taken_for) != network:
                continue  # one network's gradients on the other's variables: GAN304 reports that
            if isinstance(optimizer, Optimizer) and network is not None and model is not None:
                uses.setdefault(id(optimizer), []).append(_Use(
                    optimizer, network, model, application.site, application.order,
                    f"updates the {network} `{context.name_of(model)}` (`{application.method}`)"))
        for compiled in facts.compiles:
            network = _network(context, compiled.model)
            calls = trained_by(compiled, training_calls)
            if isinstance(compiled.optimizer, Optimizer) and network is not None and calls:
                methods = "/".join(dict.fromkeys(call.method for call in calls))
                uses.setdefault(id(compiled.optimizer), []).append(_Use(
                    compiled.optimizer, network, compiled.model, compiled.site, compiled.order,
                    f"trains the {network} through the compile of `{context.name_of(compiled.model)}` (`{methods}`)"))
    found: dict[int, list[tuple[_Use, _Use]]] = {}
    for group in uses.values():
        group.sort(key=lambda use: use.order)
        first = group[0]
        shared = next((use for use in group if use.network != first.network), None)
        if shared is not None:
            found.setdefault(id(shared.site.module), []).append((first, shared))
    return found


def _network(context: RuleContext, model: Model) -> str | None:
    """The network an update of ``model``'s variables trains: its own role, or for a model built
    around both (the combined `D(G(z))` of the Keras-2 recipe) the generator."""
    nested = {context.role_of(m) for m in nested_models(model)}
    if {GENERATOR, DISCRIMINATOR} <= nested:
        return GENERATOR
    role = context.role_of(model)
    return role if role in (GENERATOR, DISCRIMINATOR) else None
