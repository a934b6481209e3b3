"""One line, not a traceback, for every failure a user can cause or meet."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from skinscan import SkinscanError, UnauthenticatedError, UnavailableError

__all__ = ["explain", "reported"]


def explain(error: SkinscanError, target: str) -> str:
    if isinstance(error, UnauthenticatedError):
        return f"{error} (sign in with `skinscan login --target {target}`, or set SKINSCAN_API_KEY)"
    if isinstance(error, UnavailableError) and "UNAVAILABLE" in str(error):
        return f"cannot reach the gateway at {target}: is `skinscan up` running?"
    return str(error)


def reported(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except SkinscanError as error:
            print(f"error: {explain(error, getattr(args, 'target', ''))}", file=sys.stderr)
            return 1
        except (EOFError, KeyboardInterrupt):
            print("error: cancelled", file=sys.stderr)
            return 1

    return guarded
