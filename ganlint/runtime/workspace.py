"""Where the user's script runs while it is profiled: a folder under the logdir that mirrors the
script's own folder. No TensorFlow.

Each entry of the script's folder appears in the workspace as a symbolic link, so the script
reads its data files, imports its sibling modules and resolves paths relative to its folder (or
to `__file__`, which points into the workspace) as it does for its author. A file it creates
lands in the workspace, under the logdir, not in the project. What a link cannot stop: writing
into an existing file, or into an existing folder, of the project goes through the link.
Keras's home (`KERAS_HOME`, where it writes `keras.json`) is a folder of the workspace too.
When the run ends the links are removed; what the script wrote stays, and the report lists it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Workspace:
    folder: Path
    script: Path  # the path the script runs under
    links: list[Path] = field(default_factory=list)
    keras_home: Path | None = None
    generated: list[Path] = field(default_factory=list)  # files ganlint wrote there (a notebook's script)

    def environment(self) -> dict[str, str]:
        env = {}
        if self.keras_home is not None:
            env["KERAS_HOME"] = str(self.keras_home)
        return env

    def clean(self) -> list[str]:
        """Remove the links; return the files the script wrote (relative to the workspace)."""
        for path in [*self.links, *self.generated]:
            try:
                if path.is_symlink() or path.is_file():
                    path.unlink()
            except OSError:
                pass
        if self.keras_home is not None:
            datasets = self.keras_home / "datasets"
            if datasets.is_symlink():
                datasets.unlink()
            keras_json = self.keras_home / "keras.json"
            if keras_json.is_file() and not any(p != keras_json for p in self.keras_home.rglob("*")):
                shutil.rmtree(self.keras_home, ignore_errors=True)
        written = sorted(str(p.relative_to(self.folder)) for p in self.folder.rglob("*")
                         if p.is_file() and not p.is_symlink())
        if not written:
            shutil.rmtree(self.folder, ignore_errors=True)
        return written


def prepare(original: Path, logdir: Path, script_text: str | None = None) -> Workspace:
    """Mirror ``original``'s folder into ``logdir/workspace``. ``script_text``: run this instead
    of the file (a notebook's code cells)."""
    folder = logdir / "workspace"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    links = []
    for entry in sorted(original.parent.iterdir()):
        if entry.name == ".keras" or entry.resolve() == logdir.resolve():
            continue
        if logdir.resolve().is_relative_to(entry.resolve()):
            continue  # the folder that holds the logdir: linking it would loop
        target = folder / entry.name
        try:
            os.symlink(entry.resolve(), target, target_is_directory=entry.is_dir())
        except OSError:
            continue
        links.append(target)
    if script_text is not None:
        script = folder / f"__ganlint__{original.stem}.py"
        script.write_text(script_text, encoding="utf-8")
        generated = [script]
    else:
        script, generated = folder / original.name, []
    keras_home = folder / ".keras"
    keras_home.mkdir()
    cached = Path.home() / ".keras" / "datasets"
    if cached.is_dir():
        os.symlink(cached, keras_home / "datasets", target_is_directory=True)
    return Workspace(folder, script, links, keras_home, generated)
