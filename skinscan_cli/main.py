"""The `skinscan` command: up, analyze, accounts (login, users, api-keys), models, train, evaluate."""

from __future__ import annotations

import argparse

from skinscan_cli import accounts, analyze, backup, jobs, launcher, models
from skinscan_cli.bench import command as bench
from trainer import commands as trainer_commands

__all__ = ["build_parser", "main"]


def _up(args: argparse.Namespace) -> int:
    return launcher.run_system()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skinscan", description=__doc__)
    parser.add_argument("--version", action="version", version=f"skinscan {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start Redis, inference, preprocessor and gateway")
    up.set_defaults(run=_up)
    analyze.add_command(commands)
    jobs.add_commands(commands)
    accounts.add_commands(commands)
    models.add_commands(commands)
    backup.add_commands(commands)
    bench.add_command(commands)
    trainer_commands.add_commands(commands)
    _show_defaults(parser)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("skinscan")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Every command's --help shows its defaults, whoever added the command."""
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _show_defaults(child)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))
