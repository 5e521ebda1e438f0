from __future__ import annotations

from collections.abc import Iterator

from ganlint.findings import Severity
from ganlint.model.facts import Compile, TrainingCall, trained_by
from ganlint.model.graph import nested_models
from ganlint.model.roles import DISCRIMINATOR
from ganlint.model.trainable import TrainableHistory, TrainableIndex, unresolved_assignments
from ganlint.model.values import Model, Site
from ganlint.rule import Invalid, Report, Rule, RuleContext, Valid

_MODELS = (
    "from tensorflow import keras\nfrom tensorflow.keras import layers\n"
    "generator = keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16, activation='tanh')], name='generator')\n"
    "discriminator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(1, activation='sigmoid')],\n"
    "                                 name='discriminator')\n"
    "discriminator.compile(loss='binary_crossentropy', optimizer='adam')\n"
    "z = keras.Input(shape=(8,))\n"
)
_COMBINED = ("combined = keras.Model(z, discriminator(generator(z)))\n"
             "combined.compile(loss='binary_crossentropy', optimizer='adam')\n")
_KERAS2 = _MODELS.replace("from tensorflow import keras\nfrom tensorflow.keras import layers\n",
                          "import tf_keras as keras\nfrom tf_keras import layers\n")
_TOGGLED_LOOP = ("def train(images, noise, real, fake):\n"
                 "    for epoch in range(100):\n"
                 "        discriminator.trainable = True\n"
                 "        discriminator.train_on_batch(images, real)\n"
                 "        discriminator.trainable = False{marker}\n"
                 "        combined.train_on_batch(noise, real)\n")
_CLASSIC_LOOP = ("def train(images, noise, real, fake):\n"
                 "    for epoch in range(100):\n"
                 "        discriminator.train_on_batch(images, real)\n"
                 "        discriminator.train_on_batch(generator.predict(noise), fake)\n"
                 "        combined.train_on_batch(noise, real)\n")

NEVER_FROZEN, FROZEN_FOREVER, TOGGLED = "never-frozen", "frozen-forever", "toggled-after-compile"


class DiscriminatorTrainableMisuse(Rule):
    """
    ## What it does
    Follows the discriminator's `trainable` flag through the Keras-2 training recipe (compile the
    discriminator, freeze it, build and compile a combined model `D(G(z))`, train both with
    `train_on_batch` or `fit`) and flags the three ways it goes wrong. The Keras version is the
    file's (the `keras-version` setting, a `tf_keras` import or `TF_USE_LEGACY_KERAS`, the
    installed `keras`, else 3), and the message says which it assumed:

    - **Keras 3**, which reads the flag at every training step: the discriminator is frozen and
      not made trainable again before its own `train_on_batch`/`fit`, so it never trains
      (`frozen-forever`). Under **Keras 2**, which reads the flag at `compile`, the same happens
      when the discriminator is frozen before its own `compile`.
    - **Both versions**: a combined model that holds the discriminator is trained while the
      discriminator is trainable for it (never frozen at all, or made trainable again and left
      so), so the generator's step also trains the discriminator, toward calling fakes real
      (`never-frozen`).
    - **Keras 2**: the combined model is compiled while the discriminator is trainable, and the
      flag is only toggled at run time, which a compiled Keras-2 model never sees
      (`toggled-after-compile`).

    The finding is on the assignment to `trainable` that causes it, or on the combined model's
    `compile` when nothing froze the discriminator; the training calls it affects are listed with
    it. Loops are followed as they run: a flag set later in a loop's body holds for the calls
    earlier in it from the second iteration on. Where the flag is set on something the linter
    cannot resolve (`layer.trainable = False` over layers, a value it cannot tell), nothing is
    reported.

    ## Why is this bad?
    A frozen discriminator that never trains gives the generator a fixed, meaningless target;
    Keras 3 only says `UserWarning: The model does not have any trainable weights`. A
    discriminator trained on the combined model's step learns from labels that call every fake
    real, and stops telling them apart. Both failures raise no error and the losses look plausible.

    ## Example
    ```python
    discriminator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(1, activation="sigmoid")])
    generator = keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16, activation="tanh")])
    discriminator.compile(loss="binary_crossentropy", optimizer="adam")
    discriminator.trainable = False
    z = keras.Input(shape=(8,))
    combined = keras.Model(z, discriminator(generator(z)))
    combined.compile(loss="binary_crossentropy", optimizer="adam")
    for step in range(1000):
        discriminator.train_on_batch(images, real)
        combined.train_on_batch(noise, real)
    ```

    Use instead:
    ```python
    # Keras 3: the flag is read at every step, so set it before each network's step
    discriminator = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(1, activation="sigmoid")])
    generator = keras.Sequential([keras.Input(shape=(8,)), layers.Dense(16, activation="tanh")])
    discriminator.compile(loss="binary_crossentropy", optimizer="adam")
    z = keras.Input(shape=(8,))
    combined = keras.Model(z, discriminator(generator(z)))
    combined.compile(loss="binary_crossentropy", optimizer="adam")
    for step in range(1000):
        discriminator.trainable = True
        discriminator.train_on_batch(images, real)
        discriminator.trainable = False
        combined.train_on_batch(noise, real)
    ```

    ## Fix safety
    No automatic fix: the right recipe depends on the Keras version the code will run under.

    """

    CODE = "GAN402"
    NAME = "discriminator-trainable-misuse"
    SEVERITY = Severity.ERROR
    SUMMARY = "the discriminator's `trainable` flag leaves it frozen for good, or training on the generator's step"

    VALID = (
        # Keras 3: unfrozen before its own step, frozen before the combined model's
        Valid(_MODELS + "discriminator.trainable = False\n" + _COMBINED + _TOGGLED_LOOP.format(marker="")),
        # Keras 2: the classic recipe, frozen between the two compiles and never touched again
        Valid(_KERAS2 + "discriminator.trainable = False\n" + _COMBINED + _CLASSIC_LOOP),
        # frozen for good, but never trained on its own: a fixed, pretrained discriminator
        Valid(_MODELS + "discriminator.trainable = False\n" + _COMBINED
              + "def train(noise, real):\n    combined.fit(noise, real)\n"),
        # frozen through its layers, which the linter does not follow: silent
        Valid(_MODELS + "for layer in discriminator.layers:\n    layer.trainable = False\n" + _COMBINED
              + _CLASSIC_LOOP),
    )
    INVALID = (
        # Keras 3: frozen once, never trainable again before its own train_on_batch
        Invalid(_MODELS + "discriminator.trainable = False  # <- here\n" + _COMBINED + _CLASSIC_LOOP),
        # both versions: the combined model is trained with a trainable discriminator
        Invalid(_MODELS + "combined = keras.Model(z, discriminator(generator(z)))\n"
                "combined.compile(loss='binary_crossentropy', optimizer='adam')  # <- here\n" + _CLASSIC_LOOP),
        Invalid(_KERAS2 + "combined = keras.Model(z, discriminator(generator(z)))\n"
                "combined.compile(loss='binary_crossentropy', optimizer='adam')  # <- here\n"
                "discriminator.fit(images, real)\ncombined.fit(noise, real)\n"),
        # Keras 2: the combined model was compiled with a trainable discriminator; toggling later does nothing
        Invalid(_KERAS2 + _COMBINED + _TOGGLED_LOOP.format(marker="  # <- here")),
        # Keras 3: frozen inside the loop after its own step, and never made trainable again
        Invalid(_MODELS + _COMBINED + "for epoch in range(100):\n"
                "    discriminator.train_on_batch(images, real)\n"
                "    discriminator.trainable = False  # <- here\n"
                "    combined.train_on_batch(noise, real)\n"),
    )

    def check(self, context: RuleContext) -> Iterator[Report]:
        by_version = context.once("discriminator_trainable_problems", lambda: _problems_by_version(context))
        for network, site, case, related in by_version[2 if context.keras_version.major < 3 else 3]:
            if site.module is context.module:
                yield self._report(context, network, site, case, related)

    def _report(self, context: RuleContext, network: Model, site: Site, case: str,
                related: list[TrainingCall]) -> Report:
        name = context.name_of(network)
        version = context.keras_version
        assumed = f"(assuming {version}: {version.reason})"
        if case == FROZEN_FOREVER and version.major == 3:
            message = (f"`{name}` is frozen here and not made trainable again before its own training calls: Keras 3 "
                       f"reads `trainable` at every step, so it never trains {assumed}")
        elif case == FROZEN_FOREVER:
            message = (f"`{name}` is frozen here when it is compiled: Keras 2 keeps the trainable weights of that "
                       f"moment, so its own training calls never train it {assumed}")
        elif case == NEVER_FROZEN:
            message = (f"the combined model trains `{name}` too: it is trainable when the combined model "
                       f"{'trains' if version.major == 3 else 'is compiled'}, so the generator's step teaches it that "
                       f"fakes are real {assumed}")
        else:
            message = (f"`{name}` is frozen here only at run time: the combined model was compiled while it was "
                       f"trainable, and Keras 2 reads the flag at `compile`, so the generator's step trains it "
                       f"too {assumed}")
        return Report(
            site, message,
            related=tuple((call.site, f"`{context.name_of(call.model)}` trained here by `{call.method}`")
                          for call in related),
            subject={"model": context.model_subject(network), "keras_version": version.major, "case": case},
        )


_Problem = tuple[Model, Site, str, list[TrainingCall]]


def _problems_by_version(context: RuleContext) -> dict[int, list[_Problem]]:
    """Every discriminator's problems in the run, as Keras 2 and as Keras 3 would have them (each
    file reads the list of its own version)."""
    all_facts = context.project_facts()
    unresolved = {id(a.site.module) for a in unresolved_assignments(all_facts)}
    models = [m for facts in all_facts for m in facts.models if context.role_of(m) == DISCRIMINATOR]
    compiles = [c for facts in all_facts for c in facts.compiles]
    calls = [c for facts in all_facts for c in facts.training_calls]
    # which compiled models contain each network: one walk per compile, not one per pair
    compiles_containing: dict[int, list[Compile]] = {}
    for compiled in compiles:
        for part in dict.fromkeys(nested_models(compiled.model)):
            if part is not compiled.model:
                compiles_containing.setdefault(id(part), []).append(compiled)
    histories = TrainableIndex(all_facts)
    calls_of: dict[int, list[TrainingCall]] = {}
    for call in calls:
        calls_of.setdefault(id(call.model), []).append(call)
    found: dict[int, list[_Problem]] = {2: [], 3: []}
    for network in _outermost(models):
        history = histories.history_of(network)
        if not history.resolved or unresolved & context.modules_using(network):
            continue  # frozen or unfrozen somewhere in a way the linter cannot read
        own = [c for c in calls_of.get(id(network), []) if not c.custom_step]
        inner = {id(m) for m in nested_models(network)}
        combined = [(c, trained_by(c, calls_of.get(id(c.model), [])))
                    for c in compiles_containing.get(id(network), [])
                    if c.model is not network and id(c.model) not in inner]
        combined = [(c, trained) for c, trained in combined if trained]
        for major in found:
            found[major] += [(network, site, case, related)
                             for site, case, related in _problems(major, history, own, combined)]
    return found


def _outermost(models: list[Model]) -> list[Model]:
    """The discriminators, less those only wrapped by another (`Model(img, sequential(img))`)."""
    inside = {id(inner) for model in models for inner in nested_models(model)}
    return [m for m in dict.fromkeys(models) if id(m) not in inside]


def _problems(major: int, history: TrainableHistory, own: list[TrainingCall],
              combined: list[tuple[Compile, list[TrainingCall]]]) -> Iterator[tuple[Site, str, list[TrainingCall]]]:
    """(where, which case, the training calls it affects) for one discriminator."""
    freezes = history.freezes()
    if major >= 3:
        frozen = [(history.state_at(c.order), c) for c in own]
        for assignment in {id(s.assignment): s.assignment for s, _ in frozen if s.value is False}.values():
            if assignment is not None:
                yield assignment.site, FROZEN_FOREVER, [c for s, c in frozen if s.assignment is assignment]
        for compiled, trained in combined:
            states = [(history.state_at(c.order), c) for c in trained]
            trainable = [(s, c) for s, c in states if s.value is True]
            if trainable:
                state = trainable[0][0]
                site = state.assignment.site if state.assignment is not None else compiled.site
                yield site, NEVER_FROZEN, [c for _, c in trainable]
        return
    for call in own:  # Keras 2: the flag as it was at the compile this call trains with
        if call.compile is not None:
            state = history.state_at(call.compile.order)
            if state.value is False and state.assignment is not None:
                yield state.assignment.site, FROZEN_FOREVER, [c for c in own if c.compile is call.compile]
    for compiled, trained in combined:
        state = history.state_at(compiled.order)
        if state.value is not True:
            continue
        later = [a for a in freezes if a.order > compiled.order]
        if not freezes:
            yield compiled.site, NEVER_FROZEN, trained
        elif later:
            yield later[0].site, TOGGLED, trained
        elif state.assignment is not None:
            yield state.assignment.site, NEVER_FROZEN, trained
