"""The program model on its own: flows across modules, roles, unknowns, and the budget."""

from __future__ import annotations

from pathlib import Path

import libcst as cst

from expectations import FIXTURES
from ganlint import api
from ganlint.model.graph import ordered_layers
from ganlint.model.project import Project
from ganlint.model.roles import assign_roles

SPLIT = FIXTURES / "split_project"


def _analyse(source: str, tmp_path: Path, name: str = "script.py"):
    path = tmp_path / name
    path.write_text(source)
    project = Project([tmp_path])
    module = project.add(path, source, cst.parse_module(source), str(path))
    facts = project.analyse(module)
    return project, facts


def test_models_are_read_from_an_unlisted_sibling_module():
    # pre-commit passes only the changed files: models.py is found on disk next to them
    result = api.check_paths([str(SPLIT / "train.py"), str(SPLIT / "losses.py")])
    assert [(Path(f.filename).name, f.code) for f in result.findings] == [("losses.py", "GAN201")]
    related = result.findings[0].related
    assert any(Path(r.filename).name == "models.py" for r in related)


def test_a_loss_module_alone_says_nothing():
    assert api.check_paths([str(SPLIT / "losses.py")]).findings == []


def test_sequential_functional_and_subclassed_layers(tmp_path):
    source = (
        "import tensorflow as tf\nfrom tensorflow import keras\nL = keras.layers\n"
        "seq = keras.Sequential([L.Dense(4, input_shape=(3,)), L.ReLU()])\nseq.add(L.Dense(1))\n"
        "x = keras.Input(shape=(3,))\nfunc = keras.Model(x, L.Dense(2, activation='softmax')(L.Dense(4)(x)))\n"
        "class Net(keras.Model):\n    def __init__(self):\n        super().__init__()\n"
        "        self.a = L.Dense(4)\n        self.b = L.Dense(1)\n"
        "    def call(self, x):\n        return self.b(tf.nn.relu(self.a(x)))\nsub = Net()\n"
    )
    _, facts = _analyse(source, tmp_path)
    kinds = {model.kind: [layer.kind for layer in ordered_layers(model)] for model in facts.models}
    assert kinds == {"sequential": ["Dense", "ReLU", "Dense"], "functional": ["Dense", "Dense"],
                     "subclassed": ["Dense", "Dense"]}


def test_roles_need_more_than_a_name(tmp_path):
    source = (
        "from tensorflow import keras\n"
        "def data_generator():\n    return keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(3)])\n"
        "gen = data_generator()\n"
    )
    _, facts = _analyse(source, tmp_path)
    roles = assign_roles(facts.models)
    assert [evidence.role for evidence in roles.values()] == ["unknown"]


def test_usage_makes_roles_without_names(tmp_path):
    source = (
        "import tensorflow as tf\nfrom tensorflow import keras\n"
        "a = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(16)])\n"
        "b = keras.Sequential([keras.Input(shape=(16,)), keras.layers.Dense(1)])\n"
        "score = b(a(tf.random.normal((4, 8))))\n"
    )
    _, facts = _analyse(source, tmp_path)
    roles = assign_roles(facts.models)
    by_name = {model.names[-1]: roles[id(model)].role for model in facts.models}
    assert by_name == {"a": "generator", "b": "discriminator"}


def test_branches_that_disagree_are_unknown(tmp_path):
    source = (
        "import sys\nfrom tensorflow import keras\n"
        "act = 'relu'\nif len(sys.argv) > 1:\n    act = 'sigmoid'\n"
        "def make_generator():\n    return keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(16, activation=act), keras.layers.Dense(4)])\n"
        "def make_discriminator():\n    return keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])\n"
    )
    path = tmp_path / "branches.py"
    path.write_text(source)
    assert api.check_paths([str(path)]).findings == []
    path.write_text(source.replace("act = 'relu'\n", "act = 'sigmoid'\n"))
    assert [f.code for f in api.check_paths([str(path)]).findings] == ["GAN101"]


def test_import_cycles_and_recursion_terminate(tmp_path):
    (tmp_path / "a.py").write_text("import tensorflow as tf\nfrom b import g\ndef f(x):\n    return g(x)\nresult = f(1)\n")
    (tmp_path / "b.py").write_text("import tensorflow as tf\nfrom a import f\ndef g(x):\n    return f(x)\n")
    result = api.check_paths([str(tmp_path)])
    assert result.errors == [] and result.findings == []


def test_huge_generated_file_stays_bounded(tmp_path):
    body = "".join(f"def f{i}(x):\n    return f{i + 1}(x) if x else keras.layers.Dense({i})\n" for i in range(400))
    (tmp_path / "big.py").write_text("from tensorflow import keras\n" + body + "def f400(x):\n    return x\nf0(1)\n")
    result = api.check_paths([str(tmp_path)])
    assert result.errors == [] and result.findings == []


# -- training through Keras: the facts GAN301 reads, and GAN306/GAN402 will ------------------------

KERAS2_RECIPE = (
    "import numpy as np\nfrom keras.layers import Dense, Input\nfrom keras.models import Model, Sequential\n"
    "from keras.optimizers import Adam\n"
    "d = Sequential([Input(shape=(4,)), Dense(1, activation='sigmoid')])\n"
    "g = Sequential([Input(shape=(2,)), Dense(4)])\n"
    "shared = Adam(2e-4)\n"
    "d.compile(optimizer=shared, loss='binary_crossentropy')\n"
    "d.trainable = False\n"
    "z = Input(shape=(2,))\n"
    "combined = Model(z, d(g(z)))\n"
    "combined.compile(optimizer=shared, loss='binary_crossentropy')\n"
    "g.compile(optimizer='adam', loss='mse')\n"
    "def train(x, noise):\n"
    "    d.train_on_batch(x, np.ones((8, 1)))\n"
    "    combined.train_on_batch(noise, np.ones((8, 1)))\n"
)


def test_compiles_and_training_calls_name_the_model_and_the_optimizer_object(tmp_path):
    from ganlint.model.facts import trained_by
    from ganlint.model.values import Optimizer

    _, facts = _analyse(KERAS2_RECIPE, tmp_path)
    d_compile, combined_compile, g_compile = facts.compiles
    # one optimizer object passed to two compiles (what GAN306 will look for); a string is a new one
    assert isinstance(d_compile.optimizer, Optimizer) and d_compile.optimizer is combined_compile.optimizer
    assert g_compile.optimizer.from_string and g_compile.optimizer.kind == "Adam"
    assert d_compile.model is not combined_compile.model
    d_call, combined_call = facts.training_calls
    assert (d_call.method, d_call.model, d_call.compile) == ("train_on_batch", d_compile.model, d_compile)
    assert combined_call.optimizer is d_compile.optimizer
    assert trained_by(d_compile, facts.training_calls) == [d_call]
    assert trained_by(g_compile, facts.training_calls) == []  # compiled, never trained
    # the discriminator frozen between its compile and the combined model's (what GAN402 will read)
    [frozen] = facts.trainable_assignments
    assert frozen.model is d_compile.model and frozen.value.value is False
    assert d_compile.order < frozen.order < combined_compile.order


def test_fit_of_a_model_with_its_own_train_step_is_a_custom_step(tmp_path):
    source = (
        "import keras\nimport tensorflow as tf\n"
        "class GAN(keras.Model):\n"
        "    def train_step(self, data):\n"
        "        return {}\n"
        "gan = GAN()\ngan.compile(optimizer=keras.optimizers.Adam())\ngan.fit(tf.zeros((4, 2)))\n"
    )
    _, facts = _analyse(source, tmp_path)
    [call] = facts.training_calls
    assert call.method == "fit" and call.custom_step and call.compile is facts.compiles[0]


def test_attributes_set_through_dict_update_and_setattr(tmp_path):
    source = (
        "import tensorflow as tf\n"
        "class Trainer:\n"
        "    def __init__(self, **kwargs):\n"
        "        self.__dict__.update(kwargs)\n"
        "        setattr(self, 'd_opt', tf.keras.optimizers.SGD(clipvalue=0.5))\n"
        "    def step(self, grads, variables):\n"
        "        self.g_opt.apply_gradients(zip(grads, variables))\n"
        "        self.d_opt.apply_gradients(zip(grads, variables))\n"
        "trainer = Trainer(g_opt=tf.keras.optimizers.Adam(1e-4))\n"
    )
    _, facts = _analyse(source, tmp_path)
    by_kind = {a.optimizer.kind: a.optimizer.clipping for a in facts.gradient_applications}
    assert by_kind == {"Adam": False, "SGD": True}


def test_an_unknown_update_forgets_attributes(tmp_path):
    source = (
        "import tensorflow as tf\n"
        "class Trainer:\n"
        "    def __init__(self, config, name):\n"
        "        self.opt = tf.keras.optimizers.Adam()\n"
        "        setattr(self, name, config)\n"
        "    def step(self, grads, variables):\n"
        "        self.opt.apply_gradients(zip(grads, variables))\n"
        "trainer = Trainer(load(), choose_name())\n"
    )
    _, facts = _analyse(source, tmp_path)
    assert facts.gradient_applications == []  # `self.opt` may have been replaced: unknown


def test_a_builder_with_a_parameter_runs_with_its_real_arguments_only(tmp_path):
    source = (
        "from tensorflow import keras\n"
        "def make_generator(latent_dim):\n"
        "    return keras.Sequential([keras.Input(shape=(latent_dim,)), keras.layers.Dense(8)])\n"
        "def main():\n"
        "    return make_generator(100)\n"
    )
    _, facts = _analyse(source, tmp_path)
    assert [model.input_shape for model in facts.models] == [(100,)]


def test_values_flow_into_labels_but_not_through_models(tmp_path):
    from ganlint.model.flows import label_flows

    source = (
        "import numpy as np\nfrom keras.models import Sequential\nfrom keras.layers import Dense\n"
        "d = Sequential([Dense(1, activation='sigmoid')])\n"
        "fake = np.zeros((8, 1)) * 0.1\n"
        "noise = np.zeros((8, 4)) * 0.5\n"
        "y = np.concatenate([np.ones((8, 1)), fake])\n"
        "d.train_on_batch(d.predict(noise), y)\n"
    )
    _, facts = _analyse(source, tmp_path)
    flows = label_flows([facts])
    fake, noise = facts.zero_scalings
    assert flows.is_label(fake.product) and not flows.is_label(noise.product)


def test_a_zeros_buffer_written_in_place_is_zeros_no_more(tmp_path):
    source = (
        "import numpy as np\n"
        "a = np.zeros(4)\na[0] = 1\nscaled_a = a * 2\n"
        "b = np.zeros(4)\nb.fill(3)\nscaled_b = b * 2\n"
        "c = np.zeros(4)\nnp.copyto(c, other)\nscaled_c = c * 2\n"
        "d = np.zeros(4)\nnp.multiply(d, 2, out=d)\nscaled_d = d * 2\n"
        "labels = np.zeros(4)\nscaled_labels = labels * 2\n"
    )
    _, facts = _analyse(source, tmp_path)
    assert [s.variable for s in facts.zero_scalings] == ["scaled_labels"]


def test_getattr_with_a_default_is_unknown_when_the_attribute_is(tmp_path):
    source = (
        "import tensorflow as tf\n"
        "def make(args):\n"
        "    opt = tf.keras.optimizers.Adam(clipnorm=getattr(args, 'clipnorm', None))\n"
        "    opt.minimize(loss, variables)\n"
        "    known = getattr(tf.keras.optimizers, 'SGD')()\n"
        "    known.minimize(loss, variables)\n"
    )
    _, facts = _analyse(source, tmp_path)
    adam, sgd = (a.optimizer for a in facts.gradient_applications)
    assert (adam.kind, sgd.kind) == ("Adam", "SGD")
    assert adam.clipping is not False  # `clipnorm=` an unknown value: GAN301 stays silent
    assert sgd.clipping is False


def test_kwargs_of_a_function_nobody_calls_may_hold_anything(tmp_path):
    source = (
        "import tensorflow as tf\n"
        "def train(model, loss, **config):\n"
        "    opt = tf.keras.optimizers.Adam(**config)\n"
        "    opt.minimize(loss, model.trainable_variables)\n"
    )
    _, facts = _analyse(source, tmp_path)
    [application] = facts.gradient_applications
    assert application.optimizer.clipping is None  # `config` may carry `clipnorm`: stay silent


# -- training mode, trainable flags, data, Wasserstein losses (issue 9) -------------------------

_NETWORKS = (
    "import numpy as np\nimport tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"
    "generator = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8), layers.BatchNormalization(),\n"
    "                              layers.Dense(16, activation='tanh')], name='generator')\n"
    "discriminator = keras.Sequential([keras.Input(shape=(16,)), layers.Dropout(0.2), layers.Dense(1)],\n"
    "                                 name='discriminator')\n"
)


def test_model_calls_know_their_training_flag_and_whether_they_run_in_a_training_step(tmp_path):
    from ganlint.model.training_mode import first_calls_without_flag, mode_dependent_layers

    source = _NETWORKS + (
        "def sample(z):\n    return generator(z)\n"
        "def helper(z):\n    return discriminator(generator(z, training=True))\n"
        "def step(z, real):\n"
        "    with tf.GradientTape() as tape:\n"
        "        a = discriminator(real, training=True)\n"
        "        b = helper(z)\n"
        "        c = discriminator(real, training=False)\n"
        "    return generator.predict(z)\n"
    )
    _, facts = _analyse(source, tmp_path)
    calls = [(c.site.code(), c.training.value if c.training is not None else None, c.step is not None)
             for c in facts.model_calls]
    assert calls == [("generator(z)", None, False),
                     ("discriminator(real, training=True)", True, True),
                     ("generator(z, training=True)", True, True),
                     ("discriminator(generator(z, training=True))", None, True),  # in the helper, in the tape
                     ("discriminator(real, training=False)", False, True),
                     ("generator.predict(z)", False, False)]
    [first] = first_calls_without_flag([facts])
    assert first.site.code() == "discriminator(generator(z, training=True))"
    generator = next(m for m in facts.models if m.declared_name == "generator")
    assert [layer.kind for layer in mode_dependent_layers(generator)] == ["BatchNormalization"]


def test_the_trainable_flag_in_a_loop_is_its_steady_state(tmp_path):
    from ganlint.model.trainable import history_of

    source = _NETWORKS + (
        "discriminator.trainable = False\n"
        "for epoch in range(10):\n"
        "    discriminator.train_on_batch(x, y)\n"
        "    discriminator.trainable = True\n"
        "    discriminator.fit(x, y)\n"
        "    discriminator.trainable = False\n"
        "discriminator.evaluate(x, y)\n"
    )
    _, facts = _analyse(source, tmp_path)
    discriminator = next(m for m in facts.models if m.declared_name == "discriminator")
    history = history_of(discriminator, [facts])
    first_call, second_call = facts.training_calls
    # from the second iteration on, the False at the end of the body holds for the first call
    assert history.state_at(first_call.order).value is False
    assert history.state_at(first_call.order).assignment is history.assignments[2]
    assert history.state_at(second_call.order).value is True
    [loop] = facts.loops
    assert loop.holds(first_call.order) and not loop.holds(history.assignments[0].order)


def test_data_is_followed_through_pipelines_to_its_range(tmp_path):
    from ganlint.model.data_range import data_reaching

    source = _NETWORKS + (
        "(x, _), _ = keras.datasets.mnist.load_data()\n"
        "def scale(image, label):\n    return tf.cast(image, tf.float32) / 127.5 - 1.0, label\n"
        "pairs = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)))).map(scale).batch(32)\n"
        "for images, labels in pairs:\n    discriminator(images)\n"
        "raw = np.load('a.npy')\n"
        "discriminator(raw)\n"
        "discriminator(raw - 127.5 / 127.5)\n"
        "discriminator(raw * 3.0)\n"
    )
    _, facts = _analyse(source, tmp_path)
    found = [[(d.range, d.site.code()) for d in data_reaching(call.inputs)] for call in facts.model_calls]
    assert found == [
        [((-1.0, 1.0), "tf.cast(image, tf.float32) / 127.5 - 1.0")],
        [],  # np.load: a range no API fixes, and no pixel constant says what it holds
        [((-1.0, 254.0), "raw - 127.5 / 127.5")],  # the constant as written says pixels
        [],
    ]


def test_fit_runs_the_models_own_train_step_on_a_batch_of_its_data(tmp_path):
    from ganlint.model.data_range import data_reaching

    source = _NETWORKS + (
        "class GAN(keras.Model):\n"
        "    def __init__(self, d):\n        super().__init__()\n        self.d = d\n"
        "    def train_step(self, data):\n"
        "        if isinstance(data, tuple):\n            data = data[0]\n"
        "        return self.d(data, training=True)\n"
        "(x, _), _ = keras.datasets.cifar10.load_data()\n"
        "GAN(discriminator).fit(x / 255.0, epochs=3)\n"
    )
    _, facts = _analyse(source, tmp_path)
    [call] = facts.model_calls
    assert isinstance(call.step, cst.FunctionDef) and call.step.name.value == "train_step"
    assert [d.range for d in data_reaching(call.inputs)] == [(0.0, 1.0)]


def test_wasserstein_losses_are_recognised_in_every_spelling(tmp_path):
    source = _NETWORKS + (
        "import keras.ops as ops\n"
        "from tensorflow.keras import backend as K\n"
        "def w(y_true, y_pred):\n    return -K.mean(y_true * y_pred)\n"
        "discriminator.compile(loss=w, optimizer='rmsprop')\n"
        "def losses(real, z):\n"
        "    fake = generator(z)\n"
        "    a = tf.reduce_mean(discriminator(fake)) - tf.reduce_mean(discriminator(real))\n"
        "    b = -ops.mean(discriminator(real)) + ops.mean(discriminator(fake))\n"
        "    c = tf.reduce_mean(discriminator(fake) - discriminator(real))\n"
        "    d = -tf.reduce_mean(discriminator(fake))\n"
        "    e = -tf.reduce_mean(discriminator(real))\n"  # half of a difference, not the generator's loss
        "    f = tf.reduce_mean(tf.math.log(discriminator(fake)))\n"
        "losses(tf.zeros((2, 16)), tf.random.normal((2, 4)))\n"
    )
    _, facts = _analyse(source, tmp_path)
    assert [(loss.form, loss.site.code()) for loss in facts.wasserstein_losses] == [
        ("product", "K.mean(y_true * y_pred)"),
        ("difference", "tf.reduce_mean(discriminator(fake)) - tf.reduce_mean(discriminator(real))"),
        ("difference", "-ops.mean(discriminator(real)) + ops.mean(discriminator(fake))"),
        ("difference", "tf.reduce_mean(discriminator(fake) - discriminator(real))"),
        ("negated-mean", "-tf.reduce_mean(discriminator(fake))"),
    ]


def test_random_draws_and_interpolations(tmp_path):
    from ganlint.model.lipschitz import interpolation_weight

    source = _NETWORKS + (
        "def mix(real, fake):\n"
        "    a = tf.random.uniform([8, 1, 1, 1])\n"
        "    b = np.random.normal(0, 1, size=real.shape)\n"
        "    discriminator(real + a * (fake - real))\n"
        "    discriminator(b * real + (1 - b) * fake)\n"
        "    discriminator(real + 0.1 * tf.random.normal(tf.shape(real)))\n"
        "mix(tf.zeros((8, 16)), generator(tf.zeros((8, 4))))\n"
    )
    _, facts = _analyse(source, tmp_path)
    weights = [interpolation_weight(call.inputs) for call in facts.model_calls
               if call.model.declared_name == "discriminator"]
    assert [(w.op.detail.distribution, w.op.detail.per) if w is not None else None for w in weights] == [
        ("uniform", "sample"), ("normal", "element"), None]  # instance noise is no interpolation


def test_a_builder_called_twice_with_different_constants_builds_two_models(tmp_path):
    source = (
        "from tensorflow import keras\n"
        "def build(name):\n    return keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)], name=name)\n"
        + "".join(f"m{i} = build('net{i}')\n" for i in range(20))
    )
    _, facts = _analyse(source, tmp_path)
    assert sorted(m.declared_name for m in facts.models) == sorted(f"net{i}" for i in range(20))
