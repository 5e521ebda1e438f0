"""(TF) The child process of `ganlint profile`: reads its settings, runs one `Session`, and sends
its messages and its report over the private channel (`ganlint.runtime.protocol`).

Started one of two ways, both ending in `serve`:

- ``python -m ganlint.runtime.worker`` with the settings as one JSON line on standard input (one
  file: the script meets a Python that has imported nothing of its own);
- forked from a `ganlint profile` of several files that has imported TensorFlow once
  (`serve_forked`), so each file after the first starts without TensorFlow's seconds of import.

It ends with `os._exit`, so threads the user's script left running cannot keep it alive, and a
forked worker never returns into the parent's code.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn


def serve(config: dict[str, Any], channel_fd: int) -> NoReturn:
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the parent's Ctrl-C: stop training, report
    from ganlint.runtime.protocol import Channel

    channel = Channel(channel_fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the script reads nothing from the parent
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    workspace = Path(config["workspace"])
    os.chdir(workspace)
    sys.path.insert(0, str(workspace))
    sys.argv = [config["script"]]
    from ganlint.runtime.errors import ProfileError
    from ganlint.runtime.result import RunReport
    from ganlint.runtime.session import Session, Settings

    settings = Settings(script=Path(config["script"]), shown_as=config["shown_as"], findings=config["findings"],
                        logdir=Path(config["logdir"]), workspace=workspace, project=Path(config["project"]),
                        steps=int(config["steps"]), batch_size=config.get("batch_size"), seed=int(config["seed"]),
                        data=config.get("data"), generator_spec=config.get("generator"),
                        discriminator_spec=config.get("discriminator"), timeout=float(config["timeout"]),
                        load_timeout=float(config["load_timeout"]), keras_version=int(config.get("keras_version", 3)))
    session = Session(settings, channel.send)
    report: RunReport = session.report
    try:
        report = session.run()
    except ProfileError as error:
        report.error = str(error)
    except KeyboardInterrupt:
        report.error = "interrupted before training started"
    except BaseException as error:  # anything at all, including a tripwire the script re-raised oddly
        first = str(error).splitlines()[0] if str(error) else ""
        report.error = f"{type(error).__name__}: {first}"
        report.traceback = traceback.format_exc()
    channel.send("result", {"report": report.to_json()})
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def serve_forked(config: dict[str, Any], channel_fd: int, output_fd: int) -> NoReturn:
    """In the child of `os.fork()`: become what ``python -m ganlint.runtime.worker`` would be
    (its own process group, output to the parent's pipe, unbuffered, no bytecode written next to
    the user's modules, Keras's home in the workspace), then `serve`."""
    try:
        os.setsid()
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True, line_buffering=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True, line_buffering=True)
        sys.dont_write_bytecode = True
        environment = config.pop("environment", {})
        os.environ.update(environment)
        keras_config = sys.modules.get("keras.src.backend.config")
        if "KERAS_HOME" in environment and hasattr(keras_config, "_KERAS_DIR"):
            # Keras read KERAS_HOME when the parent imported it; downloads must land in this run's home
            keras_config._KERAS_DIR = environment["KERAS_HOME"]  # type: ignore[union-attr]
        if sys.path and sys.path[0] in ("", os.getcwd()):
            del sys.path[0]  # the parent's folder: the script sees its workspace instead, as when spawned
        serve(config, channel_fd)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(1)


def main() -> None:
    config = json.loads(sys.stdin.buffer.readline())
    serve(config, int(config.pop("channel")))


if __name__ == "__main__":
    main()
