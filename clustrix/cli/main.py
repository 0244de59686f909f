"""The ``clustrix`` command line: the top-level group plus ``version`` and ``config``.

Other command groups live in their own modules and are registered in :data:`SUBCOMMANDS` as
``"name": "module:attribute"``. They are imported only when invoked (or listed by ``--help``), so
``clustrix version`` stays fast and a broken optional module cannot break the whole CLI. A module
can also attach itself directly with ``clustrix.cli.main.main.add_command(...)``.
"""

from __future__ import annotations

import importlib
from typing import Any

import click
import yaml

import clustrix
from clustrix.errors import ClustrixError, ConfigError

# Lazily imported subcommand groups (add one line per module, e.g. clustrix/cli_jobs.py).
SUBCOMMANDS: dict[str, str] = {
    "jobs": "clustrix.cli.jobs:jobs",
    "demo": "clustrix.cli.demo:demo",
    "doctor": "clustrix.cli.doctor:doctor",
}


class LazyGroup(click.Group):
    """A click group that imports the modules in :data:`SUBCOMMANDS` on first use."""

    def _load(self, name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # not part of this build yet; anything else is a real bug
                return None
            raise
        command = getattr(module, attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names.update(n for n in SUBCOMMANDS if n not in names and self._load(n) is not None)
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        return command if command is not None else self._load(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        # A clustrix error is the user's problem to fix, not a crash: print its message (which
        # names the file and key) as one "Error: ..." line and exit 1, without a traceback.
        try:
            return super().invoke(ctx)
        except ClustrixError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Run Python functions on HPC clusters, and inspect clustrix's configuration and jobs."""


@main.command()
def version() -> None:
    """Print the clustrix version."""
    click.echo(f"clustrix {clustrix.__version__}")


@main.group()
def config() -> None:
    """Show or validate configuration profiles."""


@config.command("show")
@click.option("--profile", "profile_name", metavar="NAME", default=None,
              help="Show only this profile (a name from the file, or local/debug).")
def config_show(profile_name: str | None) -> None:
    """Print the profiles as YAML, each with where it comes from, and which one is active."""
    from clustrix import config as cfg

    conf = cfg.get_config()
    lines = [f"# configuration file: {conf.path or '(none)'}  [{conf.origin}]"]
    try:
        active = cfg.resolve_profile()
        lines.append(f"# active profile: {active.name}  [{cfg.active_profile_source()}]")
    except ConfigError as exc:
        active = None
        lines.append(f"# active profile: none ({exc})")
    if profile_name is not None:
        names = [profile_name]
    else:
        names = list(conf.profiles) + [n for n in cfg.BUILTIN_PROFILES if n not in conf.profiles]
    lines.append("profiles:")
    for name in names:
        profile = conf.get(name)
        if active is not None and active.name == name and active == profile:
            marker = ", active"
        else:
            marker = ""
        lines.append(f"  # from {conf.source_of(name)}{marker}")
        # Unset values (None, empty lists) are left out to keep the listing readable.
        shown = {k: v for k, v in profile.to_mapping().items() if v is not None and v != [] and v != {}}
        body = yaml.safe_dump({name: shown}, sort_keys=False, default_flow_style=False)
        lines.extend("  " + line for line in body.rstrip("\n").splitlines())
    click.echo("\n".join(lines))


@config.command("validate")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def config_validate(path: str | None) -> None:
    """Check a configuration file (default: the one clustrix would use) and summarise it."""
    from clustrix import config as cfg

    if path is None:
        found, origin = cfg.discover_config_path()
        if found is None:
            raise ConfigError(f"no configuration file to validate: {origin}; pass a PATH")
        conf = cfg.read_config_file(found, origin=origin)
    else:
        conf = cfg.read_config_file(path)
    summary = ", ".join(f"{n} [{_describe(p)}]" for n, p in conf.profiles.items()) or "no profiles"
    default = conf.default_profile or ("(the only profile)" if len(conf.profiles) == 1 else "(none)")
    click.echo(f"OK: {conf.path}: {len(conf.profiles)} profile(s): {summary}; default: {default}")


def _describe(profile: Any) -> str:
    where = f" on {profile.host}" if profile.host else ""
    return f"{profile.backend}{where}"
