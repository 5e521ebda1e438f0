"""Bad input gets a clear one-line error naming the file, and the other files are still linted."""

from __future__ import annotations



BUGGY = "import tensorflow as tf\nfake = tf.zeros(8) * 0.1\n"


def test_python2_print_is_invalid_syntax_and_others_are_linted(cli, tmp_path):
    (tmp_path / "old.py").write_text("import tensorflow as tf\nprint 'hello'\n")
    (tmp_path / "buggy.py").write_text(BUGGY)
    completed = cli("check", str(tmp_path))
    assert completed.returncode == 1
    lines = completed.stdout.splitlines()
    assert any(line.startswith(f"{tmp_path / 'old.py'}:2:") and "GAN000" in line for line in lines), lines
    assert any(line.startswith(f"{tmp_path / 'buggy.py'}:2:") and "GAN202" in line for line in lines), lines


def test_syntax_error_position(cli, tmp_path):
    (tmp_path / "broken.py").write_text("import keras\n\ndef f(:\n    pass\n")
    completed = cli("check", "--format", "json", str(tmp_path / "broken.py"))
    assert completed.returncode == 1
    assert '"GAN000"' in completed.stdout and '"row": 3' in completed.stdout


def test_non_utf8_file_is_one_line_error_and_run_continues(cli, tmp_path):
    (tmp_path / "latin1.py").write_bytes(b"import keras\nname = '\xe9t\xe9'\n")
    (tmp_path / "buggy.py").write_text(BUGGY)
    completed = cli("check", str(tmp_path))
    assert completed.returncode == 2
    errors = [line for line in completed.stderr.splitlines() if "latin1.py" in line]
    assert len(errors) == 1 and "not valid UTF-8" in errors[0]
    assert "GAN202" in completed.stdout


def test_missing_path_is_one_line_error_and_run_continues(cli, tmp_path):
    (tmp_path / "buggy.py").write_text(BUGGY)
    completed = cli("check", str(tmp_path / "nope.py"), str(tmp_path / "buggy.py"))
    assert completed.returncode == 2
    assert f"{tmp_path / 'nope.py'}: error: no such file or directory" in completed.stderr
    assert "GAN202" in completed.stdout


def test_stdin_with_filename(cli):
    completed = cli("check", "-", "--stdin-filename", "labels.py", stdin=BUGGY)
    assert completed.returncode == 1
    assert completed.stdout.startswith("labels.py:2:8: GAN202")


def test_exit_codes_and_fail_on(cli, tmp_path):
    info_only = tmp_path / "info.py"
    info_only.write_text(
        "import tensorflow as tf\nopt = tf.keras.optimizers.Adam()\n"
        "def step(m, x):\n    with tf.GradientTape() as t:\n        l = m(x)\n"
        "    opt.apply_gradients(zip(t.gradient(l, m.trainable_variables), m.trainable_variables))\n")
    assert cli("check", str(info_only)).returncode == 0  # info is below the default fail-on
    assert cli("check", "--fail-on", "info", str(info_only)).returncode == 1
    assert cli("check", "--fail-on", "info", "--exit-zero", str(info_only)).returncode == 0
    assert cli("check", "--ignore", "GAN3", "--fail-on", "info", str(info_only)).returncode == 0
    assert cli("check", "--select", "nonsense", str(info_only)).returncode == 2


def test_skips_virtualenvs_hidden_and_cache_folders(cli, tmp_path):
    for folder in (".hidden", "venv", "__pycache__", "build", "myenv"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "buggy.py").write_text(BUGGY)
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "buggy.py").write_text(BUGGY)
    completed = cli("check", "--format", "concise", str(tmp_path))
    files = {line.split(":")[0] for line in completed.stdout.splitlines()}
    assert files == {str(tmp_path / "src" / "buggy.py")}
