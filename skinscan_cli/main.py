"""The `skinscan` command: up, analyze, accounts (login, users, api-keys), train, evaluate."""

from __future__ import annotations

import argparse

from skinscan_cli import accounts, analyze, launcher
from trainer import commands as trainer_commands

__all__ = ["build_parser", "main"]


def _up(args: argparse.Namespace) -> int:
    return launcher.run_system()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skinscan", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start Redis, inference, preprocessor and gateway")
    up.set_defaults(run=_up)
    analyze.add_command(commands)
    accounts.add_commands(commands)
    trainer_commands.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))
