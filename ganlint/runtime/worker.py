"""(TF) The child process of `ganlint profile`: reads its settings, runs one `Session`, and sends
its messages and its report over the private channel (`ganlint.runtime.protocol`).

Run as ``python -m ganlint.runtime.worker`` with the settings as one JSON line on standard input.
It ends with `os._exit`, so threads the user's script left running cannot keep it alive.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from pathlib import Path


def main() -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the parent's Ctrl-C: stop training, report
    settings_line = sys.stdin.buffer.readline()
    config = json.loads(settings_line)
    from ganlint.runtime.protocol import Channel

    channel = Channel(int(config.pop("channel")))
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


if __name__ == "__main__":
    main()
