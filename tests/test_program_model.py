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
