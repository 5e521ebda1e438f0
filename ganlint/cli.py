"""The command line: parses arguments, calls `ganlint.api`, prints. No logic of its own."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ganlint import __version__, api, fixes, output, source
from ganlint.config import ConfigError, Overrides, Resolver, describe
from ganlint.findings import Severity
from ganlint.output import RENDERERS
from ganlint.runner import RunOptions, available_cores

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _overrides(config: str | None, select: str | None, ignore: str | None, fail_on: str | None) -> Overrides:
    def split(value: str | None) -> tuple[str, ...] | None:
        return tuple(item.strip() for item in value.split(",") if item.strip()) if value is not None else None

    return Overrides(config=Path(config) if config else None, select=split(select), ignore=split(ignore),
                     fail_on=Severity.parse(fail_on) if fail_on else None)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganlint")
def main() -> None:
    """Static checks and runtime verdicts for Keras GAN training code."""


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "output_format", type=click.Choice(sorted(RENDERERS)), default="text",
              show_default=True, help="Output format.")
@click.option("--select", help="Comma-separated codes, prefixes (GAN3) or names to enable.")
@click.option("--ignore", help="Comma-separated codes, prefixes or names to disable.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None,
              help="Lowest severity that makes the exit code 1 [default: `fail-on` from the config, else warning].")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are reported.")
@click.option("--stdin-filename", help="The name of the file read from `-` (for output and imports).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="The pyproject.toml to use for every file (default: the nearest one above each file).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write .ganlint_cache/.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes [default: the number of cores; 1 lints in this process].")
@click.option("--fix", is_flag=True, help="Apply safe fixes, then report what is left.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff: also apply unsafe fixes.")
@click.option("--diff", is_flag=True, help="Print the fixes as unified diffs instead of writing (exit 1 if any).")
def check(paths: tuple[str, ...], output_format: str, select: str | None, ignore: str | None,
          fail_on: str | None, exit_zero: bool, stdin_filename: str | None, config_path: str | None,
          no_cache: bool, jobs: int | None, fix: bool = False, unsafe_fixes: bool = False,
          diff: bool = False) -> None:
    """Lint PATHS (files or folders; `-` reads standard input)."""
    options = RunOptions(overrides=_overrides(config_path, select, ignore, fail_on), cache=not no_cache,
                         jobs=jobs or available_cores())
    sources: dict[str, str] = {}
    fixed = None
    try:
        if paths == ("-",):
            if fix or diff:
                raise click.UsageError("--fix and --diff need files, not standard input")
            name = stdin_filename or "<stdin>"
            if not source.is_utf8_name(name):
                raise click.UsageError("--stdin-filename must be valid UTF-8")
            try:  # bytes, decoded as Python decodes a file: a BOM or a coding cookie is honoured
                sources[name] = source.decode(sys.stdin.buffer.read())[0]
            except source.SourceError as error:
                click.echo(f"{name}: error: cannot read: {error}", err=True)
                sys.exit(EXIT_ERROR)
            result = api.check_source(sources[name], name, options=options)
        else:
            result = api.check_paths(list(paths), options=options)
            if fix or diff:
                result, fixed = _fix(list(paths), options, result, unsafe_fixes, diff)
    except ConfigError as error:
        click.echo(f"ganlint: error: {error}", err=True)
        sys.exit(EXIT_ERROR)
    color = output.use_color(sys.stdout.isatty())
    click.echo(output.render(output_format, result.findings, color=color, sources=sources), nl=False, color=color)
    for file_error in result.errors:
        click.echo(str(file_error), err=True)
    failing = result.failing(Severity.parse(fail_on) if fail_on else None)
    if output_format in ("text", "concise"):
        click.echo(output.summary(result.findings, result.files_checked, unsafe_fixes=unsafe_fixes), err=True)
    if fixed is not None:
        click.echo(fixed, err=True)
    if result.errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if failing and not exit_zero else EXIT_CLEAN)


def _fix(paths: list[str], options: RunOptions, result, unsafe: bool, diff: bool):
    """--fix: write the fixes and lint again; --diff: print them and exit (1 if there are any)."""
    outcome = fixes.fix_result(result, options, unsafe=unsafe, write=not diff)
    files = len(outcome.documents)
    if diff:
        for error in outcome.errors:
            click.echo(str(error), err=True)
        click.echo("".join(document.diff() for document in outcome.documents), nl=False)
        click.echo(f"Would fix {outcome.fixed} finding(s) in {files} file(s).", err=True)
        sys.exit(EXIT_ERROR if outcome.errors else EXIT_FINDINGS if files else EXIT_CLEAN)
    if files:
        result = api.check_paths(paths, options=options)
    result.errors.extend(outcome.errors)
    return result, f"Fixed {outcome.fixed} finding(s) in {files} file(s)."


@main.command("config")
@click.argument("path", default=".", type=click.Path())
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Use this pyproject.toml.")
@click.option("--select", help="As for `check`: show its effect.")
@click.option("--ignore", help="As for `check`: show its effect.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None, help="As for `check`.")
def config_command(path: str, config_path: str | None, select: str | None, ignore: str | None,
                   fail_on: str | None) -> None:
    """Show the settings that apply to PATH (a file or folder) and why each rule is on or off."""
    try:
        settings = Resolver(_overrides(config_path, select, ignore, fail_on)).settings_for(Path(path))
    except ConfigError as error:
        click.echo(f"ganlint: error: {error}", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(describe(settings, Path(path)), nl=False)


@main.command("rule")
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="Every rule.")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True)
@click.option("--output", type=click.Path(file_okay=False),
              help="With --all --format markdown: write the rule reference (one page per rule and README.md) here.")
def rule_command(code: str | None, show_all: bool, output_format: str, output: str | None) -> None:
    """Explain rule CODE (a code like GAN101 or a name like saturating-hidden-activation)."""
    from ganlint import docs

    if show_all == (code is not None):
        raise click.UsageError("give a rule code or name, or --all")
    if output is not None:
        if not (show_all and output_format == "markdown"):
            raise click.UsageError("--output needs --all --format markdown")
        for path in docs.write_all(Path(output)):
            click.echo(f"wrote {path}", err=True)
        return
    if code is not None and docs.find(code) is None:
        click.echo(f"ganlint: error: no rule {code!r} (see `ganlint rule --all`)", err=True)
        sys.exit(EXIT_ERROR)
    found = docs.find(code) if code is not None else None
    rules = list(docs.ALL_RULES) if show_all or found is None else [found]
    click.echo(docs.render_rules(rules, output_format), nl=False)


@main.command(add_help_option=False,
              context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def profile(ctx: click.Context) -> None:
    """Train the GAN in FILE briefly and confirm or dismiss each finding (needs TensorFlow)."""
    try:
        from ganlint.runtime.command import profile_command
    except ImportError as error:  # the profile extra is not installed
        click.echo(f"ganlint profile: unavailable ({error}); install `ganlint[profile]`", err=True)
        sys.exit(EXIT_ERROR)
    profile_command.main(args=ctx.args, prog_name="ganlint profile", standalone_mode=True)


if __name__ == "__main__":
    main()
